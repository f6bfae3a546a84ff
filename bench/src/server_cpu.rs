//! CPU of the shared servers over a phase. PostgreSQL and Redis serve other databases and tests
//! on this machine too, so PostgreSQL is counted twice: the backends connected to the bench
//! database (by pid, what the gateway's queries cost) and every `postgres` process (WAL writer,
//! checkpointer and other databases' work included).

use crate::procs::{command_ticks, cpu_ticks};
use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::collections::HashMap;
use std::time::Duration;

/// Cores used over a phase (1.0 = one core busy the whole time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerCpu {
    pub postgres_bench: f64,
    pub postgres_all: f64,
    pub redis: f64,
}

pub struct ServerCpuSnapshot {
    backends: HashMap<u32, u64>,
    postgres_all: u64,
    redis: u64,
}

impl ServerCpuSnapshot {
    pub async fn take(db: &DatabaseConnection) -> anyhow::Result<Self> {
        Ok(Self {
            backends: backend_ticks(db).await?,
            postgres_all: command_ticks("postgres"),
            redis: command_ticks("redis-server"),
        })
    }

    /// A backend that connected during the phase counts from zero; one that disconnected
    /// before its end is lost (the gateway's pool keeps its connections, so few are).
    pub async fn since(
        &self,
        db: &DatabaseConnection,
        elapsed: Duration,
        ticks_per_second: f64,
    ) -> anyhow::Result<ServerCpu> {
        let now = Self::take(db).await?;
        let bench: u64 = now
            .backends
            .iter()
            .map(|(pid, ticks)| ticks.saturating_sub(self.backends.get(pid).copied().unwrap_or(0)))
            .sum();
        let cores = |ticks: u64| ticks as f64 / ticks_per_second / elapsed.as_secs_f64();
        Ok(ServerCpu {
            postgres_bench: cores(bench),
            postgres_all: cores(now.postgres_all.saturating_sub(self.postgres_all)),
            redis: cores(now.redis.saturating_sub(self.redis)),
        })
    }
}

/// CPU ticks of every backend connected to this database (other than the asking one).
async fn backend_ticks(db: &DatabaseConnection) -> anyhow::Result<HashMap<u32, u64>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        ))
        .await
        .context("listing the bench database's backends")?;
    let mut ticks = HashMap::new();
    for row in rows {
        let pid = row.try_get::<i32>("", "pid")? as u32;
        if let Some(t) = cpu_ticks(pid) {
            ticks.insert(pid, t);
        }
    }
    Ok(ticks)
}
