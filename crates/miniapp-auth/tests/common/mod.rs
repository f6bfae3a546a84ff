//! Starts the real `miniprogram-mock` binary on a free port for one test and stops it on drop.
//! Build it first: `cargo build -p miniprogram-mock` (`make test` builds every binary).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mock {
    pub base_url: String,
    child: Child,
}

/// The workspace root, where the mock finds `config/dev-keys`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mock_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/miniprogram-mock
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("miniprogram-mock");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p miniprogram-mock` first",
        path.display()
    );
    path
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Mock {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(mock_binary())
            .arg("serve")
            .current_dir(workspace_root())
            .env("MOCK_BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start miniprogram-mock");
        let mut mock = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(mock.url("/healthz")).send().await
                && r.status().is_success()
            {
                return mock;
            }
            if let Ok(Some(status)) = mock.child.try_wait() {
                panic!("miniprogram-mock exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "miniprogram-mock did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
