//! The payment-notification figures judged against issue 5's targets, as a terminal summary and
//! as their own section of BENCHMARKS.md.

use super::delivery::DeliveryStats;
use super::in_process::LoopRate;
use super::openssl::OpensslSpeed;
use super::settlement::Settlement;
use crate::report::{Machine, Verdict, ratio};
use std::fmt::Write as _;

pub const BEGIN: &str = "<!-- BEGIN guahao-bench: payment notifications (issue 5) -->";
pub const END: &str = "<!-- END guahao-bench: payment notifications (issue 5) -->";

/// Thresholds of the issue.
pub const OPENSSL_SHARE_TARGET: f64 = 0.6;
pub const HTTP_RATE_TARGET: f64 = 3000.0;
pub const P99_TARGET_MS: f64 = 50.0;

/// The one-core loops and their yardstick.
#[derive(Debug, Clone)]
pub struct InProcess {
    pub openssl: OpensslSpeed,
    pub wechat: LoopRate,
    pub wechat_signature_only: LoopRate,
    pub alipay: LoopRate,
    /// Distinct notifications each loop cycles through.
    pub distinct: usize,
    pub seconds: u64,
}

impl InProcess {
    pub fn wechat_share(&self) -> f64 {
        ratio(self.wechat.per_second, self.openssl.verify_per_s)
    }
}

/// One provider's notifications over HTTP and what the database showed afterwards.
#[derive(Debug, Clone)]
pub struct OverHttp {
    pub stats: DeliveryStats,
    pub settlement: Settlement,
    pub bookings: usize,
    pub setup: Setup,
}

/// The untimed making of one channel's bookings: logins, patients, bookings.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub seconds: f64,
    /// Steps that failed once (a 502 from the loaded mock, say) and were tried again.
    pub retries: usize,
}

#[derive(Debug, Clone)]
pub struct PaymentReport {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub load_before: String,
    pub in_process: InProcess,
    pub wechat: OverHttp,
    pub alipay: OverHttp,
    pub sessions: usize,
    pub places_per_session: u32,
    pub connections: usize,
    pub gateway_workers: usize,
    pub total_s: f64,
}

impl PaymentReport {
    fn providers(&self) -> [(&'static str, &OverHttp); 2] {
        [("WeChat Pay", &self.wechat), ("Alipay", &self.alipay)]
    }

    pub fn verdicts(&self) -> Vec<Verdict> {
        let p = &self.in_process;
        let mut verdicts = vec![Verdict {
            target: format!(
                "WeChat verify+decrypt on one core ≥ {:.0}% of `openssl speed` RSA-2048 verify/s",
                OPENSSL_SHARE_TARGET * 100.0
            ),
            observed: format!(
                "{:.0}/s vs {:.0}/s = {:.0}%",
                p.wechat.per_second,
                p.openssl.verify_per_s,
                100.0 * p.wechat_share()
            ),
            pass: p.wechat_share() >= OPENSSL_SHARE_TARGET,
        }];
        for (name, http) in self.providers() {
            let s = &http.stats;
            verdicts.push(Verdict {
                target: format!("{name} notifications over HTTP ≥ {HTTP_RATE_TARGET:.0}/s"),
                observed: format!("{:.0}/s", s.rate),
                pass: s.rate >= HTTP_RATE_TARGET,
            });
            verdicts.push(Verdict {
                target: format!("{name}: zero errors"),
                observed: format!("{} errors of {}", s.error_count(), s.requests),
                pass: s.error_count() == 0 && s.requests == http.bookings,
            });
            verdicts.push(Verdict {
                target: format!("{name}: p99 under {P99_TARGET_MS:.0} ms"),
                observed: format!("p99 {:.1} ms", s.p99_ms),
                pass: s.p99_ms < P99_TARGET_MS && s.requests > 0,
            });
            let t = &http.settlement;
            verdicts.push(Verdict {
                target: format!("{name}: every booking confirmed exactly once"),
                observed: format!(
                    "{} of {} bookings confirmed; {} with one `confirmed` event, {} with more; {} payments paid; {} callback_log rows, {} `confirmed`",
                    t.confirmed,
                    t.bookings,
                    t.confirmed_once,
                    t.confirmed_twice_or_more,
                    t.payments_paid,
                    t.callback_rows,
                    t.callback_rows_confirmed
                ),
                pass: t.is_exact(http.bookings),
            });
        }
        verdicts
    }

    pub fn all_pass(&self) -> bool {
        self.verdicts().iter().all(|v| v.pass)
    }

    pub fn summary(&self) -> String {
        let p = &self.in_process;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nin-process, one thread, {} s each: WeChat verify+decrypt {:.0}/s, its RSA check alone {:.0}/s, Alipay verify {:.0}/s; {} verify {:.0}/s, sign {:.0}/s",
            p.seconds,
            p.wechat.per_second,
            p.wechat_signature_only.per_second,
            p.alipay.per_second,
            p.openssl.command,
            p.openssl.verify_per_s,
            p.openssl.sign_per_s
        );
        let _ = writeln!(
            out,
            "\nprovider     notifications   wall s   notif/s   p50 ms   p99 ms   max ms  errors  CPU cores: gateway / PG bench backends / all postgres / Redis / load generator / machine   PG xacts/notif"
        );
        for (name, http) in self.providers() {
            let s = &http.stats;
            let _ = writeln!(
                out,
                "{name:<12} {:>13} {:>8.2} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>7}  {:.2} / {:.2} / {:.2} / {:.2} / {:.2} / {:.2}   {}",
                s.requests,
                s.elapsed_s,
                s.rate,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.error_count(),
                s.cpu.gateway,
                s.servers.postgres_bench,
                s.servers.postgres_all,
                s.servers.redis,
                s.cpu.client,
                s.cpu.machine,
                s.transactions_per_request()
                    .map_or("?".to_owned(), |x| format!("{x:.2}"))
            );
            for (what, n) in &s.errors {
                let _ = writeln!(out, "    {n} × {what}");
            }
        }
        Verdict::write_lines(&mut out, &self.verdicts());
        out
    }

    /// The BENCHMARKS.md section, markers included.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let p = &self.in_process;
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(out, "## Payment notifications (issue 5)\n");
        let _ = writeln!(
            out,
            "Written by `guahao-bench` (crate `bench/`, module `payments`); rerun it to refresh this section.\n"
        );
        let _ = writeln!(out, "- **Command:** `{}`", self.command);
        let _ = writeln!(out, "- **Date:** {}", self.date);
        let _ = writeln!(
            out,
            "- **Machine:** {} CPUs (`nproc`), {}, {} RAM; PostgreSQL {}, Redis {}, {}; the gateway, \
             the mock and the load generator all on this one machine (load average {} when the \
             run started)",
            m.nproc,
            m.cpu_model,
            m.memory,
            m.postgres,
            m.redis,
            p.openssl.version,
            self.load_before
        );
        let _ = writeln!(out, "- **Code:** {}", m.commit);

        let _ = writeln!(
            out,
            "\n### In-process: checking a notification on one core\n"
        );
        let _ = writeln!(
            out,
            "One thread, release build, no HTTP and no database: a loop over {} distinct \
             pre-built notifications (each signed with the dev platform key, the WeChat ones \
             sealed with the APIv3 key) for at least {} s per row, beside `{}` run by the same \
             bench run just before (one core as well).\n",
            p.distinct, p.seconds, p.openssl.command
        );
        let _ = writeln!(out, "| what | per second | vs openssl RSA-2048 verify/s |");
        let _ = writeln!(out, "|---|---:|---:|");
        let share = |rate: f64| format!("{:.0}%", 100.0 * ratio(rate, p.openssl.verify_per_s));
        for (what, rate) in [
            (
                "WeChat Pay: `wechatpay::verify_notification` (headers, clock, SHA256withRSA over \
                 the raw body, envelope JSON, AES-256-GCM, resource JSON)",
                p.wechat.per_second,
            ),
            (
                "WeChat Pay: its RSA check alone (`RsaPublicKey::verify_base64` over \
                 `timestamp\\nnonce\\nbody\\n`)",
                p.wechat_signature_only.per_second,
            ),
            (
                "Alipay: `alipay::verify_notification` (form, app id, RSA2 over the sorted \
                 parameters, fields)",
                p.alipay.per_second,
            ),
            ("`openssl speed` RSA-2048 verify", p.openssl.verify_per_s),
        ] {
            let _ = writeln!(out, "| {what} | **{rate:.0}** | {} |", share(rate));
        }
        let _ = writeln!(
            out,
            "\n(openssl RSA-2048 sign: {:.0}/s.)",
            p.openssl.sign_per_s
        );

        let _ = writeln!(
            out,
            "\n### Over HTTP with PostgreSQL: notifications applied\n"
        );
        let _ = writeln!(
            out,
            "- **Set-up (not timed):** release build; `guahao serve` with {} workers, \
             `RUST_LOG=warn`, a throwaway PostgreSQL database and its own Redis key prefix, the \
             payment poller held off (`payment_poll_after_s` = 3600, so it does not ask the mock \
             about the bench's unpaid orders during the run); {} schedules two or more days ahead \
             with one segment each raised to {} places. The pending bookings are **real HTTP \
             bookings**: {} WeChat patients and {} Alipay patients, each a new account logged in \
             through the mock with one real-name patient, each booking one place in turn across \
             the schedules — `POST /api/v1/bookings`, which opens the WeChat Pay (JSAPI) or \
             Alipay (`alipay.trade.create`) order at the mock ({:.1} s and {:.1} s, {} and {} \
             steps tried again after a failure under the set-up's own load). Then `ANALYZE`: \
             the tables were filled within a minute and would otherwise have no planner \
             statistics, which production tables always have.",
            self.gateway_workers,
            self.sessions,
            self.places_per_session,
            self.wechat.bookings,
            self.alipay.bookings,
            self.wechat.setup.seconds,
            self.alipay.setup.seconds,
            self.wechat.setup.retries,
            self.alipay.setup.retries
        );
        let _ = writeln!(
            out,
            "- **Load:** one valid notification per booking, built and signed before the clock \
             starts (WeChat: `TRANSACTION.SUCCESS`, fresh id and nonces, `Wechatpay-Serial` = the \
             public-key id; Alipay: `TRADE_SUCCESS` form with the order's `trade_no`), posted to \
             `/callbacks/wechatpay` and then `/callbacks/alipay` from {} HTTP/1.1 keep-alive \
             connections (one reqwest client, 10 s timeout). Every request goes the whole way: \
             verify, nonce check in Redis (WeChat), `callback_log` row, confirmation transaction, inventory \
             update, log completion. An error is any answer but 2xx (WeChat) or 2xx `success` \
             (Alipay).\n",
            self.connections
        );
        let _ = writeln!(
            out,
            "| provider | notifications | wall | rate | p50 | p90 | p99 | max | errors | CPU cores: gateway / PostgreSQL backends of the bench database / all postgres processes / Redis / load generator / machine | CPU ms per notification: gateway / its PostgreSQL backends | PostgreSQL transactions per notification | sequential scans in the bench database: table, scans, rows read |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"
        );
        for (name, http) in self.providers() {
            let s = &http.stats;
            let errors = if s.errors.is_empty() {
                "0".to_owned()
            } else {
                s.errors
                    .iter()
                    .map(|(what, n)| format!("{n} × {what}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2} s | **{:.0}/s** | {:.2} ms | {:.2} ms | **{:.2} ms** | {:.2} ms | {errors} | {:.2} / {:.2} / {:.2} / {:.2} / {:.2} / {:.2} | {:.2} / {:.2} | {} | {} |",
                s.requests,
                s.elapsed_s,
                s.rate,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                s.cpu.gateway,
                s.servers.postgres_bench,
                s.servers.postgres_all,
                s.servers.redis,
                s.cpu.client,
                s.cpu.machine,
                s.cpu_ms_per_request(s.cpu.gateway),
                s.cpu_ms_per_request(s.servers.postgres_bench),
                s.transactions_per_request()
                    .map_or("?".to_owned(), |x| format!("{x:.1}")),
                seq_scans(s)
            );
        }
        let _ = writeln!(out);
        for (name, http) in self.providers() {
            let t = &http.settlement;
            let _ = writeln!(
                out,
                "- **Database check, {name}:** {} bookings, {} `confirmed`; {} with exactly one \
                 event into `confirmed`, {} with more; {} payments `paid`; {} `callback_log` rows, \
                 {} of them `confirmed`.",
                t.bookings,
                t.confirmed,
                t.confirmed_once,
                t.confirmed_twice_or_more,
                t.payments_paid,
                t.callback_rows,
                t.callback_rows_confirmed
            );
        }
        let _ = writeln!(
            out,
            "- **Whole run** (in-process loops, services, set-up, both phases, checks; build \
             excluded): {:.0} s.",
            self.total_s
        );

        let _ = writeln!(out, "\n### Targets\n");
        Verdict::write_table(&mut out, &self.verdicts());
        let _ = writeln!(out, "\n### What bounds the HTTP rate\n");
        for (name, http) in self.providers() {
            let _ = writeln!(out, "- **{name}:** {}", bound(&http.stats, m.nproc));
        }
        let _ = writeln!(
            out,
            "\nCPU cores are from /proc over each phase: the gateway process, the PostgreSQL \
             backends connected to the bench database (by pid), every `postgres` process (the \
             server is shared: WAL writer, checkpointer and other databases' work count there \
             too), `redis-server` (shared as well), the load generator (this process) and the \
             machine's busy time. PostgreSQL transactions (`xact_commit + xact_rollback`, an \
             autocommitted statement counts as one) and sequential scans (`seq_scan`, \
             `seq_tup_read`) are the bench database's in `pg_stat_database` and \
             `pg_stat_user_tables`, read after {:.1} s without traffic (PostgreSQL publishes them \
             that late). Rates are notifications \
             answered per second of wall time with every connection busy; latencies are per \
             request, send to last body byte, as the client saw them. The load generator shares \
             the cores with everything else, so every rate is a rate of the whole machine.",
            super::db_activity::STATS_SETTLE.as_secs_f64()
        );
        let load_1min: f64 = self
            .load_before
            .split_whitespace()
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0.0);
        if load_1min >= 1.0 {
            let _ = writeln!(
                out,
                "\n**The machine was not idle:** the 1-minute load average was {load_1min:.2} on \
                 {} CPUs when the run started (other builds and tests share it); the in-process \
                 ratio is measured side by side with openssl for that reason, and the HTTP rates \
                 are lower than a quiet machine gives.",
                m.nproc
            );
        }
        let _ = writeln!(out, "{END}");
        out
    }
}

/// Busy share of the machine's cores from which a phase is called CPU-bound: /proc never shows
/// two cores 100% busy while one process waits on another across them.
const SATURATED: f64 = 0.85;

/// Rows read sequentially per notification from which a scan is called out: a notification
/// touches a handful of rows, each found by key.
const SCAN_ROWS_WORTH_NOTING: f64 = 10.0;

/// `payments 2000 × 8.0 M rows; …`, or `none`.
fn seq_scans(s: &DeliveryStats) -> String {
    let Some(db) = &s.db else {
        return "?".to_owned();
    };
    if db.seq_scans.is_empty() {
        return "none".to_owned();
    }
    db.seq_scans
        .iter()
        .map(|t| format!("`{}` {} scans, {} rows", t.table, t.scans, t.rows))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A plain statement of where one phase's time went, from its CPU figures.
fn bound(s: &DeliveryStats, nproc: usize) -> String {
    let cores = nproc.max(1) as f64;
    let busy = s.cpu.machine / cores;
    let servers = &s.servers;
    let other_postgres = (servers.postgres_all - servers.postgres_bench).max(0.0);
    let others =
        (s.cpu.machine - s.cpu.gateway - servers.postgres_all - servers.redis - s.cpu.client)
            .max(0.0);
    let mut shares = [
        ("the gateway", s.cpu.gateway),
        (
            "the bench database's PostgreSQL backends",
            servers.postgres_bench,
        ),
        ("other postgres processes", other_postgres),
        ("the load generator", s.cpu.client),
        ("Redis", servers.redis),
        ("other processes", others),
    ];
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    let split = shares
        .iter()
        .map(|(who, c)| format!("{who} {c:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    let own_ms =
        s.cpu_ms_per_request(s.cpu.gateway + servers.postgres_bench + servers.redis + s.cpu.client);
    let ceiling = if own_ms > 0.0 {
        format!(
            "; on {nproc} cores of its own that cost caps the rate near {:.0}/s",
            cores * 1000.0 / own_ms
        )
    } else {
        String::new()
    };
    let per_request = format!(
        "per notification the gateway spent {:.2} ms of CPU and its PostgreSQL backends {:.2} ms{}, \
         {own_ms:.2} ms with Redis and the load generator{ceiling}",
        s.cpu_ms_per_request(s.cpu.gateway),
        s.cpu_ms_per_request(servers.postgres_bench),
        s.transactions_per_request()
            .map_or(String::new(), |x| format!(" (over {x:.1} transactions)"))
    );
    let scanned = s.db.as_ref().and_then(|db| db.seq_scans.first());
    let scan_note = match scanned {
        Some(t) if t.rows as f64 / s.requests.max(1) as f64 >= SCAN_ROWS_WORTH_NOTING => format!(
            " PostgreSQL read {:.0} rows per notification in sequential scans of `{}` ({} scans, \
             {} rows over the phase): a lookup that uses no index, whose cost grows with the \
             table.",
            t.rows as f64 / s.requests as f64,
            t.table,
            t.scans,
            t.rows
        ),
        _ => String::new(),
    };
    if busy >= SATURATED {
        format!(
            "CPU-bound: the machine's {nproc} cores were {:.0}% busy ({split} cores); {per_request}.{scan_note}",
            busy * 100.0
        )
    } else {
        format!(
            "not CPU-bound: the machine's {nproc} cores were only {:.0}% busy ({split} cores), so \
             requests spent the rest of their time waiting (locks, commits, round trips); \
             {per_request}.{scan_note}",
            busy * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::db_activity::{DbActivity, TableScans};
    use crate::procs::CpuUse;
    use crate::server_cpu::ServerCpu;

    fn stats(rate: f64, machine: f64) -> DeliveryStats {
        DeliveryStats {
            requests: 1000,
            elapsed_s: 1000.0 / rate,
            rate,
            cpu: CpuUse {
                gateway: 0.8,
                client: 0.2,
                machine,
            },
            servers: ServerCpu {
                postgres_bench: 0.5,
                postgres_all: 0.75,
                redis: 0.1,
            },
            db: Some(DbActivity {
                transactions: 4000,
                seq_scans: vec![TableScans {
                    table: "payments".into(),
                    scans: 1000,
                    rows: 2_000_000,
                }],
            }),
            ..DeliveryStats::default()
        }
    }

    #[test]
    fn a_saturated_machine_is_called_cpu_bound_with_the_biggest_user_first() {
        let text = bound(&stats(2000.0, 1.9), 2);
        assert!(text.starts_with("CPU-bound: the machine's 2 cores were 95% busy (the gateway 0.80, the bench database's PostgreSQL backends 0.50, other postgres processes 0.25, the load generator 0.20, Redis 0.10, other processes 0.05 cores)"), "{text}");
        assert!(text.contains("the gateway spent 0.40 ms of CPU and its PostgreSQL backends 0.25 ms (over 4.0 transactions), 0.80 ms with Redis and the load generator; on 2 cores of its own that cost caps the rate near 2500/s."), "{text}");
    }

    #[test]
    fn an_idle_machine_points_at_waiting() {
        let text = bound(&stats(500.0, 1.0), 2);
        assert!(
            text.starts_with("not CPU-bound: the machine's 2 cores were only 50% busy"),
            "{text}"
        );
    }

    #[test]
    fn whole_table_scans_are_called_out_and_key_lookups_are_not() {
        let scanning = stats(2000.0, 1.9);
        let text = bound(&scanning, 2);
        assert!(text.ends_with(" PostgreSQL read 2000 rows per notification in sequential scans of `payments` (1000 scans, 2000000 rows over the phase): a lookup that uses no index, whose cost grows with the table."), "{text}");
        assert_eq!(seq_scans(&scanning), "`payments` 1000 scans, 2000000 rows");

        let mut indexed = stats(2000.0, 1.9);
        indexed.db = Some(DbActivity {
            transactions: 5000,
            seq_scans: vec![TableScans {
                table: "booking_rules".into(),
                scans: 30,
                rows: 0,
            }],
        });
        assert!(bound(&indexed, 2).ends_with("caps the rate near 2500/s."));
        indexed.db = Some(DbActivity::default());
        assert_eq!(seq_scans(&indexed), "none");
        indexed.db = None;
        assert_eq!(seq_scans(&indexed), "?");
    }
}
