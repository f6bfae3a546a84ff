//! Bookings, their append-only event log, payments and refunds.

use super::{append_only, fk, timestamps, uuid_pk};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    UserId,
    PatientId,
    IdentityHash,
    ScheduleId,
    SegmentId,
    Channel,
    Status,
    OutTradeNo,
    AmountFen,
    HoldExpiresAt,
    VisitNumber,
    RuleVersion,
    IdempotencyKey,
    ConfirmedAt,
    CancelledAt,
    CheckedInAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BookingEvents {
    Table,
    Id,
    BookingId,
    ActorType,
    ActorId,
    FromStatus,
    ToStatus,
    Reason,
    Provider,
    ProviderTxnId,
    Details,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    BookingId,
    Provider,
    MerchantId,
    OutTradeNo,
    ProviderOrderRef,
    ProviderTxnId,
    AmountFen,
    Status,
    PaidAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    BookingId,
    PaymentId,
    OutRefundNo,
    ProviderRefundId,
    AmountFen,
    Status,
    Reason,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
}
#[derive(DeriveIden)]
enum Patients {
    Table,
}
#[derive(DeriveIden)]
enum Schedules {
    Table,
}
#[derive(DeriveIden)]
enum ScheduleSegments {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Bookings::Table)
                        .col(uuid_pk(Bookings::Id))
                        .col(ColumnDef::new(Bookings::UserId).uuid().not_null())
                        .col(ColumnDef::new(Bookings::PatientId).uuid().not_null())
                        // The patient's document hash at booking time: quotas count real-name identities.
                        .col(
                            ColumnDef::new(Bookings::IdentityHash)
                                .string_len(64)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Bookings::ScheduleId).uuid().not_null())
                        .col(ColumnDef::new(Bookings::SegmentId).uuid().not_null())
                        .col(ColumnDef::new(Bookings::Channel).string_len(16).not_null())
                        .col(ColumnDef::new(Bookings::Status).string_len(24).not_null())
                        .col(
                            ColumnDef::new(Bookings::OutTradeNo)
                                .char_len(32)
                                .not_null()
                                .unique_key(),
                        )
                        .col(ColumnDef::new(Bookings::AmountFen).big_integer().not_null())
                        .col(
                            ColumnDef::new(Bookings::HoldExpiresAt)
                                .timestamp_with_time_zone()
                                .not_null(),
                        )
                        .col(ColumnDef::new(Bookings::VisitNumber).integer().null())
                        .col(ColumnDef::new(Bookings::RuleVersion).string_len(64).null())
                        .col(
                            ColumnDef::new(Bookings::IdempotencyKey)
                                .string_len(128)
                                .null(),
                        )
                        .col(
                            ColumnDef::new(Bookings::ConfirmedAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .col(
                            ColumnDef::new(Bookings::CancelledAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .col(
                            ColumnDef::new(Bookings::CheckedInAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .check(Expr::col(Bookings::AmountFen).gte(0))
                        .foreign_key(&mut fk(Bookings::Table, Bookings::UserId, Users::Table))
                        .foreign_key(&mut fk(
                            Bookings::Table,
                            Bookings::PatientId,
                            Patients::Table,
                        ))
                        .foreign_key(&mut fk(
                            Bookings::Table,
                            Bookings::ScheduleId,
                            Schedules::Table,
                        ))
                        .foreign_key(&mut fk(
                            Bookings::Table,
                            Bookings::SegmentId,
                            ScheduleSegments::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;
        // Visit numbers are unique within a schedule (NULL until confirmed).
        manager
            .create_index(
                Index::create()
                    .name("ux_bookings_schedule_visit_number")
                    .table(Bookings::Table)
                    .col(Bookings::ScheduleId)
                    .col(Bookings::VisitNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_bookings_user_created",
                vec![Bookings::UserId, Bookings::CreatedAt],
            ),
            (
                "ix_bookings_status_hold",
                vec![Bookings::Status, Bookings::HoldExpiresAt],
            ),
            (
                "ix_bookings_identity",
                vec![Bookings::IdentityHash, Bookings::Status],
            ),
            (
                "ix_bookings_schedule",
                vec![Bookings::ScheduleId, Bookings::Status],
            ),
        ] {
            let mut index = Index::create().name(name).table(Bookings::Table).to_owned();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(BookingEvents::Table)
                    .col(uuid_pk(BookingEvents::Id))
                    .col(ColumnDef::new(BookingEvents::BookingId).uuid().not_null())
                    // `patient`, `operator`, `system` or `provider`.
                    .col(
                        ColumnDef::new(BookingEvents::ActorType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(BookingEvents::ActorId).string_len(64).null())
                    .col(
                        ColumnDef::new(BookingEvents::FromStatus)
                            .string_len(24)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(BookingEvents::ToStatus)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(ColumnDef::new(BookingEvents::Reason).text().null())
                    .col(
                        ColumnDef::new(BookingEvents::Provider)
                            .string_len(16)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(BookingEvents::ProviderTxnId)
                            .string_len(64)
                            .null(),
                    )
                    // JSON text: anything else worth keeping for a dispute.
                    .col(ColumnDef::new(BookingEvents::Details).text().null())
                    .col(
                        ColumnDef::new(BookingEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        BookingEvents::Table,
                        BookingEvents::BookingId,
                        Bookings::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_booking_events_booking")
                    .table(BookingEvents::Table)
                    .col(BookingEvents::BookingId)
                    .col(BookingEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        append_only::protect(manager, "booking_events").await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Payments::Table)
                        .col(uuid_pk(Payments::Id))
                        .col(ColumnDef::new(Payments::BookingId).uuid().not_null())
                        // `wechatpay` or `alipay`.
                        .col(ColumnDef::new(Payments::Provider).string_len(16).not_null())
                        .col(
                            ColumnDef::new(Payments::MerchantId)
                                .string_len(32)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Payments::OutTradeNo).char_len(32).not_null())
                        // WeChat prepay_id or Alipay trade_no returned when the order was created.
                        .col(
                            ColumnDef::new(Payments::ProviderOrderRef)
                                .string_len(128)
                                .null(),
                        )
                        // WeChat transaction_id or Alipay trade_no of the settled payment.
                        .col(
                            ColumnDef::new(Payments::ProviderTxnId)
                                .string_len(64)
                                .null(),
                        )
                        .col(ColumnDef::new(Payments::AmountFen).big_integer().not_null())
                        .col(ColumnDef::new(Payments::Status).string_len(16).not_null())
                        .col(
                            ColumnDef::new(Payments::PaidAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .check(Expr::col(Payments::AmountFen).gte(0))
                        .foreign_key(&mut fk(
                            Payments::Table,
                            Payments::BookingId,
                            Bookings::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_payments_provider_out_trade_no")
                    .table(Payments::Table)
                    .col(Payments::Provider)
                    .col(Payments::OutTradeNo)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_payments_provider_txn")
                    .table(Payments::Table)
                    .col(Payments::Provider)
                    .col(Payments::ProviderTxnId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_payments_booking")
                    .table(Payments::Table)
                    .col(Payments::BookingId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Refunds::Table)
                        .col(uuid_pk(Refunds::Id))
                        .col(ColumnDef::new(Refunds::BookingId).uuid().not_null())
                        .col(ColumnDef::new(Refunds::PaymentId).uuid().not_null())
                        .col(
                            ColumnDef::new(Refunds::OutRefundNo)
                                .string_len(64)
                                .not_null()
                                .unique_key(),
                        )
                        .col(
                            ColumnDef::new(Refunds::ProviderRefundId)
                                .string_len(64)
                                .null(),
                        )
                        .col(ColumnDef::new(Refunds::AmountFen).big_integer().not_null())
                        .col(ColumnDef::new(Refunds::Status).string_len(16).not_null())
                        .col(ColumnDef::new(Refunds::Reason).text().null())
                        .col(
                            ColumnDef::new(Refunds::CompletedAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .check(Expr::col(Refunds::AmountFen).gt(0))
                        .foreign_key(&mut fk(Refunds::Table, Refunds::BookingId, Bookings::Table))
                        .foreign_key(&mut fk(Refunds::Table, Refunds::PaymentId, Payments::Table)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refunds_booking")
                    .table(Refunds::Table)
                    .col(Refunds::BookingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        append_only::unprotect(manager, "booking_events").await?;
        for table in [
            Refunds::Table.into_iden(),
            Payments::Table.into_iden(),
            BookingEvents::Table.into_iden(),
            Bookings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
