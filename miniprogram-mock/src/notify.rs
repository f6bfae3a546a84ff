//! Delivery of the payment providers' asynchronous notifications to the merchant's `notify_url`,
//! shared by the WeChat Pay and Alipay simulations.
//!
//! Like the real providers it POSTs, judges the merchant's answer with the provider's own rule and
//! retries on the provider's schedule (scaled by `MOCK_NOTIFY_TIME_SCALE`, default 0.001 so that
//! WeChat's 15 s becomes 15 ms). Tests can make delivery misbehave the ways the real networks do:
//! lost notifications, duplicates, late ones and reordered ones.
//!
//! Test hooks:
//! - `GET /mock/notifications`: the delivery log, `{"items": [{provider, url, attempt, status,
//!   accepted, dropped, error, time}]}`, oldest first. A lost notification is one entry with
//!   `dropped: true` and `attempt: 0`; a transport failure has `status: null` and `error`.
//! - `POST /mock/notifications/behaviour {"drop", "copies", "delay_ms", "hold"}`: the body replaces
//!   the current behaviour, an omitted field takes its default (0, 1, 0, false), so `{}` resets.
//!   `drop` = the next N notifications are lost; `copies` = each notification is sent N times
//!   concurrently; `delay_ms` = wait before the first attempt; `hold` = queue notifications until
//!   release.
//! - `POST /mock/notifications/release`: sends the held notifications in reverse order of arrival
//!   (each first attempt finishes before the next starts, so the merchant sees them reordered);
//!   `delay_ms` does not apply to them. Answers `{"released": N}`.
//!
//! Every attempt and every copy sends the same body. Headers that a provider computes per attempt
//! (WeChat Pay signs each one afresh, with a new `Wechatpay-Nonce` and `Wechatpay-Timestamp`) come
//! from [`Outgoing::sign_each_attempt`], so retries and copies are not replays to a nonce check.

use actix_web::{HttpResponse, web};
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The real providers give the merchant 5 seconds to answer; a slower answer counts as a failure.
const MERCHANT_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TIME_SCALE: f64 = 0.001;

/// One notification to deliver, with the provider's rules for judging the answer and retrying.
#[derive(Clone)]
pub struct Outgoing {
    /// `"wechatpay"` | `"alipay"`.
    pub provider: &'static str,
    pub url: String,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    /// Headers computed for each attempt over the body, e.g. a fresh signature.
    pub sign_each_attempt: Option<AttemptSigner>,
    pub body: Vec<u8>,
    /// True when the merchant's answer ends the retries (WeChat: 2xx; Alipay: 2xx with body
    /// exactly `success`).
    pub accepted: fn(status: u16, body: &[u8]) -> bool,
    /// The provider's retry delays in seconds, unscaled (WeChat: 15, 15, 30, 180, 600, 1200, 1800,
    /// 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600; Alipay: 240, 600, 600, 3600, 7200,
    /// 21600, 54000); scaled by `MOCK_NOTIFY_TIME_SCALE`.
    pub retry_delays_s: &'static [u64],
}

pub type AttemptSigner = Arc<dyn Fn(&[u8]) -> Vec<(String, String)> + Send + Sync>;

/// How delivery misbehaves, set by `POST /mock/notifications/behaviour`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct Behaviour {
    drop: u32,
    copies: Option<u32>,
    delay_ms: u64,
    hold: bool,
}

impl Behaviour {
    fn copies(&self) -> u32 {
        self.copies.unwrap_or(1).max(1)
    }
}

/// One line of the delivery log.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    pub provider: &'static str,
    pub url: String,
    /// 1 for the first attempt; 0 for a dropped notification that was never sent.
    pub attempt: u32,
    /// The merchant's HTTP status, `None` when nothing came back.
    pub status: Option<u16>,
    pub accepted: bool,
    pub dropped: bool,
    /// Why no answer came back (connection refused, timeout).
    pub error: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
}

type DeliveryLog = Arc<Mutex<Vec<DeliveryRecord>>>;

/// Sends notifications on spawned tasks, applying the test knobs and keeping the delivery log.
pub struct Notifier {
    client: reqwest::Client,
    time_scale: f64,
    behaviour: Mutex<Behaviour>,
    held: Mutex<Vec<Outgoing>>,
    log: DeliveryLog,
}

impl Notifier {
    /// `MOCK_NOTIFY_TIME_SCALE` multiplies every retry delay (default 0.001: 15 s → 15 ms).
    pub fn from_env() -> Self {
        let time_scale = match std::env::var("MOCK_NOTIFY_TIME_SCALE") {
            Err(_) => DEFAULT_TIME_SCALE,
            Ok(text) => match text.parse::<f64>() {
                Ok(scale) if scale.is_finite() && scale >= 0.0 => scale,
                _ => {
                    tracing::warn!(
                        value = %text,
                        "MOCK_NOTIFY_TIME_SCALE is not a non-negative number; using {DEFAULT_TIME_SCALE}"
                    );
                    DEFAULT_TIME_SCALE
                }
            },
        };
        Self::with_time_scale(time_scale)
    }

    fn with_time_scale(time_scale: f64) -> Self {
        let client = reqwest::Client::builder()
            .timeout(MERCHANT_ANSWER_TIMEOUT)
            // Idle connections go before the merchant's keep-alive closes them under a delivery.
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            // Only fails when the TLS backend cannot initialise, which no test can recover from.
            .expect("HTTP client for notifications");
        Self {
            client,
            time_scale,
            behaviour: Mutex::new(Behaviour::default()),
            held: Mutex::new(Vec::new()),
            log: Arc::default(),
        }
    }

    /// Queues `outgoing` for delivery on a spawned task (needs a running tokio runtime), after
    /// applying the test knobs; retries until accepted or the provider's schedule runs out.
    pub fn dispatch(&self, outgoing: Outgoing) {
        let behaviour = {
            let mut behaviour = lock(&self.behaviour);
            if behaviour.drop > 0 {
                behaviour.drop -= 1;
                drop(behaviour);
                record(&self.log, &outgoing, 0, Outcome::Dropped);
                return;
            }
            *behaviour
        };
        if behaviour.hold {
            lock(&self.held).push(outgoing);
            return;
        }
        let delay = Duration::from_millis(behaviour.delay_ms);
        let outgoing = Arc::new(outgoing);
        for _ in 0..behaviour.copies() {
            let delivery = self.delivery(outgoing.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                delivery.run().await;
            });
        }
    }

    /// Sends the held notifications, newest first; returns how many there were.
    fn release(&self) -> usize {
        let held = std::mem::take(&mut *lock(&self.held));
        let count = held.len();
        let copies = lock(&self.behaviour).copies();
        let deliveries: Vec<Delivery> = held
            .into_iter()
            .rev()
            .map(|outgoing| self.delivery(Arc::new(outgoing)))
            .collect();
        tokio::spawn(async move {
            for delivery in deliveries {
                for _ in 1..copies {
                    tokio::spawn(delivery.clone().run());
                }
                if !delivery.attempt(1).await {
                    tokio::spawn(delivery.retry());
                }
            }
        });
        count
    }

    fn delivery(&self, outgoing: Arc<Outgoing>) -> Delivery {
        Delivery {
            client: self.client.clone(),
            log: self.log.clone(),
            outgoing,
            time_scale: self.time_scale,
        }
    }

    fn log(&self) -> Vec<DeliveryRecord> {
        lock(&self.log).clone()
    }
}

/// One notification's delivery: the first attempt, then the retries.
#[derive(Clone)]
struct Delivery {
    client: reqwest::Client,
    log: DeliveryLog,
    outgoing: Arc<Outgoing>,
    time_scale: f64,
}

impl Delivery {
    async fn run(self) {
        if !self.attempt(1).await {
            self.retry().await;
        }
    }

    /// Attempts 2.. after the provider's delays, until one is accepted.
    async fn retry(self) {
        for (index, delay_s) in self.outgoing.retry_delays_s.iter().enumerate() {
            tokio::time::sleep(Duration::from_secs_f64(*delay_s as f64 * self.time_scale)).await;
            let attempt = u32::try_from(index + 2).unwrap_or(u32::MAX);
            if self.attempt(attempt).await {
                return;
            }
        }
    }

    /// One POST; true when the merchant's answer ends the retries.
    async fn attempt(&self, attempt: u32) -> bool {
        let outgoing = &*self.outgoing;
        let mut request = self
            .client
            .post(&outgoing.url)
            .header(reqwest::header::CONTENT_TYPE, outgoing.content_type)
            .body(outgoing.body.clone());
        let signed = outgoing
            .sign_each_attempt
            .as_ref()
            .map(|sign| sign(&outgoing.body))
            .unwrap_or_default();
        for (name, value) in outgoing.headers.iter().chain(&signed) {
            request = request.header(name, value);
        }
        let outcome = match request.send().await {
            Err(error) => Outcome::Failed(error.to_string()),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => Outcome::Answered {
                        status,
                        accepted: (outgoing.accepted)(status, &body),
                    },
                    Err(error) => Outcome::Failed(error.to_string()),
                }
            }
        };
        let accepted = matches!(outcome, Outcome::Answered { accepted: true, .. });
        record(&self.log, outgoing, attempt, outcome);
        accepted
    }
}

enum Outcome {
    Dropped,
    Failed(String),
    Answered { status: u16, accepted: bool },
}

fn record(log: &DeliveryLog, outgoing: &Outgoing, attempt: u32, outcome: Outcome) {
    let (status, accepted, dropped, error) = match outcome {
        Outcome::Dropped => (None, false, true, None),
        Outcome::Failed(error) => (None, false, false, Some(error)),
        Outcome::Answered { status, accepted } => (Some(status), accepted, false, None),
    };
    tracing::info!(
        provider = outgoing.provider,
        url = %outgoing.url,
        attempt,
        ?status,
        accepted,
        dropped,
        "notification"
    );
    lock(log).push(DeliveryRecord {
        provider: outgoing.provider,
        url: outgoing.url.clone(),
        attempt,
        status,
        accepted,
        dropped,
        error,
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    });
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the value whole, so a panic elsewhere does not poison it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn configure(cfg: &mut web::ServiceConfig, notifier: &web::Data<Notifier>) {
    cfg.app_data(notifier.clone())
        .route("/mock/notifications", web::get().to(delivery_log))
        .route(
            "/mock/notifications/behaviour",
            web::post().to(set_behaviour),
        )
        .route("/mock/notifications/release", web::post().to(release));
}

async fn delivery_log(notifier: web::Data<Notifier>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "items": notifier.log() }))
}

async fn set_behaviour(
    notifier: web::Data<Notifier>,
    behaviour: web::Json<Behaviour>,
) -> HttpResponse {
    *lock(&notifier.behaviour) = behaviour.into_inner();
    HttpResponse::NoContent().finish()
}

async fn release(notifier: web::Data<Notifier>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "released": notifier.release() }))
}

#[cfg(test)]
mod tests;
