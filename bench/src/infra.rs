//! The shared servers: a throwaway PostgreSQL database and a private key prefix on the shared
//! Redis, both removed at the end (also after an error or Ctrl-C).

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};

/// `guahao_bench_<random>` on the shared server, dropped by [`Infra::cleanup`].
pub struct Infra {
    admin: DatabaseConnection,
    pub db_name: String,
    pub database_url: String,
    pub redis_url: String,
    /// Every key the bench's gateway (and the bench itself) writes starts with `"{prefix}:"`.
    pub redis_prefix: String,
    pub redis: redis::aio::MultiplexedConnection,
}

impl Infra {
    pub async fn create(postgres_url: &str, redis_url: &str, run_id: &str) -> anyhow::Result<Self> {
        let base = postgres_url.trim_end_matches('/');
        let admin = Database::connect(format!("{base}/postgres"))
            .await
            .with_context(|| format!("connecting to PostgreSQL at {base}/postgres"))?;
        let db_name = format!("guahao_bench_{run_id}");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{db_name}\""))
            .await
            .with_context(|| format!("CREATE DATABASE {db_name}"))?;
        let client = redis::Client::open(redis_url).context("the Redis URL")?;
        let redis = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        Ok(Self {
            admin,
            database_url: format!("{base}/{db_name}"),
            db_name,
            redis_url: redis_url.to_owned(),
            redis_prefix: format!("guahao-bench-{run_id}"),
            redis,
        })
    }

    /// Deletes every Redis key under the bench's prefix; returns how many there were.
    pub async fn flush_prefix(&self) -> anyhow::Result<u64> {
        let mut con = self.redis.clone();
        let pattern = format!("{}:*", self.redis_prefix);
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut con)
                .await
                .context("SCAN")?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut con)
                    .await
                    .context("UNLINK")?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Drops the database and the Redis keys; reports but does not fail on errors.
    pub async fn cleanup(&self, db: Option<&DatabaseConnection>) {
        if let Some(db) = db {
            let _ = db.clone().close().await;
        }
        match self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.db_name
            ))
            .await
        {
            Ok(_) => eprintln!("[bench] dropped database {}", self.db_name),
            Err(e) => eprintln!("[bench] could not drop database {}: {e}", self.db_name),
        }
        match self.flush_prefix().await {
            Ok(n) => eprintln!(
                "[bench] deleted {n} Redis keys under {}:",
                self.redis_prefix
            ),
            Err(e) => eprintln!(
                "[bench] could not delete the Redis keys under {}: {e:#}",
                self.redis_prefix
            ),
        }
    }
}

/// Runs a statement that answers one row with an integer column `n`.
pub async fn count(
    db: &DatabaseConnection,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .with_context(|| sql.to_owned())?
        .with_context(|| format!("no row from {sql}"))?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// Runs a statement and returns the number of rows it changed.
pub async fn execute(
    db: &DatabaseConnection,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> anyhow::Result<u64> {
    Ok(db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .with_context(|| sql.to_owned())?
        .rows_affected())
}

/// Refreshes the planner's statistics of every table (`ANALYZE`). A database filled within a
/// minute has none yet, and the plans made without them scan whole tables (the payment lookup by
/// `out_trade_no` did); production tables always have them, from autovacuum.
pub async fn analyze(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("ANALYZE").await.context("ANALYZE")?;
    Ok(())
}

/// The server's version string, for the report.
pub async fn postgres_version(db: &DatabaseConnection) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SHOW server_version",
        ))
        .await;
    match row {
        Ok(Some(row)) => row
            .try_get::<String>("", "server_version")
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The Redis server's version, for the report.
pub async fn redis_version(con: &mut redis::aio::MultiplexedConnection) -> String {
    let info: Result<String, _> = redis::cmd("INFO").arg("server").query_async(con).await;
    info.ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}
