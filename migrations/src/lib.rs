//! Schema of the database of record, written once for SQLite (embedded default) and PostgreSQL
//! (production). Every migration has a working `down`, and the test suite runs up → down → up
//! on both backends.

pub use sea_orm_migration::prelude::*;

mod append_only;
mod m20261122_000001_catalog;
mod m20261122_000002_accounts;
mod m20261122_000003_bookings;
mod m20261122_000004_operations;
mod m20261122_000005_booking_guards;
mod m20261122_000006_suspension_lifts;
mod m20261122_000007_payment_flow;
mod m20261122_000008_varchar_trade_numbers;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_catalog::Migration),
            Box::new(m20261122_000002_accounts::Migration),
            Box::new(m20261122_000003_bookings::Migration),
            Box::new(m20261122_000004_operations::Migration),
            Box::new(m20261122_000005_booking_guards::Migration),
            Box::new(m20261122_000006_suspension_lifts::Migration),
            Box::new(m20261122_000007_payment_flow::Migration),
            Box::new(m20261122_000008_varchar_trade_numbers::Migration),
        ]
    }
}

/// Names of every table the migrations create, in creation order.
pub const TABLES: &[&str] = &[
    "hospitals",
    "departments",
    "doctors",
    "schedules",
    "schedule_segments",
    "users",
    "patients",
    "bookings",
    "booking_events",
    "payments",
    "refunds",
    "callback_log",
    "operators",
    "audit_log",
    "booking_rules",
    "suspension_lifts",
];

/// `created_at`/`updated_at` columns every mutable table carries.
fn timestamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(
            ColumnDef::new(Alias::new("created_at"))
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("updated_at"))
                .timestamp_with_time_zone()
                .not_null(),
        )
}

fn uuid_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().primary_key().take()
}

fn fk(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, Alias::new("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}
