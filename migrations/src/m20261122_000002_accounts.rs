//! Mini-program identities (users) and the people they book for (patients, 就诊人).
//! Phone and ID-document numbers are stored encrypted, with a keyed hash beside them for
//! uniqueness and quota lookups and a masked form for display.

use super::{fk, timestamps, uuid_pk};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Channel,
    PlatformUserId,
    Unionid,
    SessionKeyEnc,
    PhoneEnc,
    PhoneHash,
    PhoneMasked,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Patients {
    Table,
    Id,
    UserId,
    Name,
    IdType,
    IdNumberEnc,
    IdNumberHash,
    IdNumberMasked,
    BirthDate,
    Sex,
    PhoneEnc,
    PhoneMasked,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Users::Table)
                        .col(uuid_pk(Users::Id))
                        // `wechat` or `alipay`.
                        .col(ColumnDef::new(Users::Channel).string_len(16).not_null())
                        // WeChat openid, or Alipay user_id / open_id.
                        .col(
                            ColumnDef::new(Users::PlatformUserId)
                                .string_len(64)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Users::Unionid).string_len(64).null())
                        .col(ColumnDef::new(Users::SessionKeyEnc).blob().null())
                        .col(ColumnDef::new(Users::PhoneEnc).blob().null())
                        .col(ColumnDef::new(Users::PhoneHash).string_len(64).null())
                        .col(ColumnDef::new(Users::PhoneMasked).string_len(16).null())
                        .col(
                            ColumnDef::new(Users::LastLoginAt)
                                .timestamp_with_time_zone()
                                .null(),
                        ),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_channel_platform_user")
                    .table(Users::Table)
                    .col(Users::Channel)
                    .col(Users::PlatformUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_users_phone_hash")
                    .table(Users::Table)
                    .col(Users::PhoneHash)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Patients::Table)
                        .col(uuid_pk(Patients::Id))
                        .col(ColumnDef::new(Patients::UserId).uuid().not_null())
                        .col(ColumnDef::new(Patients::Name).string_len(64).not_null())
                        .col(ColumnDef::new(Patients::IdType).string_len(40).not_null())
                        .col(ColumnDef::new(Patients::IdNumberEnc).blob().not_null())
                        .col(
                            ColumnDef::new(Patients::IdNumberHash)
                                .string_len(64)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(Patients::IdNumberMasked)
                                .string_len(32)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Patients::BirthDate).date().null())
                        .col(ColumnDef::new(Patients::Sex).string_len(8).null())
                        .col(ColumnDef::new(Patients::PhoneEnc).blob().null())
                        .col(ColumnDef::new(Patients::PhoneMasked).string_len(16).null())
                        // Patients are soft-deleted: their past bookings still point at them.
                        .col(
                            ColumnDef::new(Patients::DeletedAt)
                                .timestamp_with_time_zone()
                                .null(),
                        )
                        .foreign_key(&mut fk(Patients::Table, Patients::UserId, Users::Table)),
                )
                .to_owned(),
            )
            .await?;
        // One live entry per document per account; a deleted one may be added again.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_patients_user_document ON patients (user_id, id_number_hash) \
                 WHERE deleted_at IS NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_patients_document")
                    .table(Patients::Table)
                    .col(Patients::IdNumberHash)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Patients::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
