//! `out_trade_no` as `varchar(32)` rather than `char(32)` on PostgreSQL. The drivers bind text
//! parameters as `text`; against a `bpchar` column PostgreSQL then compares `column::text = $1`
//! and cannot use the unique index, so every notification scanned the whole `payments` table
//! (found by the payment benchmark). SQLite has no fixed-width type and needs nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str); 2] = [("payments", "out_trade_no"), ("bookings", "out_trade_no")];

async fn retype(manager: &SchemaManager<'_>, sql_type: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for (table, column) in COLUMNS {
        db.execute_unprepared(&format!(
            "ALTER TABLE {table} ALTER COLUMN {column} TYPE {sql_type}"
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        retype(manager, "varchar(32)").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        retype(manager, "char(32)").await
    }
}
