//! The one error type of the HTTP API. Every failure leaves as
//! `{"error": {"code", "message", "request_id"}}` with a stable `code`, a message in the caller's
//! language, and the right status. 5xx causes are logged, never sent.

use super::context;
use crate::auth::tokens::TokenError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use booking_core::catalog::{CatalogError, Language, ScheduleQueryError};
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// Boxed: errors travel in every `Result` of every handler and should stay small.
    detail: Box<Detail>,
}

#[derive(Debug)]
struct Detail {
    zh: String,
    en: String,
    /// The query parameter or field at fault, for 400s.
    parameter: Option<&'static str>,
    /// Logged for 5xx, never shown.
    cause: Option<String>,
    /// Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`.
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `HOSPITAL_NOT_FOUND`.
    pub code: &'static str,
    /// Human-readable, in the language chosen by `Accept-Language`.
    pub message: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<&'static str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            detail: Box::new(Detail {
                zh: zh.into(),
                en: en.into(),
                parameter: None,
                cause: None,
                headers: Vec::new(),
            }),
        }
    }

    /// Names the parameter or field at fault.
    pub fn with_parameter(mut self, parameter: &'static str) -> Self {
        self.detail.parameter = Some(parameter);
        self
    }

    pub fn parameter(&self) -> Option<&'static str> {
        self.detail.parameter
    }

    pub(crate) fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.detail.cause = Some(cause.to_string());
        self
    }

    pub fn not_found(code: &'static str, zh: &str, en: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, zh, en)
    }

    /// 400 naming the parameter that could not be understood.
    pub fn invalid_parameter(parameter: &'static str, zh_hint: &str, en_hint: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            format!("参数 {parameter} 无效：{zh_hint}"),
            format!("Parameter `{parameter}` is invalid: {en_hint}"),
        )
        .with_parameter(parameter)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "服务器内部错误，请稍后重试",
            "Internal error, please try again later",
        )
        .with_cause(cause)
    }

    pub fn unavailable(code: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "服务暂时不可用，请稍后重试",
            "Service temporarily unavailable, please try again later",
        )
        .with_cause(cause)
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl ToString) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            self.detail.headers.push((name, value));
        }
        self
    }

    pub fn message(&self, language: Language) -> &str {
        match language {
            Language::Zh => &self.detail.zh,
            Language::En => &self.detail.en,
        }
    }
}

impl ApiError {
    fn body(&self, context: &context::RequestContext) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message(context.language).to_owned(),
                request_id: context.request_id.clone(),
                parameter: self.detail.parameter,
            },
        }
    }
}

/// The JSON body `error_response` would send, for callers that store answers (idempotency).
pub fn render(error: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&error.body(&context::current())).unwrap_or_default()
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail.en)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let context = context::current();
        if self.status.is_server_error() {
            tracing::error!(
                code = self.code,
                cause = self.detail.cause.as_deref().unwrap_or(""),
                "request failed"
            );
        }
        let body = self.body(&context);
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE
            && !self
                .detail
                .headers
                .iter()
                .any(|(n, _)| n == header::RETRY_AFTER)
        {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        for (name, value) in &self.detail.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(body)
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::HospitalNotFound(_) => {
                Self::not_found("HOSPITAL_NOT_FOUND", "医院不存在", "No such hospital")
            }
            CatalogError::DepartmentNotFound(_) => {
                Self::not_found("DEPARTMENT_NOT_FOUND", "科室不存在", "No such department")
            }
            CatalogError::DoctorNotFound(_) => {
                Self::not_found("DOCTOR_NOT_FOUND", "医生不存在", "No such doctor")
            }
            CatalogError::CursorMismatch => {
                Self::invalid_parameter("cursor", "不属于此列表", "it does not belong to this list")
            }
            CatalogError::Database(e) => database_error(e),
            e @ (CatalogError::CorruptedRow(_) | CatalogError::CorruptedRules(_)) => {
                Self::internal(e)
            }
        }
    }
}

impl From<ScheduleQueryError> for ApiError {
    fn from(error: ScheduleQueryError) -> Self {
        match error {
            ScheduleQueryError::NoFilter => Self::new(
                StatusCode::BAD_REQUEST,
                "MISSING_PARAMETER",
                "请指定 hospital_id、department_id 或 doctor_id",
                "Name a hospital_id, department_id or doctor_id",
            )
            .with_parameter("department_id"),
            ScheduleQueryError::RangeReversed => {
                Self::invalid_parameter("date_to", "不能早于 date_from", "it is before date_from")
            }
            ScheduleQueryError::RangeTooLong => Self::invalid_parameter(
                "date_to",
                "查询范围过长",
                &format!(
                    "a query may span at most {} days",
                    booking_core::catalog::MAX_SCHEDULE_RANGE_DAYS
                ),
            ),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        let (code, zh, en) = match error {
            TokenError::Missing => ("UNAUTHENTICATED", "请先登录", "Log in first"),
            TokenError::Invalid => (
                "TOKEN_INVALID",
                "登录凭证无效，请重新登录",
                "The token is invalid; log in again",
            ),
            TokenError::Expired => (
                "TOKEN_EXPIRED",
                "登录已过期，请重新登录",
                "The session has expired; log in again",
            ),
            TokenError::WrongAudience => (
                "TOKEN_WRONG_AUDIENCE",
                "登录凭证不适用于此接口",
                "This token is not valid for this API",
            ),
            TokenError::Revoked => (
                "TOKEN_REVOKED",
                "已退出登录，请重新登录",
                "The session was logged out; log in again",
            ),
        };
        Self::new(StatusCode::UNAUTHORIZED, code, zh, en)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }
}

impl From<kv_store::StoreError> for ApiError {
    fn from(error: kv_store::StoreError) -> Self {
        match error {
            kv_store::StoreError::Unavailable(_) => Self::unavailable("STORE_UNAVAILABLE", error),
            kv_store::StoreError::Unexpected(_) => Self::internal(error),
        }
    }
}

/// A database that cannot be reached is 503 (retry later); anything else is a 500.
pub fn database_error(error: sea_orm::DbErr) -> ApiError {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    // A pooled connection is not pinged before use, so a server that went away shows up as
    // the first statement failing on its socket rather than as a failed checkout.
    // (a socket error, or the server's own farewell: SQLSTATE class 08, connection exception,
    // or 57P, the server shutting down).
    let lost_connection = |e: &RuntimeErr| match e {
        RuntimeErr::SqlxError(e) => match e.as_ref() {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        },
        _ => false,
    };
    match &error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
            ApiError::unavailable("DATABASE_UNAVAILABLE", error)
        }
        DbErr::Exec(e) | DbErr::Query(e) if lost_connection(e) => {
            ApiError::unavailable("DATABASE_UNAVAILABLE", error)
        }
        _ => ApiError::internal(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    use std::sync::Arc;

    fn query_error(error: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
    }

    #[test]
    fn a_lost_database_connection_is_unavailable_not_an_internal_error() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for error in [
            query_error(sqlx::Error::Io(reset)),
            query_error(sqlx::Error::PoolTimedOut),
            DbErr::Conn(RuntimeErr::Internal("refused".into())),
        ] {
            let api = database_error(error);
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(api.code, "DATABASE_UNAVAILABLE");
        }
        let bad_sql = query_error(sqlx::Error::RowNotFound);
        assert_eq!(
            database_error(bad_sql).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
