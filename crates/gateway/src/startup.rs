//! Build, then run: `Application::build` turns settings into a bound server (port 0 in tests);
//! `run_until_stopped` serves until SIGTERM/SIGINT, letting in-flight requests finish.

use crate::background;
use crate::http::context::request_context;
use crate::http::error::ApiError;
use crate::routes::{
    auth, bookings, callbacks, catalog, checkin, docs, health, me, ops, patients, sms,
};
use crate::routes::{ops_rules, ops_suspensions};
use crate::settings::Settings;
use crate::state::AppState;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Context;
use booking_core::clock::{Clock, SystemClock};
use kv_store::Stores;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let db = open_database(&settings).await?;
        booking_core::db::migrate(&db)
            .await
            .context("applying database migrations")?;
        let stores = if settings.redis.url.trim().is_empty() {
            Stores::in_process()
        } else {
            Stores::redis(&settings.redis.url, &settings.redis.key_prefix)
                .context("setting up the Redis stores")?
        };
        tracing::info!(backend = stores.backend.as_str(), "stores ready");

        let listener = TcpListener::bind(settings.bind_addr())
            .with_context(|| format!("binding server.bind = {}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let max_body = settings.server.max_body_bytes;
        let shutdown_timeout = settings.server.shutdown_timeout_s;
        let workers = settings.server.workers;
        let state = web::Data::new(AppState::build(Arc::new(settings), db, stores, clock)?);
        let metrics = PrometheusMetricsBuilder::new("guahao")
            .endpoint("/metrics")
            .mask_unmatched_patterns("UNMATCHED")
            .build()
            .map_err(|e| anyhow::anyhow!("building the Prometheus middleware: {e}"))?;

        prepare_inventory(&state).await;
        background::spawn_hold_sweeper(state.clone().into_inner());
        background::spawn_no_show_marker(state.clone().into_inner());
        background::spawn_payment_poller(state.clone().into_inner());

        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .error_handler(json_error),
                )
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::invalid_parameter(
                        "query",
                        "无法解析查询参数",
                        &format!("the query string could not be read: {e}"),
                    )
                    .into()
                }))
                .wrap(from_fn(uniform_errors))
                .wrap(metrics.clone())
                .wrap(from_fn(request_context))
                .configure(health::configure)
                .configure(docs::configure)
                .configure(callbacks::configure)
                .service(
                    web::scope("/api/v1")
                        .configure(catalog::configure)
                        .configure(auth::configure)
                        .configure(sms::configure)
                        .configure(me::configure)
                        .configure(patients::configure)
                        .configure(bookings::configure)
                        .configure(checkin::configure)
                        .configure(ops::configure)
                        .configure(ops_rules::configure)
                        .configure(ops_suspensions::configure),
                )
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::not_found(
                        "NOT_FOUND",
                        "接口不存在",
                        "No such endpoint",
                    ))
                }))
        })
        // Longer than the idle timeout of the proxies and clients in front (60 s is common):
        // the side that closes an idle connection must be the client, or a request sent on it
        // just as the server closes it fails.
        .keep_alive(std::time::Duration::from_secs(75))
        .listen(listener)?
        .shutdown_timeout(shutdown_timeout);
        let server = if workers > 0 {
            server.workers(workers)
        } else {
            server
        };
        Ok(Self {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Brings the slot inventory in line with the database before serving. With Redis this is a
/// reconcile whose drifts are logged (Redis may have been flushed or restarted while no gateway
/// ran); the in-process inventory starts empty and is simply loaded. Failure is not fatal:
/// bookings load their schedule on first use.
async fn prepare_inventory(state: &AppState) {
    let today = state.clock.today_shanghai();
    if state.settings.redis.url.trim().is_empty() {
        match state.bookings.warm_inventory(today).await {
            Ok(n) => tracing::info!(schedules = n, "inventory loaded from the database"),
            Err(e) => tracing::warn!(error = %e, "could not load the inventory"),
        }
        return;
    }
    let from = today.pred_opt().unwrap_or(today);
    match state.bookings.reconcile(from, |_, _| {}).await {
        Ok(report) if report.drifts.is_empty() => {
            tracing::info!(
                schedules = report.schedules_checked,
                "inventory matches the database"
            )
        }
        Ok(report) => {
            for drift in &report.drifts {
                tracing::warn!(schedule_id = %drift.schedule_id, kind = drift.kind, "inventory drift repaired");
            }
            tracing::warn!(
                schedules = report.schedules_checked,
                drifted = report.drifts.len(),
                "inventory reconciled"
            );
        }
        Err(e) => tracing::warn!(error = %e, "could not reconcile the inventory"),
    }
}

/// Connects to the database of record, creating the folder of a SQLite file if needed.
pub async fn open_database(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let url = &settings.database.url;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    booking_core::db::connect_with(url, settings.database.max_connections)
        .await
        .with_context(|| format!("connecting to database.url ({})", redact(url)))
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn json_error(error: JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            payload_too_large().into()
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "请求体须为 application/json",
            "The body must be application/json",
        )
        .into(),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            "请求体不是有效的 JSON",
            format!("The body is not valid JSON for this endpoint: {other}"),
        )
        .into(),
    }
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "请求体过大",
        "The request body is too large",
    )
}

/// Errors produced by actix itself (an oversized raw body, a method it cannot route) come as
/// plain text; this gives them the same JSON shape as ours.
async fn uniform_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    // Payment providers get the answers their protocols define (Alipay's literal `fail`).
    let is_callback = req.path().starts_with("/callbacks/");
    let response = next.call(req).await?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_callback {
        return Ok(response.map_into_left_body());
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        StatusCode::NOT_FOUND => ApiError::not_found("NOT_FOUND", "接口不存在", "No such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "METHOD_NOT_ALLOWED",
            "不支持该请求方法",
            "Method not allowed",
        ),
        s if s.is_server_error() => {
            ApiError::internal(format!("unexpected {s} from the framework"))
        }
        s => ApiError::new(s, "BAD_REQUEST", "请求无效", "Bad request"),
    };
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, error.error_response()).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact("postgres://guahao:s3cret@db:5432/guahao"),
            "postgres://guahao:***@db:5432/guahao"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact("sqlite://data/guahao.db?mode=rwc"),
            "sqlite://data/guahao.db?mode=rwc"
        );
    }
}

#[cfg(test)]
mod limit_tests {
    use super::{json_error, uniform_errors};
    use crate::http::context::request_context;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    #[actix_web::test]
    async fn oversized_and_malformed_bodies_get_json_errors() {
        let app = test::init_service(
            App::new()
                .app_data(
                    web::JsonConfig::default()
                        .limit(1024)
                        .error_handler(json_error),
                )
                .app_data(web::PayloadConfig::new(1024))
                .wrap(from_fn(uniform_errors))
                .wrap(from_fn(request_context))
                .route(
                    "/json",
                    web::post().to(|_: web::Json<serde_json::Value>| async {
                        HttpResponse::Ok().finish()
                    }),
                )
                .route(
                    "/raw",
                    web::post().to(|_: web::Bytes| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
        for (path, content_type, body, status, code) in [
            (
                "/json",
                "application/json",
                big.clone(),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                "/raw",
                "application/octet-stream",
                big,
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                "/json",
                "application/json",
                "{not json".to_owned(),
                400,
                "INVALID_JSON",
            ),
            (
                "/json",
                "text/plain",
                "{}".to_owned(),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
        ] {
            let request = test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", content_type))
                .set_payload(body)
                .to_request();
            let response = test::call_service(&app, request).await;
            assert_eq!(response.status().as_u16(), status, "{path} {code}");
            assert!(response.headers().contains_key("x-request-id"));
            let body: serde_json::Value = test::read_body_json(response).await;
            assert_eq!(body["error"]["code"], code, "{path}: {body}");
            assert!(!body["error"]["request_id"].as_str().unwrap().is_empty());
        }
    }
}
