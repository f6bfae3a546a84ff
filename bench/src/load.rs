//! The load: a fixed number of requests pulled from a shared counter by a fixed number of
//! worker tasks over one keep-alive client, each request timed; and the figures made from
//! them.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 201: a place held (`pending_payment`).
    Held,
    /// 200 from `/healthz`.
    Ok,
    /// 409 `SLOT_SOLD_OUT`.
    SoldOut,
    /// 409 `ALREADY_BOOKED`.
    AlreadyBooked,
    /// Any other answer: status and error code.
    Other { status: u16, code: String },
    /// No answer within the client timeout.
    Timeout,
    /// The connection failed (refused, reset, closed before an answer).
    Transport(String),
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub latency_us: u64,
    pub outcome: Outcome,
    /// Which patient made the attempt (unused for `/healthz`).
    pub patient: usize,
}

/// Runs `total` calls of `attempt(n)` for n in 0..total from `concurrency` worker tasks, printing
/// progress every 2 s. Returns every sample (in no particular order) and the wall time.
pub async fn run<F, Fut, T>(
    label: &str,
    total: usize,
    concurrency: usize,
    attempt: F,
) -> (Vec<T>, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let attempt = Arc::new(attempt);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let progress = {
        let done = done.clone();
        let label = label.to_owned();
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0usize);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let now = (Instant::now(), done.load(Ordering::Relaxed));
                let rate = (now.1 - last.1) as f64 / (now.0 - last.0).as_secs_f64();
                eprintln!("[bench] {label}: {}/{total} ({rate:.0}/s)", now.1);
                last = now;
            }
        })
    };
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (attempt, next, done) = (attempt.clone(), next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return mine;
                }
                mine.push(attempt(n).await);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for worker in workers {
        all.extend(worker.await.expect("a load worker panicked"));
    }
    let elapsed = started.elapsed();
    progress.abort();
    (all, elapsed)
}

/// Sends one request, reads the whole answer, and classifies it.
pub async fn timed(request: reqwest::RequestBuilder, patient: usize) -> Sample {
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => classify(status, &body),
                Err(e) => failure(&e),
            }
        }
        Err(e) => failure(&e),
    };
    Sample {
        latency_us: started.elapsed().as_micros() as u64,
        outcome,
        patient,
    }
}

fn failure(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else {
        // The innermost cause says what happened ("connection reset by peer", …).
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        Outcome::Transport(cause.to_string())
    }
}

fn classify(status: u16, body: &[u8]) -> Outcome {
    match status {
        200 => Outcome::Ok,
        201 => Outcome::Held,
        _ => {
            let code = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            match (status, code.as_str()) {
                (409, "SLOT_SOLD_OUT") => Outcome::SoldOut,
                (409, "ALREADY_BOOKED") => Outcome::AlreadyBooked,
                _ => Outcome::Other { status, code },
            }
        }
    }
}

/// The figures of one phase.
#[derive(Debug, Clone, Default)]
pub struct PhaseStats {
    pub requests: usize,
    pub elapsed_s: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Latency of the answers 201 alone (the places won): p50, p99, max, in ms.
    pub held_ms: [f64; 3],
    pub ok: usize,
    pub held: usize,
    pub sold_out: usize,
    pub already_booked: usize,
    pub server_errors: usize,
    pub other: usize,
    pub timeouts: usize,
    pub transport: usize,
    /// Status + code of every unexpected answer, with counts (for the report).
    pub unexpected: BTreeMap<String, usize>,
    /// CPU over the phase, in cores: the gateway, the load generator, the whole machine.
    pub cpu: crate::procs::CpuUse,
    /// PostgreSQL and Redis over the phase, in cores (booking phases only).
    pub servers: crate::server_cpu::ServerCpu,
    /// The miniprogram-mock over the phase, in cores (booking phases only): WeChat's side of
    /// opening the provider orders.
    pub mock: f64,
    /// Rate of the answers of the kind the phase is about (sold-out answers in the sold-out
    /// phase).
    pub sold_out_rate: f64,
}

impl PhaseStats {
    pub fn from_samples(samples: &[Sample], elapsed: Duration) -> Self {
        let mut latencies: Vec<u64> = samples.iter().map(|s| s.latency_us).collect();
        latencies.sort_unstable();
        let mut stats = PhaseStats {
            requests: samples.len(),
            elapsed_s: elapsed.as_secs_f64(),
            rate: samples.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: percentile_ms(&latencies, 50.0),
            p90_ms: percentile_ms(&latencies, 90.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            max_ms: latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
            ..Default::default()
        };
        let mut held: Vec<u64> = samples
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Held))
            .map(|s| s.latency_us)
            .collect();
        held.sort_unstable();
        stats.held_ms = [
            percentile_ms(&held, 50.0),
            percentile_ms(&held, 99.0),
            held.last().copied().unwrap_or(0) as f64 / 1000.0,
        ];
        for sample in samples {
            match &sample.outcome {
                Outcome::Ok => stats.ok += 1,
                Outcome::Held => stats.held += 1,
                Outcome::SoldOut => stats.sold_out += 1,
                Outcome::AlreadyBooked => stats.already_booked += 1,
                Outcome::Other { status, code } => {
                    if *status >= 500 {
                        stats.server_errors += 1;
                    } else {
                        stats.other += 1;
                    }
                    *stats
                        .unexpected
                        .entry(format!("{status} {code}"))
                        .or_default() += 1;
                }
                Outcome::Timeout => stats.timeouts += 1,
                Outcome::Transport(why) => {
                    stats.transport += 1;
                    *stats
                        .unexpected
                        .entry(format!("transport error: {why}"))
                        .or_default() += 1;
                }
            }
        }
        stats.sold_out_rate = stats.sold_out as f64 / stats.elapsed_s;
        stats
    }

    /// Answers that are none of the expected kinds: 5xx, other codes, timeouts, transport.
    pub fn unanswered_or_unexpected(&self) -> usize {
        self.server_errors + self.other + self.timeouts + self.transport
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u64], pct: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|n| n * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }

    #[test]
    fn answers_are_classified_by_status_and_code() {
        let sold = br#"{"error":{"code":"SLOT_SOLD_OUT","message":"x","request_id":"r"}}"#;
        assert_eq!(classify(409, sold), Outcome::SoldOut);
        let dup = br#"{"error":{"code":"ALREADY_BOOKED","message":"x","request_id":"r"}}"#;
        assert_eq!(classify(409, dup), Outcome::AlreadyBooked);
        assert_eq!(classify(201, b"{}"), Outcome::Held);
        assert_eq!(
            classify(503, b"oops"),
            Outcome::Other {
                status: 503,
                code: String::new()
            }
        );
    }
}
