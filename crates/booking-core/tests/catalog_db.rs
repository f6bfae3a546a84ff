//! The catalog against a real database of record, on SQLite and PostgreSQL.

use booking_core::catalog::{
    Catalog, CatalogError, Period, ReleasePolicy, ScheduleQuery, seed_demo,
};
use booking_core::clock::{Clock, ManualClock};
use booking_core::paging::{Cursor, PageRequest};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

const POLICY: ReleasePolicy = ReleasePolicy {
    window_days: 7,
    release_time: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
};

fn seed_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap() // a Monday
}

/// 2026-11-23 09:30 in Shanghai.
fn clock() -> ManualClock {
    ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 23, 1, 30, 0).unwrap())
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn seeded_databases() -> Vec<(test_support::TestDb, DatabaseConnection)> {
    let mut out = Vec::new();
    for test_db in test_support::each_database().await {
        let db = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&db).await.unwrap();
        seed_demo(&db, seed_day(), POLICY).await.unwrap();
        out.push((test_db, db));
    }
    out
}

#[tokio::test]
async fn demo_seed_is_idempotent_and_realistic() {
    for test_db in test_support::each_database().await {
        let db = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&db).await.unwrap();
        let first = seed_demo(&db, seed_day(), POLICY).await.unwrap();
        assert!(
            first.hospitals >= 3 && first.departments >= 10 && first.doctors >= 30,
            "{test_db:?}: {first}"
        );
        assert!(
            first.schedules > 100 && first.segments > first.schedules,
            "{test_db:?}: {first}"
        );

        let tables = [
            "hospitals",
            "departments",
            "doctors",
            "schedules",
            "schedule_segments",
        ];
        let mut before = Vec::new();
        for table in tables {
            before.push(count(&db, table).await);
        }
        let second = seed_demo(&db, seed_day(), POLICY).await.unwrap();
        assert_eq!(
            second,
            Default::default(),
            "{test_db:?}: the second run creates nothing"
        );
        for (table, expected) in tables.iter().zip(before) {
            assert_eq!(count(&db, table).await, expected, "{test_db:?}: {table}");
        }

        // A day later only the new last day's schedules are added.
        let next_day = seed_demo(&db, seed_day().succ_opt().unwrap(), POLICY)
            .await
            .unwrap();
        assert_eq!((next_day.hospitals, next_day.doctors), (0, 0));
        assert!(
            next_day.schedules > 0 && next_day.schedules < first.schedules / 4,
            "{test_db:?}: {next_day}"
        );
    }
}

#[tokio::test]
async fn hospitals_page_through_without_gaps_or_repeats() {
    for (test_db, db) in seeded_databases().await {
        let catalog = Catalog::new(db, Arc::new(clock()));
        let mut seen = HashSet::new();
        let mut page = PageRequest {
            limit: 3,
            after: None,
        };
        let mut pages = 0;
        loop {
            let result = catalog.hospitals(page).await.unwrap();
            pages += 1;
            for h in &result.items {
                assert!(seen.insert(h.id), "{test_db:?}: {} repeated", h.code);
                assert!(!h.name.zh.is_empty() && !h.name.en.is_empty());
            }
            match result.next_cursor {
                Some(cursor) => page.after = Some(Cursor::decode(&cursor).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 4, "{test_db:?}");
        assert_eq!(pages, 2, "{test_db:?}");
    }
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    for (test_db, db) in seeded_databases().await {
        let catalog = Catalog::new(db, Arc::new(clock()));
        let nobody = Uuid::now_v7();
        assert!(
            matches!(catalog.departments(nobody, PageRequest::default()).await, Err(CatalogError::HospitalNotFound(id)) if id == nobody),
            "{test_db:?}"
        );
        assert!(
            matches!(
                catalog.doctors(nobody, PageRequest::default()).await,
                Err(CatalogError::DepartmentNotFound(_))
            ),
            "{test_db:?}"
        );
        let query = ScheduleQuery::new(None, None, Some(nobody), None, None, seed_day()).unwrap();
        assert!(
            matches!(
                catalog.schedules(&query, PageRequest::default()).await,
                Err(CatalogError::DoctorNotFound(_))
            ),
            "{test_db:?}"
        );
    }
}

#[tokio::test]
async fn schedules_filter_by_department_and_dates_and_page_in_date_order() {
    for (test_db, db) in seeded_databases().await {
        let clock = clock();
        let catalog = Catalog::new(db, Arc::new(clock.clone()));
        let hospital = catalog
            .hospitals(PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);
        let department = catalog
            .departments(hospital.id, PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);
        let from = seed_day();
        let to = from + chrono::Days::new(2);
        let query = ScheduleQuery::new(
            None,
            Some(department.id),
            None,
            Some(from),
            Some(to),
            clock.today_shanghai(),
        )
        .unwrap();

        let mut all = Vec::new();
        let mut page = PageRequest {
            limit: 4,
            after: None,
        };
        loop {
            let result = catalog.schedules(&query, page).await.unwrap();
            all.extend(result.items);
            match result.next_cursor {
                Some(cursor) => page.after = Some(Cursor::decode(&cursor).unwrap()),
                None => break,
            }
        }
        assert!(!all.is_empty(), "{test_db:?}");
        let ids: HashSet<Uuid> = all.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), all.len(), "{test_db:?}: no schedule twice");
        assert!(
            all.windows(2).all(|w| w[0].date <= w[1].date),
            "{test_db:?}: date order"
        );
        for schedule in &all {
            assert_eq!(schedule.department_id, department.id);
            assert!(schedule.date >= from && schedule.date <= to);
            assert!(!schedule.segments.is_empty());
            assert!(
                schedule
                    .segments
                    .windows(2)
                    .all(|w| w[0].start_time < w[1].start_time)
            );
            assert!(
                schedule
                    .segments
                    .iter()
                    .all(|s| s.remaining == s.capacity && s.capacity > 0)
            );
            assert!(schedule.fee.0 > 0);
        }
        // At 09:30 on the first day the morning is still on (until 12:00); both later days are open.
        let later = all.iter().find(|s| s.date > from).unwrap();
        assert!(later.bookable, "{test_db:?}: released, open, places left");

        // Before the release time of the last day (08:00, seven days earlier) it is visible, not bookable.
        let last_day = seed_day() + chrono::Days::new(7);
        clock.set(Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 0).unwrap()); // 07:59 on the 23rd in Shanghai
        let query = ScheduleQuery::new(
            Some(hospital.id),
            None,
            None,
            Some(last_day),
            Some(last_day),
            last_day,
        )
        .unwrap();
        let unreleased = catalog
            .schedules(
                &query,
                PageRequest {
                    limit: 100,
                    after: None,
                },
            )
            .await
            .unwrap()
            .items;
        assert!(!unreleased.is_empty(), "{test_db:?}");
        assert!(
            unreleased.iter().all(|s| !s.bookable),
            "{test_db:?}: not yet released"
        );
        clock.set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()); // 08:00 on the 23rd
        let released = catalog
            .schedules(
                &query,
                PageRequest {
                    limit: 100,
                    after: None,
                },
            )
            .await
            .unwrap()
            .items;
        assert!(
            released.iter().all(|s| s.bookable),
            "{test_db:?}: released at 08:00"
        );

        // Booking for tomorrow stops at 17:00 Shanghai: from then on the list says so as well.
        let day = |n| seed_day() + chrono::Days::new(n);
        let schedules_on = |date| {
            let query =
                ScheduleQuery::new(Some(hospital.id), None, None, Some(date), Some(date), date)
                    .unwrap();
            let catalog = &catalog;
            async move {
                let page = PageRequest {
                    limit: 100,
                    after: None,
                };
                catalog.schedules(&query, page).await.unwrap().items
            }
        };
        clock.set(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()); // 17:00 on the 23rd
        let tomorrow = schedules_on(day(1)).await;
        assert!(!tomorrow.is_empty(), "{test_db:?}");
        assert!(
            tomorrow
                .iter()
                .all(|s| !s.bookable && s.segments.iter().all(|seg| !seg.bookable)),
            "{test_db:?}: next-day booking closed at 17:00"
        );
        let after = schedules_on(day(2)).await;
        assert!(
            after
                .iter()
                .all(|s| s.bookable && s.segments.iter().all(|seg| seg.bookable)),
            "{test_db:?}: the day after tomorrow stays open"
        );
    }
}

#[tokio::test]
async fn morning_and_afternoon_segments_follow_the_clinic_day() {
    for (test_db, db) in seeded_databases().await {
        let catalog = Catalog::new(db, Arc::new(clock()));
        let hospital = catalog
            .hospitals(PageRequest::default())
            .await
            .unwrap()
            .items
            .remove(0);
        let query = ScheduleQuery::new(
            Some(hospital.id),
            None,
            None,
            Some(seed_day()),
            Some(seed_day()),
            seed_day(),
        )
        .unwrap();
        let day = catalog
            .schedules(
                &query,
                PageRequest {
                    limit: 100,
                    after: None,
                },
            )
            .await
            .unwrap()
            .items;
        let morning = day
            .iter()
            .find(|s| s.period == Period::Morning)
            .expect("a morning session");
        assert_eq!(
            morning.segments.first().unwrap().start_time,
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            "{test_db:?}"
        );
        assert_eq!(
            morning.segments.last().unwrap().end_time,
            NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            "{test_db:?}"
        );
        let afternoon = day
            .iter()
            .find(|s| s.period == Period::Afternoon)
            .expect("an afternoon session");
        assert_eq!(
            afternoon.segments.first().unwrap().start_time,
            NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
            "{test_db:?}"
        );
    }
}
