//! Test-only helpers shared by the crates' test suites.
//!
//! Every database test runs against SQLite and PostgreSQL; every store test against the
//! in-process store and Redis, and the Redis store suites also on a private three-node Redis
//! Cluster ([`PrivateRedisCluster`]). The servers are the machine's shared ones (PostgreSQL on
//! 127.0.0.1:5432, Redis on 127.0.0.1:6379, overridable by `GUAHAO_TEST_POSTGRES_URL` and
//! `GUAHAO_TEST_REDIS_URL`). When `GUAHAO_TEST_REQUIRE_SERVERS=1` (as `make test` sets) a missing
//! server fails the test; otherwise the test says loudly that it skipped that backend.

mod private_servers;
mod redis_cluster;

pub use private_servers::{PrivatePostgres, PrivateRedis, free_port};
pub use redis_cluster::PrivateRedisCluster;

use sea_orm::{ConnectionTrait, Database};
use std::path::PathBuf;

pub fn servers_required() -> bool {
    std::env::var("GUAHAO_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

pub(crate) fn unavailable(what: &str, why: &dyn std::fmt::Display) {
    if servers_required() {
        panic!("{what} is required (GUAHAO_TEST_REQUIRE_SERVERS=1) but unavailable: {why}");
    }
    eprintln!("SKIPPING the {what} half of this test: {why} (make test runs it)");
}

pub fn postgres_admin_url() -> String {
    std::env::var("GUAHAO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("GUAHAO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub label: &'static str,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.label, self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime guarantee, so the clean-up gets its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = Database::connect(&admin_url).await.ok()?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("guahao.db");
    TestDb {
        label: "sqlite",
        url: format!("sqlite://{}?mode=rwc", path.display()),
        cleanup: Cleanup::Sqlite(dir),
    }
}

/// A fresh, empty database on the shared PostgreSQL server.
pub async fn postgres_db() -> Option<TestDb> {
    let admin_url = postgres_admin_url();
    let admin = match Database::connect(&admin_url).await {
        Ok(db) => db,
        Err(e) => {
            unavailable("PostgreSQL", &e);
            return None;
        }
    };
    let name = format!("guahao_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&admin_url);
    Some(TestDb {
        label: "postgres",
        url: format!("{base}/{name}"),
        cleanup: Cleanup::Postgres {
            admin_url: admin_url.clone(),
            name,
        },
    })
}

/// SQLite, then PostgreSQL when it can be reached.
pub async fn each_database() -> Vec<TestDb> {
    let mut dbs = vec![sqlite_db()];
    dbs.extend(postgres_db().await);
    dbs
}

/// The shared Redis, when it answers. Tests keep to keys under a random prefix of their own.
pub async fn shared_redis() -> Option<String> {
    let url = redis_url();
    match redis_ping(&url).await {
        Ok(()) => Some(url),
        Err(e) => {
            unavailable("Redis", &e);
            None
        }
    }
}

/// `PING` over a raw socket, so this crate needs no Redis client of its own.
pub async fn redis_ping(url: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host_port = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .ok_or_else(|| format!("bad redis url {url}"))?
        .to_owned();
    let mut stream = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(&host_port),
    )
    .await
    .map_err(|_| format!("connecting to {host_port} timed out"))?
    .map_err(|e| format!("connecting to {host_port}: {e}"))?;
    stream
        .write_all(b"PING\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf))
        .await
        .map_err(|_| "PING timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    if buf[..n].starts_with(b"+PONG") {
        Ok(())
    } else {
        Err(format!("unexpected answer {:?}", &buf[..n]))
    }
}
