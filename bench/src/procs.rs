//! The processes under test: `miniprogram-mock serve` and `guahao serve`, started from
//! `target/release` on free loopback ports, and what `/proc` says about them.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A port nobody listens on right now (the kernel picks it; we release it at once).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A child process that is killed when dropped, so an error or Ctrl-C leaves nothing behind.
pub struct Proc {
    name: String,
    child: Child,
    log_path: Option<PathBuf>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of the process's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(path) = &self.log_path else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it has not exited within `within`.
    pub fn terminate(mut self, within: Duration) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "[bench] {} did not stop within {within:?} of SIGTERM; killing it",
            self.name
        );
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers 200; fails early if the process exits.
pub async fn wait_live(
    proc_: &mut Proc,
    http: &reqwest::Client,
    url: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().as_u16() == 200
        {
            return Ok(());
        }
        if let Some(status) = proc_.exited() {
            bail!(
                "{} exited ({status}) before answering {url}; log:\n{}",
                proc_.name,
                proc_.log_tail(40)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not answer {url} within {within:?}; log:\n{}",
                proc_.name,
                proc_.log_tail(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts `miniprogram-mock serve` on a free port.
pub async fn start_mock(bin_dir: &Path, http: &reqwest::Client) -> anyhow::Result<(Proc, String)> {
    let bin = bin_dir.join("miniprogram-mock");
    let port = free_port()?;
    let child = Command::new(&bin)
        .arg("serve")
        .env("MOCK_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut proc_ = Proc {
        name: "miniprogram-mock".into(),
        child,
        log_path: None,
    };
    let base = format!("http://127.0.0.1:{port}");
    wait_live(
        &mut proc_,
        http,
        &format!("{base}/healthz"),
        Duration::from_secs(30),
    )
    .await?;
    Ok((proc_, base))
}

/// How to run `guahao`: its binary, its environment (bind address included) and its log file.
pub struct GatewaySpec {
    pub bin: PathBuf,
    pub env: Vec<(String, String)>,
    pub log_path: PathBuf,
    pub base_url: String,
}

impl GatewaySpec {
    /// Runs `guahao ARGS` to completion (e.g. `seed --demo`).
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<()> {
        let output = tokio::process::Command::new(&self.bin)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", self.bin.display()))?;
        if !output.status.success() {
            bail!(
                "guahao {} failed ({}):\n{}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Starts `guahao serve` and waits until `/healthz` answers.
    pub async fn serve(&self, http: &reqwest::Client) -> anyhow::Result<Proc> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;
        let child = Command::new(&self.bin)
            .arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let mut proc_ = Proc {
            name: "guahao serve".into(),
            child,
            log_path: Some(self.log_path.clone()),
        };
        wait_live(
            &mut proc_,
            http,
            &format!("{}/healthz", self.base_url),
            Duration::from_secs(60),
        )
        .await?;
        Ok(proc_)
    }
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// User + system CPU time of the process so far, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis start at
    // field 3 (state), so utime (14) and stime (15) are the 12th and 13th of them.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy CPU time of the whole machine so far (all CPUs, idle and iowait excluded), in ticks.
pub fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields.as_slice() else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// CPU counters at the start of a phase: the gateway's, the load generator's (this process)
/// and the whole machine's.
pub struct CpuSnapshot {
    gateway: Option<u64>,
    client: Option<u64>,
    machine: Option<u64>,
}

/// CPU used over a phase, in cores (2.0 = two cores busy the whole time).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub gateway: f64,
    pub client: f64,
    pub machine: f64,
}

impl CpuSnapshot {
    pub fn take(gateway_pid: u32) -> Self {
        Self {
            gateway: cpu_ticks(gateway_pid),
            client: cpu_ticks(std::process::id()),
            machine: machine_busy_ticks(),
        }
    }

    pub fn since(&self, gateway_pid: u32, elapsed: Duration, ticks_per_second: f64) -> CpuUse {
        let now = Self::take(gateway_pid);
        let cores = |a, b| cores_since(a, b, elapsed, ticks_per_second);
        CpuUse {
            gateway: cores(self.gateway, now.gateway),
            client: cores(self.client, now.client),
            machine: cores(self.machine, now.machine),
        }
    }
}

/// The cores a process used between two readings of its CPU ticks `elapsed` apart (0 when
/// either is missing).
pub fn cores_since(
    before: Option<u64>,
    after: Option<u64>,
    elapsed: Duration,
    ticks_per_second: f64,
) -> f64 {
    match (before, after) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / ticks_per_second / elapsed.as_secs_f64(),
        _ => 0.0,
    }
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux almost everywhere).
pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples the gateway's VmRSS every 200 ms and keeps the largest value seen (kB).
pub struct RssSampler {
    pub max_kb: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let max_kb = Arc::new(AtomicU64::new(0));
        let max = max_kb.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    max.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { max_kb, task }
    }

    pub fn max_kb(&self) -> u64 {
        self.max_kb.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CPU ticks used so far by every running process whose command name is `name` (all
/// PostgreSQL backends, say). A process that exits between two readings takes its ticks with
/// it, so a difference is a floor.
pub fn command_ticks(name: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .filter_map(cpu_ticks)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_counts_at_least_this_process() {
        let me = std::process::id();
        // Burn a little CPU so that the tick counters have something to show.
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(started.elapsed());
        }
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let own = cpu_ticks(me).unwrap();
        assert!(command_ticks(comm.trim_end()) >= own);
        assert_eq!(command_ticks("no-such-command-here"), 0);
    }
}
