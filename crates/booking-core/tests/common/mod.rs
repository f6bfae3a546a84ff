//! The world the booking-core database tests run in: a migrated database seeded with the demo
//! catalog (SQLite with the in-process inventory, PostgreSQL with the Redis inventory), a
//! manual clock, the services under test, and helpers to make patients, pick sessions and book.

#![allow(dead_code)] // each test file uses its own part of the fixture

use booking_core::accounts::{Accounts, Channel, NewPatient, Patients, PlatformIdentity};
use booking_core::bookings::rule_sets::RuleSets;
use booking_core::bookings::suspensions::Suspensions;
use booking_core::bookings::{Booking, BookingError, BookingService, NewBooking};
use booking_core::catalog::entity::{schedule, schedule_segment};
use booking_core::catalog::{ReleasePolicy, seed_demo};
use booking_core::clock::{Clock, ManualClock};
use booking_core::identity::{IdDocument, IdType, PersonName};
use booking_core::inventory::{InProcessInventory, RedisInventory, SlotInventory};
use booking_core::operators::Operators;
use booking_core::pii::PiiCipher;
use chrono::{NaiveTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use uuid::Uuid;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub type Session = (schedule::Model, schedule_segment::Model);

pub struct World {
    pub label: String,
    pub db: DatabaseConnection,
    pub clock: ManualClock,
    pub inventory: Arc<dyn SlotInventory>,
    pub service: BookingService,
    pub suspensions: Suspensions,
    pub rule_sets: RuleSets,
    pub accounts: Accounts,
    pub patients: Patients,
    pub operators: Operators,
    _test_db: test_support::TestDb,
}

/// Sunday 2026-11-22 23:00 UTC (Monday 07:00 in Shanghai), the demo catalog seeded from that day;
/// one world per database the machine offers.
pub async fn worlds(redis_prefix: &str) -> Vec<World> {
    let mut out = Vec::new();
    for test_db in test_support::each_database().await {
        let db = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&db).await.unwrap();
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap());
        seed_demo(
            &db,
            clock.today_shanghai(),
            ReleasePolicy {
                window_days: 7,
                release_time: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            },
        )
        .await
        .unwrap();
        let inventory: Arc<dyn SlotInventory> = if test_db.is_postgres() {
            let Some(url) = test_support::shared_redis().await else {
                continue;
            };
            let prefix = format!("{redis_prefix}-{}", Uuid::now_v7().simple());
            Arc::new(RedisInventory::new(&url, &prefix).unwrap())
        } else {
            Arc::new(InProcessInventory::default())
        };
        let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
        out.push(World {
            label: format!("{test_db:?}"),
            service: BookingService::new(db.clone(), inventory.clone(), shared_clock.clone()),
            suspensions: Suspensions::new(db.clone(), shared_clock.clone()),
            rule_sets: RuleSets::new(db.clone(), shared_clock.clone()),
            accounts: Accounts::new(db.clone()),
            patients: Patients::new(db.clone(), Arc::new(PiiCipher::from_hex_key(KEY).unwrap())),
            operators: Operators::new(db.clone(), shared_clock),
            db,
            clock,
            inventory,
            _test_db: test_db,
        });
    }
    out
}

impl World {
    /// A WeChat user with one patient (a passport holder numbered `n`): `(user_id, patient_id)`.
    pub async fn patient(&self, n: u32) -> (Uuid, Uuid) {
        let openid = format!("o-test-{n}");
        let user = self
            .accounts
            .record_login(
                PlatformIdentity {
                    channel: Channel::Wechat,
                    platform_user_id: &openid,
                    unionid: None,
                    session_key_enc: None,
                },
                Utc::now(),
            )
            .await
            .unwrap();
        self.patient_of(user.id, n).await
    }

    /// One more patient of account `user_id` (a passport holder numbered `n`, the same person
    /// as `patient(n)`'s): `(user_id, patient_id)`.
    pub async fn patient_of(&self, user_id: Uuid, n: u32) -> (Uuid, Uuid) {
        let patient = self
            .patients
            .add(
                user_id,
                NewPatient {
                    name: PersonName::parse("Test Patient").unwrap(),
                    document: IdDocument::parse(IdType::Passport, &format!("G{n:08}")).unwrap(),
                    phone: None,
                },
                Utc::now(),
            )
            .await
            .unwrap();
        (user_id, patient.id)
    }

    /// Doctor schedules `days` ahead, ordered by id, each with its `nth` morning segment
    /// (0 = 08:00, 2 = 10:00) as seeded.
    pub async fn sessions(&self, days: u64, nth: usize) -> Vec<Session> {
        let day = self.clock.today_shanghai() + chrono::Days::new(days);
        let mut out = Vec::new();
        for s in schedule::Entity::find()
            .filter(schedule::Column::VisitDate.eq(day))
            .filter(schedule::Column::Period.eq("morning"))
            .filter(schedule::Column::DoctorId.is_not_null())
            .order_by_asc(schedule::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
        {
            let segment = schedule_segment::Entity::find()
                .filter(schedule_segment::Column::ScheduleId.eq(s.id))
                .order_by_asc(schedule_segment::Column::StartTime)
                .all(&self.db)
                .await
                .unwrap()
                .remove(nth);
            out.push((s, segment));
        }
        assert!(!out.is_empty(), "doctors' mornings on day +{days}");
        out
    }

    /// Like `sessions`, each segment's capacity set to `capacity` (the returned models keep the
    /// seeded value).
    pub async fn sessions_with_capacity(
        &self,
        days: u64,
        nth: usize,
        capacity: i32,
    ) -> Vec<Session> {
        let sessions = self.sessions(days, nth).await;
        schedule_segment::Entity::update_many()
            .col_expr(
                schedule_segment::Column::Capacity,
                sea_orm::sea_query::Expr::value(capacity),
            )
            .filter(schedule_segment::Column::Id.is_in(sessions.iter().map(|(_, seg)| seg.id)))
            .exec(&self.db)
            .await
            .unwrap();
        sessions
    }

    /// Like `sessions_with_capacity`, one session per department (the first by id of each),
    /// ordered by department.
    pub async fn sessions_in_distinct_departments(
        &self,
        days: u64,
        nth: usize,
        capacity: i32,
    ) -> Vec<Session> {
        let mut by_department = std::collections::BTreeMap::new();
        for session in self.sessions_with_capacity(days, nth, capacity).await {
            by_department
                .entry(session.0.department_id)
                .or_insert(session);
        }
        by_department.into_values().collect()
    }

    /// `who` books a place in `session` through the booking service.
    pub async fn book(
        &self,
        who: (Uuid, Uuid),
        session: &Session,
    ) -> Result<Booking, BookingError> {
        self.service.create(new_booking(who, session)).await
    }

    /// The segment's booked count in the database.
    pub async fn booked(&self, segment_id: Uuid) -> i32 {
        schedule_segment::Entity::find_by_id(segment_id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
            .booked
    }
}

/// A WeChat booking request from `who` (`(user_id, patient_id)`, as `World::patient` makes) for a
/// place in `session`.
pub fn new_booking(who: (Uuid, Uuid), session: &Session) -> NewBooking {
    NewBooking {
        user_id: who.0,
        patient_id: who.1,
        schedule_id: session.0.id,
        segment_id: session.1.id,
        channel: Channel::Wechat,
    }
}
