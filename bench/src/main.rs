//! `guahao-bench`: the benchmarks of `make bench`, each writing its own section of
//! BENCHMARKS.md.
//!
//! The booking rush (issue 4) starts the release `miniprogram-mock` and `guahao serve` against a
//! throwaway PostgreSQL database and a private Redis key prefix, cuts one schedule to exactly N
//! places, logs in M distinct patients, then measures over HTTP: `GET /healthz`, a booking rush,
//! and booking attempts after the sold-out; checks the database for oversell and duplicates; and
//! measures the raw Redis EVALSHA rate of the same hold script. The payment notifications
//! (issue 5) are in [`payments`].

mod infra;
mod load;
mod payments;
mod procs;
mod redis_hold;
mod report;
mod server_cpu;

use anyhow::{Context, bail};
use clap::Parser;
use infra::{Infra, count};
use load::{PhaseStats, Sample};
use procs::{CpuSnapshot, GatewaySpec, RssSampler, cores_since, cpu_ticks};
use report::{Machine, Report, Verification};
use reqwest::header::CONTENT_TYPE;
use sea_orm::{Database, DatabaseConnection, Value};
use serde_json::{Value as Json, json};
use server_cpu::ServerCpuSnapshot;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The benchmarks of `make bench`: the booking rush (issue 4) and the payment notifications
/// (issue 5), real gateway, real PostgreSQL and Redis, over HTTP; the latter also in-process
/// beside `openssl speed rsa2048`.
///
/// Needs the release binaries (`cargo build --release --bin guahao --bin miniprogram-mock`),
/// PostgreSQL and Redis running (`./scripts/ensure-services.sh`) and `openssl`; `make bench`
/// sees to the first two. Each benchmark creates and drops its own database
/// `guahao_bench_<random>` and deletes its own Redis keys (prefix `guahao-bench-<random>:`).
/// Progress goes to stderr, the summaries to stdout, and each benchmark rewrites its own section
/// of BENCHMARKS.md.
#[derive(Parser, Debug)]
#[command(name = "guahao-bench", version)]
struct Args {
    /// Run only this benchmark (default: both, the booking rush first).
    #[arg(long, value_enum)]
    only: Option<Benchmark>,
    /// Places in the one schedule under rush.
    #[arg(long, default_value_t = 500)]
    places: u32,
    /// Distinct logged-in patients (each its own account and real-name identity).
    #[arg(long, default_value_t = 5000)]
    patients: usize,
    /// Booking attempts in the timed rush; attempt n is made by patient n mod --patients.
    #[arg(long, default_value_t = 20_000)]
    attempts: usize,
    /// Concurrent HTTP/1.1 keep-alive connections (= worker tasks) of the timed phases.
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// `GET /healthz` requests of the reference phase.
    #[arg(long, default_value_t = 50_000)]
    healthz_requests: usize,
    /// Booking attempts after the sold-out, by patients without a place.
    #[arg(long, default_value_t = 20_000)]
    sold_out_attempts: usize,
    /// EVALSHA calls of the raw Redis measurement.
    #[arg(long, default_value_t = 200_000)]
    redis_ops: usize,
    /// Concurrent tasks of the raw Redis client loop.
    #[arg(long, default_value_t = 256)]
    redis_concurrency: usize,
    /// Concurrent clients of the redis-benchmark run (when redis-benchmark is installed).
    #[arg(long, default_value_t = 50)]
    redis_benchmark_clients: usize,
    /// Concurrency of the (untimed) set-up: logins and patients.
    #[arg(long, default_value_t = 64)]
    setup_concurrency: usize,
    /// `server.workers` of the gateway.
    #[arg(long, default_value_t = 2)]
    gateway_workers: usize,
    /// The shared PostgreSQL server, without a database name.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres_url: String,
    /// The shared Redis.
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    redis_url: String,
    /// The workspace root (holds config/ and target/); default: where this crate was built.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Where the guahao and miniprogram-mock binaries are; default: ROOT/target/release.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The report file, relative to ROOT unless absolute.
    #[arg(long, default_value = "BENCHMARKS.md")]
    output: PathBuf,
    /// Print the summary only; leave BENCHMARKS.md alone.
    #[arg(long)]
    no_write: bool,
    /// Exit with status 2 when a target is missed (by default only errors fail the run).
    #[arg(long)]
    strict: bool,
    /// How the report names the command that produced it.
    #[arg(long, default_value = "make bench")]
    command_label: String,
    #[command(flatten)]
    payments: payments::PaymentArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Benchmark {
    /// The booking rush (issue 4).
    Rush,
    /// The payment notifications (issue 5).
    Payments,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut all_pass = true;
    if args.only != Some(Benchmark::Payments) {
        let report = runtime.block_on(run_with_cleanup(&args))?;
        println!("{}", report.summary());
        write(&args, &report.markdown(), report::BEGIN, report::END)?;
        all_pass &= report.all_pass();
    }
    if args.only != Some(Benchmark::Rush) {
        let report = runtime.block_on(payments::run_with_cleanup(&args))?;
        println!("{}", report.summary());
        write(&args, &report.markdown(), payments::BEGIN, payments::END)?;
        all_pass &= report.all_pass();
    }
    if args.strict && !all_pass {
        std::process::exit(2);
    }
    Ok(())
}

/// Rewrites one benchmark's section of the report file (unless `--no-write`).
fn write(args: &Args, section: &str, begin: &str, end: &str) -> anyhow::Result<()> {
    if args.no_write {
        return Ok(());
    }
    let path = root(args).join(&args.output);
    report::write_section(&path, section, begin, end)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

/// /proc/loadavg (1, 5, 15 min): others may share the machine, and what was already running is
/// part of the context of every figure.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Where the release `guahao` and `miniprogram-mock` are; fails early when one is missing.
fn bin_dir(args: &Args, root: &Path) -> anyhow::Result<PathBuf> {
    let bin_dir = args
        .bin_dir
        .clone()
        .unwrap_or_else(|| root.join("target/release"));
    for bin in ["guahao", "miniprogram-mock"] {
        if !bin_dir.join(bin).exists() {
            bail!(
                "{} is missing: build with `cargo build --release --bin guahao --bin miniprogram-mock` (make bench does)",
                bin_dir.join(bin).display()
            );
        }
    }
    Ok(bin_dir)
}

/// `guahao` on a free port against the bench's database and Redis prefix, with every outside
/// API (WeChat login, WeChat Pay, Alipay) pointed at the mock, plus `extra` settings.
fn gateway_spec<'a>(
    args: &Args,
    root: &Path,
    bin_dir: &Path,
    infra: &Infra,
    mock_url: &str,
    log_dir: &Path,
    extra: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> anyhow::Result<GatewaySpec> {
    let port = procs::free_port()?;
    let mut env: Vec<(String, String)> = [
        ("GUAHAO_ROOT", root.display().to_string()),
        ("GUAHAO_ENV", "test".into()),
        ("GUAHAO__SERVER__BIND", format!("127.0.0.1:{port}")),
        (
            "GUAHAO__SERVER__PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
        ("GUAHAO__SERVER__WORKERS", args.gateway_workers.to_string()),
        ("GUAHAO__DATABASE__URL", infra.database_url.clone()),
        ("GUAHAO__REDIS__URL", infra.redis_url.clone()),
        ("GUAHAO__REDIS__KEY_PREFIX", infra.redis_prefix.clone()),
        ("GUAHAO__WECHAT__API_BASE", mock_url.to_owned()),
        ("GUAHAO__WECHATPAY__BASE_URL", mock_url.to_owned()),
        (
            "GUAHAO__ALIPAY__GATEWAY_URL",
            format!("{mock_url}/gateway.do"),
        ),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    Ok(GatewaySpec {
        bin: bin_dir.join("guahao"),
        env,
        log_path: log_dir.join("gateway.log"),
        base_url: format!("http://127.0.0.1:{port}"),
    })
}

fn root(args: &Args) -> PathBuf {
    args.root.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("bench/ sits in the workspace")
            .to_path_buf()
    })
}

/// Creates the database and key prefix, runs, and removes both whatever happened.
async fn run_with_cleanup(args: &Args) -> anyhow::Result<Report> {
    let run_id = Uuid::now_v7().simple().to_string()[20..].to_owned();
    let infra = Infra::create(&args.postgres_url, &args.redis_url, &run_id).await?;
    eprintln!(
        "[bench] database {}, Redis prefix {}:",
        infra.db_name, infra.redis_prefix
    );
    let mut db: Option<DatabaseConnection> = None;
    let outcome = tokio::select! {
        outcome = run(args, &infra, &run_id, &mut db) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    infra.cleanup(db.as_ref()).await;
    outcome
}

/// A patient ready to book: its account's token and the request body.
struct Patient {
    token: String,
    body: String,
}

/// The schedule and segment under rush.
struct Target {
    schedule_id: Uuid,
    segment_id: Uuid,
    hospital_id: String,
    label: String,
}

async fn run(
    args: &Args,
    infra: &Infra,
    run_id: &str,
    db_slot: &mut Option<DatabaseConnection>,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let load_before = load_average();
    let root = root(args);
    let bin_dir = bin_dir(args, &root)?;
    let control = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let logs = tempfile::tempdir()?;

    let (mock, mock_url) = procs::start_mock(&bin_dir, &control).await?;
    eprintln!("[bench] miniprogram-mock on {mock_url}");
    let gateway = gateway_spec(args, &root, &bin_dir, infra, &mock_url, logs.path(), [])?;
    let base = gateway.base_url.clone();

    eprintln!("[bench] guahao seed --demo");
    gateway.run(&["seed", "--demo"]).await?;
    let first = gateway.serve(&control).await?;
    eprintln!("[bench] guahao serve on {base} (pid {})", first.pid());
    let target = pick_target(&control, &base, run_id).await?;
    eprintln!("[bench] schedule under rush: {}", target.label);
    first.terminate(Duration::from_secs(10))?;

    // Exactly `places` places: one segment holds them all, the others none. The gateway loads
    // its inventory from the database on start but keeps what Redis already has, so the
    // bench's own keys go before it starts again.
    let db = Database::connect(&infra.database_url)
        .await
        .context("connecting to the bench database")?;
    *db_slot = Some(db.clone());
    let booked = count(
        &db,
        "SELECT COALESCE(SUM(booked), 0)::bigint AS n FROM schedule_segments WHERE schedule_id = $1",
        [Value::from(target.schedule_id)],
    )
    .await?;
    if booked != 0 {
        bail!("the schedule already has {booked} booked places");
    }
    let changed = infra::execute(
        &db,
        "UPDATE schedule_segments SET reserved = 0, \
         capacity = CASE WHEN id = $2 THEN $3 ELSE 0 END WHERE schedule_id = $1",
        [
            Value::from(target.schedule_id),
            Value::from(target.segment_id),
            Value::from(args.places as i32),
        ],
    )
    .await?;
    let flushed = infra.flush_prefix().await?;
    eprintln!(
        "[bench] {changed} segments set ({} places in one); {flushed} Redis keys flushed; restarting the gateway",
        args.places
    );
    let gateway_proc = gateway.serve(&control).await?;
    let pid = gateway_proc.pid();
    let rss = RssSampler::start(pid);
    let remaining = segment_remaining(&control, &base, &target).await?;
    if remaining != u64::from(args.places) {
        bail!(
            "after the restart the segment shows {remaining} places, not {}",
            args.places
        );
    }
    eprintln!("[bench] gateway restarted (pid {pid}); the segment shows {remaining} places");

    let setup_started = Instant::now();
    let patients = make_patients(
        &control,
        &base,
        &target,
        args.patients,
        args.setup_concurrency,
    )
    .await?;
    let setup_s = setup_started.elapsed().as_secs_f64();
    eprintln!(
        "[bench] {} patients logged in with one patient each in {setup_s:.1} s",
        patients.len()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        // Below actix-web's 5 s keep-alive, so an idle connection is never reused just as the
        // server closes it.
        .pool_idle_timeout(Duration::from_secs(4))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()?;
    let ticks = procs::clock_ticks_per_second();

    // 1. The reference: /healthz over the same connections (this also opens them).
    let url = format!("{base}/healthz");
    let cpu = CpuSnapshot::take(pid);
    let (samples, elapsed) = {
        let http = http.clone();
        load::run(
            "GET /healthz",
            args.healthz_requests,
            args.connections,
            move |_| load::timed(http.get(&url), 0),
        )
        .await
    };
    let mut healthz = PhaseStats::from_samples(&samples, elapsed);
    healthz.cpu = cpu.since(pid, elapsed, ticks);
    eprintln!(
        "[bench] /healthz: {:.0}/s, p99 {:.2} ms",
        healthz.rate, healthz.p99_ms
    );

    // 2. The rush.
    let patients = Arc::new(patients);
    let bookings_url = Arc::new(format!("{base}/api/v1/bookings"));
    let attempt = |phase: &'static str, who: Arc<Vec<usize>>| {
        let (http, patients, url) = (http.clone(), patients.clone(), bookings_url.clone());
        let run_id = run_id.to_owned();
        move |n: usize| {
            let index = who[n % who.len()];
            let patient = &patients[index];
            let request = http
                .post(url.as_str())
                .bearer_auth(&patient.token)
                .header("Idempotency-Key", format!("{run_id}-{phase}-{n}"))
                .header("Accept-Language", "en")
                .header(CONTENT_TYPE, "application/json")
                .body(patient.body.clone());
            load::timed(request, index)
        }
    };
    let everyone: Arc<Vec<usize>> = Arc::new((0..patients.len()).collect());
    let cpu = CpuSnapshot::take(pid);
    let servers = ServerCpuSnapshot::take(&db).await?;
    let mock_ticks = cpu_ticks(mock.pid());
    let (rush_samples, elapsed) = load::run(
        "booking rush",
        args.attempts,
        args.connections,
        attempt("rush", everyone),
    )
    .await;
    let mut rush = PhaseStats::from_samples(&rush_samples, elapsed);
    rush.cpu = cpu.since(pid, elapsed, ticks);
    rush.servers = servers.since(&db, elapsed, ticks).await?;
    rush.mock = cores_since(mock_ticks, cpu_ticks(mock.pid()), elapsed, ticks);
    eprintln!(
        "[bench] rush: {:.0} attempts/s, p99 {:.2} ms, {} held, {} sold out, {} already booked, {} unexpected",
        rush.rate,
        rush.p99_ms,
        rush.held,
        rush.sold_out,
        rush.already_booked,
        rush.unanswered_or_unexpected()
    );
    for (what, n) in &rush.unexpected {
        eprintln!("[bench]   unexpected: {n} × {what}");
    }
    let after_rush = verify(&db, infra, &target).await?;
    eprintln!("[bench] after the rush: {after_rush:?}");

    // 3. Attempts after the sold-out, by patients who hold nothing.
    let won: HashSet<usize> = winners(&rush_samples);
    let losers: Arc<Vec<usize>> =
        Arc::new((0..patients.len()).filter(|p| !won.contains(p)).collect());
    if losers.is_empty() {
        bail!("every patient got a place; nothing can be sold out");
    }
    let cpu = CpuSnapshot::take(pid);
    let servers = ServerCpuSnapshot::take(&db).await?;
    let mock_ticks = cpu_ticks(mock.pid());
    let (sold_out_samples, elapsed) = load::run(
        "sold-out attempts",
        args.sold_out_attempts,
        args.connections,
        attempt("sold-out", losers),
    )
    .await;
    let mut sold_out = PhaseStats::from_samples(&sold_out_samples, elapsed);
    sold_out.cpu = cpu.since(pid, elapsed, ticks);
    sold_out.servers = servers.since(&db, elapsed, ticks).await?;
    sold_out.mock = cores_since(mock_ticks, cpu_ticks(mock.pid()), elapsed, ticks);
    eprintln!(
        "[bench] sold-out: {:.0} answers/s ({} SLOT_SOLD_OUT of {}), p99 {:.2} ms",
        sold_out.sold_out_rate, sold_out.sold_out, sold_out.requests, sold_out.p99_ms
    );
    for (what, n) in &sold_out.unexpected {
        eprintln!("[bench]   unexpected: {n} × {what}");
    }
    let after_sold_out = verify(&db, infra, &target).await?;
    let mut all_won = won;
    all_won.extend(winners(&sold_out_samples));

    // 4. Redis alone, the same script.
    let mut con = infra.redis.clone();
    let call = Arc::new(redis_hold::SoldOutCall::prepare(&mut con, &infra.redis_prefix).await?);
    eprintln!(
        "[bench] EVALSHA {} (hold.lua) ×{} from {} tasks",
        call.sha, args.redis_ops, args.redis_concurrency
    );
    let redis_loop_rate = redis_hold::client_loop(
        call.clone(),
        infra.redis.clone(),
        args.redis_ops,
        args.redis_concurrency,
    )
    .await?;
    eprintln!("[bench] Redis EVALSHA client loop: {redis_loop_rate:.0} ops/s");
    let redis_benchmark = redis_hold::redis_benchmark(
        &infra.redis_url,
        &call,
        args.redis_ops,
        args.redis_benchmark_clients,
    )
    .await;
    match &redis_benchmark {
        Ok((rate, _)) => eprintln!("[bench] redis-benchmark EVALSHA: {rate:.0} ops/s"),
        Err(why) => eprintln!("[bench] redis-benchmark: {why}"),
    }

    let vm_hwm_kb = procs::status_kb(pid, "VmHWM").unwrap_or(0);
    let rss_peak_sampled_kb = rss.max_kb();
    drop(rss);
    gateway_proc.terminate(Duration::from_secs(10))?;

    Ok(Report {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: args.command_label.clone(),
        machine: machine(&root, &db, &mut infra.redis.clone()).await,
        places: args.places,
        patients: args.patients,
        connections: args.connections,
        gateway_workers: args.gateway_workers,
        schedule: target.label.clone(),
        load_before,
        setup_s,
        healthz,
        rush,
        sold_out,
        winners: all_won.len(),
        after_rush,
        after_sold_out,
        redis_loop_rate,
        redis_loop_concurrency: args.redis_concurrency,
        redis_ops: args.redis_ops,
        redis_benchmark,
        rss_peak_sampled_kb,
        vm_hwm_kb,
        total_s: started.elapsed().as_secs_f64(),
    })
}

fn winners(samples: &[Sample]) -> HashSet<usize> {
    samples
        .iter()
        .filter(|s| s.outcome == load::Outcome::Held)
        .map(|s| s.patient)
        .collect()
}

/// Sends a request and returns its status and JSON body (Null when there is none).
async fn call(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Json)> {
    let response = request.header("Accept-Language", "en").send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Json::Null)))
}

async fn login(http: &reqwest::Client, base: &str, code: &str) -> anyhow::Result<String> {
    let (status, body) = call(
        http.post(format!("{base}/api/v1/auth/wechat/login"))
            .json(&json!({ "code": code })),
    )
    .await?;
    if status != 200 {
        bail!("login {code}: {status} {body}");
    }
    Ok(body["token"]
        .as_str()
        .context("login answer without a token")?
        .to_owned())
}

async fn add_patient(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    passport: &str,
) -> anyhow::Result<Uuid> {
    let (status, body) = call(
        http.post(format!("{base}/api/v1/patients"))
            .bearer_auth(token)
            .json(&json!({"name": "Bench Patient", "id_type": "passport", "id_number": passport})),
    )
    .await?;
    if status != 201 {
        bail!("add patient {passport}: {status} {body}");
    }
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("patient answer without an id")
}

/// A bookable schedule whose booking actually goes through: the bookable schedules of the
/// demo hospitals, two days ahead or later first (clear of the next-day and same-day cut-offs),
/// each tried with a probe booking that is cancelled at once.
async fn pick_target(http: &reqwest::Client, base: &str, run_id: &str) -> anyhow::Result<Target> {
    let (_, hospitals) = call(http.get(format!("{base}/api/v1/hospitals"))).await?;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let mut candidates: Vec<(bool, String, Json)> = Vec::new();
    for hospital in hospitals["items"].as_array().into_iter().flatten() {
        let Some(id) = hospital["id"].as_str() else {
            continue;
        };
        let (status, schedules) = call(http.get(format!(
            "{base}/api/v1/schedules?hospital_id={id}&limit=100"
        )))
        .await?;
        if status != 200 {
            bail!("GET /api/v1/schedules?hospital_id={id}: {status} {schedules}");
        }
        for schedule in schedules["items"].as_array().into_iter().flatten() {
            let has_room = schedule["segments"]
                .as_array()
                .is_some_and(|s| s.iter().any(|seg| seg["remaining"].as_u64() > Some(0)));
            if schedule["bookable"] == true && has_room {
                let date = schedule["date"].as_str().unwrap_or_default().to_owned();
                let soon = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                    .map_or(true, |d| d < today + chrono::Days::new(2));
                candidates.push((soon, date, schedule.clone()));
            }
        }
    }
    candidates.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    if candidates.is_empty() {
        bail!("no bookable schedule in the demo data");
    }
    let token = login(http, base, &format!("bench-probe-{run_id}")).await?;
    let patient = add_patient(http, base, &token, "E99999999").await?;
    for (i, (_, date, schedule)) in candidates.iter().take(10).enumerate() {
        let segment = schedule["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|seg| seg["remaining"].as_u64() > Some(0))
            .context("a segment with room")?;
        let (schedule_id, segment_id) = (
            schedule["id"].as_str().unwrap_or_default(),
            segment["id"].as_str().unwrap_or_default(),
        );
        let (status, booking) = call(
            http.post(format!("{base}/api/v1/bookings"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("{run_id}-probe-{i}"))
                .json(&json!({"schedule_id": schedule_id, "segment_id": segment_id, "patient_id": patient, "channel": "wechat"})),
        )
        .await?;
        if status != 201 {
            eprintln!(
                "[bench] schedule {schedule_id} ({date}) refused a probe booking: {status} {}",
                booking["error"]["code"]
            );
            continue;
        }
        let id = booking["id"].as_str().unwrap_or_default();
        let (status, cancelled) = call(
            http.post(format!("{base}/api/v1/bookings/{id}/cancel"))
                .bearer_auth(&token),
        )
        .await?;
        if status != 200 {
            bail!("cancelling the probe booking {id}: {status} {cancelled}");
        }
        return Ok(Target {
            schedule_id: schedule_id.parse()?,
            segment_id: segment_id.parse()?,
            hospital_id: schedule["hospital_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            label: format!(
                "{date} {}, segment {}–{}",
                schedule["period"].as_str().unwrap_or_default(),
                segment["start_time"].as_str().unwrap_or_default(),
                segment["end_time"].as_str().unwrap_or_default()
            ),
        });
    }
    bail!("none of the bookable schedules took a probe booking")
}

/// The segment's `remaining` as the public schedule list shows it.
async fn segment_remaining(
    http: &reqwest::Client,
    base: &str,
    target: &Target,
) -> anyhow::Result<u64> {
    let (status, schedules) = call(http.get(format!(
        "{base}/api/v1/schedules?hospital_id={}&limit=100",
        target.hospital_id
    )))
    .await?;
    if status != 200 {
        bail!("GET /api/v1/schedules: {status} {schedules}");
    }
    let (schedule_id, segment_id) = (
        target.schedule_id.to_string(),
        target.segment_id.to_string(),
    );
    schedules["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["id"] == schedule_id.as_str())
        .flat_map(|s| s["segments"].as_array().into_iter().flatten())
        .find(|seg| seg["id"] == segment_id.as_str())
        .and_then(|seg| seg["remaining"].as_u64())
        .context("the schedule under rush is not in the list")
}

/// Logs in `n` distinct accounts (`bench-<i>`), each adding one patient (`E` + 8 digits).
async fn make_patients(
    http: &reqwest::Client,
    base: &str,
    target: &Target,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Patient>> {
    let (http, base) = (http.clone(), base.to_owned());
    let (schedule_id, segment_id) = (target.schedule_id, target.segment_id);
    let (results, _) = load::run("set-up (login + patient)", n, concurrency, move |i| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let made = async {
                let token = login(&http, &base, &format!("bench-{i}")).await?;
                let patient = add_patient(&http, &base, &token, &format!("E{i:08}")).await?;
                let body = json!({
                    "schedule_id": schedule_id,
                    "segment_id": segment_id,
                    "patient_id": patient,
                    "channel": "wechat",
                })
                .to_string();
                anyhow::Ok(Patient { token, body })
            }
            .await;
            (i, made)
        }
    })
    .await;
    let mut patients: Vec<Option<Patient>> = (0..n).map(|_| None).collect();
    let mut errors = Vec::new();
    for (i, made) in results {
        match made {
            Ok(p) => patients[i] = Some(p),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if let Some(first) = errors.first() {
        bail!(
            "{} of {n} patients could not be set up; first: {first}",
            errors.len()
        );
    }
    Ok(patients.into_iter().flatten().collect())
}

/// What PostgreSQL and Redis hold for the schedule.
async fn verify(
    db: &DatabaseConnection,
    infra: &Infra,
    target: &Target,
) -> anyhow::Result<Verification> {
    const LIVE: &str = "status IN ('pending_payment', 'confirmed', 'checked_in')";
    let schedule = || [Value::from(target.schedule_id)];
    let two_live = |column: &str| {
        format!(
            "SELECT COUNT(*)::bigint AS n FROM (SELECT {column} FROM bookings \
             WHERE schedule_id = $1 AND {LIVE} GROUP BY {column} HAVING COUNT(*) > 1) d"
        )
    };
    let keys = format!("{}:inv:{{{}}}", infra.redis_prefix, target.schedule_id);
    let mut con = infra.redis.clone();
    let redis_remaining: Option<i64> = redis::cmd("HGET")
        .arg(format!("{keys}:remaining"))
        .arg(target.segment_id.to_string())
        .query_async(&mut con)
        .await
        .context("HGET remaining")?;
    let redis_holders: i64 = redis::cmd("HLEN")
        .arg(format!("{keys}:holders"))
        .query_async(&mut con)
        .await
        .context("HLEN holders")?;
    Ok(Verification {
        live_bookings: count(
            db,
            &format!(
                "SELECT COUNT(*)::bigint AS n FROM bookings WHERE schedule_id = $1 AND {LIVE}"
            ),
            schedule(),
        )
        .await?,
        identities_with_two_live: count(db, &two_live("identity_hash"), schedule()).await?,
        patients_with_two_live: count(db, &two_live("patient_id"), schedule()).await?,
        segments_booked: count(
            db,
            "SELECT COALESCE(SUM(booked), 0)::bigint AS n FROM schedule_segments WHERE schedule_id = $1",
            schedule(),
        )
        .await?,
        segments_capacity: count(
            db,
            "SELECT COALESCE(SUM(capacity), 0)::bigint AS n FROM schedule_segments WHERE schedule_id = $1",
            schedule(),
        )
        .await?,
        redis_remaining,
        redis_holders,
    })
}

/// The machine and the versions, for the report.
async fn machine(
    root: &Path,
    db: &DatabaseConnection,
    redis: &mut redis::aio::MultiplexedConnection,
) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = match (
        git(&["rev-parse", "--short", "HEAD"]),
        // The file this bench writes does not count: the rush rewrites its section before
        // the payments benchmark reads the tree.
        git(&[
            "status",
            "--porcelain",
            "--",
            ".",
            ":(exclude)BENCHMARKS.md",
        ]),
    ) {
        (Some(head), Some(status)) if status.is_empty() => format!("commit `{head}`"),
        (Some(head), Some(_)) => format!("commit `{head}` plus uncommitted changes in the tree"),
        _ => "unknown".into(),
    };
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        memory,
        postgres: infra::postgres_version(db).await,
        redis: infra::redis_version(redis).await,
        commit,
    }
}
