//! What the payment flow needs beyond the core tables: claim stamps for the poller (so two
//! replicas never query the provider about the same order at once) and, per refund, whether
//! completing it gives a place back (a paid booking cancelled by the patient still holds its
//! place until the money is back; a late payment refunded automatically never got one).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    Status,
    CreatedAt,
    PolledAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Status,
    CreatedAt,
    PolledAt,
    ReturnsPlace,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            (
                Payments::Table.into_iden(),
                ColumnDef::new(Payments::PolledAt)
                    .timestamp_with_time_zone()
                    .null()
                    .take(),
            ),
            (
                Refunds::Table.into_iden(),
                ColumnDef::new(Refunds::PolledAt)
                    .timestamp_with_time_zone()
                    .null()
                    .take(),
            ),
            (
                Refunds::Table.into_iden(),
                ColumnDef::new(Refunds::ReturnsPlace)
                    .boolean()
                    .not_null()
                    .default(false)
                    .take(),
            ),
        ];
        for (table, mut column) in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_payments_status_created")
                    .table(Payments::Table)
                    .col(Payments::Status)
                    .col(Payments::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refunds_status_created")
                    .table(Refunds::Table)
                    .col(Refunds::Status)
                    .col(Refunds::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, index) in [
            (Payments::Table.into_iden(), "ix_payments_status_created"),
            (Refunds::Table.into_iden(), "ix_refunds_status_created"),
        ] {
            manager
                .drop_index(Index::drop().name(index).table(table).to_owned())
                .await?;
        }
        for (table, column) in [
            (Payments::Table.into_iden(), Payments::PolledAt.into_iden()),
            (Refunds::Table.into_iden(), Refunds::PolledAt.into_iden()),
            (
                Refunds::Table.into_iden(),
                Refunds::ReturnsPlace.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
