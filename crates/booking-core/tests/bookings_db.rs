//! Bookings against the database of record and the inventory, on SQLite + in-process inventory
//! and PostgreSQL + Redis inventory.

mod common;

use booking_core::accounts::Channel;
use booking_core::bookings::{BookingError, BookingStatus, NewBooking};
use booking_core::catalog::entity::{schedule, schedule_segment};
use booking_core::clock::Clock;
use chrono::{TimeZone, Utc};
use common::World;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

/// Monday 2026-11-23, 09:00 in Shanghai; the demo catalog seeded for that week.
async fn worlds() -> Vec<World> {
    let worlds = common::worlds("bk-test").await;
    for w in &worlds {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
    }
    worlds
}

impl World {
    async fn events(&self, booking_id: Uuid) -> Vec<(Option<String>, String, String)> {
        let sql = format!(
            "SELECT from_status, to_status, actor_type FROM booking_events WHERE booking_id = '{}' ORDER BY created_at, id",
            booking_id
        );
        let sql = if self.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            // SQLite stores UUIDs as blobs.
            format!(
                "SELECT from_status, to_status, actor_type FROM booking_events WHERE hex(booking_id) = '{}' ORDER BY created_at, id",
                booking_id.simple().to_string().to_uppercase()
            )
        } else {
            sql
        };
        self.db
            .query_all_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.try_get("", "from_status").unwrap(),
                    r.try_get("", "to_status").unwrap(),
                    r.try_get("", "actor_type").unwrap(),
                )
            })
            .collect()
    }
}

fn request(
    user_id: Uuid,
    patient_id: Uuid,
    schedule: &schedule::Model,
    segment: &schedule_segment::Model,
) -> NewBooking {
    NewBooking {
        user_id,
        patient_id,
        schedule_id: schedule.id,
        segment_id: segment.id,
        channel: Channel::Wechat,
    }
}

#[tokio::test]
async fn a_booking_holds_a_place_in_both_the_database_and_the_inventory() {
    for w in worlds().await {
        let (user, patient) = w.patient(1).await;
        let (schedule, segment) = w.sessions(2, 0).await.remove(0);
        let booking = w
            .service
            .create(request(user, patient, &schedule, &segment))
            .await
            .unwrap();
        assert_eq!(booking.status, BookingStatus::PendingPayment, "{}", w.label);
        assert_eq!(booking.out_trade_no.len(), 32);
        assert_eq!(booking.amount.0, schedule.fee_fen);
        assert_eq!(
            booking.hold_expires_at,
            w.clock.now() + chrono::Duration::minutes(10)
        );
        assert_eq!(booking.rule_version.as_deref(), Some("default:v1"));
        assert_eq!(w.booked(segment.id).await, 1, "{}", w.label);
        let stock = w.inventory.stock(schedule.id).await.unwrap().unwrap();
        assert_eq!(
            stock.remaining[&segment.id] as i32,
            segment.capacity - 1,
            "{}",
            w.label
        );
        assert_eq!(stock.holders.len(), 1);
        assert_eq!(
            w.events(booking.id).await,
            vec![(None, "pending_payment".into(), "patient".into())],
            "{}",
            w.label
        );

        // The same patient cannot hold a second place in this schedule.
        let segments = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(schedule.id))
            .all(&w.db)
            .await
            .unwrap();
        let other_segment = segments.iter().find(|s| s.id != segment.id).unwrap();
        let again = w
            .service
            .create(request(user, patient, &schedule, other_segment))
            .await;
        assert!(
            matches!(again, Err(BookingError::AlreadyBooked { .. })),
            "{}: {again:?}",
            w.label
        );
        assert_eq!(w.booked(other_segment.id).await, 0);

        // Others see only 404.
        let (stranger, _) = w.patient(2).await;
        assert!(matches!(
            w.service.get(stranger, booking.id).await,
            Err(BookingError::NotFound)
        ));
        assert!(matches!(
            w.service.cancel(stranger, booking.id).await,
            Err(BookingError::NotFound)
        ));
        assert_eq!(
            w.service
                .list(user, Default::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert!(
            w.service
                .list(stranger, Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}

#[tokio::test]
async fn racing_for_the_last_place_sells_it_once() {
    for w in worlds().await {
        let (schedule, segment) = w.sessions_with_capacity(2, 0, 1).await.remove(1);
        let mut people = Vec::new();
        for n in 0..20 {
            people.push(w.patient(100 + n).await);
        }
        let tasks: Vec<_> = people
            .into_iter()
            .map(|(user, patient)| {
                let service = w.service.clone();
                let req = request(user, patient, &schedule, &segment);
                tokio::spawn(async move { service.create(req).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(BookingError::SoldOut) => {}
                Err(other) => panic!("{}: unexpected {other:?}", w.label),
            }
        }
        assert_eq!(won, 1, "{}", w.label);
        assert_eq!(w.booked(segment.id).await, 1, "{}", w.label);
        let stock = w.inventory.stock(schedule.id).await.unwrap().unwrap();
        assert_eq!(stock.remaining[&segment.id], 0, "{}", w.label);
        assert_eq!(stock.holders.len(), 1, "{}: no stray holds", w.label);
    }
}

#[tokio::test]
async fn cancelling_and_expiry_give_the_place_back() {
    for w in worlds().await {
        let (schedule, segment) = w.sessions(2, 0).await.remove(2);
        let (alice, alice_patient) = w.patient(11).await;
        let (bob, bob_patient) = w.patient(12).await;
        let booking = w
            .service
            .create(request(alice, alice_patient, &schedule, &segment))
            .await
            .unwrap();
        let cancelled = w.service.cancel(alice, booking.id).await.unwrap();
        assert_eq!(cancelled.status, BookingStatus::Cancelled, "{}", w.label);
        assert_eq!(w.booked(segment.id).await, 0, "{}", w.label);
        assert!(matches!(
            w.service.cancel(alice, booking.id).await,
            Err(BookingError::NotCancellable {
                status: BookingStatus::Cancelled
            })
        ));
        let stock = w.inventory.stock(schedule.id).await.unwrap().unwrap();
        assert_eq!(
            stock.remaining[&segment.id] as i32, segment.capacity,
            "{}",
            w.label
        );
        assert!(stock.holders.is_empty());

        // Bob holds, does not pay; ten minutes later the sweeper gives the place back.
        let held = w
            .service
            .create(request(bob, bob_patient, &schedule, &segment))
            .await
            .unwrap();
        assert_eq!(
            w.service.expire_holds(100).await.unwrap().len(),
            0,
            "{}: not yet",
            w.label
        );
        w.clock
            .advance(chrono::Duration::minutes(10) + chrono::Duration::seconds(1));
        assert_eq!(
            w.service.expire_holds(100).await.unwrap().len(),
            1,
            "{}",
            w.label
        );
        assert_eq!(
            w.service.expire_holds(100).await.unwrap().len(),
            0,
            "{}: once only",
            w.label
        );
        assert_eq!(
            w.service.get(bob, held.id).await.unwrap().status,
            BookingStatus::Cancelled
        );
        assert_eq!(w.booked(segment.id).await, 0, "{}", w.label);
        assert_eq!(
            w.events(held.id).await,
            vec![
                (None, "pending_payment".into(), "patient".into()),
                (
                    Some("pending_payment".into()),
                    "cancelled".into(),
                    "system".into()
                )
            ],
            "{}",
            w.label
        );
        // The place can be booked again, by Alice too.
        w.service
            .create(request(alice, alice_patient, &schedule, &segment))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_rule_refusal_after_the_redis_hold_leaves_no_hold_behind() {
    for w in worlds().await {
        // Two doctors of one department on the same day: the second booking breaks the
        // one-per-department-per-day quota, which is checked inside the database transaction.
        let day = w.clock.today_shanghai() + chrono::Days::new(2);
        let all = schedule::Entity::find()
            .filter(schedule::Column::VisitDate.eq(day))
            .filter(schedule::Column::DoctorId.is_not_null())
            .all(&w.db)
            .await
            .unwrap();
        let (first, second) = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (a, b)))
            .find(|(a, b)| a.id != b.id && a.department_id == b.department_id)
            .expect("a department with two doctors that day");
        let first_segment = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(first.id))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap();
        let second_segment = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(second.id))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap();
        let (user, patient) = w.patient(21).await;
        w.service
            .create(request(user, patient, first, &first_segment))
            .await
            .unwrap();
        let refused = w
            .service
            .create(request(user, patient, second, &second_segment))
            .await;
        match refused {
            Err(BookingError::Refused(r)) => {
                assert_eq!(r.code, "QUOTA_DEPARTMENT_DAY", "{}", w.label)
            }
            other => panic!("{}: expected a quota refusal, got {other:?}", w.label),
        }
        assert_eq!(w.booked(second_segment.id).await, 0, "{}", w.label);
        let stock = w.inventory.stock(second.id).await.unwrap().unwrap();
        assert!(
            stock.holders.is_empty(),
            "{}: the Redis hold was given back",
            w.label
        );
        assert_eq!(
            stock.remaining[&second_segment.id] as i32,
            second_segment.capacity
        );
    }
}

#[tokio::test]
async fn schedules_open_at_their_release_time() {
    for w in worlds().await {
        let (user, patient) = w.patient(31).await;
        // The last day of the window opens at 08:00, seven days before the visit.
        let last_day = w.clock.today_shanghai() + chrono::Days::new(7);
        let schedule = schedule::Entity::find()
            .filter(schedule::Column::VisitDate.eq(last_day))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap();
        let segment = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(schedule.id))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap();
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 59).unwrap()); // 07:59:59 on the 23rd in Shanghai
        match w
            .service
            .create(request(user, patient, &schedule, &segment))
            .await
        {
            Err(BookingError::Refused(r)) => {
                assert_eq!(r.code, "OUTSIDE_BOOKING_WINDOW", "{}", w.label);
                assert_eq!(r.available_at, Some(schedule.release_at), "{}", w.label);
            }
            other => panic!("{}: {other:?}", w.label),
        }
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()); // 08:00
        w.service
            .create(request(user, patient, &schedule, &segment))
            .await
            .unwrap();

        // A schedule the hospital releases later than the window is visible but not bookable.
        let (late, late_segment) = w.sessions(2, 0).await.remove(3);
        let release = w.clock.now() + chrono::Duration::hours(2);
        let sql = match w.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => format!(
                "UPDATE schedules SET release_at = '{}' WHERE id = '{}'",
                release.to_rfc3339(),
                late.id
            ),
            _ => format!(
                "UPDATE schedules SET release_at = '{}' WHERE hex(id) = '{}'",
                release.format("%Y-%m-%d %H:%M:%S%:z"),
                late.id.simple().to_string().to_uppercase()
            ),
        };
        w.db.execute_unprepared(&sql).await.unwrap();
        let (user2, patient2) = w.patient(32).await;
        match w
            .service
            .create(request(user2, patient2, &late, &late_segment))
            .await
        {
            Err(BookingError::Refused(r)) => {
                assert_eq!(r.code, "NOT_YET_RELEASED", "{}", w.label);
                assert_eq!(r.available_at, Some(release), "{}", w.label);
            }
            other => panic!("{}: {other:?}", w.label),
        }
        w.clock.set(release);
        w.service
            .create(request(user2, patient2, &late, &late_segment))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_removed_patient_cannot_book_even_while_cached() {
    for w in worlds().await {
        let (schedule, segment) = w.sessions(2, 0).await.remove(4);
        let (user, patient) = w.patient(41).await;
        let first = w
            .service
            .create(request(user, patient, &schedule, &segment))
            .await
            .unwrap();
        w.service.cancel(user, first.id).await.unwrap();
        w.patients.remove(user, patient, Utc::now()).await.unwrap();
        let again = w
            .service
            .create(request(user, patient, &schedule, &segment))
            .await;
        assert!(
            matches!(again, Err(BookingError::PatientNotFound)),
            "{}: {again:?}",
            w.label
        );
        let stock = w.inventory.stock(schedule.id).await.unwrap().unwrap();
        assert!(
            stock.holders.is_empty(),
            "{}: the refused attempt left no hold",
            w.label
        );
    }
}
