//! `guahao seed --demo`: a realistic, fictional catalog with a week of schedules. Every row is
//! found by its natural key before it is inserted, so running the seed again adds nothing
//! (and on a later day adds only the new days' schedules).

use super::entity::{department, doctor, hospital, schedule, schedule_segment};
use super::types::{DoctorTitle, HospitalLevel, Period, ScheduleStatus};
use crate::clock::shanghai;
use chrono::{Datelike, NaiveDate, NaiveTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};
use serde::Deserialize;
use uuid::Uuid;

const DEMO_CATALOG: &str = include_str!("demo_catalog.json");

/// Days after today that get schedules (today included).
const SEEDED_DAYS: u64 = 8;

/// When a day's schedules open for booking: `window_days` before the visit, at `release_time`
/// Asia/Shanghai.
#[derive(Debug, Clone, Copy)]
pub struct ReleasePolicy {
    pub window_days: u32,
    pub release_time: NaiveTime,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub hospitals: u32,
    pub departments: u32,
    pub doctors: u32,
    pub schedules: u32,
    pub segments: u32,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "created {} hospitals, {} departments, {} doctors, {} schedules, {} segments",
            self.hospitals, self.departments, self.doctors, self.schedules, self.segments
        )
    }
}

#[derive(Deserialize)]
struct DemoCatalog {
    hospitals: Vec<DemoHospital>,
}

#[derive(Deserialize)]
struct DemoHospital {
    code: String,
    name_zh: String,
    name_en: String,
    level: HospitalLevel,
    address_zh: String,
    address_en: String,
    phone: String,
    emergency_24h: bool,
    intro_zh: String,
    intro_en: String,
    departments: Vec<DemoDepartment>,
}

#[derive(Deserialize)]
struct DemoDepartment {
    code: String,
    name_zh: String,
    name_en: String,
    intro_zh: String,
    intro_en: String,
    general_clinic: Option<DemoGeneralClinic>,
    doctors: Vec<DemoDoctor>,
}

#[derive(Deserialize)]
struct DemoGeneralClinic {
    fee_fen: i64,
    weekdays: Vec<u32>,
    periods: Vec<Period>,
    capacity_per_segment: i32,
}

#[derive(Deserialize)]
struct DemoDoctor {
    code: String,
    name_zh: String,
    name_en: String,
    title: DoctorTitle,
    specialty_zh: String,
    specialty_en: String,
    fee_fen: i64,
    sessions: Vec<DemoSession>,
    capacity_per_segment: i32,
}

#[derive(Deserialize)]
struct DemoSession {
    weekday: u32,
    period: Period,
}

/// One-hour segments of each half-day, local time.
fn segment_times(period: Period) -> Vec<(NaiveTime, NaiveTime)> {
    let (start, hours) = match period {
        Period::Morning => (8, 4),
        Period::Afternoon => (14, 3),
        Period::Evening => (18, 2),
    };
    (start..start + hours)
        .map(|h| {
            (
                NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(h + 1, 0, 0).unwrap(),
            )
        })
        .collect()
}

pub async fn seed_demo(
    db: &DatabaseConnection,
    today: NaiveDate,
    policy: ReleasePolicy,
) -> Result<SeedReport, DbErr> {
    let catalog: DemoCatalog = serde_json::from_str(DEMO_CATALOG)
        .map_err(|e| DbErr::Custom(format!("demo catalog is malformed: {e}")))?;
    let txn = db.begin().await?;
    let mut report = SeedReport::default();
    let days: Vec<NaiveDate> = (0..SEEDED_DAYS)
        .map(|d| today + chrono::Days::new(d))
        .collect();

    for h in &catalog.hospitals {
        let hospital_id = ensure_hospital(&txn, h, &mut report).await?;
        for d in &h.departments {
            let department_id = ensure_department(&txn, hospital_id, d, &mut report).await?;
            for day in &days {
                let weekday = day.weekday().number_from_monday();
                if let Some(clinic) = &d.general_clinic {
                    for period in clinic
                        .periods
                        .iter()
                        .filter(|_| clinic.weekdays.contains(&weekday))
                    {
                        let slot = Session {
                            hospital_id,
                            department_id,
                            doctor_id: None,
                            date: *day,
                            period: *period,
                        };
                        ensure_schedule(
                            &txn,
                            slot,
                            clinic.fee_fen,
                            clinic.capacity_per_segment,
                            policy,
                            &mut report,
                        )
                        .await?;
                    }
                }
            }
            for doc in &d.doctors {
                let doctor_id =
                    ensure_doctor(&txn, hospital_id, department_id, doc, &mut report).await?;
                for day in &days {
                    let weekday = day.weekday().number_from_monday();
                    for session in doc.sessions.iter().filter(|s| s.weekday == weekday) {
                        let slot = Session {
                            hospital_id,
                            department_id,
                            doctor_id: Some(doctor_id),
                            date: *day,
                            period: session.period,
                        };
                        ensure_schedule(
                            &txn,
                            slot,
                            doc.fee_fen,
                            doc.capacity_per_segment,
                            policy,
                            &mut report,
                        )
                        .await?;
                    }
                }
            }
        }
    }
    txn.commit().await?;
    Ok(report)
}

async fn ensure_hospital(
    txn: &DatabaseTransaction,
    h: &DemoHospital,
    report: &mut SeedReport,
) -> Result<Uuid, DbErr> {
    if let Some(found) = hospital::Entity::find()
        .filter(hospital::Column::Code.eq(&h.code))
        .one(txn)
        .await?
    {
        return Ok(found.id);
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    hospital::ActiveModel {
        id: Set(id),
        code: Set(h.code.clone()),
        name_zh: Set(h.name_zh.clone()),
        name_en: Set(h.name_en.clone()),
        level: Set(h.level.as_str().to_owned()),
        address_zh: Set(h.address_zh.clone()),
        address_en: Set(h.address_en.clone()),
        phone: Set(h.phone.clone()),
        emergency_24h: Set(h.emergency_24h),
        intro_zh: Set(h.intro_zh.clone()),
        intro_en: Set(h.intro_en.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    report.hospitals += 1;
    Ok(id)
}

async fn ensure_department(
    txn: &DatabaseTransaction,
    hospital_id: Uuid,
    d: &DemoDepartment,
    report: &mut SeedReport,
) -> Result<Uuid, DbErr> {
    if let Some(found) = department::Entity::find()
        .filter(department::Column::HospitalId.eq(hospital_id))
        .filter(department::Column::Code.eq(&d.code))
        .one(txn)
        .await?
    {
        return Ok(found.id);
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    department::ActiveModel {
        id: Set(id),
        hospital_id: Set(hospital_id),
        code: Set(d.code.clone()),
        name_zh: Set(d.name_zh.clone()),
        name_en: Set(d.name_en.clone()),
        intro_zh: Set(d.intro_zh.clone()),
        intro_en: Set(d.intro_en.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    report.departments += 1;
    Ok(id)
}

async fn ensure_doctor(
    txn: &DatabaseTransaction,
    hospital_id: Uuid,
    department_id: Uuid,
    d: &DemoDoctor,
    report: &mut SeedReport,
) -> Result<Uuid, DbErr> {
    if let Some(found) = doctor::Entity::find()
        .filter(doctor::Column::HospitalId.eq(hospital_id))
        .filter(doctor::Column::Code.eq(&d.code))
        .one(txn)
        .await?
    {
        return Ok(found.id);
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    doctor::ActiveModel {
        id: Set(id),
        hospital_id: Set(hospital_id),
        department_id: Set(department_id),
        code: Set(d.code.clone()),
        name_zh: Set(d.name_zh.clone()),
        name_en: Set(d.name_en.clone()),
        title: Set(d.title.as_str().to_owned()),
        specialty_zh: Set(d.specialty_zh.clone()),
        specialty_en: Set(d.specialty_en.clone()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    report.doctors += 1;
    Ok(id)
}

#[derive(Clone, Copy)]
struct Session {
    hospital_id: Uuid,
    department_id: Uuid,
    doctor_id: Option<Uuid>,
    date: NaiveDate,
    period: Period,
}

async fn ensure_schedule(
    txn: &DatabaseTransaction,
    session: Session,
    fee_fen: i64,
    capacity_per_segment: i32,
    policy: ReleasePolicy,
    report: &mut SeedReport,
) -> Result<(), DbErr> {
    let doctor_filter = match session.doctor_id {
        Some(id) => schedule::Column::DoctorId.eq(id),
        None => schedule::Column::DoctorId.is_null(),
    };
    let existing = schedule::Entity::find()
        .filter(schedule::Column::DepartmentId.eq(session.department_id))
        .filter(doctor_filter)
        .filter(schedule::Column::VisitDate.eq(session.date))
        .filter(schedule::Column::Period.eq(session.period.as_str()))
        .one(txn)
        .await?;
    if existing.is_some() {
        return Ok(());
    }
    let release_date = session.date - chrono::Days::new(policy.window_days.into());
    let release_at = release_date
        .and_time(policy.release_time)
        .and_local_timezone(shanghai())
        .single()
        .expect("UTC+8 has no ambiguous local times")
        .with_timezone(&Utc);
    let now = Utc::now();
    let schedule_id = Uuid::now_v7();
    schedule::ActiveModel {
        id: Set(schedule_id),
        hospital_id: Set(session.hospital_id),
        department_id: Set(session.department_id),
        doctor_id: Set(session.doctor_id),
        visit_date: Set(session.date),
        period: Set(session.period.as_str().to_owned()),
        fee_fen: Set(fee_fen),
        release_at: Set(release_at),
        status: Set(ScheduleStatus::Open.as_str().to_owned()),
        status_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    report.schedules += 1;
    for (start, end) in segment_times(session.period) {
        schedule_segment::ActiveModel {
            id: Set(Uuid::now_v7()),
            schedule_id: Set(schedule_id),
            start_time: Set(start),
            end_time: Set(end),
            capacity: Set(capacity_per_segment),
            booked: Set(0),
            reserved: Set(0),
        }
        .insert(txn)
        .await?;
        report.segments += 1;
    }
    Ok(())
}
