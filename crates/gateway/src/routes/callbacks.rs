//! Payment notifications. Each is verified on its raw bytes, written to `callback_log` whatever
//! the verdict before anything is acted on, applied exactly once by the booking domain, and
//! answered the way its provider expects: WeChat Pay 204 (or 4xx/5xx with `{"code":"FAIL"}`),
//! Alipay the literal `success` (or `fail`). No provider is called on this path, so the answer
//! comes well inside WeChat's 5-second limit.

use crate::payments::{alipay, wechatpay};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::payments::{CallbackEntry, PaymentError, PaymentNotice};
use chrono::{DateTime, Utc};
use payment_adapter::wechatpay::SignatureHeaders;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/callbacks/wechatpay", "/callbacks/wechatpay/{merchant}"])
            .route(web::post().to(wechatpay_notification)),
    )
    .service(
        web::resource(["/callbacks/alipay", "/callbacks/alipay/{merchant}"])
            .route(web::post().to(alipay_notification)),
    );
}

/// Twice the accepted clock skew: a nonce seen within it is a replay.
const NONCE_MEMORY: Duration = Duration::from_secs(2 * 5 * 60);

/// A notification that will not be applied: why (for `callback_log`) and the HTTP status.
struct Refusal {
    reason: &'static str,
    status: StatusCode,
}

impl Refusal {
    fn new(reason: &'static str, status: StatusCode) -> Self {
        Self { reason, status }
    }
}

/// What applying a verified notice came to.
enum Verdict {
    Applied,
    Refused(Refusal),
}

/// A notification as it arrived, for `callback_log`.
struct Received<'a> {
    merchant: Option<&'a str>,
    request_id: Option<&'a str>,
    /// The headers that matter for verification.
    headers: serde_json::Value,
    body: &'a [u8],
    at: DateTime<Utc>,
}

/// Writes the notification to `callback_log` whatever the checks said, then applies its notice
/// if it passed them. A notification that cannot be logged is not acted on: the provider is
/// told to send it again. The usual notification (the first copy of a payment for a pending
/// booking) is confirmed and logged in one transaction; every other one is logged first on its
/// own, then applied, then its log row completed.
async fn log_and_apply(
    state: &AppState,
    provider: &'static str,
    received: Received<'_>,
    checked: Result<Option<PaymentNotice>, Refusal>,
) -> Verdict {
    let notice = checked.as_ref().ok().and_then(Option::as_ref);
    let entry = CallbackEntry {
        provider,
        merchant: received.merchant,
        request_id: received.request_id,
        headers: received.headers,
        raw_body: received.body,
        verified: checked.is_ok(),
        reason: checked.as_ref().err().map(|r| r.reason),
        out_trade_no: notice.map(PaymentNotice::out_trade_no),
        provider_txn_id: notice.and_then(PaymentNotice::provider_txn_id),
        received_at: received.at,
    };
    if let Ok(Some(PaymentNotice::Paid(paid))) = &checked {
        match state
            .payments
            .confirm_logged(provider, paid, entry.clone())
            .await
        {
            Ok(Some(applied)) => {
                tracing::info!(provider, booking_id = %applied.booking_id(), outcome = applied.outcome(), "payment notification applied");
                return Verdict::Applied;
            }
            // Not the first copy for a pending booking: logged and applied step by step below.
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(provider, %error, "one-transaction confirmation failed; logging and applying step by step");
            }
        }
    }
    let log_id = match state.callbacks.record(entry).await {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(provider, %error, "callback log unavailable; refusing so the provider retries");
            return Verdict::Refused(Refusal::new(
                "internal_error",
                StatusCode::INTERNAL_SERVER_ERROR,
            ));
        }
    };
    match checked {
        Err(refusal) => Verdict::Refused(refusal),
        Ok(notice) => apply(state, provider, log_id, notice).await,
    }
}

/// Applies a verified notice and completes its log row.
async fn apply(
    state: &AppState,
    provider: &'static str,
    log_id: Uuid,
    notice: Option<PaymentNotice>,
) -> Verdict {
    let Some(notice) = notice else {
        return complete(state, log_id, "ignored", None, None, Verdict::Applied).await;
    };
    match state.payments.apply(provider, &notice).await {
        Ok(applied) => {
            tracing::info!(provider, booking_id = %applied.booking_id(), outcome = applied.outcome(), "payment notification applied");
            complete(
                state,
                log_id,
                applied.outcome(),
                None,
                Some(applied.booking_id()),
                Verdict::Applied,
            )
            .await
        }
        Err(PaymentError::UnknownOrder(_) | PaymentError::UnknownRefund(_)) => {
            let refusal = Refusal::new("unknown_out_trade_no", StatusCode::NOT_FOUND);
            complete(
                state,
                log_id,
                "rejected",
                Some(refusal.reason),
                None,
                Verdict::Refused(refusal),
            )
            .await
        }
        Err(error) => {
            tracing::error!(provider, %error, "payment notification not applied; the provider will retry");
            let refusal = Refusal::new("internal_error", StatusCode::INTERNAL_SERVER_ERROR);
            complete(
                state,
                log_id,
                "error",
                Some(&error.to_string()),
                None,
                Verdict::Refused(refusal),
            )
            .await
        }
    }
}

async fn complete(
    state: &AppState,
    log_id: Uuid,
    outcome: &str,
    reason: Option<&str>,
    booking_id: Option<Uuid>,
    verdict: Verdict,
) -> Verdict {
    if let Err(error) = state
        .callbacks
        .complete(log_id, outcome, reason, booking_id)
        .await
    {
        // The effect is committed; only the log's last word is missing.
        tracing::warn!(%log_id, %error, "callback log not completed");
    }
    verdict
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn wechatpay_notification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let received_at = state.clock.now();
    let channels = &state.payment_channels;
    let client = channels.wechatpay.client();
    let signature = SignatureHeaders::from_lookup(|name| header(&req, name));
    let verified = client.verify_notification(&signature, &body, received_at);
    let merchant = req.match_info().get("merchant");
    let config = client.config();
    let checked = match &verified {
        Err(error) => Err(Refusal::new(error.reason(), StatusCode::UNAUTHORIZED)),
        Ok(_) if merchant.is_some_and(|m| m != config.mchid) => {
            Err(Refusal::new("unknown_merchant", StatusCode::NOT_FOUND))
        }
        Ok(notification) => match wechatpay::foreign(notification, &config.mchid, &config.appid) {
            Some(reason) => Err(Refusal::new(reason, StatusCode::BAD_REQUEST)),
            None => Ok(notification),
        },
    };
    // Only a verified nonce is remembered, so forged requests cannot use up real ones.
    let checked = match checked {
        Ok(notification) => match state
            .stores
            .sets
            .insert_new(
                &format!("wechatpay-nonce:{}", notification.nonce),
                NONCE_MEMORY,
            )
            .await
        {
            Ok(true) => Ok(notification),
            Ok(false) => Err(Refusal::new("replayed_nonce", StatusCode::UNAUTHORIZED)),
            Err(error) => {
                tracing::error!(%error, "nonce store unavailable; refusing the notification so it comes again");
                Err(Refusal::new(
                    "store_unavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                ))
            }
        },
        Err(refusal) => Err(refusal),
    };
    let received = Received {
        merchant,
        request_id: header(&req, "request-id"),
        headers: json!({
            "Wechatpay-Timestamp": signature.timestamp,
            "Wechatpay-Nonce": signature.nonce,
            "Wechatpay-Serial": signature.serial,
            "Wechatpay-Signature": signature.signature,
            "Content-Type": header(&req, "content-type"),
        }),
        body: &body,
        at: received_at,
    };
    let checked = checked.map(wechatpay::notice);
    let verdict = log_and_apply(&state, wechatpay::PROVIDER, received, checked).await;
    match verdict {
        Verdict::Applied => HttpResponse::NoContent().finish(),
        Verdict::Refused(refusal) => {
            tracing::warn!(reason = refusal.reason, "WeChat Pay notification refused");
            wechatpay_fail(refusal.status, refusal.reason)
        }
    }
}

fn wechatpay_fail(status: StatusCode, reason: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"code": "FAIL", "message": reason}))
}

async fn alipay_notification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let received_at = state.clock.now();
    let channels = &state.payment_channels;
    let merchant = req.match_info().get("merchant");
    let verified = payment_adapter::alipay::verify_notification(
        &body,
        &channels.alipay_public_key,
        &channels.alipay_app_id,
    );
    let checked = match &verified {
        Err(error) => Err(Refusal::new(error.reason(), StatusCode::BAD_REQUEST)),
        Ok(_) if merchant.is_some_and(|m| m != channels.alipay_app_id) => {
            Err(Refusal::new("unknown_merchant", StatusCode::NOT_FOUND))
        }
        Ok(notification) => Ok(notification),
    };
    let received = Received {
        merchant,
        request_id: None,
        headers: json!({ "Content-Type": header(&req, "content-type") }),
        body: &body,
        at: received_at,
    };
    let checked = checked.map(|n| alipay::notice(n, &channels.alipay_app_id));
    let verdict = log_and_apply(&state, alipay::PROVIDER, received, checked).await;
    match verdict {
        Verdict::Applied => alipay_answer(StatusCode::OK, "success"),
        Verdict::Refused(refusal) => {
            tracing::warn!(reason = refusal.reason, "Alipay notification refused");
            alipay_answer(refusal.status, "fail")
        }
    }
}

fn alipay_answer(status: StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text)
}
