//! The payment-notification benchmark of `make bench` (issue 5, item 7).
//!
//! 1. In-process, one thread: WeChat Pay notifications verified and decrypted, and Alipay ones
//!    verified, per second, beside `openssl speed rsa2048` verify/s measured in the same run.
//! 2. Over HTTP with PostgreSQL and Redis: real pending bookings (made over HTTP by distinct
//!    patients), then one valid notification per booking posted to the gateway from many
//!    connections, WeChat Pay first and Alipay second, timed; afterwards PostgreSQL must show every
//!    booking confirmed exactly once.

mod db_activity;
mod delivery;
mod in_process;
mod notifications;
mod openssl;
mod report;
mod settlement;
mod setup;

pub use report::{BEGIN, END, PaymentReport};

use crate::Args;
use crate::infra::Infra;
use crate::load;
use crate::procs::{self, CpuSnapshot};
use crate::server_cpu::ServerCpuSnapshot;
use anyhow::Context;
use chrono::Utc;
use db_activity::{DbCounters, STATS_SETTLE};
use delivery::{Delivery, DeliveryStats};
use in_process::{LoopRate, Verifiers, run_for};
use notifications::{
    ALIPAY_APP_ID, AlipaySender, PaidOrder, WECHATPAY_APIV3_KEY, WECHATPAY_APPID, WECHATPAY_MCHID,
    WECHATPAY_PUBLIC_KEY_ID, WechatPaySender,
};
use report::{InProcess, OverHttp, Setup};
use sea_orm::{Database, DatabaseConnection};
use setup::Channel;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The knobs of the payment benchmark.
#[derive(clap::Args, Debug)]
pub struct PaymentArgs {
    /// Pending bookings per provider, each by its own patient, each paid by one notification.
    #[arg(long, default_value_t = 10_000)]
    pub payment_bookings: usize,
    /// Concurrent HTTP/1.1 keep-alive connections posting notifications.
    #[arg(long, default_value_t = 64)]
    pub payment_connections: usize,
    /// At most this many schedules (one segment each) take the bookings.
    #[arg(long, default_value_t = 100)]
    pub payment_schedules: usize,
    /// Seconds of each in-process loop, and the `-seconds` of `openssl speed`.
    #[arg(long, default_value_t = 5)]
    pub verify_seconds: u64,
    /// Distinct notifications each in-process loop cycles through.
    #[arg(long, default_value_t = 1000)]
    pub in_process_notifications: usize,
}

/// Runs both parts; the database and Redis keys of the HTTP part are removed whatever happens.
pub async fn run_with_cleanup(args: &Args) -> anyhow::Result<PaymentReport> {
    let started = Instant::now();
    let load_before = crate::load_average();
    let root = crate::root(args);
    // First, while none of the bench's processes run.
    let in_process = in_process(&root, &args.payments).await?;

    let run_id = Uuid::now_v7().simple().to_string()[20..].to_owned();
    let infra = Infra::create(&args.postgres_url, &args.redis_url, &run_id).await?;
    eprintln!(
        "[bench] payments: database {}, Redis prefix {}:",
        infra.db_name, infra.redis_prefix
    );
    let mut db: Option<DatabaseConnection> = None;
    let outcome = tokio::select! {
        outcome = over_http(args, &root, &infra, &run_id, &mut db) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    infra.cleanup(db.as_ref()).await;
    let (wechat, alipay, setup) = outcome?;
    Ok(PaymentReport {
        date: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: args.command_label.clone(),
        machine: setup.machine,
        load_before,
        in_process,
        wechat,
        alipay,
        sessions: setup.sessions,
        places_per_session: setup.places_per_session,
        connections: args.payments.payment_connections,
        gateway_workers: args.gateway_workers,
        total_s: started.elapsed().as_secs_f64(),
    })
}

async fn in_process(root: &Path, args: &PaymentArgs) -> anyhow::Result<InProcess> {
    let (wechat_sender, alipay_sender) = (
        WechatPaySender::from_dev_keys(root)?,
        AlipaySender::from_dev_keys(root)?,
    );
    let verifiers = Verifiers::from_dev_keys(root)?;
    // Made-up orders: nothing here reaches a database.
    let orders: Vec<PaidOrder> = (0..args.in_process_notifications)
        .map(|i| PaidOrder {
            out_trade_no: format!("BENCH{i:027}"),
            amount_fen: 100 + (i as i64 % 50) * 100,
            provider_trade_no: format!("2026{i:024}"),
        })
        .collect();
    let now = Utc::now();
    let wechat =
        tokio::task::block_in_place(|| sign_all(&orders, |o| wechat_sender.notification(o, now)))?;
    let alipay =
        tokio::task::block_in_place(|| sign_all(&orders, |o| alipay_sender.notification(o, now)))?;
    eprintln!(
        "[bench] payments: openssl speed -seconds {} rsa2048",
        args.verify_seconds
    );
    let openssl = openssl::rsa2048(args.verify_seconds).await?;
    eprintln!(
        "[bench] payments: openssl RSA-2048 verify {:.0}/s, sign {:.0}/s; now our loops, one thread, {} s each",
        openssl.verify_per_s, openssl.sign_per_s, args.verify_seconds
    );
    let min_time = Duration::from_secs(args.verify_seconds);
    let (wechat_rate, signature_rate, alipay_rate) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(LoopRate, LoopRate, LoopRate)> {
            Ok((
                run_for(&wechat, min_time, |n| verifiers.wechat(n))
                    .context("WeChat verify+decrypt loop")?,
                run_for(&wechat, min_time, |n| verifiers.wechat_signature_only(n))
                    .context("WeChat signature loop")?,
                run_for(&alipay, min_time, |body| verifiers.alipay(body))
                    .context("Alipay verify loop")?,
            ))
        })
        .await??;
    eprintln!(
        "[bench] payments: WeChat verify+decrypt {:.0}/s (RSA check alone {:.0}/s), Alipay verify {:.0}/s",
        wechat_rate.per_second, signature_rate.per_second, alipay_rate.per_second
    );
    Ok(InProcess {
        openssl,
        wechat: wechat_rate,
        wechat_signature_only: signature_rate,
        alipay: alipay_rate,
        distinct: args.in_process_notifications,
        seconds: args.verify_seconds,
    })
}

/// Signs one notification per order on every core (RSA signing is the slow part of building
/// them), keeping the order.
fn sign_all<T: Send>(
    orders: &[PaidOrder],
    sign: impl Fn(&PaidOrder) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = orders.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = orders
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&sign).collect::<anyhow::Result<Vec<T>>>()))
            .collect();
        let mut all = Vec::with_capacity(orders.len());
        for part in parts {
            all.extend(part.join().expect("a signing thread panicked")?);
        }
        Ok(all)
    })
}

/// What the HTTP part learnt about its set-up, for the report.
struct HttpSetup {
    machine: crate::report::Machine,
    sessions: usize,
    places_per_session: u32,
}

async fn over_http(
    args: &Args,
    root: &Path,
    infra: &Infra,
    run_id: &str,
    db_slot: &mut Option<DatabaseConnection>,
) -> anyhow::Result<(OverHttp, OverHttp, HttpSetup)> {
    let p = &args.payments;
    let bin_dir = crate::bin_dir(args, root)?;
    let control = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let logs = tempfile::tempdir()?;
    let (_mock, mock_url) = procs::start_mock(&bin_dir, &control).await?;
    eprintln!("[bench] payments: miniprogram-mock on {mock_url}");
    let gateway = crate::gateway_spec(
        args,
        root,
        &bin_dir,
        infra,
        &mock_url,
        logs.path(),
        [
            // Nothing here is lost: the poller would only ask the mock about unpaid orders.
            ("GUAHAO__BOOKING__PAYMENT_POLL_AFTER_S", "3600"),
            // The merchant the notifications are signed for, whatever the config files say.
            ("GUAHAO__WECHATPAY__MCHID", WECHATPAY_MCHID),
            ("GUAHAO__WECHATPAY__APPID", WECHATPAY_APPID),
            ("GUAHAO__WECHATPAY__APIV3_KEY", WECHATPAY_APIV3_KEY),
            (
                "GUAHAO__WECHATPAY__PLATFORM_PUBLIC_KEY_ID",
                WECHATPAY_PUBLIC_KEY_ID,
            ),
            ("GUAHAO__ALIPAY__APP_ID", ALIPAY_APP_ID),
        ],
    )?;
    let base = gateway.base_url.clone();
    gateway.run(&["seed", "--demo"]).await?;
    let first = gateway.serve(&control).await?;
    let sessions = setup::bookable_sessions(&control, &base, p.payment_schedules).await?;
    first.terminate(Duration::from_secs(10))?;

    let n = p.payment_bookings;
    let db = Database::connect(&infra.database_url)
        .await
        .context("connecting to the bench database")?;
    *db_slot = Some(db.clone());
    // Both channels' patients go round the sessions, so no session gets more than this.
    let places_per_session = (2 * n.div_ceil(sessions.len())) as u32;
    setup::raise_capacity(&db, &sessions, places_per_session).await?;
    infra.flush_prefix().await?;
    let gateway_proc = gateway.serve(&control).await?;
    let pid = gateway_proc.pid();
    eprintln!(
        "[bench] payments: gateway on {base} (pid {pid}); {} schedules with {places_per_session} places each",
        sessions.len()
    );

    let mut orders = Vec::new();
    let mut setups = Vec::new();
    for channel in [Channel::Wechat, Channel::Alipay] {
        let started = Instant::now();
        let booked = setup::book(
            &control,
            &base,
            &sessions,
            channel,
            n,
            args.setup_concurrency,
            run_id,
        )
        .await?;
        let setup = Setup {
            seconds: started.elapsed().as_secs_f64(),
            retries: booked.retries,
        };
        eprintln!(
            "[bench] payments: {n} {} bookings pending in {:.1} s ({} set-up steps tried again)",
            channel.as_str(),
            setup.seconds,
            setup.retries
        );
        orders.push(booked.orders);
        setups.push(setup);
    }
    crate::infra::analyze(&db).await?;
    // From here on the set-up sends nothing to PostgreSQL; its statistics start to settle.
    let quiet_since = Instant::now();
    let now = Utc::now();
    let wechat_sender = WechatPaySender::from_dev_keys(root)?;
    let wechat_notifications = Arc::new(tokio::task::block_in_place(|| {
        sign_all(&orders[0], |o| wechat_sender.notification(o, now))
    })?);
    let alipay_sender = AlipaySender::from_dev_keys(root)?;
    let alipay_bodies = Arc::new(tokio::task::block_in_place(|| {
        sign_all(&orders[1], |o| alipay_sender.notification(o, now))
    })?);
    eprintln!(
        "[bench] payments: {} notifications signed in {:.1} s",
        2 * n,
        quiet_since.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(p.payment_connections)
        // Below actix-web's 5 s keep-alive, so an idle connection is never reused just as the
        // server closes it.
        .pool_idle_timeout(Duration::from_secs(4))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()?;
    tokio::time::sleep(STATS_SETTLE.saturating_sub(quiet_since.elapsed())).await;
    let mut counters = DbCounters::read(&db).await?;
    let ticks = procs::clock_ticks_per_second();

    let mut phases = Vec::new();
    for channel in [Channel::Wechat, Channel::Alipay] {
        open_connections(&http, &base, p.payment_connections).await;
        let url = Arc::new(format!("{base}/callbacks/{}", channel.provider()));
        let label = format!("{} notifications", channel.provider());
        let mut stats = match channel {
            Channel::Wechat => {
                let (http, all) = (http.clone(), wechat_notifications.clone());
                deliver(
                    &label,
                    n,
                    p.payment_connections,
                    (&db, pid, ticks),
                    move |i| {
                        let (http, url, all) = (http.clone(), url.clone(), all.clone());
                        async move { delivery::post_wechat(&http, &url, &all[i]).await }
                    },
                )
                .await?
            }
            Channel::Alipay => {
                let (http, all) = (http.clone(), alipay_bodies.clone());
                deliver(
                    &label,
                    n,
                    p.payment_connections,
                    (&db, pid, ticks),
                    move |i| {
                        let (http, url, all) = (http.clone(), url.clone(), all.clone());
                        async move { delivery::post_alipay(&http, &url, &all[i]).await }
                    },
                )
                .await?
            }
        };
        eprintln!(
            "[bench] payments: {label}: {:.0}/s, p99 {:.2} ms, {} errors; waiting {:.1} s for PostgreSQL's statistics",
            stats.rate,
            stats.p99_ms,
            stats.error_count(),
            STATS_SETTLE.as_secs_f64()
        );
        for (what, count) in &stats.errors {
            eprintln!("[bench]   {count} × {what}");
        }
        tokio::time::sleep(STATS_SETTLE).await;
        let after = DbCounters::read(&db).await?;
        stats.db = Some(after.since(&counters));
        counters = after;
        phases.push(stats);
    }

    let mut over_http = Vec::new();
    for ((channel, stats), setup) in [Channel::Wechat, Channel::Alipay]
        .into_iter()
        .zip(phases)
        .zip(setups)
    {
        let settlement = settlement::settlement(&db, channel.as_str(), channel.provider()).await?;
        eprintln!(
            "[bench] payments: {} in PostgreSQL: {settlement:?}",
            channel.as_str()
        );
        over_http.push(OverHttp {
            stats,
            settlement,
            bookings: n,
            setup,
        });
    }
    let machine = crate::machine(root, &db, &mut infra.redis.clone()).await;
    gateway_proc.terminate(Duration::from_secs(10))?;
    let alipay = over_http.pop().context("the Alipay phase")?;
    let wechat = over_http.pop().context("the WeChat Pay phase")?;
    Ok((
        wechat,
        alipay,
        HttpSetup {
            machine,
            sessions: sessions.len(),
            places_per_session,
        },
    ))
}

/// Opens the client's connections before a timed phase (a burst of `/healthz`), so the phase
/// measures notifications, not TCP handshakes.
async fn open_connections(http: &reqwest::Client, base: &str, connections: usize) {
    let url = Arc::new(format!("{base}/healthz"));
    let http = http.clone();
    load::run(
        "opening connections",
        connections * 4,
        connections,
        move |_| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                // Reading the body hands the connection back to the pool.
                if let Ok(response) = http.get(url.as_str()).send().await {
                    let _ = response.bytes().await;
                }
            }
        },
    )
    .await;
}

/// One timed phase: `n` deliveries from `connections` tasks, with the CPU each party used.
/// `watched` is the bench database, the gateway's pid and the clock ticks per second.
async fn deliver<F, Fut>(
    label: &str,
    n: usize,
    connections: usize,
    watched: (&DatabaseConnection, u32, f64),
    post: F,
) -> anyhow::Result<DeliveryStats>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Delivery> + Send + 'static,
{
    let (db, gateway_pid, ticks_per_second) = watched;
    let servers = ServerCpuSnapshot::take(db).await?;
    let cpu = CpuSnapshot::take(gateway_pid);
    let (deliveries, elapsed) = load::run(label, n, connections, post).await;
    let mut stats = DeliveryStats::from_deliveries(&deliveries, elapsed);
    stats.cpu = cpu.since(gateway_pid, elapsed, ticks_per_second);
    stats.servers = servers.since(db, elapsed, ticks_per_second).await?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_on_every_core_keeps_the_order() {
        let orders: Vec<PaidOrder> = (0..7)
            .map(|i| PaidOrder {
                out_trade_no: format!("{i}"),
                amount_fen: i,
                provider_trade_no: String::new(),
            })
            .collect();
        let signed = sign_all(&orders, |o| Ok(o.amount_fen * 10)).unwrap();
        assert_eq!(signed, [0, 10, 20, 30, 40, 50, 60]);
        assert!(
            sign_all(&orders, |o| if o.amount_fen == 5 {
                anyhow::bail!("x")
            } else {
                Ok(())
            })
            .is_err()
        );
        assert!(
            sign_all(&[], |o: &PaidOrder| Ok(o.amount_fen))
                .unwrap()
                .is_empty()
        );
    }
}
