//! How account, identity and patient errors leave the API: each its own stable code.

use super::error::{ApiError, database_error};
use actix_web::http::StatusCode;
use booking_core::accounts::{AccountError, PatientError};
use booking_core::identity::{DocumentError, MobileError, NameError};

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            // A token for a user that no longer exists is as good as no token.
            AccountError::UserNotFound(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_INVALID",
                "登录凭证无效，请重新登录",
                "The token is invalid; log in again",
            ),
            AccountError::Database(e) => database_error(e),
            e @ AccountError::Corrupted(_) => ApiError::internal(e),
        }
    }
}

impl From<PatientError> for ApiError {
    fn from(error: PatientError) -> Self {
        match error {
            PatientError::TooMany { max } => ApiError::new(
                StatusCode::CONFLICT,
                "PATIENT_LIMIT_REACHED",
                format!("每个账户最多添加 {max} 位就诊人"),
                format!("An account may have at most {max} patients"),
            ),
            PatientError::DuplicateDocument => ApiError::new(
                StatusCode::CONFLICT,
                "PATIENT_DUPLICATE",
                "该证件已添加为就诊人",
                "This document is already registered as a patient on this account",
            ),
            PatientError::NotFound => {
                ApiError::not_found("PATIENT_NOT_FOUND", "就诊人不存在", "No such patient")
            }
            PatientError::HasActiveBookings => ApiError::new(
                StatusCode::CONFLICT,
                "PATIENT_HAS_ACTIVE_BOOKINGS",
                "该就诊人有待支付或已确认的预约，不能删除",
                "The patient has pending or confirmed bookings and cannot be removed",
            ),
            PatientError::Database(e) => database_error(e),
            e @ PatientError::Corrupted(_) => ApiError::internal(e),
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(error: DocumentError) -> Self {
        let zh = match error {
            DocumentError::Empty => "证件号码不能为空",
            DocumentError::BadLength { .. } => "证件号码长度不正确",
            DocumentError::BadCharacters => "证件号码含有无效字符",
            DocumentError::UnknownRegion => "身份证号码的地区码无效",
            DocumentError::ImpossibleBirthDate => "证件号码中的出生日期无效",
            DocumentError::BadCheckDigit => "身份证号码校验位不正确",
            DocumentError::BadFormat => "证件号码格式不正确",
        };
        ApiError::new(StatusCode::BAD_REQUEST, error.code(), zh, error.to_string())
            .with_parameter("id_number")
    }
}

impl From<MobileError> for ApiError {
    fn from(error: MobileError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            error.code(),
            "请输入中国大陆手机号码（11 位，1 开头）",
            "Enter a mainland China mobile number (11 digits starting with 1)",
        )
        .with_parameter("phone")
    }
}

impl From<NameError> for ApiError {
    fn from(error: NameError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            error.code(),
            "姓名无效",
            error.to_string(),
        )
        .with_parameter("name")
    }
}
