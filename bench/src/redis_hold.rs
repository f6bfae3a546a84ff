//! The raw Redis rate of the hold script the gateway runs on every booking attempt, on the keys
//! of a sold-out schedule (the path every sold-out answer takes), without the gateway.

use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use uuid::Uuid;

/// The exact script `booking-core` loads (KEYS[1] remaining, KEYS[2] holders; ARGV[1] segment,
/// ARGV[2] holder, ARGV[3] new entry).
pub const HOLD_LUA: &str = include_str!("../../crates/booking-core/src/inventory/lua/hold.lua");

/// The keys and arguments of one EVALSHA on a sold-out schedule.
pub struct SoldOutCall {
    pub sha: String,
    pub remaining: String,
    pub holders: String,
    pub segment: String,
    pub holder: String,
    pub entry: String,
}

impl SoldOutCall {
    /// `SCRIPT LOAD`s the script and makes a sold-out schedule under `prefix` with the same key
    /// layout as the gateway's (`P:inv:{S}:remaining`, `P:inv:{S}:holders`).
    pub async fn prepare(
        con: &mut redis::aio::MultiplexedConnection,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(HOLD_LUA)
            .query_async(con)
            .await
            .context("SCRIPT LOAD hold.lua")?;
        let schedule = Uuid::now_v7();
        let segment = Uuid::now_v7().to_string();
        let base = format!("{prefix}:inv:{{{schedule}}}");
        let call = Self {
            sha,
            remaining: format!("{base}:remaining"),
            holders: format!("{base}:holders"),
            holder: "f".repeat(64),
            entry: format!(
                "{}|{segment}|held|{}",
                Uuid::now_v7(),
                chrono::Utc::now().timestamp_millis() + 600_000
            ),
            segment,
        };
        let _: i64 = redis::cmd("HSET")
            .arg(&call.remaining)
            .arg("__loaded")
            .arg(1)
            .arg(&call.segment)
            .arg(0)
            .query_async(con)
            .await
            .context("HSET the sold-out schedule")?;
        let reply = call.invoke(con).await?;
        if reply != ["sold_out"] {
            bail!("the hold script answered {reply:?} on a sold-out schedule");
        }
        Ok(call)
    }

    async fn invoke(
        &self,
        con: &mut redis::aio::MultiplexedConnection,
    ) -> anyhow::Result<Vec<String>> {
        Ok(redis::cmd("EVALSHA")
            .arg(&self.sha)
            .arg(2)
            .arg(&self.remaining)
            .arg(&self.holders)
            .arg(&self.segment)
            .arg(&self.holder)
            .arg(&self.entry)
            .query_async(con)
            .await?)
    }

    /// The arguments after `EVALSHA` for redis-benchmark.
    pub fn benchmark_args(&self) -> Vec<String> {
        vec![
            "EVALSHA".into(),
            self.sha.clone(),
            "2".into(),
            self.remaining.clone(),
            self.holders.clone(),
            self.segment.clone(),
            self.holder.clone(),
            self.entry.clone(),
        ]
    }
}

/// `total` EVALSHAs from `concurrency` tasks over one multiplexed connection (redis-rs
/// pipelines the concurrent calls on the socket, as the gateway's connection manager does).
/// Returns ops/s; fails if any answer is not `sold_out`.
pub async fn client_loop(
    call: Arc<SoldOutCall>,
    con: redis::aio::MultiplexedConnection,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (call, next, mut con) = (call.clone(), next.clone(), con.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let reply = call.invoke(&mut con).await?;
                if reply != ["sold_out"] {
                    bail!("the hold script answered {reply:?} on a sold-out schedule");
                }
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await.context("an EVALSHA task panicked")??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// `redis-benchmark -n N -c C EVALSHA …` if the tool is installed: ops/s, or why not.
pub async fn redis_benchmark(
    redis_url: &str,
    call: &SoldOutCall,
    total: usize,
    clients: usize,
) -> Result<(f64, String), String> {
    let url = reqwest::Url::parse(redis_url).map_err(|e| format!("Redis URL: {e}"))?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(6379).to_string();
    let db = url.path().trim_start_matches('/');
    let db = if db.is_empty() { "0" } else { db };
    let mut args: Vec<String> = [
        "-h",
        &host,
        "-p",
        &port,
        "--dbnum",
        db,
        "-n",
        &total.to_string(),
        "-c",
        &clients.to_string(),
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(call.benchmark_args());
    let output = tokio::process::Command::new("redis-benchmark")
        .args(&args)
        .output()
        .await
        .map_err(|e| format!("redis-benchmark not run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // `-q` prints progress lines separated by \r and ends with
    // "EVALSHA …: 123456.79 requests per second, p50=0.191 msec".
    let last = text
        .split(['\r', '\n'])
        .rfind(|l| l.contains("requests per second"))
        .ok_or_else(|| {
            format!(
                "no rate in the output of redis-benchmark: {}{}",
                text,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let before = last.split(" requests per second").next().unwrap_or("");
    let rate: f64 = before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unreadable redis-benchmark line {last:?}"))?;
    let command = format!(
        "redis-benchmark -n {total} -c {clients} -q EVALSHA <sha of hold.lua> 2 <remaining> <holders> <segment> <holder> <entry>"
    );
    Ok((rate, command))
}
