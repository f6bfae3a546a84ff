//! No-show suspensions for operators: where a patient's real-name identity stands, and lifting
//! the suspension in force with a reason.

use crate::auth::operator::OperatorCaller;
use crate::http::acting::acting_operator;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use booking_core::bookings::suspensions::{Lift, PatientSuspension, RankedNoShow, SuspensionError};
use booking_core::operators::OperatorRole;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(suspension).service(lift_suspension);
}

#[derive(Serialize, ToSchema)]
pub struct NoShowDto {
    pub booking_id: Uuid,
    pub hospital_id: Uuid,
    pub visit_date: NaiveDate,
    /// When the visit was marked as missed; its suspension counts from here.
    pub marked_at: DateTime<Utc>,
    /// 1 for the first no-show of its calendar year (Asia/Shanghai), and so on.
    pub nth_in_year: u32,
    /// The rule version the booking was made under, whose ladder set the suspension.
    pub rule_version: Option<String>,
    /// The end of the suspension this no-show imposed; `null` when its rung is zero days.
    pub suspends_until: Option<DateTime<Utc>>,
    /// An operator lifted the suspension this no-show was part of.
    pub lifted: bool,
}

impl From<RankedNoShow> for NoShowDto {
    fn from(r: RankedNoShow) -> Self {
        Self {
            booking_id: r.no_show.booking_id,
            hospital_id: r.no_show.hospital_id,
            visit_date: r.no_show.visit_date,
            marked_at: r.no_show.at,
            nth_in_year: r.nth_in_year,
            rule_version: r.no_show.rule_version,
            suspends_until: r.suspends_until,
            lifted: r.lifted,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LiftDto {
    pub id: Uuid,
    /// The no-show the lifted suspension followed.
    pub no_show_booking_id: Uuid,
    /// When the lifted suspension would have ended.
    pub suspended_until: DateTime<Utc>,
    /// No-shows up to this instant are covered by the lift; a later one suspends again.
    pub covers_through: DateTime<Utc>,
    pub operator_id: Uuid,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl From<Lift> for LiftDto {
    fn from(l: Lift) -> Self {
        Self {
            id: l.id,
            no_show_booking_id: l.no_show_booking_id,
            suspended_until: l.suspended_until,
            covers_through: l.covers_through,
            operator_id: l.operator_id,
            reason: l.reason,
            created_at: l.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SuspensionDto {
    pub patient_id: Uuid,
    /// Whether the patient's real-name identity may not book now.
    pub suspended: bool,
    /// When booking is allowed again; `null` when not suspended.
    pub suspended_until: Option<DateTime<Utc>>,
    /// The no-show the suspension in force follows.
    pub follows_no_show: Option<Uuid>,
    /// Why: every no-show of the identity, newest first.
    pub no_shows: Vec<NoShowDto>,
    /// Lifts so far, newest first.
    pub lifts: Vec<LiftDto>,
}

impl From<PatientSuspension> for SuspensionDto {
    fn from(p: PatientSuspension) -> Self {
        let in_force = p.standing.suspension;
        Self {
            patient_id: p.patient_id,
            suspended: in_force.is_some(),
            suspended_until: in_force.as_ref().map(|s| s.until),
            follows_no_show: in_force.as_ref().map(|s| s.follows),
            no_shows: p
                .standing
                .no_shows
                .into_iter()
                .map(NoShowDto::from)
                .collect(),
            lifts: p.lifts.into_iter().map(LiftDto::from).collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    /// Why the suspension is lifted; required, at most 500 characters.
    pub reason: String,
}

/// A path id that is no UUID names no patient.
fn patient_id(path: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(path).map_err(|_| SuspensionError::PatientNotFound.into())
}

/// Whether the patient's identity is suspended after no-shows, until when, and why. Auditor role
/// or above; an operator of one hospital sees only patients with a booking there.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    params(("patient_id" = Uuid, Path)),
    responses(
        (status = 200, body = SuspensionDto),
        (status = 403, body = ErrorBody, description = "FORBIDDEN_ROLE"),
        (status = 404, body = ErrorBody, description = "PATIENT_NOT_FOUND"),
    )
)]
#[get("/ops/patients/{patient_id}/suspension")]
async fn suspension(
    state: web::Data<AppState>,
    caller: OperatorCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(OperatorRole::Auditor)?;
    let patient_id = patient_id(&path)?;
    let acting = acting_operator(&state, &req, &caller);
    let seen = state.suspensions.of_patient(patient_id, &acting).await?;
    Ok(HttpResponse::Ok().json(SuspensionDto::from(seen)))
}

/// Lift the suspension in force, with a reason; audited. Operator role or above; an operator of
/// one hospital lifts only suspensions that follow visits missed at that hospital. A later
/// no-show suspends again.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    params(("patient_id" = Uuid, Path)),
    request_body = LiftRequest,
    responses(
        (status = 200, body = LiftDto),
        (status = 400, body = ErrorBody, description = "LIFT_REASON_REQUIRED, LIFT_REASON_TOO_LONG"),
        (status = 403, body = ErrorBody, description = "FORBIDDEN_ROLE, OUTSIDE_OPERATOR_HOSPITAL"),
        (status = 404, body = ErrorBody, description = "PATIENT_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "NOT_SUSPENDED: no suspension in force"),
    )
)]
#[post("/ops/patients/{patient_id}/suspension/lift")]
async fn lift_suspension(
    state: web::Data<AppState>,
    caller: OperatorCaller,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<LiftRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(OperatorRole::Operator)?;
    let patient_id = patient_id(&path)?;
    let acting = acting_operator(&state, &req, &caller);
    let lift = state
        .suspensions
        .lift(patient_id, &body.reason, &acting)
        .await?;
    Ok(HttpResponse::Ok().json(LiftDto::from(lift)))
}
