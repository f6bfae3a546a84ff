//! The people an account books for (就诊人), with real-name documents.

use crate::auth::patient::PatientCaller;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, web};
use booking_core::accounts::{NewPatient, Patient};
use booking_core::identity::{IdDocument, IdType, MobileNumber, PersonName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(add_patient)
        .service(list_patients)
        .service(remove_patient);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPatientRequest {
    /// Real name as on the document.
    pub name: String,
    /// `resident_id`, `passport`, `hk_macao_permit`, `taiwan_permit` or `foreign_permanent_residence`.
    pub id_type: String,
    pub id_number: String,
    /// Mainland mobile number, optional.
    pub phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PatientDto {
    pub id: Uuid,
    pub name: String,
    pub id_type: String,
    /// Masked, e.g. `110101********1234`.
    pub id_number: String,
    /// Derived from the document where it encodes one.
    pub birth_date: Option<chrono::NaiveDate>,
    /// `male` or `female`, where the document encodes it.
    pub sex: Option<String>,
    /// Masked, e.g. `138****8000`.
    pub phone: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Patient> for PatientDto {
    fn from(p: Patient) -> Self {
        Self {
            id: p.id,
            name: p.name,
            id_type: p.id_type.as_str().to_owned(),
            id_number: p.id_number_masked,
            birth_date: p.birth_date,
            sex: p.sex.map(|s| s.as_str().to_owned()),
            phone: p.phone_masked,
            created_at: p.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PatientList {
    pub items: Vec<PatientDto>,
    /// Always `null`: an account has at most five patients.
    pub next_cursor: Option<String>,
}

/// Add a person this account books for. At most five per account; a document only once.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = AddPatientRequest,
    responses(
        (status = 201, body = PatientDto),
        (status = 400, body = ErrorBody, description = "NAME_INVALID, ID_TYPE_INVALID, ID_* (document rules), PHONE_INVALID"),
        (status = 409, body = ErrorBody, description = "PATIENT_LIMIT_REACHED, PATIENT_DUPLICATE"),
    )
)]
#[post("/patients")]
async fn add_patient(
    state: web::Data<AppState>,
    caller: PatientCaller,
    body: web::Json<AddPatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = PersonName::parse(&body.name)?;
    let id_type: IdType = body.id_type.parse().map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "ID_TYPE_INVALID",
            "证件类型无效",
            "id_type must be resident_id, passport, hk_macao_permit, taiwan_permit or foreign_permanent_residence",
        )
    })?;
    let document = IdDocument::parse_on(id_type, &body.id_number, state.clock.today_shanghai())?;
    let phone = body.phone.as_deref().map(MobileNumber::parse).transpose()?;
    let patient = state
        .patients
        .add(
            caller.user_id,
            NewPatient {
                name,
                document,
                phone,
            },
            state.clock.now(),
        )
        .await?;
    tracing::info!(user_id = %caller.user_id, patient_id = %patient.id, id_number = %patient.id_number_masked, "patient added");
    Ok(HttpResponse::Created().json(PatientDto::from(patient)))
}

/// The account's patients.
#[utoipa::path(tag = "account", security(("bearer" = [])), responses((status = 200, body = PatientList)))]
#[get("/patients")]
async fn list_patients(
    state: web::Data<AppState>,
    caller: PatientCaller,
) -> Result<HttpResponse, ApiError> {
    let items = state
        .patients
        .list(caller.user_id)
        .await?
        .into_iter()
        .map(PatientDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(PatientList {
        items,
        next_cursor: None,
    }))
}

/// Remove a patient. Refused while they have pending or confirmed bookings. Another account's
/// patient is 404.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = ErrorBody, description = "PATIENT_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "PATIENT_HAS_ACTIVE_BOOKINGS"),
    )
)]
#[delete("/patients/{id}")]
async fn remove_patient(
    state: web::Data<AppState>,
    caller: PatientCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let patient_id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::from(booking_core::accounts::PatientError::NotFound))?;
    state
        .patients
        .remove(caller.user_id, patient_id, state.clock.now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
