//! Connecting to the database of record and keeping its schema current.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use std::time::Duration;

pub use sea_orm::DatabaseConnection as Db;

/// Connections per pool unless configured (`database.max_connections`). Few, because a booking
/// rush funnels every winner through one counter row: measured on 2 cores, PostgreSQL spent
/// about 2.7 ms of CPU per place won with 32 connections queueing on that row and 1.4 ms with 8,
/// the rest of the work unchanged; the payment batch needs one at a time.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Opens a pool of [`DEFAULT_MAX_CONNECTIONS`] on `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, DEFAULT_MAX_CONNECTIONS).await
}

/// Opens a pool of at most `max_connections` on `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite gets WAL (readers never block the writer), a busy timeout and enforced foreign keys;
/// without them concurrent bookings would fail with `SQLITE_BUSY` instead of queueing.
pub async fn connect_with(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // sqlx would otherwise ping the server on every checkout: a round trip before each
        // statement or transaction. Only a connection idle long enough to have been dropped
        // by the server or the network is checked; `/readyz` pings on its own.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Applies every pending migration. On PostgreSQL an advisory lock keeps two replicas starting at
/// once from migrating the same schema concurrently.
///
/// An advisory lock belongs to one server session, so lock and unlock go over one connection
/// held aside from the pool for the purpose; issued through the pool, the unlock could land on
/// another session and leave the lock held by an idle connection, and the next process to
/// migrate (a second replica, `guahao operator create`) would wait for it forever.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    const MIGRATION_LOCK: i64 = 0x6775_6168_616f; // "guahao"
    match db.get_database_backend() {
        DbBackend::Postgres => {
            use sea_orm::sqlx;
            let to_db_err = |e: sqlx::Error| DbErr::Conn(RuntimeErr::SqlxError(e.into()));
            let mut session = db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(to_db_err)?;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *session)
                .await
                .map_err(to_db_err)?;
            let result = Migrator::up(db, None).await;
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *session)
                .await;
            if unlocked.is_err() {
                // The lock must not outlive this call on a pooled session: drop the connection.
                session.detach();
            }
            result?;
            unlocked.map(drop).map_err(to_db_err)
        }
        _ => Migrator::up(db, None).await,
    }
}

/// A cheap round trip for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}
