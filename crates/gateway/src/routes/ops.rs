//! The operator API's sessions: login with a username and password, who am I, logout. Every
//! login, failed login and logout leaves a row in the audit trail (never the password).

use crate::auth::login_limit::LoginLimit;
use crate::auth::operator::OperatorCaller;
use crate::auth::patient::revoke;
use crate::auth::tokens::Audience;
use crate::http::client_ip::client_ip;
use crate::http::context;
use crate::http::error::{ApiError, ErrorBody, database_error};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use booking_core::operators::{Audit, Operator, OperatorError, USERNAME_MAX};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(me).service(logout);
}

/// No `Debug`: the password must not reach a log line by accident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsLoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub id: Uuid,
    pub username: String,
    /// `admin`, `operator`, `auditor` or `kiosk`.
    pub role: String,
    /// `null`: every hospital.
    pub hospital_id: Option<Uuid>,
}

impl From<&Operator> for OperatorView {
    fn from(operator: &Operator) -> Self {
        Self {
            id: operator.id,
            username: operator.username.clone(),
            role: operator.role.as_str().to_owned(),
            hospital_id: operator.hospital_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OpsLoginResponse {
    /// Bearer token for `Authorization: Bearer …` on `/api/v1/ops/…`.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub operator: OperatorView,
}

/// Where an audited action came from.
struct Origin {
    ip: IpAddr,
    request_id: String,
}

impl Origin {
    fn of(state: &AppState, req: &HttpRequest) -> Self {
        Self {
            ip: client_ip(req, &state.trusted_proxies),
            request_id: context::current().request_id,
        }
    }

    async fn audit(
        &self,
        state: &AppState,
        operator_id: Option<Uuid>,
        action: &str,
        details: serde_json::Value,
    ) -> Result<(), ApiError> {
        let target = operator_id.map(|id| id.to_string());
        Audit::record(
            &state.db,
            operator_id,
            action,
            target.as_ref().map(|_| "operator"),
            target.as_deref(),
            details,
            Some(&self.ip.to_string()),
            Some(&self.request_id),
        )
        .await
        .map(drop)
        .map_err(database_error)
    }
}

/// Log in as an operator.
///
/// Ten failed logins for one username from one IP within 15 minutes lock that pair out for the
/// rest of the window.
#[utoipa::path(
    tag = "ops",
    request_body = OpsLoginRequest,
    responses(
        (status = 200, body = OpsLoginResponse),
        (status = 401, body = ErrorBody, description = "INVALID_CREDENTIALS: unknown username, wrong password or deactivated account"),
        (status = 429, body = ErrorBody, description = "LOGIN_RATE_LIMITED, with Retry-After"),
    )
)]
#[post("/ops/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<OpsLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let origin = Origin::of(&state, &req);
    let limit = LoginLimit::new(&state.stores, &body.username, origin.ip);
    limit.check().await?;
    match state
        .operators
        .authenticate(&body.username, &body.password)
        .await
    {
        Ok(operator) => {
            origin
                .audit(&state, Some(operator.id), "ops.login", json!({}))
                .await?;
            let issued = state.tokens.issue(
                Audience::Operator,
                operator.id,
                operator.role.as_str(),
                state.clock.now(),
            );
            Ok(HttpResponse::Ok().json(OpsLoginResponse {
                token: issued.token,
                expires_in: issued.claims.exp - issued.claims.iat,
                operator: OperatorView::from(&operator),
            }))
        }
        Err(OperatorError::InvalidCredentials) => {
            // What was typed as the username, cut to a username's length: enough to see who
            // is being guessed at, too short to hold much of a password typed in the wrong box.
            let username: String = body.username.trim().chars().take(USERNAME_MAX).collect();
            origin
                .audit(
                    &state,
                    None,
                    "ops.login.failed",
                    json!({ "username": username }),
                )
                .await?;
            if limit.record_failure().await? {
                origin
                    .audit(
                        &state,
                        None,
                        "ops.login.locked",
                        json!({ "username": username }),
                    )
                    .await?;
            }
            Err(OperatorError::InvalidCredentials.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The operator the token belongs to.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OperatorView),
        (status = 401, body = ErrorBody, description = "No operator token (TOKEN_WRONG_AUDIENCE for a patient's)"),
    )
)]
#[get("/ops/me")]
async fn me(caller: OperatorCaller) -> HttpResponse {
    HttpResponse::Ok().json(OperatorView {
        id: caller.operator_id,
        username: caller.username,
        role: caller.role.as_str().to_owned(),
        hospital_id: caller.hospital_id,
    })
}

/// Revoke the caller's operator token.
#[utoipa::path(
    tag = "ops",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody))
)]
#[post("/ops/logout")]
async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: OperatorCaller,
) -> Result<HttpResponse, ApiError> {
    revoke(&state, &caller.claims).await?;
    Origin::of(&state, &req)
        .audit(&state, Some(caller.operator_id), "ops.logout", json!({}))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
