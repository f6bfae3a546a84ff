//! Operators lifting no-show suspensions, and published rule sets made unchangeable.
//!
//! A lift names the suspension it lifts by the no-show that suspension follows and the end it
//! had, and covers every no-show of the identity up to `covers_through`: a later no-show starts
//! a new suspension that the lift does not reach. One suspension is lifted at most once (the
//! unique index), so two operators lifting at the same moment leave one row.
//!
//! Both `suspension_lifts` and `booking_rules` are append-only from here on: bookings name the
//! rule version they were made under, so a published version must never change, and a lift is
//! part of the record a dispute is judged on.

use super::{append_only, uuid_pk};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SuspensionLifts {
    Table,
    Id,
    IdentityHash,
    NoShowBookingId,
    SuspendedUntil,
    CoversThrough,
    OperatorId,
    Reason,
    CreatedAt,
}

/// Longest reason, in characters (PostgreSQL's `varchar(n)` counts characters, not bytes); the
/// domain refuses longer ones before they get here.
const REASON_MAX_CHARS: u32 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SuspensionLifts::Table)
                    .col(uuid_pk(SuspensionLifts::Id))
                    // The real-name identity, as `bookings.identity_hash`.
                    .col(
                        ColumnDef::new(SuspensionLifts::IdentityHash)
                            .string_len(64)
                            .not_null(),
                    )
                    // The no-show whose suspension ended last: the one the lifted suspension
                    // follows.
                    .col(
                        ColumnDef::new(SuspensionLifts::NoShowBookingId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SuspensionLifts::SuspendedUntil)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // No-shows up to this instant are forgiven by the lift.
                    .col(
                        ColumnDef::new(SuspensionLifts::CoversThrough)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SuspensionLifts::OperatorId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SuspensionLifts::Reason)
                            .string_len(REASON_MAX_CHARS)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SuspensionLifts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SuspensionLifts::Table, SuspensionLifts::NoShowBookingId)
                            .to(Alias::new("bookings"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SuspensionLifts::Table, SuspensionLifts::OperatorId)
                            .to(Alias::new("operators"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_suspension_lifts_identity_no_show")
                    .table(SuspensionLifts::Table)
                    .col(SuspensionLifts::IdentityHash)
                    .col(SuspensionLifts::NoShowBookingId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        append_only::protect(manager, "suspension_lifts").await?;
        append_only::protect(manager, "booking_rules").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        append_only::unprotect(manager, "booking_rules").await?;
        append_only::unprotect(manager, "suspension_lifts").await?;
        manager
            .drop_table(Table::drop().table(SuspensionLifts::Table).to_owned())
            .await
    }
}
