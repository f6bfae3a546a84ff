//! The OpenAPI document and a browsable page for it. The page is self-contained (no CDN), so it
//! works on a hospital intranet without Internet access.

use super::{auth, bookings, catalog, checkin, health, me, ops, patients, sms};
use super::{ops_rules, ops_suspensions};
use crate::http::error::{ErrorBody, ErrorDetail};
use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "guahao API",
        description = "Outpatient appointment booking (挂号) behind WeChat and Alipay mini-programs. \
                       Errors are `{\"error\": {\"code\", \"message\", \"request_id\"}}`; every response \
                       carries `X-Request-Id`; text is Chinese or English by `Accept-Language`."
    ),
    paths(
        health::healthz,
        health::readyz,
        catalog::list_hospitals,
        catalog::list_departments,
        catalog::list_doctors,
        catalog::list_schedules,
        auth::wechat_login,
        auth::alipay_login,
        auth::logout,
        sms::send_code,
        me::me,
        me::bind_phone,
        me::bind_wechat_phone,
        patients::add_patient,
        patients::list_patients,
        patients::remove_patient,
        bookings::create_booking,
        bookings::list_bookings,
        bookings::get_booking,
        bookings::cancel_booking,
        checkin::visit_code,
        checkin::check_in,
        ops::login,
        ops::me,
        ops::logout,
        ops_rules::list_rules,
        ops_rules::publish_rules,
        ops_suspensions::suspension,
        ops_suspensions::lift_suspension,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Hospitals, departments, doctors and schedules (public)"),
        (name = "auth", description = "Mini-program login and logout"),
        (name = "account", description = "The caller's account: phone, patients (就诊人), SMS codes"),
        (name = "bookings", description = "Holding a place, the caller's bookings, cancelling"),
        (name = "ops", description = "Operator API for hospital staff, kiosks and auditors: \
                                   login (operator JWT), check-in, booking logs"),
        (name = "operations", description = "Health and readiness"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme the patient endpoints name in `security`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, with the API prefix applied to catalog paths.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, item) in paths {
        let full = if path.starts_with("/healthz") || path.starts_with("/readyz") {
            path
        } else {
            format!("/api/v1{path}")
        };
        doc.paths.paths.insert(full, item);
    }
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let document = web::Data::new(openapi());
    cfg.app_data(document)
        .service(openapi_json)
        .service(docs_page);
}

#[get("/api-docs/openapi.json")]
async fn openapi_json(document: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(document.get_ref())
}

#[get("/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("docs.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_the_public_paths_under_the_api_prefix() {
        let doc = openapi();
        for path in [
            "/healthz",
            "/readyz",
            "/api/v1/hospitals",
            "/api/v1/hospitals/{id}/departments",
            "/api/v1/schedules",
            "/api/v1/auth/wechat/login",
            "/api/v1/auth/logout",
            "/api/v1/sms/send",
            "/api/v1/me/phone",
            "/api/v1/patients",
            "/api/v1/patients/{id}",
            "/api/v1/ops/login",
            "/api/v1/ops/me",
            "/api/v1/ops/logout",
            "/api/v1/ops/rules",
            "/api/v1/ops/patients/{patient_id}/suspension",
            "/api/v1/ops/patients/{patient_id}/suspension/lift",
        ] {
            assert!(
                doc.paths.paths.contains_key(path),
                "{path} missing from {:?}",
                doc.paths.paths.keys()
            );
        }
        let schemes = &doc
            .components
            .as_ref()
            .expect("components")
            .security_schemes;
        assert!(
            schemes.contains_key("bearer"),
            "patient endpoints name the bearer scheme"
        );
    }
}
