//! Sending SMS verification codes, with per-phone and per-IP limits.

use crate::auth::patient::PatientCaller;
use crate::http::client_ip::client_ip;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, post, web};
use booking_core::identity::MobileNumber;
use serde::{Deserialize, Serialize};
use sms_verify::Purpose;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(send_code);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCodeRequest {
    /// Mainland mobile number, `13800138000` or `+8613800138000`.
    pub phone: String,
    /// `bind_phone`
    pub purpose: String,
}

#[derive(Serialize, ToSchema)]
pub struct SendCodeResponse {
    /// Seconds before another code may be sent to this phone.
    pub cooldown_s: u64,
    /// Seconds the code stays valid.
    pub expires_in_s: u64,
}

/// Send a 6-digit verification code by SMS.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = SendCodeRequest,
    responses(
        (status = 202, body = SendCodeResponse),
        (status = 400, body = ErrorBody, description = "PHONE_INVALID, INVALID_PARAMETER (purpose)"),
        (status = 429, body = ErrorBody, description = "SMS_RATE_LIMITED, with Retry-After"),
        (status = 502, body = ErrorBody, description = "SMS_PROVIDER_ERROR"),
    )
)]
#[post("/sms/send")]
async fn send_code(
    state: web::Data<AppState>,
    _caller: PatientCaller,
    req: HttpRequest,
    body: web::Json<SendCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let phone = MobileNumber::parse(&body.phone)?;
    let purpose: Purpose = body.purpose.parse().map_err(|_| {
        ApiError::invalid_parameter("purpose", "应为 bind_phone", "expected bind_phone")
    })?;
    let ip = client_ip(&req, &state.trusted_proxies);
    let receipt = state.sms.send(purpose, phone.as_str(), ip).await?;
    Ok(HttpResponse::Accepted().json(SendCodeResponse {
        cooldown_s: receipt.cooldown.as_secs(),
        expires_in_s: receipt.expires_in.as_secs(),
    }))
}
