//! Public catalog: hospitals, departments, doctors and schedules, in the caller's language.

use crate::http::context;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::params::{self, PageParams};
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use booking_core::catalog::{
    Department, Doctor, DoctorTitle, Hospital, HospitalLevel, Language, Schedule, ScheduleQuery,
};
use booking_core::paging::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_hospitals)
        .service(list_departments)
        .service(list_doctors)
        .service(list_schedules);
}

/// Every list answers `{items, next_cursor}`.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    fn from_page<D>(page: Page<D>, convert: impl Fn(D) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(convert).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HospitalDto {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// `tertiary_a`, `tertiary`, `secondary` or `community`.
    #[schema(value_type = String)]
    pub level: HospitalLevel,
    /// The level spelled out in the caller's language, e.g. 三级甲等.
    pub level_label: &'static str,
    pub address: String,
    pub phone: String,
    pub emergency_24h: bool,
    pub intro: String,
}

fn level_label(level: HospitalLevel, language: Language) -> &'static str {
    match (level, language) {
        (HospitalLevel::TertiaryA, Language::Zh) => "三级甲等",
        (HospitalLevel::TertiaryA, Language::En) => "Tertiary Grade A",
        (HospitalLevel::Tertiary, Language::Zh) => "三级",
        (HospitalLevel::Tertiary, Language::En) => "Tertiary",
        (HospitalLevel::Secondary, Language::Zh) => "二级",
        (HospitalLevel::Secondary, Language::En) => "Secondary",
        (HospitalLevel::Community, Language::Zh) => "社区卫生服务中心",
        (HospitalLevel::Community, Language::En) => "Community health centre",
    }
}

impl HospitalDto {
    fn new(h: Hospital, language: Language) -> Self {
        Self {
            id: h.id,
            code: h.code,
            name: h.name.get(language).to_owned(),
            level: h.level,
            level_label: level_label(h.level, language),
            address: h.address.get(language).to_owned(),
            phone: h.phone,
            emergency_24h: h.emergency_24h,
            intro: h.intro.get(language).to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentDto {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub code: String,
    pub name: String,
    pub intro: String,
}

impl DepartmentDto {
    fn new(d: Department, language: Language) -> Self {
        Self {
            id: d.id,
            hospital_id: d.hospital_id,
            code: d.code,
            name: d.name.get(language).to_owned(),
            intro: d.intro.get(language).to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DoctorDto {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
    pub code: String,
    pub name: String,
    /// `chief_physician`, `associate_chief_physician`, `attending_physician` or `resident_physician`.
    #[schema(value_type = String)]
    pub title: DoctorTitle,
    /// The title in the caller's language, e.g. 主任医师.
    pub title_label: &'static str,
    pub specialty: String,
}

fn title_label(title: DoctorTitle, language: Language) -> &'static str {
    match (title, language) {
        (DoctorTitle::ChiefPhysician, Language::Zh) => "主任医师",
        (DoctorTitle::ChiefPhysician, Language::En) => "Chief Physician",
        (DoctorTitle::AssociateChiefPhysician, Language::Zh) => "副主任医师",
        (DoctorTitle::AssociateChiefPhysician, Language::En) => "Associate Chief Physician",
        (DoctorTitle::AttendingPhysician, Language::Zh) => "主治医师",
        (DoctorTitle::AttendingPhysician, Language::En) => "Attending Physician",
        (DoctorTitle::ResidentPhysician, Language::Zh) => "住院医师",
        (DoctorTitle::ResidentPhysician, Language::En) => "Resident Physician",
    }
}

impl DoctorDto {
    fn new(d: Doctor, language: Language) -> Self {
        Self {
            id: d.id,
            hospital_id: d.hospital_id,
            department_id: d.department_id,
            code: d.code,
            name: d.name.get(language).to_owned(),
            title: d.title,
            title_label: title_label(d.title, language),
            specialty: d.specialty.get(language).to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SegmentDto {
    pub id: Uuid,
    /// Local time (Asia/Shanghai), `HH:MM`.
    pub start_time: String,
    pub end_time: String,
    pub capacity: u32,
    /// Places the public can still book.
    pub remaining: u32,
    /// Whether a booking attempt for this segment could succeed now: places left, and the
    /// booking rules allow it (released, inside the window, before the next-day stop, not
    /// started).
    pub bookable: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleDto {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
    /// `null` for a department's general clinic (普通门诊).
    pub doctor_id: Option<Uuid>,
    /// Visit date (Asia/Shanghai), `YYYY-MM-DD`.
    pub date: chrono::NaiveDate,
    /// `morning`, `afternoon` or `evening`.
    #[schema(value_type = String)]
    pub period: booking_core::catalog::Period,
    pub fee_fen: i64,
    /// Whether one of the segments is `bookable`.
    pub bookable: bool,
    /// `open`, or `suspended` (停诊).
    #[schema(value_type = String)]
    pub status: booking_core::catalog::ScheduleStatus,
    /// When booking opens (UTC).
    pub release_at: chrono::DateTime<chrono::Utc>,
    pub segments: Vec<SegmentDto>,
}

impl From<Schedule> for ScheduleDto {
    fn from(s: Schedule) -> Self {
        Self {
            id: s.id,
            hospital_id: s.hospital_id,
            department_id: s.department_id,
            doctor_id: s.doctor_id,
            date: s.date,
            period: s.period,
            fee_fen: s.fee.0,
            bookable: s.bookable,
            status: s.status,
            release_at: s.release_at,
            segments: s
                .segments
                .into_iter()
                .map(|seg| SegmentDto {
                    id: seg.id,
                    start_time: seg.start_time.format("%H:%M").to_string(),
                    end_time: seg.end_time.format("%H:%M").to_string(),
                    capacity: seg.capacity,
                    remaining: seg.remaining,
                    bookable: seg.bookable,
                })
                .collect(),
        }
    }
}

/// A malformed id in a path cannot name an existing resource: 404 like any unknown id.
fn path_id(raw: &str, not_found: fn() -> ApiError) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

fn hospital_not_found() -> ApiError {
    ApiError::from(booking_core::catalog::CatalogError::HospitalNotFound(
        Uuid::nil(),
    ))
}

fn department_not_found() -> ApiError {
    ApiError::from(booking_core::catalog::CatalogError::DepartmentNotFound(
        Uuid::nil(),
    ))
}

/// Hospitals, in Chinese or English by `Accept-Language`.
#[utoipa::path(
    tag = "catalog",
    params(PageParams, ("Accept-Language" = Option<String>, Header, description = "zh-CN (default) or en")),
    responses(
        (status = 200, body = List<HospitalDto>),
        (status = 400, body = ErrorBody, description = "INVALID_PARAMETER (limit, cursor)"),
    )
)]
#[get("/hospitals")]
async fn list_hospitals(
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse()?;
    let language = context::current().language;
    let hospitals = state.catalog.hospitals(page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(hospitals, |h| {
        HospitalDto::new(h, language)
    })))
}

/// Departments of one hospital.
#[utoipa::path(
    tag = "catalog",
    params(("id" = Uuid, Path, description = "hospital id"), PageParams),
    responses(
        (status = 200, body = List<DepartmentDto>),
        (status = 404, body = ErrorBody, description = "HOSPITAL_NOT_FOUND"),
    )
)]
#[get("/hospitals/{id}/departments")]
async fn list_departments(
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let hospital_id = path_id(&id, hospital_not_found)?;
    let page = page.parse()?;
    let language = context::current().language;
    let departments = state.catalog.departments(hospital_id, page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(departments, |d| {
        DepartmentDto::new(d, language)
    })))
}

/// Doctors of one department.
#[utoipa::path(
    tag = "catalog",
    params(("id" = Uuid, Path, description = "department id"), PageParams),
    responses(
        (status = 200, body = List<DoctorDto>),
        (status = 404, body = ErrorBody, description = "DEPARTMENT_NOT_FOUND"),
    )
)]
#[get("/departments/{id}/doctors")]
async fn list_doctors(
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let department_id = path_id(&id, department_not_found)?;
    let page = page.parse()?;
    let language = context::current().language;
    let doctors = state.catalog.doctors(department_id, page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(doctors, |d| DoctorDto::new(d, language))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleParams {
    pub hospital_id: Option<String>,
    pub department_id: Option<String>,
    pub doctor_id: Option<String>,
    /// `YYYY-MM-DD`, default today (Asia/Shanghai).
    pub date_from: Option<String>,
    /// `YYYY-MM-DD`, default a week after `date_from`; at most 31 days after it.
    pub date_to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Schedules with live remaining places per time segment. Name at least one of hospital_id,
/// department_id, doctor_id.
#[utoipa::path(
    tag = "catalog",
    params(ScheduleParams),
    responses(
        (status = 200, body = List<ScheduleDto>),
        (status = 400, body = ErrorBody, description = "INVALID_PARAMETER or MISSING_PARAMETER, naming the parameter"),
        (status = 404, body = ErrorBody, description = "HOSPITAL_NOT_FOUND, DEPARTMENT_NOT_FOUND or DOCTOR_NOT_FOUND"),
    )
)]
#[get("/schedules")]
async fn list_schedules(
    state: web::Data<AppState>,
    q: web::Query<ScheduleParams>,
) -> Result<HttpResponse, ApiError> {
    let query = ScheduleQuery::new(
        params::uuid("hospital_id", q.hospital_id.as_deref())?,
        params::uuid("department_id", q.department_id.as_deref())?,
        params::uuid("doctor_id", q.doctor_id.as_deref())?,
        params::date("date_from", q.date_from.as_deref())?,
        params::date("date_to", q.date_to.as_deref())?,
        state.clock.today_shanghai(),
    )?;
    let page = PageParams {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
    .parse()?;
    let schedules = state.catalog.schedules(&query, page).await?;
    Ok(HttpResponse::Ok().json(List::from_page(schedules, ScheduleDto::from)))
}
