//! Visit codes for patients and check-in at the hospital's kiosk or desk.

use crate::auth::operator::OperatorCaller;
use crate::auth::patient::PatientCaller;
use crate::http::client_ip::client_ip;
use crate::http::context;
use crate::http::error::{ApiError, ErrorBody, database_error};
use crate::routes::bookings::BookingDto;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use booking_core::bookings::Actor;
use booking_core::operators::{Audit, OperatorRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(visit_code).service(check_in);
}

#[derive(Serialize, ToSchema)]
pub struct VisitCodeResponse {
    /// Show as a QR code; valid for five minutes, refresh after that.
    pub visit_code: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A short-lived signed payload of the caller's confirmed booking, for check-in.
#[utoipa::path(
    tag = "bookings",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = VisitCodeResponse),
        (status = 404, body = ErrorBody, description = "BOOKING_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "BOOKING_NOT_CONFIRMED"),
    )
)]
#[get("/bookings/{id}/visit-code")]
async fn visit_code(
    state: web::Data<AppState>,
    caller: PatientCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let booking_id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::from(booking_core::bookings::BookingError::NotFound))?;
    let (visit_code, expires_at) = state
        .bookings
        .visit_code(&state.visit_codes, caller.user_id, booking_id)
        .await?;
    Ok(HttpResponse::Ok().json(VisitCodeResponse {
        visit_code,
        expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    pub visit_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckInResponse {
    pub booking: BookingDto,
    /// 1 = next among the visits of this session that have checked in.
    pub queue_position: u32,
}

/// Check a patient in with the visit code from their phone. Kiosk role or above; an operator of
/// one hospital only sees that hospital's bookings.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    request_body = CheckInRequest,
    responses(
        (status = 200, body = CheckInResponse),
        (status = 400, body = ErrorBody, description = "VISIT_CODE_INVALID, VISIT_CODE_EXPIRED"),
        (status = 403, body = ErrorBody, description = "FORBIDDEN_ROLE"),
        (status = 404, body = ErrorBody, description = "BOOKING_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "ALREADY_CHECKED_IN, VISIT_CODE_WRONG_DAY, BOOKING_NOT_CONFIRMED, CHECK_IN_TOO_EARLY, CHECK_IN_TOO_LATE"),
    )
)]
#[post("/ops/check-in")]
async fn check_in(
    state: web::Data<AppState>,
    caller: OperatorCaller,
    req: HttpRequest,
    body: web::Json<CheckInRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(OperatorRole::Kiosk)?;
    let done = state
        .bookings
        .check_in(
            &state.visit_codes,
            &body.visit_code,
            caller.hospital_id,
            &Actor::Operator(caller.operator_id),
        )
        .await?;
    Audit::record(
        &state.db,
        Some(caller.operator_id),
        "booking.check_in",
        Some("booking"),
        Some(&done.booking.id.to_string()),
        serde_json::json!({"queue_position": done.queue_position}),
        Some(&client_ip(&req, &state.trusted_proxies).to_string()),
        Some(&context::current().request_id),
    )
    .await
    .map_err(database_error)?;
    Ok(HttpResponse::Ok().json(CheckInResponse {
        booking: BookingDto::from(done.booking),
        queue_position: done.queue_position,
    }))
}
