//! How operator-account errors leave the API.

use super::error::{ApiError, database_error};
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use booking_core::operators::{OperatorError, PASSWORD_MIN_CHARS};

impl From<OperatorError> for ApiError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "用户名或密码错误",
                "Wrong username or password",
            ),
            OperatorError::InvalidUsername => ApiError::new(
                StatusCode::BAD_REQUEST,
                "OPERATOR_USERNAME_INVALID",
                "用户名须为 3–64 位小写字母、数字或 . _ -",
                "A username is 3–64 characters of a-z, 0-9, '.', '_' and '-'",
            )
            .with_parameter("username"),
            OperatorError::PasswordTooShort { min } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "OPERATOR_PASSWORD_WEAK",
                format!("密码至少需要 {min} 个字符"),
                format!("A password needs at least {min} characters"),
            )
            .with_parameter("password"),
            OperatorError::PasswordTooLong { max_bytes } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "OPERATOR_PASSWORD_WEAK",
                format!("密码过长（至多 {max_bytes} 字节，至少 {PASSWORD_MIN_CHARS} 个字符）"),
                format!(
                    "The password is too long (at most {max_bytes} bytes, at least \
                     {PASSWORD_MIN_CHARS} characters)"
                ),
            )
            .with_parameter("password"),
            OperatorError::UsernameTaken => ApiError::new(
                StatusCode::CONFLICT,
                "OPERATOR_USERNAME_TAKEN",
                "用户名已被使用",
                "The username is taken",
            )
            .with_parameter("username"),
            OperatorError::HospitalNotFound(_) => {
                ApiError::not_found("HOSPITAL_NOT_FOUND", "医院不存在", "No such hospital")
            }
            // A token for an operator that no longer exists is as good as no token.
            OperatorError::NotFound(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_INVALID",
                "登录凭证无效，请重新登录",
                "The token is invalid; log in again",
            )
            .with_header(WWW_AUTHENTICATE, "Bearer"),
            OperatorError::Database(e) => database_error(e),
            e @ (OperatorError::Hashing(_) | OperatorError::Corrupted(_)) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_failed_login_is_one_401() {
        let error = ApiError::from(OperatorError::InvalidCredentials);
        assert_eq!(
            (error.status, error.code),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
        let error = ApiError::from(OperatorError::UsernameTaken);
        assert_eq!(
            (error.status, error.code),
            (StatusCode::CONFLICT, "OPERATOR_USERNAME_TAKEN")
        );
        let error = ApiError::from(OperatorError::Hashing("boom".into()));
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
