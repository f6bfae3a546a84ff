//! How SMS sending and verification failures leave the API.

use super::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use sms_verify::{SmsError, VerifyError};

impl From<SmsError> for ApiError {
    fn from(error: SmsError) -> Self {
        match error {
            SmsError::RateLimited { .. } => {
                let seconds = error.retry_after_secs().unwrap_or(60);
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SMS_RATE_LIMITED",
                    format!("验证码发送过于频繁，请 {seconds} 秒后再试"),
                    format!("Too many codes requested; try again in {seconds} s"),
                )
                .with_header(RETRY_AFTER, seconds)
            }
            SmsError::InvalidPhone => ApiError::from(
                booking_core::identity::MobileNumber::parse("")
                    .expect_err("empty is never a phone"),
            ),
            SmsError::Provider(cause) => {
                tracing::error!(%cause, "SMS provider failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "SMS_PROVIDER_ERROR",
                    "短信发送失败，请稍后重试",
                    "The SMS could not be sent; try again later",
                )
            }
            SmsError::Unavailable(e) => ApiError::from(e),
            SmsError::Random(e) => ApiError::internal(e),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        let api = match error {
            VerifyError::NoCode => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_NOT_SENT",
                "尚未向该手机号发送验证码，请先获取",
                "No code was sent to this phone; request one first",
            ),
            VerifyError::Expired => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_EXPIRED",
                "验证码已过期，请重新获取",
                "The code has expired; request a new one",
            ),
            VerifyError::Used => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_USED",
                "验证码已使用，请重新获取",
                "The code was already used; request a new one",
            ),
            VerifyError::Wrong { attempts_left } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_WRONG",
                format!("验证码错误，还可尝试 {attempts_left} 次"),
                format!("Wrong code; {attempts_left} attempts left"),
            ),
            VerifyError::Locked => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_LOCKED",
                "错误次数过多，验证码已失效，请重新获取",
                "Too many wrong attempts; the code is void, request a new one",
            ),
            VerifyError::Malformed => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SMS_CODE_MALFORMED",
                "验证码为 6 位数字",
                "A code is six digits",
            ),
            VerifyError::Unavailable(e) => return ApiError::from(e),
        };
        api.with_parameter("code")
    }
}
