//! Posting notifications to the gateway as the providers do, timing each, and judging each
//! answer the way the provider would: WeChat Pay counts a 2xx as delivered (the gateway answers
//! 204), Alipay only a 2xx whose body is exactly `success`.

use super::db_activity::DbActivity;
use super::notifications::WechatNotification;
use crate::load::percentile_ms;
use crate::procs::CpuUse;
use crate::server_cpu::ServerCpu;
use reqwest::header::CONTENT_TYPE;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the provider made of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// Anything the provider would retry: status and what the body said.
    Refused {
        status: u16,
        said: String,
    },
    Timeout,
    Transport(String),
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub latency_us: u64,
    pub answer: Answer,
}

pub async fn post_wechat(http: &reqwest::Client, url: &str, n: &WechatNotification) -> Delivery {
    let request = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("Wechatpay-Timestamp", &n.timestamp)
        .header("Wechatpay-Nonce", &n.nonce)
        .header("Wechatpay-Serial", &n.serial)
        .header("Wechatpay-Signature", &n.signature)
        .body(n.body.clone());
    timed(request, wechat_answer).await
}

pub async fn post_alipay(http: &reqwest::Client, url: &str, body: &[u8]) -> Delivery {
    let request = http
        .post(url)
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.to_vec());
    timed(request, alipay_answer).await
}

async fn timed(request: reqwest::RequestBuilder, judge: fn(u16, &[u8]) -> Answer) -> Delivery {
    let started = Instant::now();
    let answer = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => judge(status, &body),
                Err(e) => failure(&e),
            }
        }
        Err(e) => failure(&e),
    };
    Delivery {
        latency_us: started.elapsed().as_micros() as u64,
        answer,
    }
}

fn failure(e: &reqwest::Error) -> Answer {
    if e.is_timeout() {
        return Answer::Timeout;
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    Answer::Transport(cause.to_string())
}

/// WeChat Pay: any 2xx is delivered; a refusal carries `{"code":"FAIL","message":reason}`.
fn wechat_answer(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) {
        return Answer::Accepted;
    }
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| clip(body));
    Answer::Refused { status, said }
}

/// Alipay: delivered only on a 2xx whose whole body is `success`.
fn alipay_answer(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) && body == b"success" {
        Answer::Accepted
    } else {
        Answer::Refused {
            status,
            said: clip(body),
        }
    }
}

fn clip(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned()
}

/// The figures of one delivery phase.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStats {
    pub requests: usize,
    pub elapsed_s: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub accepted: usize,
    /// Every answer but an accepted one, by kind, with counts.
    pub errors: BTreeMap<String, usize>,
    pub cpu: CpuUse,
    pub servers: ServerCpu,
    /// What the bench database did over the phase (read once PostgreSQL published it).
    pub db: Option<DbActivity>,
}

impl DeliveryStats {
    pub fn from_deliveries(deliveries: &[Delivery], elapsed: Duration) -> Self {
        let mut latencies: Vec<u64> = deliveries.iter().map(|d| d.latency_us).collect();
        latencies.sort_unstable();
        let mut errors = BTreeMap::new();
        let mut accepted = 0;
        for delivery in deliveries {
            let kind = match &delivery.answer {
                Answer::Accepted => {
                    accepted += 1;
                    continue;
                }
                Answer::Refused { status, said } => format!("{status} {said}"),
                Answer::Timeout => "timeout".to_owned(),
                Answer::Transport(why) => format!("transport error: {why}"),
            };
            *errors.entry(kind).or_default() += 1;
        }
        Self {
            requests: deliveries.len(),
            elapsed_s: elapsed.as_secs_f64(),
            rate: deliveries.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: percentile_ms(&latencies, 50.0),
            p90_ms: percentile_ms(&latencies, 90.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            max_ms: latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
            accepted,
            errors,
            ..Self::default()
        }
    }

    pub fn error_count(&self) -> usize {
        self.requests - self.accepted
    }

    /// PostgreSQL transactions per notification.
    pub fn transactions_per_request(&self) -> Option<f64> {
        let db = self.db.as_ref()?;
        Some(db.transactions as f64 / self.requests.max(1) as f64)
    }

    /// CPU milliseconds per notification of a process that used `cores` over the phase.
    pub fn cpu_ms_per_request(&self, cores: f64) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        cores * self.elapsed_s * 1000.0 / self.requests as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_answers_are_judged_by_status() {
        assert_eq!(wechat_answer(204, b""), Answer::Accepted);
        assert_eq!(wechat_answer(200, b"{}"), Answer::Accepted);
        assert_eq!(
            wechat_answer(401, br#"{"code":"FAIL","message":"replayed_nonce"}"#),
            Answer::Refused {
                status: 401,
                said: "replayed_nonce".into()
            }
        );
        assert_eq!(
            wechat_answer(502, b"bad gateway"),
            Answer::Refused {
                status: 502,
                said: "bad gateway".into()
            }
        );
    }

    #[test]
    fn alipay_needs_exactly_success() {
        assert_eq!(alipay_answer(200, b"success"), Answer::Accepted);
        for (status, body) in [(200, &b"fail"[..]), (200, b"success\n"), (500, b"success")] {
            assert!(
                matches!(alipay_answer(status, body), Answer::Refused { .. }),
                "{status} {body:?}"
            );
        }
    }

    #[test]
    fn stats_count_errors_by_kind_and_take_percentiles() {
        let delivery = |ms: u64, answer: Answer| Delivery {
            latency_us: ms * 1000,
            answer,
        };
        let mut deliveries: Vec<Delivery> =
            (1..=98).map(|ms| delivery(ms, Answer::Accepted)).collect();
        deliveries.push(delivery(
            99,
            Answer::Refused {
                status: 500,
                said: "internal_error".into(),
            },
        ));
        deliveries.push(delivery(100, Answer::Timeout));
        let stats = DeliveryStats::from_deliveries(&deliveries, Duration::from_millis(500));
        assert_eq!(
            (stats.requests, stats.accepted, stats.error_count()),
            (100, 98, 2)
        );
        assert_eq!(stats.rate, 200.0);
        assert_eq!(
            (stats.p50_ms, stats.p99_ms, stats.max_ms),
            (50.0, 99.0, 100.0)
        );
        assert_eq!(stats.errors.get("500 internal_error"), Some(&1));
        assert_eq!(stats.errors.get("timeout"), Some(&1));
        assert_eq!(stats.cpu_ms_per_request(1.0), 5.0);
    }
}
