//! The figures of one run, judged against the targets, as a terminal summary and as the
//! "Booking rush (issue 4)" section of BENCHMARKS.md.

use crate::load::PhaseStats;
use std::fmt::Write as _;
use std::path::Path;

pub const BEGIN: &str = "<!-- BEGIN guahao-bench: booking rush (issue 4) -->";
pub const END: &str = "<!-- END guahao-bench: booking rush (issue 4) -->";

/// Thresholds of the issue.
pub const SOLD_OUT_RATIO_TARGET: f64 = 0.5;
pub const P99_TARGET_MS: f64 = 100.0;
pub const RSS_TARGET_BYTES: u64 = 200_000_000;

/// What PostgreSQL (and Redis) hold for the schedule after a phase.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub live_bookings: i64,
    pub identities_with_two_live: i64,
    pub patients_with_two_live: i64,
    pub segments_booked: i64,
    pub segments_capacity: i64,
    pub redis_remaining: Option<i64>,
    pub redis_holders: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory: String,
    pub postgres: String,
    pub redis: String,
    pub commit: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub places: u32,
    pub patients: usize,
    pub connections: usize,
    pub gateway_workers: usize,
    pub schedule: String,
    /// /proc/loadavg (1, 5, 15 min) when the run started.
    pub load_before: String,
    pub setup_s: f64,
    pub healthz: PhaseStats,
    pub rush: PhaseStats,
    pub sold_out: PhaseStats,
    /// Distinct patients that got a 201, over both booking phases.
    pub winners: usize,
    pub after_rush: Verification,
    pub after_sold_out: Verification,
    pub redis_loop_rate: f64,
    pub redis_loop_concurrency: usize,
    pub redis_ops: usize,
    /// redis-benchmark's rate and command line, or why it did not run.
    pub redis_benchmark: Result<(f64, String), String>,
    pub rss_peak_sampled_kb: u64,
    pub vm_hwm_kb: u64,
    pub total_s: f64,
}

/// CPU time per place won, by process, in milliseconds of one core.
#[derive(Debug, Clone, Copy)]
pub struct PlaceCost {
    pub gateway_ms: f64,
    pub postgres_ms: f64,
    pub mock_ms: f64,
    pub redis_ms: f64,
    pub client_ms: f64,
}

impl PlaceCost {
    /// What each place won in `rush` cost: the rush's CPU less what its sold-out answers cost at
    /// `sold_out`'s price per answer, over the places won. `None` without winners, or without
    /// sold-out answers to price the rest by.
    pub fn of(rush: &PhaseStats, sold_out: &PhaseStats) -> Option<Self> {
        if rush.held == 0 || sold_out.requests == 0 {
            return None;
        }
        let losers = (rush.requests - rush.held) as f64;
        // Milliseconds of one core per place won, from a process's cores in both phases.
        let per_place = |in_rush: f64, in_sold_out: f64| {
            let per_answer = in_sold_out * sold_out.elapsed_s / sold_out.requests as f64;
            ((in_rush * rush.elapsed_s - losers * per_answer) / rush.held as f64 * 1000.0).max(0.0)
        };
        Some(Self {
            gateway_ms: per_place(rush.cpu.gateway, sold_out.cpu.gateway),
            postgres_ms: per_place(rush.servers.postgres_bench, sold_out.servers.postgres_bench),
            mock_ms: per_place(rush.mock, sold_out.mock),
            redis_ms: per_place(rush.servers.redis, sold_out.servers.redis),
            client_ms: per_place(rush.cpu.client, sold_out.cpu.client),
        })
    }

    pub fn total_ms(&self) -> f64 {
        self.gateway_ms + self.postgres_ms + self.mock_ms + self.redis_ms + self.client_ms
    }

    /// How long a winner waits when `connections` winners share `cores` cores from the first
    /// instant, as at the start of a rush: a floor under the winners' latency, and so under the
    /// p99 when more than 1% of the attempts win.
    pub fn queue_ms(&self, connections: usize, cores: usize) -> f64 {
        connections as f64 * self.total_ms() / cores.max(1) as f64
    }

    fn describe(&self, connections: usize, cores: usize) -> String {
        format!(
            "gateway {:.2} ms, PostgreSQL (the bench database's backends) {:.2} ms, \
             miniprogram-mock (WeChat's side of the order) {:.2} ms, Redis {:.2} ms, load \
             generator {:.2} ms: {:.2} ms of CPU in all. With {connections} connections \
             holding winners from the first instant on {cores} cores, a winner waits about \
             {connections} × {:.2} / {cores} = {:.0} ms",
            self.gateway_ms,
            self.postgres_ms,
            self.mock_ms,
            self.redis_ms,
            self.client_ms,
            self.total_ms(),
            self.total_ms(),
            self.queue_ms(connections, cores),
        )
    }
}

pub struct Verdict {
    pub target: String,
    pub observed: String,
    pub pass: bool,
}

impl Verdict {
    fn word(&self) -> &'static str {
        if self.pass { "PASS" } else { "FAIL" }
    }

    /// `targets:` and one `[PASS] target: observed` line each, for the terminal summary.
    pub fn write_lines(out: &mut String, verdicts: &[Verdict]) {
        let _ = writeln!(out, "\ntargets:");
        for v in verdicts {
            let _ = writeln!(out, "  [{}] {}: {}", v.word(), v.target, v.observed);
        }
    }

    /// The `| target | observed | verdict |` table of a BENCHMARKS.md section.
    pub fn write_table(out: &mut String, verdicts: &[Verdict]) {
        let _ = writeln!(out, "| target | observed | verdict |");
        let _ = writeln!(out, "|---|---|---|");
        for v in verdicts {
            let _ = writeln!(out, "| {} | {} | **{}** |", v.target, v.observed, v.word());
        }
    }
}

impl Report {
    pub fn sold_out_ratio(&self) -> f64 {
        ratio(self.sold_out.sold_out_rate, self.healthz.rate)
    }

    pub fn verdicts(&self) -> Vec<Verdict> {
        let places = i64::from(self.places);
        let winners = self.winners as i64;
        let held = (self.rush.held + self.sold_out.held) as i64;
        let v = &self.after_sold_out;
        let oversell_ok = [&self.after_rush, &self.after_sold_out].iter().all(|v| {
            v.live_bookings <= places
                && v.live_bookings == winners.min(places)
                && v.segments_booked == v.live_bookings
        });
        let duplicates_ok = [&self.after_rush, &self.after_sold_out]
            .iter()
            .all(|v| v.identities_with_two_live == 0 && v.patients_with_two_live == 0)
            && held == winners;
        let unanswered = self.rush.unanswered_or_unexpected()
            + self.sold_out.unanswered_or_unexpected()
            + self.healthz.unanswered_or_unexpected();
        let sold_out_only = self.sold_out.sold_out == self.sold_out.requests;
        vec![
            Verdict {
                target: "zero oversell".into(),
                observed: format!(
                    "{} live bookings for {places} places; {winners} patients got 201; schedule_segments.booked = {}",
                    v.live_bookings, v.segments_booked
                ),
                pass: oversell_ok,
            },
            Verdict {
                target: "zero duplicate patients".into(),
                observed: format!(
                    "{} identities and {} patients with two live bookings; {held} answers 201 for {winners} distinct patients",
                    v.identities_with_two_live, v.patients_with_two_live
                ),
                pass: duplicates_ok,
            },
            Verdict {
                target: "every attempt answered (no 5xx, no timeouts)".into(),
                observed: format!(
                    "{} 5xx, {} timeouts, {} transport errors, {} other answers over {} requests",
                    self.rush.server_errors
                        + self.sold_out.server_errors
                        + self.healthz.server_errors,
                    self.rush.timeouts + self.sold_out.timeouts + self.healthz.timeouts,
                    self.rush.transport + self.sold_out.transport + self.healthz.transport,
                    self.rush.other + self.sold_out.other + self.healthz.other,
                    self.rush.requests + self.sold_out.requests + self.healthz.requests,
                ),
                pass: unanswered == 0,
            },
            Verdict {
                target: "sold-out answers ≥ 50% of the /healthz rate".into(),
                observed: format!(
                    "{:.0}/s vs {:.0}/s = {:.0}%{}",
                    self.sold_out.sold_out_rate,
                    self.healthz.rate,
                    100.0 * self.sold_out_ratio(),
                    if sold_out_only {
                        String::new()
                    } else {
                        format!(
                            " (only {} of {} answers were SLOT_SOLD_OUT)",
                            self.sold_out.sold_out, self.sold_out.requests
                        )
                    }
                ),
                pass: self.sold_out_ratio() >= SOLD_OUT_RATIO_TARGET && sold_out_only,
            },
            Verdict {
                target: "p99 under 100 ms (booking rush)".into(),
                observed: format!("p99 {:.1} ms", self.rush.p99_ms),
                pass: self.rush.p99_ms < P99_TARGET_MS && self.rush.requests > 0,
            },
            Verdict {
                target: "gateway peak RSS under 200 MB".into(),
                observed: format!("VmHWM {}", mb(self.vm_hwm_kb)),
                pass: self.vm_hwm_kb > 0 && self.vm_hwm_kb * 1024 < RSS_TARGET_BYTES,
            },
        ]
    }

    pub fn cost_per_place_won(&self) -> Option<PlaceCost> {
        PlaceCost::of(&self.rush, &self.sold_out)
    }

    pub fn all_pass(&self) -> bool {
        self.verdicts().iter().all(|v| v.pass)
    }

    /// The summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "phase        requests   wall s     req/s    p50 ms   p99 ms   max ms   201   409 sold-out  409 already  unexpected  CPU cores: gateway / load generator / machine"
        );
        for (name, s) in [
            ("/healthz", &self.healthz),
            ("rush", &self.rush),
            ("sold-out", &self.sold_out),
        ] {
            let _ = writeln!(
                out,
                "{name:<12} {:>8} {:>8.2} {:>9.0} {:>9.2} {:>8.2} {:>8.2} {:>5} {:>14} {:>12} {:>11}  {:.2} / {:.2} / {:.2}",
                s.requests,
                s.elapsed_s,
                s.rate,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.held,
                s.sold_out,
                s.already_booked,
                s.unanswered_or_unexpected(),
                s.cpu.gateway,
                s.cpu.client,
                s.cpu.machine
            );
        }
        let _ = writeln!(
            out,
            "\nredis EVALSHA hold.lua (sold out): {:.0} ops/s (client loop, {} tasks, 1 multiplexed connection){}",
            self.redis_loop_rate,
            self.redis_loop_concurrency,
            match &self.redis_benchmark {
                Ok((rate, _)) => format!("; {rate:.0} ops/s (redis-benchmark)"),
                Err(why) => format!("; redis-benchmark: {why}"),
            }
        );
        let _ = writeln!(
            out,
            "gateway memory: VmHWM {}, largest sampled VmRSS {}",
            mb(self.vm_hwm_kb),
            mb(self.rss_peak_sampled_kb)
        );
        let [p50, p99, max] = self.rush.held_ms;
        let _ = writeln!(
            out,
            "winners alone (answers 201): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
        );
        if let Some(cost) = self.cost_per_place_won() {
            let _ = writeln!(
                out,
                "CPU per place won: {}",
                cost.describe(self.connections, self.machine.nproc)
            );
        }
        Verdict::write_lines(&mut out, &self.verdicts());
        out
    }

    /// The BENCHMARKS.md section, markers included.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(out, "## Booking rush (issue 4)\n");
        let _ = writeln!(
            out,
            "Written by `guahao-bench` (crate `bench/`); rerun it to refresh this section.\n"
        );
        let _ = writeln!(out, "- **Command:** `{}`", self.command);
        let _ = writeln!(out, "- **Date:** {}", self.date);
        let _ = writeln!(
            out,
            "- **Machine:** {} CPUs (`nproc`), {}, {} RAM; PostgreSQL {}, Redis {}, the gateway, \
             the mock and the load generator all on this one machine (load average {} when the \
             run started)",
            m.nproc, m.cpu_model, m.memory, m.postgres, m.redis, self.load_before
        );
        let _ = writeln!(out, "- **Code:** {}", m.commit);
        let _ = writeln!(
            out,
            "- **Set-up:** release build; `guahao serve` with {} workers, `RUST_LOG=warn`, a \
             throwaway PostgreSQL database and its own Redis key prefix; one schedule ({}) cut \
             to exactly {} places in one time segment; {} distinct patients, each logged in \
             through the WeChat mock with one real-name patient (set-up, not timed: {:.1} s); \
             {} HTTP/1.1 keep-alive connections from one reqwest client, 10 s timeout.",
            self.gateway_workers,
            self.schedule,
            self.places,
            self.patients,
            self.setup_s,
            self.connections
        );
        let _ = writeln!(out, "\n### Figures\n");
        let _ = writeln!(
            out,
            "| phase | requests | wall | rate | p50 | p90 | p99 | max | answers | CPU cores: gateway / load generator / machine |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        let rush_name = format!(
            "booking rush: `POST /api/v1/bookings`, attempt n by patient n mod {}",
            self.patients
        );
        for (name, s, answers) in [
            (
                "`GET /healthz`",
                &self.healthz,
                format!("{} × 200", s_ok(&self.healthz)),
            ),
            (
                rush_name.as_str(),
                &self.rush,
                format!(
                    "{} × 201, {} × 409 SLOT_SOLD_OUT, {} × 409 ALREADY_BOOKED",
                    self.rush.held, self.rush.sold_out, self.rush.already_booked
                ),
            ),
            (
                "sold-out: the same, by patients without a place, after the segment sold out",
                &self.sold_out,
                format!(
                    "{} × 409 SLOT_SOLD_OUT, {} × 201",
                    self.sold_out.sold_out, self.sold_out.held
                ),
            ),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2} s | **{:.0}/s** | {:.2} ms | {:.2} ms | **{:.2} ms** | {:.2} ms | {answers}{} | {:.2} / {:.2} / {:.2} |",
                s.requests,
                s.elapsed_s,
                s.rate,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.max_ms,
                unexpected_note(s),
                s.cpu.gateway,
                s.cpu.client,
                s.cpu.machine
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "- **Places won:** {} answers 201 (`pending_payment` holds) for {} places; \
             {} live bookings in PostgreSQL after the rush and {} after the sold-out phase. \
             They are holds awaiting payment (\"confirmed\" needs the payment callback, which \
             this benchmark does not drive).",
            self.rush.held + self.sold_out.held,
            self.places,
            self.after_rush.live_bookings,
            self.after_sold_out.live_bookings
        );
        let [p50, p99, max] = self.rush.held_ms;
        let _ = writeln!(
            out,
            "- **The winners alone** (the rush's answers 201): p50 {p50:.1} ms, p99 {p99:.1} ms, \
             max {max:.1} ms. With {} of {} attempts winning, the rush's p99 is a winner's \
             latency whenever more than 1% win.",
            self.rush.held, self.rush.requests
        );
        let _ = writeln!(
            out,
            "- **Database check (after both phases):** {} live bookings, \
             `schedule_segments.booked` = {} of capacity {}, {} identities and {} patients with \
             two live bookings in the schedule. Redis: {} places left, {} holders.",
            self.after_sold_out.live_bookings,
            self.after_sold_out.segments_booked,
            self.after_sold_out.segments_capacity,
            self.after_sold_out.identities_with_two_live,
            self.after_sold_out.patients_with_two_live,
            self.after_sold_out
                .redis_remaining
                .map_or("?".to_owned(), |n| n.to_string()),
            self.after_sold_out.redis_holders
        );
        let _ = writeln!(
            out,
            "- **Redis alone, `EVALSHA` of `hold.lua` on a sold-out schedule** (the script every \
             booking attempt runs, on the path a sold-out answer takes): **{:.0} ops/s** from a \
             client loop ({} ops, {} tasks over one redis-rs multiplexed connection){}.",
            self.redis_loop_rate,
            self.redis_ops,
            self.redis_loop_concurrency,
            match &self.redis_benchmark {
                Ok((rate, command)) => format!("; **{rate:.0} ops/s** with `{command}`"),
                Err(why) => format!("; redis-benchmark did not run ({why})"),
            }
        );
        let _ = writeln!(
            out,
            "- **Ratios:** sold-out answers / `/healthz` = {:.0}%; booking rush / `/healthz` = \
             {:.0}%; sold-out answers / raw Redis EVALSHA (client loop) = {:.1}%.",
            100.0 * self.sold_out_ratio(),
            100.0 * ratio(self.rush.rate, self.healthz.rate),
            100.0 * ratio(self.sold_out.sold_out_rate, self.redis_loop_rate)
        );
        if let Some(cost) = self.cost_per_place_won() {
            let _ = writeln!(
                out,
                "- **CPU per place won** (the rush's CPU by process, less its {} sold-out answers \
                 at the sold-out phase's cost per answer, over the {} places won): {}.",
                self.rush.requests - self.rush.held,
                self.rush.held,
                cost.describe(self.connections, self.machine.nproc)
            );
        }
        let _ = writeln!(
            out,
            "- **Gateway memory:** peak RSS (VmHWM, read at the end) {}; largest VmRSS sampled \
             every 200 ms during the run {}.",
            mb(self.vm_hwm_kb),
            mb(self.rss_peak_sampled_kb)
        );
        let _ = writeln!(
            out,
            "- **Whole run** (services up to teardown, build excluded): {:.0} s.",
            self.total_s
        );
        let _ = writeln!(out, "\n### Targets\n");
        Verdict::write_table(&mut out, &self.verdicts());
        let _ = writeln!(
            out,
            "\nRates are requests answered per second of wall time with {} connections busy; \
             latencies are per request, send to last body byte, as the client saw them. The \
             load generator shares the {} cores with the gateway, PostgreSQL and Redis, so every \
             rate here is a rate of the whole machine; the ratios are what carry over. CPU \
             cores are from /proc over each phase: the gateway process, the load generator \
             process, and the machine's busy time (whatever else ran included; the rest of it is \
             mostly PostgreSQL and Redis).",
            self.connections, self.machine.nproc
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
                 {} CPUs when the run started (other builds and tests share it), so other work \
                 competed for the cores and the rates and latencies above are worse than a quiet \
                 machine gives.",
                self.machine.nproc
            );
        }
        if self.healthz.cpu.client > self.healthz.cpu.gateway {
            let _ = writeln!(
                out,
                "\nThe `/healthz` phase is bounded by the load generator (it used {:.2} cores, the \
                 gateway {:.2}), so that rate understates what the gateway alone answers: the \
                 ratio against it is flattering to the booking path, not harsh.",
                self.healthz.cpu.client, self.healthz.cpu.gateway
            );
        }
        let _ = writeln!(out, "{END}");
        out
    }
}

fn s_ok(s: &PhaseStats) -> usize {
    s.ok
}

fn unexpected_note(s: &PhaseStats) -> String {
    if s.unexpected.is_empty() && s.timeouts == 0 {
        return String::new();
    }
    let mut parts: Vec<String> = s
        .unexpected
        .iter()
        .map(|(what, n)| format!("{n} × {what}"))
        .collect();
    if s.timeouts > 0 {
        parts.push(format!("{} × timeout", s.timeouts));
    }
    format!("; **unexpected:** {}", parts.join(", "))
}

pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// kB (KiB, as /proc reports) to decimal megabytes.
pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 * 1024.0 / 1e6)
}

/// Writes `section` (which starts with `begin` and ends with `end`) into the file at `path`,
/// replacing an earlier copy between those markers and keeping everything else.
pub fn write_section(path: &Path, section: &str, begin: &str, end: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let updated = splice(&existing, section, begin, end);
    std::fs::write(path, updated)?;
    Ok(())
}

fn splice(existing: &str, section: &str, begin_marker: &str, end_marker: &str) -> String {
    if let (Some(begin), Some(end)) = (existing.find(begin_marker), existing.find(end_marker))
        && begin < end
    {
        let after = &existing[end + end_marker.len()..];
        let after = after.strip_prefix('\n').unwrap_or(after);
        return format!("{}{section}{after}", &existing[..begin]);
    }
    if existing.trim().is_empty() {
        return format!(
            "# Benchmarks\n\nFigures measured on the project's own machines with tools in this \
             workspace. Each section says how to reproduce it.\n\n{section}"
        );
    }
    let mut out = existing.trim_end().to_owned();
    out.push_str("\n\n");
    out.push_str(section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_costs_the_rush_less_its_sold_out_answers() {
        let mut rush = PhaseStats {
            requests: 1_000,
            held: 100,
            elapsed_s: 2.0,
            ..Default::default()
        };
        // Gateway: 2 s of one core in the rush, of which 900 sold-out answers at 1 ms each.
        rush.cpu.gateway = 1.0;
        rush.mock = 0.05;
        let mut sold_out = PhaseStats {
            requests: 500,
            elapsed_s: 0.5,
            ..Default::default()
        };
        sold_out.cpu.gateway = 1.0;
        let cost = PlaceCost::of(&rush, &sold_out).unwrap();
        assert!((cost.gateway_ms - 11.0).abs() < 1e-9, "{cost:?}");
        assert!((cost.mock_ms - 1.0).abs() < 1e-9, "{cost:?}");
        assert_eq!(cost.postgres_ms, 0.0);
        assert!((cost.total_ms() - 12.0).abs() < 1e-9);
        assert!((cost.queue_ms(256, 2) - 1536.0).abs() < 1e-6);
        let nobody_won = PhaseStats {
            held: 0,
            ..rush.clone()
        };
        assert!(PlaceCost::of(&nobody_won, &sold_out).is_none());
    }

    #[test]
    fn the_section_replaces_only_itself() {
        let first = format!("{BEGIN}\nold\n{END}\n");
        let file = format!("# Benchmarks\n\nintro\n\n{first}\n## Other\n\nkept\n");
        let new = format!("{BEGIN}\nnew\n{END}\n");
        let out = splice(&file, &new, BEGIN, END);
        assert!(out.contains("new") && !out.contains("old"));
        assert!(out.starts_with("# Benchmarks\n\nintro\n\n"));
        assert!(out.ends_with("\n## Other\n\nkept\n"));
        assert_eq!(splice(&out, &new, BEGIN, END), out, "idempotent");
    }

    #[test]
    fn a_new_file_gets_a_title_and_an_old_one_keeps_its_sections() {
        let new = format!("{BEGIN}\nnew\n{END}\n");
        assert!(splice("", &new, BEGIN, END).starts_with("# Benchmarks"));
        let out = splice("# B\n\n## Other\n", &new, BEGIN, END);
        assert!(out.starts_with("# B\n\n## Other\n\n<!-- BEGIN"));
    }

    #[test]
    fn two_sections_with_their_own_markers_live_side_by_side() {
        let (begin2, end2) = ("<!-- BEGIN two -->", "<!-- END two -->");
        let one = splice("", &format!("{BEGIN}\none\n{END}\n"), BEGIN, END);
        let both = splice(&one, &format!("{begin2}\ntwo\n{end2}\n"), begin2, end2);
        let again = splice(&both, &format!("{BEGIN}\nONE\n{END}\n"), BEGIN, END);
        assert!(again.contains("ONE") && !again.contains("\none\n"));
        assert!(again.ends_with(&format!("{begin2}\ntwo\n{end2}\n")));
    }
}
