//! What operators need to see and answer for: the raw provider callback log, operator accounts
//! and the audit trail of their actions.

use super::{append_only, fk, timestamps, uuid_pk};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CallbackLog {
    Table,
    Id,
    Provider,
    Merchant,
    ReceivedAt,
    RequestId,
    Headers,
    RawBody,
    Verified,
    Outcome,
    Reason,
    BookingId,
    OutTradeNo,
    ProviderTxnId,
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    HospitalId,
    Active,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OperatorId,
    Action,
    TargetType,
    TargetId,
    Details,
    Ip,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Hospitals {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CallbackLog::Table)
                    .col(uuid_pk(CallbackLog::Id))
                    .col(
                        ColumnDef::new(CallbackLog::Provider)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(CallbackLog::Merchant).string_len(64).null())
                    .col(
                        ColumnDef::new(CallbackLog::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CallbackLog::RequestId).string_len(64).null())
                    // JSON text of the headers that matter for verification.
                    .col(ColumnDef::new(CallbackLog::Headers).text().not_null())
                    // Exactly the bytes received: signatures are checked over them.
                    .col(ColumnDef::new(CallbackLog::RawBody).blob().not_null())
                    .col(ColumnDef::new(CallbackLog::Verified).boolean().not_null())
                    .col(
                        ColumnDef::new(CallbackLog::Outcome)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(CallbackLog::Reason).text().null())
                    // No foreign key: a callback may name a booking we do not know.
                    .col(ColumnDef::new(CallbackLog::BookingId).uuid().null())
                    .col(
                        ColumnDef::new(CallbackLog::OutTradeNo)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(CallbackLog::ProviderTxnId)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_callback_log_received", CallbackLog::ReceivedAt),
            ("ix_callback_log_booking", CallbackLog::BookingId),
            ("ix_callback_log_out_trade_no", CallbackLog::OutTradeNo),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CallbackLog::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Operators::Table)
                        .col(uuid_pk(Operators::Id))
                        .col(
                            ColumnDef::new(Operators::Username)
                                .string_len(64)
                                .not_null()
                                .unique_key(),
                        )
                        .col(
                            ColumnDef::new(Operators::PasswordHash)
                                .string_len(256)
                                .not_null(),
                        )
                        // `admin`, `operator`, `auditor` or `kiosk`.
                        .col(ColumnDef::new(Operators::Role).string_len(16).not_null())
                        // NULL: all hospitals; otherwise the one hospital this operator works for.
                        .col(ColumnDef::new(Operators::HospitalId).uuid().null())
                        .col(
                            ColumnDef::new(Operators::Active)
                                .boolean()
                                .not_null()
                                .default(true),
                        )
                        .col(
                            ColumnDef::new(Operators::LastLoginAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .foreign_key(&mut fk(
                            Operators::Table,
                            Operators::HospitalId,
                            Hospitals::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(uuid_pk(AuditLog::Id))
                    .col(ColumnDef::new(AuditLog::OperatorId).uuid().null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(64).not_null())
                    .col(ColumnDef::new(AuditLog::TargetType).string_len(32).null())
                    .col(ColumnDef::new(AuditLog::TargetId).string_len(64).null())
                    .col(ColumnDef::new(AuditLog::Details).text().null())
                    .col(ColumnDef::new(AuditLog::Ip).string_len(64).null())
                    .col(ColumnDef::new(AuditLog::RequestId).string_len(64).null())
                    .col(
                        ColumnDef::new(AuditLog::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_created")
                    .table(AuditLog::Table)
                    .col(AuditLog::CreatedAt)
                    .to_owned(),
            )
            .await?;
        append_only::protect(manager, "audit_log").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        append_only::unprotect(manager, "audit_log").await?;
        for table in [
            AuditLog::Table.into_iden(),
            Operators::Table.into_iden(),
            CallbackLog::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
