//! Hospitals, departments, doctors and their schedules (出诊安排) split into time segments.

use super::{fk, timestamps, uuid_pk};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Hospitals {
    Table,
    Id,
    Code,
    NameZh,
    NameEn,
    Level,
    AddressZh,
    AddressEn,
    Phone,
    #[sea_orm(iden = "emergency_24h")]
    Emergency24h,
    IntroZh,
    IntroEn,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    Id,
    HospitalId,
    Code,
    NameZh,
    NameEn,
    IntroZh,
    IntroEn,
}

#[derive(DeriveIden)]
enum Doctors {
    Table,
    Id,
    HospitalId,
    DepartmentId,
    Code,
    NameZh,
    NameEn,
    Title,
    SpecialtyZh,
    SpecialtyEn,
    Active,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    HospitalId,
    DepartmentId,
    DoctorId,
    VisitDate,
    Period,
    FeeFen,
    ReleaseAt,
    Status,
    StatusReason,
}

#[derive(DeriveIden)]
enum ScheduleSegments {
    Table,
    Id,
    ScheduleId,
    StartTime,
    EndTime,
    Capacity,
    Booked,
    Reserved,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Hospitals::Table)
                        .col(uuid_pk(Hospitals::Id))
                        .col(
                            ColumnDef::new(Hospitals::Code)
                                .string_len(16)
                                .not_null()
                                .unique_key(),
                        )
                        .col(ColumnDef::new(Hospitals::NameZh).string_len(128).not_null())
                        .col(ColumnDef::new(Hospitals::NameEn).string_len(256).not_null())
                        .col(ColumnDef::new(Hospitals::Level).string_len(16).not_null())
                        .col(
                            ColumnDef::new(Hospitals::AddressZh)
                                .string_len(256)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(Hospitals::AddressEn)
                                .string_len(512)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Hospitals::Phone).string_len(32).not_null())
                        .col(ColumnDef::new(Hospitals::Emergency24h).boolean().not_null())
                        .col(ColumnDef::new(Hospitals::IntroZh).text().not_null())
                        .col(ColumnDef::new(Hospitals::IntroEn).text().not_null()),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Departments::Table)
                        .col(uuid_pk(Departments::Id))
                        .col(ColumnDef::new(Departments::HospitalId).uuid().not_null())
                        .col(ColumnDef::new(Departments::Code).string_len(16).not_null())
                        .col(
                            ColumnDef::new(Departments::NameZh)
                                .string_len(128)
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(Departments::NameEn)
                                .string_len(256)
                                .not_null(),
                        )
                        .col(ColumnDef::new(Departments::IntroZh).text().not_null())
                        .col(ColumnDef::new(Departments::IntroEn).text().not_null())
                        .foreign_key(&mut fk(
                            Departments::Table,
                            Departments::HospitalId,
                            Hospitals::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_departments_hospital_code")
                    .table(Departments::Table)
                    .col(Departments::HospitalId)
                    .col(Departments::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Doctors::Table)
                        .col(uuid_pk(Doctors::Id))
                        .col(ColumnDef::new(Doctors::HospitalId).uuid().not_null())
                        .col(ColumnDef::new(Doctors::DepartmentId).uuid().not_null())
                        .col(ColumnDef::new(Doctors::Code).string_len(16).not_null())
                        .col(ColumnDef::new(Doctors::NameZh).string_len(64).not_null())
                        .col(ColumnDef::new(Doctors::NameEn).string_len(128).not_null())
                        .col(ColumnDef::new(Doctors::Title).string_len(32).not_null())
                        .col(ColumnDef::new(Doctors::SpecialtyZh).text().not_null())
                        .col(ColumnDef::new(Doctors::SpecialtyEn).text().not_null())
                        .col(
                            ColumnDef::new(Doctors::Active)
                                .boolean()
                                .not_null()
                                .default(true),
                        )
                        .foreign_key(&mut fk(
                            Doctors::Table,
                            Doctors::HospitalId,
                            Hospitals::Table,
                        ))
                        .foreign_key(&mut fk(
                            Doctors::Table,
                            Doctors::DepartmentId,
                            Departments::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_doctors_hospital_code")
                    .table(Doctors::Table)
                    .col(Doctors::HospitalId)
                    .col(Doctors::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_doctors_department")
                    .table(Doctors::Table)
                    .col(Doctors::DepartmentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                timestamps(
                    Table::create()
                        .table(Schedules::Table)
                        .col(uuid_pk(Schedules::Id))
                        .col(ColumnDef::new(Schedules::HospitalId).uuid().not_null())
                        .col(ColumnDef::new(Schedules::DepartmentId).uuid().not_null())
                        // NULL for a department-level general clinic (普通门诊) not tied to one doctor.
                        .col(ColumnDef::new(Schedules::DoctorId).uuid().null())
                        .col(ColumnDef::new(Schedules::VisitDate).date().not_null())
                        .col(ColumnDef::new(Schedules::Period).string_len(16).not_null())
                        .col(ColumnDef::new(Schedules::FeeFen).big_integer().not_null())
                        .col(
                            ColumnDef::new(Schedules::ReleaseAt)
                                .timestamp_with_time_zone()
                                .not_null(),
                        )
                        .col(ColumnDef::new(Schedules::Status).string_len(16).not_null())
                        .col(ColumnDef::new(Schedules::StatusReason).text().null())
                        .check(Expr::col(Schedules::FeeFen).gte(0))
                        .foreign_key(&mut fk(
                            Schedules::Table,
                            Schedules::HospitalId,
                            Hospitals::Table,
                        ))
                        .foreign_key(&mut fk(
                            Schedules::Table,
                            Schedules::DepartmentId,
                            Departments::Table,
                        ))
                        .foreign_key(&mut fk(
                            Schedules::Table,
                            Schedules::DoctorId,
                            Doctors::Table,
                        )),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_schedules_department_date")
                    .table(Schedules::Table)
                    .col(Schedules::DepartmentId)
                    .col(Schedules::VisitDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_schedules_doctor_date")
                    .table(Schedules::Table)
                    .col(Schedules::DoctorId)
                    .col(Schedules::VisitDate)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScheduleSegments::Table)
                    .col(uuid_pk(ScheduleSegments::Id))
                    .col(
                        ColumnDef::new(ScheduleSegments::ScheduleId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ScheduleSegments::StartTime)
                            .time()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScheduleSegments::EndTime).time().not_null())
                    .col(
                        ColumnDef::new(ScheduleSegments::Capacity)
                            .integer()
                            .not_null(),
                    )
                    // The database's own guard against overselling: `booked` can never pass `capacity`.
                    .col(
                        ColumnDef::new(ScheduleSegments::Booked)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    // Places kept back for partner-hospital referrals (green channel).
                    .col(
                        ColumnDef::new(ScheduleSegments::Reserved)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .check(
                        Expr::col(ScheduleSegments::Booked)
                            .gte(0)
                            .and(
                                Expr::col(ScheduleSegments::Booked)
                                    .lte(Expr::col(ScheduleSegments::Capacity)),
                            )
                            .and(Expr::col(ScheduleSegments::Reserved).gte(0))
                            .and(
                                Expr::col(ScheduleSegments::Reserved)
                                    .lte(Expr::col(ScheduleSegments::Capacity)),
                            ),
                    )
                    .foreign_key(
                        &mut fk(
                            ScheduleSegments::Table,
                            ScheduleSegments::ScheduleId,
                            Schedules::Table,
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .take(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_schedule_segments_start")
                    .table(ScheduleSegments::Table)
                    .col(ScheduleSegments::ScheduleId)
                    .col(ScheduleSegments::StartTime)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScheduleSegments::Table.into_iden(),
            Schedules::Table.into_iden(),
            Doctors::Table.into_iden(),
            Departments::Table.into_iden(),
            Hospitals::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
