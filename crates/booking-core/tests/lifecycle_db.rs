//! After the hold: confirmation and visit numbers, check-in with visit codes, no-shows and their
//! suspension, quota races and reconciliation. SQLite + in-process inventory and PostgreSQL +
//! Redis inventory.

mod common;

use booking_core::accounts::Channel;
use booking_core::bookings::{Actor, BookingError, BookingStatus, NewBooking};
use booking_core::checkin::{VisitCodeError, VisitCodeSigner};
use booking_core::clock::Clock;
use booking_core::inventory::ScheduleStock;
use chrono::{TimeZone, Utc};
use common::World;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Places in every session these tests book, so that only the rule under test refuses.
const CAPACITY: i32 = 50;

/// Monday 2026-11-23 07:00 in Shanghai, the demo catalog seeded from that day.
async fn worlds() -> Vec<World> {
    common::worlds("lc-test").await
}

#[tokio::test]
async fn confirmations_number_visits_without_gaps_or_repeats() {
    for w in worlds().await {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let sessions = w.sessions_with_capacity(2, 0, CAPACITY).await;
        let session = &sessions[0];
        let mut bookings = Vec::new();
        for n in 0..20 {
            bookings.push(w.book(w.patient(n).await, session).await.unwrap());
        }
        let tasks: Vec<_> = bookings
            .iter()
            .map(|b| {
                let service = w.service.clone();
                let id = b.id;
                tokio::spawn(async move {
                    service
                        .confirm(id, &Actor::Provider("wechatpay"), Some("txn"))
                        .await
                })
            })
            .collect();
        let mut numbers = Vec::new();
        for task in tasks {
            numbers.push(
                task.await
                    .unwrap()
                    .unwrap()
                    .expect("confirmed")
                    .visit_number
                    .unwrap(),
            );
        }
        numbers.sort();
        assert_eq!(numbers, (1..=20).collect::<Vec<u32>>(), "{}", w.label);
        // A duplicate confirmation changes nothing.
        assert!(
            w.service
                .confirm(bookings[0].id, &Actor::Provider("wechatpay"), Some("txn"))
                .await
                .unwrap()
                .is_none()
        );
        let stock = w.inventory.stock(session.0.id).await.unwrap().unwrap();
        assert!(
            stock
                .holders
                .iter()
                .all(|h| h.state == booking_core::inventory::HoldState::Owned),
            "{}",
            w.label
        );
        // A confirmed booking is not swept as an expired hold.
        w.clock.advance(chrono::Duration::hours(1));
        assert_eq!(
            w.service.expire_holds(100).await.unwrap().len(),
            0,
            "{}",
            w.label
        );
    }
}

#[tokio::test]
async fn check_in_with_a_visit_code() {
    for w in worlds().await {
        let signer = VisitCodeSigner::new(b"test secret");
        // Booked at 08:00 for today's 10:00 segments; check-in opens at 09:00.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let today = w.sessions_with_capacity(0, 2, CAPACITY).await;
        let tomorrow = w.sessions_with_capacity(1, 0, CAPACITY).await;
        let alice = w.patient(1).await;
        let bob = w.patient(2).await;
        let carol = w.patient(3).await;
        let a = w.book(alice, &today[0]).await.unwrap();
        let b = w.book(bob, &today[0]).await.unwrap();
        let c = w.book(carol, &tomorrow[0]).await.unwrap();
        for id in [a.id, b.id, c.id] {
            w.service
                .confirm(id, &Actor::Provider("wechatpay"), None)
                .await
                .unwrap()
                .unwrap();
        }
        let pending = w.book(w.patient(4).await, &today[0]).await.unwrap();
        assert!(
            matches!(
                w.service.visit_code(&signer, alice.0, pending.id).await,
                Err(BookingError::NotFound)
            ),
            "not Alice's"
        );
        let dave = w.patient(5).await;
        let d = w.book(dave, &today[1]).await.unwrap();
        w.service
            .confirm(d.id, &Actor::Provider("alipay"), None)
            .await
            .unwrap()
            .unwrap();
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()); // 09:00

        let (code_a, expires) = w.service.visit_code(&signer, alice.0, a.id).await.unwrap();
        assert_eq!(expires, w.clock.now() + chrono::Duration::minutes(5));
        let (code_b, _) = w.service.visit_code(&signer, bob.0, b.id).await.unwrap();
        let (code_c, _) = w.service.visit_code(&signer, carol.0, c.id).await.unwrap();
        let desk = Actor::Operator(Uuid::now_v7());

        // Another hospital's desk does not see it.
        assert!(matches!(
            w.service
                .check_in(&signer, &code_b, Some(Uuid::now_v7()), &desk)
                .await,
            Err(BookingError::NotFound)
        ));
        let first = w
            .service
            .check_in(&signer, &code_b, Some(today[0].0.hospital_id), &desk)
            .await
            .unwrap();
        assert_eq!(
            (first.booking.status, first.queue_position),
            (BookingStatus::CheckedIn, 1),
            "{}",
            w.label
        );
        let second = w
            .service
            .check_in(&signer, &code_a, None, &desk)
            .await
            .unwrap();
        // Alice has visit number 1, so she goes before Bob (number 2) who checked in first.
        assert_eq!(second.queue_position, 1, "{}", w.label);

        assert!(
            matches!(
                w.service.check_in(&signer, &code_a, None, &desk).await,
                Err(BookingError::AlreadyCheckedIn)
            ),
            "{}: replayed",
            w.label
        );
        assert!(
            matches!(
                w.service.check_in(&signer, &code_c, None, &desk).await,
                Err(BookingError::WrongDay { .. })
            ),
            "{}",
            w.label
        );
        let tampered = format!("{}x", &code_c[..code_c.len() - 1]);
        assert!(matches!(
            w.service.check_in(&signer, &tampered, None, &desk).await,
            Err(BookingError::VisitCode(
                VisitCodeError::BadSignature | VisitCodeError::Malformed
            ))
        ));
        w.clock.advance(chrono::Duration::minutes(6));
        assert!(
            matches!(
                w.service.check_in(&signer, &code_c, None, &desk).await,
                Err(BookingError::VisitCode(VisitCodeError::Expired))
            ),
            "{}",
            w.label
        );

        // Before the window opens: 08:59 is too early for a 10:00 segment.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 59, 0).unwrap());
        let (code_d, _) = w.service.visit_code(&signer, dave.0, d.id).await.unwrap();
        match w.service.check_in(&signer, &code_d, None, &desk).await {
            Err(BookingError::Refused(r)) => {
                assert_eq!(r.code, "CHECK_IN_TOO_EARLY", "{}", w.label)
            }
            other => panic!("{}: {other:?}", w.label),
        }
    }
}

#[tokio::test]
async fn a_no_show_suspends_the_identity() {
    for w in worlds().await {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()); // 08:00
        let today = w.sessions_with_capacity(0, 2, CAPACITY).await;
        let later = w.sessions_with_capacity(3, 0, CAPACITY).await;
        let erin = w.patient(7).await;
        let booking = w.book(erin, &today[0]).await.unwrap();
        w.service
            .confirm(booking.id, &Actor::Provider("wechatpay"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            w.service.mark_no_shows().await.unwrap(),
            0,
            "{}: the window is still open",
            w.label
        );
        // 10:30:01: thirty minutes after the 10:00 segment started, the window has closed.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 2, 30, 1).unwrap());
        assert_eq!(w.service.mark_no_shows().await.unwrap(), 1, "{}", w.label);
        assert_eq!(
            w.service.get(erin.0, booking.id).await.unwrap().status,
            BookingStatus::NoShow
        );
        assert_eq!(
            w.service.mark_no_shows().await.unwrap(),
            0,
            "{}: once",
            w.label
        );
        match w.book(erin, &later[0]).await {
            Err(BookingError::Refused(r)) => {
                assert_eq!(r.code, "BOOKING_SUSPENDED", "{}", w.label);
                assert_eq!(
                    r.available_at,
                    Some(w.clock.now() + chrono::Duration::days(30)),
                    "{}",
                    w.label
                );
            }
            other => panic!("{}: {other:?}", w.label),
        }
    }
}

#[tokio::test]
async fn one_identity_racing_in_two_departments_passes_the_day_quota_once() {
    for w in worlds().await {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let three: Vec<_> = w
            .sessions_in_distinct_departments(3, 0, CAPACITY)
            .await
            .into_iter()
            .take(3)
            .collect();
        assert_eq!(
            three.len(),
            3,
            "three departments with a morning session that day"
        );
        let frank = w.patient(9).await;
        // Frank again, as his sister's patient: only the identity lock keeps the two apart.
        let frank_by_sister = w.patient_of(w.patient(10).await.0, 9).await;
        w.book(frank, &three[0]).await.unwrap();
        // Two per visit day: only one of the two simultaneous attempts may pass.
        let (s1, s2) = (three[1].clone(), three[2].clone());
        let (svc1, svc2) = (w.service.clone(), w.service.clone());
        let t1 = tokio::spawn(async move {
            svc1.create(NewBooking {
                user_id: frank.0,
                patient_id: frank.1,
                schedule_id: s1.0.id,
                segment_id: s1.1.id,
                channel: Channel::Wechat,
            })
            .await
        });
        let t2 = tokio::spawn(async move {
            svc2.create(NewBooking {
                user_id: frank_by_sister.0,
                patient_id: frank_by_sister.1,
                schedule_id: s2.0.id,
                segment_id: s2.1.id,
                channel: Channel::Wechat,
            })
            .await
        });
        let results = [t1.await.unwrap(), t2.await.unwrap()];
        let passed = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(passed, 1, "{}: {results:?}", w.label);
        let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            matches!(refused, BookingError::Refused(r) if r.code == "QUOTA_VISIT_DAY"),
            "{}: {refused:?}",
            w.label
        );
    }
}

#[tokio::test]
async fn reconcile_reports_and_repairs_drift() {
    for w in worlds().await {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let sessions = w.sessions_with_capacity(2, 0, CAPACITY).await;
        let held = w.book(w.patient(11).await, &sessions[0]).await.unwrap();
        let confirmed = w.book(w.patient(12).await, &sessions[0]).await.unwrap();
        w.service
            .confirm(confirmed.id, &Actor::Provider("wechatpay"), None)
            .await
            .unwrap()
            .unwrap();

        let clean = w
            .service
            .reconcile(w.clock.today_shanghai(), |_, _| {})
            .await
            .unwrap();
        let drifted: HashSet<Uuid> = clean
            .drifts
            .iter()
            .filter(|d| d.kind == "differs")
            .map(|d| d.schedule_id)
            .collect();
        assert!(
            drifted.is_empty(),
            "{}: no drift after normal operation: {drifted:?}",
            w.label
        );

        // Lose the Redis state of one schedule and corrupt another's counts.
        let wrong = ScheduleStock {
            remaining: BTreeMap::from([(sessions[1].1.id, 99)]),
            holders: vec![],
        };
        w.inventory.load(sessions[1].0.id, &wrong).await.unwrap();
        w.inventory
            .load(
                sessions[0].0.id,
                &ScheduleStock {
                    remaining: BTreeMap::from([(sessions[0].1.id, 50)]),
                    holders: vec![],
                },
            )
            .await
            .unwrap();
        let mut seen = 0;
        let report = w
            .service
            .reconcile(w.clock.today_shanghai(), |done, total| {
                seen = done;
                assert!(done <= total)
            })
            .await
            .unwrap();
        assert_eq!(seen, report.schedules_checked);
        let drifted: HashSet<Uuid> = report.drifts.iter().map(|d| d.schedule_id).collect();
        assert!(
            drifted.contains(&sessions[0].0.id) && drifted.contains(&sessions[1].0.id),
            "{}: {drifted:?}",
            w.label
        );
        let repaired = w.inventory.stock(sessions[0].0.id).await.unwrap().unwrap();
        assert_eq!(repaired.remaining[&sessions[0].1.id], 48, "{}", w.label);
        let holders: HashSet<Uuid> = repaired.holders.iter().map(|h| h.booking_id).collect();
        assert_eq!(
            holders,
            HashSet::from([held.id, confirmed.id]),
            "{}",
            w.label
        );
        let again = w
            .service
            .reconcile(w.clock.today_shanghai(), |_, _| {})
            .await
            .unwrap();
        assert!(
            again.drifts.iter().all(|d| d.kind == "missing"),
            "{}: repaired",
            w.label
        );
    }
}
