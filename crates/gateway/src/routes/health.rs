//! Liveness and readiness for load balancers and orchestrators.

use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// A readiness check that hangs is as bad as a failed one: each dependency gets this long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`
    pub status: &'static str,
    pub checks: Checks,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    /// `ok`, or why not.
    pub database: String,
    /// `ok` (Redis), `ok (in-process)`, or why not.
    pub redis: String,
}

/// The process is alive. Touches no dependency.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Ready to serve: the database and Redis both answer. 503 with the reason otherwise.
#[utoipa::path(tag = "operations", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, redis) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, booking_core::db::ping(&state.db)),
        tokio::time::timeout(CHECK_TIMEOUT, state.stores.health.ping()),
    );
    let database = match database {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("down: {e}")),
        Err(_) => Some("down: no answer within 2 s".to_owned()),
    };
    let redis = match redis {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("down: {e}")),
        Err(_) => Some("down: no answer within 2 s".to_owned()),
    };
    let ready = database.is_none() && redis.is_none();
    if !ready {
        tracing::warn!(
            database = database.as_deref(),
            redis = redis.as_deref(),
            "not ready"
        );
    }
    let ok_redis = match state.stores.backend {
        kv_store::Backend::Redis => "ok",
        kv_store::Backend::InProcess => "ok (in-process)",
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks {
            database: database.unwrap_or_else(|| "ok".into()),
            redis: redis.unwrap_or_else(|| ok_redis.into()),
        },
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
