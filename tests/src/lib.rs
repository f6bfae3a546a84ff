//! Harness for the end-to-end tests: starts the real `guahao` and `miniprogram-mock` binaries on
//! free ports, with a throwaway database, and stops them when dropped.
//!
//! The binaries must be built first (`make test` runs `cargo build --workspace --bins`).

mod api;
mod unique;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub use api::{Api, bookable_segment_of, code_of, place_of};
pub use test_support::{PrivatePostgres, PrivateRedis, TestDb, free_port};
pub use unique::{own_redis_keys, unique, unique_passport};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A binary of this workspace, next to the test executable's profile folder.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

/// A fresh database on the shared PostgreSQL and the shared Redis's URL, for a gateway on both;
/// `None` when either server is missing and not required. The database lives as long as the
/// returned [`TestDb`].
pub async fn shared_servers() -> Option<(TestDb, String)> {
    let database = test_support::postgres_db().await?;
    let redis_url = test_support::shared_redis().await?;
    Some((database, redis_url))
}

/// Polls `url` until it answers `status`, or panics after `within`.
pub async fn wait_for_status(
    client: &reqwest::Client,
    url: &str,
    status: u16,
    within: Duration,
) -> reqwest::Response {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().as_u16() == status
        {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer {status} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `guahao serve`.
pub struct Gateway {
    pub base_url: String,
    child: Child,
    env: Vec<(String, String)>,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

pub struct GatewayOptions {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub seed_demo: bool,
    pub extra_env: Vec<(String, String)>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            redis_url: None,
            seed_demo: true,
            extra_env: Vec::new(),
        }
    }
}

impl Gateway {
    /// SQLite in a temp folder, in-process stores, the demo catalog.
    pub async fn start() -> Self {
        Self::start_with(GatewayOptions::default()).await
    }

    pub async fn start_with(options: GatewayOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let database_url = options
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}/guahao.db?mode=rwc", dir.path().display()));
        let mut env = vec![
            (
                "GUAHAO_ROOT".to_owned(),
                workspace_root().display().to_string(),
            ),
            ("GUAHAO_ENV".to_owned(), "test".to_owned()),
            (
                "GUAHAO__SERVER__BIND".to_owned(),
                format!("127.0.0.1:{port}"),
            ),
            (
                "GUAHAO__SERVER__PUBLIC_BASE_URL".to_owned(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("GUAHAO__DATABASE__URL".to_owned(), database_url),
            (
                "GUAHAO__REDIS__URL".to_owned(),
                options.redis_url.unwrap_or_default(),
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        env.extend(options.extra_env);
        if options.seed_demo {
            let output = run_guahao(&env, &["seed", "--demo"]);
            assert!(
                output.status.success(),
                "seed failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let log_path = dir.path().join("gateway.log");
        let gateway = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child: spawn_gateway(&env, &log_path),
            env,
            log_path,
            _dir: dir,
        };
        gateway.wait_until_live().await;
        gateway
    }

    async fn wait_until_live(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "guahao did not come up; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value this gateway was started with for an environment setting.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Kills the process (as a crash would) and, after `down_for`, starts it again on the same
    /// address with the same settings and database.
    pub async fn crash_and_restart(&mut self, down_for: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        tokio::time::sleep(down_for).await;
        self.child = spawn_gateway(&self.env, &self.log_path);
        self.wait_until_live().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs another `guahao` command with this gateway's configuration.
    pub fn command(&self, args: &[&str]) -> Output {
        run_guahao(&self.env, args)
    }

    /// Like [`Gateway::command`], with `stdin` written to the command's standard input (for
    /// `guahao operator create`, which reads the password there).
    pub fn command_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(binary("guahao"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run guahao");
        let mut input = child.stdin.take().expect("piped stdin");
        // The command may exit before reading it all (e.g. on a bad argument): not an error.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().expect("wait for guahao")
    }

    /// `guahao operator create` for an operator who must be created; `hospital` is its code or id.
    pub fn create_operator(
        &self,
        username: &str,
        role: &str,
        hospital: Option<&str>,
        password: &str,
    ) {
        let mut args = vec!["operator", "create", "--username", username, "--role", role];
        if let Some(hospital) = hospital {
            args.extend(["--hospital", hospital]);
        }
        let output = self.command_with_stdin(&args, &format!("{password}\n"));
        assert!(
            output.status.success(),
            "{username}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "guahao did not stop within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `guahao serve` with `env`, its output appended to `log_path`.
fn spawn_gateway(env: &[(String, String)], log_path: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log_path)
        .expect("log file");
    Command::new(binary("guahao"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("start guahao")
}

/// Runs `guahao ARGS` to completion with the given environment.
pub fn run_guahao(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(binary("guahao"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("run guahao")
}

/// A running `miniprogram-mock serve`.
pub struct Mock {
    pub base_url: String,
    child: Child,
}

impl Mock {
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new(binary("miniprogram-mock"))
            .arg("serve")
            .env("MOCK_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start miniprogram-mock");
        let mock = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        wait_for_status(
            &reqwest::Client::new(),
            &format!("{}/healthz", mock.base_url),
            200,
            Duration::from_secs(30),
        )
        .await;
        mock
    }
}

impl Mock {
    /// `more` settings, after those that point a gateway at this mock for the WeChat and Alipay
    /// platforms and both payment providers.
    pub fn env_with(&self, more: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut env = vec![
            ("GUAHAO__WECHAT__API_BASE".to_owned(), self.base_url.clone()),
            (
                "GUAHAO__WECHATPAY__BASE_URL".to_owned(),
                self.base_url.clone(),
            ),
            (
                "GUAHAO__ALIPAY__GATEWAY_URL".to_owned(),
                format!("{}/gateway.do", self.base_url),
            ),
        ];
        env.extend(more);
        env
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
