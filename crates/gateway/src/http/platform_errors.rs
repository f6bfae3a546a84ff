//! How failures of the mini-program platforms (WeChat, Alipay) leave the API. The platform's own
//! texts are logged, never shown: they may echo codes or configuration.

use super::error::ApiError;
use actix_web::http::StatusCode;
use miniapp_auth::{AlipayLoginError, WechatError};

fn platform_error(platform: &str, cause: impl std::fmt::Display) -> ApiError {
    tracing::error!(platform, %cause, "platform call failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "PLATFORM_ERROR",
        "平台服务异常，请稍后重试",
        "The platform did not answer as expected; try again later",
    )
}

pub fn login_code_invalid() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "LOGIN_CODE_INVALID",
        "登录凭证无效或已过期，请重新登录",
        "The login code is invalid, used or expired; get a new one and retry",
    )
    .with_parameter("code")
}

impl From<WechatError> for ApiError {
    fn from(error: WechatError) -> Self {
        match error {
            WechatError::InvalidCode => login_code_invalid(),
            WechatError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "PLATFORM_RATE_LIMITED",
                "操作过于频繁，请稍后再试",
                "Too many attempts; try again later",
            )
            .with_header(actix_web::http::header::RETRY_AFTER, 60),
            WechatError::RiskyUser => ApiError::new(
                StatusCode::FORBIDDEN,
                "LOGIN_REFUSED",
                "微信判定该账号存在风险，暂时无法登录",
                "WeChat refused this login for account safety",
            ),
            WechatError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PLATFORM_BUSY",
                "微信服务繁忙，请稍后重试",
                "WeChat is busy; try again shortly",
            ),
            other => platform_error("wechat", other),
        }
    }
}

impl From<AlipayLoginError> for ApiError {
    fn from(error: AlipayLoginError) -> Self {
        match error {
            AlipayLoginError::InvalidCode => login_code_invalid(),
            AlipayLoginError::Gateway(e) => platform_error("alipay", e),
        }
    }
}
