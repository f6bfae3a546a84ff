//! Publishing booking rule sets: the versions of a hospital (and of its departments and
//! doctors), and appending a new one. Versions are never edited; bookings name theirs.

use crate::auth::operator::OperatorCaller;
use crate::http::acting::acting_operator;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::params::{self, PageParams};
use crate::routes::catalog::List;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use booking_core::bookings::rule_sets::{PublishedRuleSet, RuleSetDraft};
use booking_core::operators::OperatorRole;
use booking_core::rules::{RuleScope, RuleSet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_rules).service(publish_rules);
}

/// What a rule set applies to.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Hospital,
    Department,
    Doctor,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRulesRequest {
    pub scope: ScopeKind,
    /// The hospital, department or doctor.
    pub scope_id: Uuid,
    /// RFC 3339; now or later.
    pub effective_from: DateTime<Utc>,
    /// Rule-set fields (`booking_window_days`, `release_time` "HH:MM", `hold_minutes`,
    /// `no_show_ladder_days`, …); those left out take the built-in defaults. Unknown fields and
    /// values out of range are refused.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct RuleSetVersionDto {
    pub id: Uuid,
    /// What bookings made under this version record, e.g. `hospital:<uuid>:v3`.
    pub version_label: String,
    /// `hospital`, `department` or `doctor`.
    pub scope: &'static str,
    pub scope_id: Uuid,
    pub version: u32,
    pub effective_from: DateTime<Utc>,
    /// `scheduled`, `in_force` or `superseded`, as of now.
    pub standing: &'static str,
    /// The whole rule set, defaults filled in.
    #[schema(value_type = Object)]
    pub rules: RuleSet,
    /// Id of the operator who published it.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PublishedRuleSet> for RuleSetVersionDto {
    fn from(p: PublishedRuleSet) -> Self {
        Self {
            id: p.id,
            version_label: p.version_label,
            scope: p.version.scope.kind(),
            scope_id: p.version.scope.id(),
            version: p.version.version,
            effective_from: p.version.effective_from,
            standing: p.standing.as_str(),
            rules: p.version.rules,
            created_by: p.created_by,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RulesParams {
    /// Required for operators of every hospital; defaults to the caller's own hospital.
    pub hospital_id: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// The rule-set versions of a hospital, its departments and its doctors, last published first.
/// Auditor role or above; an operator of one hospital sees only that hospital's.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    params(RulesParams),
    responses(
        (status = 200, body = List<RuleSetVersionDto>),
        (status = 400, body = ErrorBody, description = "INVALID_PARAMETER or MISSING_PARAMETER (hospital_id)"),
        (status = 403, body = ErrorBody, description = "FORBIDDEN_ROLE, OUTSIDE_OPERATOR_HOSPITAL"),
        (status = 404, body = ErrorBody, description = "HOSPITAL_NOT_FOUND"),
    )
)]
#[get("/ops/rules")]
async fn list_rules(
    state: web::Data<AppState>,
    caller: OperatorCaller,
    req: HttpRequest,
    q: web::Query<RulesParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(OperatorRole::Auditor)?;
    let hospital_id = params::uuid("hospital_id", q.hospital_id.as_deref())?
        .or(caller.hospital_id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MISSING_PARAMETER",
                "请指定 hospital_id",
                "Name a hospital_id",
            )
            .with_parameter("hospital_id")
        })?;
    let page = PageParams {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
    .parse()?;
    let acting = acting_operator(&state, &req, &caller);
    let versions = state.rule_sets.list(hospital_id, &acting, page).await?;
    Ok(HttpResponse::Ok().json(List {
        items: versions
            .items
            .into_iter()
            .map(RuleSetVersionDto::from)
            .collect(),
        next_cursor: versions.next_cursor,
    }))
}

/// Publish a new version of a hospital's, department's or doctor's rules. Admin role; an admin
/// of one hospital publishes only for that hospital. The version takes effect at
/// `effective_from` and every booking made under it records its label.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    request_body = PublishRulesRequest,
    responses(
        (status = 201, body = RuleSetVersionDto),
        (status = 400, body = ErrorBody, description = "RULES_INVALID, EFFECTIVE_FROM_IN_PAST, INVALID_JSON"),
        (status = 403, body = ErrorBody, description = "FORBIDDEN_ROLE, OUTSIDE_OPERATOR_HOSPITAL"),
        (status = 404, body = ErrorBody, description = "HOSPITAL_NOT_FOUND, DEPARTMENT_NOT_FOUND, DOCTOR_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "RULES_VERSION_CONFLICT: published concurrently; try again"),
    )
)]
#[post("/ops/rules")]
async fn publish_rules(
    state: web::Data<AppState>,
    caller: OperatorCaller,
    req: HttpRequest,
    body: web::Json<PublishRulesRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(OperatorRole::Admin)?;
    let body = body.into_inner();
    let scope = match body.scope {
        ScopeKind::Hospital => RuleScope::Hospital(body.scope_id),
        ScopeKind::Department => RuleScope::Department(body.scope_id),
        ScopeKind::Doctor => RuleScope::Doctor(body.scope_id),
    };
    let draft = RuleSetDraft {
        scope,
        effective_from: body.effective_from,
        rules: body.rules,
    };
    let acting = acting_operator(&state, &req, &caller);
    let published = state.rule_sets.publish(draft, &acting).await?;
    Ok(HttpResponse::Created().json(RuleSetVersionDto::from(published)))
}
