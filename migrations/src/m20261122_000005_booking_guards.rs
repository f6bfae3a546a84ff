//! Booking rule sets (versioned, effective-dated, per hospital / department / doctor) and the
//! database's own guard that one real-name identity holds at most one live booking per schedule.

use super::uuid_pk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BookingRules {
    Table,
    Id,
    ScopeType,
    ScopeId,
    Version,
    EffectiveFrom,
    Rules,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BookingRules::Table)
                    .col(uuid_pk(BookingRules::Id))
                    // `hospital`, `department` or `doctor`.
                    .col(
                        ColumnDef::new(BookingRules::ScopeType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(BookingRules::ScopeId).uuid().not_null())
                    .col(ColumnDef::new(BookingRules::Version).integer().not_null())
                    .col(
                        ColumnDef::new(BookingRules::EffectiveFrom)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // JSON text of the whole rule set.
                    .col(ColumnDef::new(BookingRules::Rules).text().not_null())
                    .col(
                        ColumnDef::new(BookingRules::CreatedBy)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(BookingRules::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_booking_rules_scope_version")
                    .table(BookingRules::Table)
                    .col(BookingRules::ScopeType)
                    .col(BookingRules::ScopeId)
                    .col(BookingRules::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_bookings_live_identity_schedule ON bookings (schedule_id, identity_hash) \
                 WHERE status IN ('pending_payment', 'confirmed', 'checked_in')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_bookings_live_identity_schedule")
                    .table(Alias::new("bookings"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(BookingRules::Table).to_owned())
            .await
    }
}
