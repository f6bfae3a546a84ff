//! New bookings written together on PostgreSQL (group commit, `bookings::record_batch`): a burst
//! of bookings shares transactions, and each booking is decided and written exactly as it would
//! be alone: its rules, its event, its place, and its Redis hold given back when refused.

mod common;

use booking_core::bookings::BookingError;
use booking_core::catalog::entity::schedule_segment;
use chrono::{TimeZone, Utc};
use common::{Session, World, new_booking};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use std::collections::HashSet;
use uuid::Uuid;

/// The PostgreSQL + Redis world, Monday 2026-11-23 09:00 in Shanghai.
async fn postgres() -> Option<World> {
    let world = common::worlds("bk-batch")
        .await
        .into_iter()
        .find(|w| w.db.get_database_backend() == DbBackend::Postgres)?;
    world
        .clock
        .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
    Some(world)
}

/// Books every one of `requests` at once, each from its own task; the answers in order.
async fn burst(
    w: &World,
    requests: Vec<((Uuid, Uuid), Session)>,
) -> Vec<Result<booking_core::bookings::Booking, BookingError>> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(who, session)| {
            let service = w.service.clone();
            tokio::spawn(async move { service.create(new_booking(who, &session)).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

impl World {
    /// One text column of the rows `sql` selects.
    async fn texts(&self, sql: String) -> Vec<String> {
        self.db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect()
    }

    async fn holders(&self, session: &Session) -> usize {
        let stock = self.inventory.stock(session.0.id).await.unwrap().unwrap();
        stock.holders.len()
    }
}

fn code(answer: &Result<booking_core::bookings::Booking, BookingError>) -> String {
    match answer {
        Ok(_) => "ok".into(),
        Err(BookingError::Refused(refusal)) => refusal.code.to_string(),
        Err(other) => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_burst_of_bookings_shares_transactions_and_each_is_written_as_alone() {
    let Some(w) = postgres().await else { return };
    let session = w.sessions_with_capacity(2, 0, 100).await.remove(0);
    let mut people = Vec::new();
    for n in 0..40 {
        people.push((w.patient(500 + n).await, session.clone()));
    }
    let answers = burst(&w, people).await;
    let ids: Vec<Uuid> = answers
        .iter()
        .map(|a| a.as_ref().expect("every booking succeeds").id)
        .collect();
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");

    // Rows written by one transaction share its id (`xmin`).
    let transactions: HashSet<String> = w
        .texts(format!(
            "SELECT xmin::text FROM bookings WHERE id IN ({list})"
        ))
        .await
        .into_iter()
        .collect();
    assert!(
        transactions.len() < ids.len(),
        "40 bookings at once were committed in {} transactions",
        transactions.len()
    );
    // Each booking has its one event, as the one-at-a-time path writes it.
    let events = w
        .texts(format!(
            "SELECT concat_ws('|', b.id, e.from_status, e.to_status, e.actor_type, e.actor_id, \
             e.reason, e.details::json->>'rule_version', e.created_at = b.created_at, \
             e.details::json->>'hold_expires_at' IS NOT NULL) \
             FROM bookings b JOIN booking_events e ON e.booking_id = b.id \
             WHERE b.id IN ({list}) ORDER BY b.id"
        ))
        .await;
    assert_eq!(events.len(), ids.len(), "one event per booking");
    for (event, answer) in events.iter().zip({
        let mut sorted: Vec<_> = answers.iter().map(|a| a.as_ref().unwrap()).collect();
        sorted.sort_by_key(|b| b.id);
        sorted
    }) {
        let user = w
            .texts(format!(
                "SELECT user_id::text FROM bookings WHERE id = '{}'",
                answer.id
            ))
            .await
            .remove(0);
        let rule_version = answer.rule_version.as_deref().unwrap();
        assert_eq!(
            event,
            &format!(
                "{}|pending_payment|patient|{user}|place held|{rule_version}|t|t",
                answer.id
            )
        );
    }
    assert_eq!(w.booked(session.1.id).await, 40);
    assert_eq!(w.holders(&session).await, 40);
}

#[tokio::test]
async fn a_burst_with_refusals_decides_each_booking_as_alone() {
    let Some(w) = postgres().await else { return };
    let sessions = w.sessions_in_distinct_departments(2, 0, 100).await;
    assert!(sessions.len() >= 3, "three departments on day +2");
    let (main, other, third) = (&sessions[0], &sessions[1], &sessions[2]);

    // Each of eight people already has a visit that day (`other`); a second one the same day
    // is allowed, a third is not (2 per visit day). Each asks for two more at once, through
    // her own account and her daughter's: exactly one of the two may pass, whichever batch or
    // path each takes.
    const PEOPLE: usize = 8;
    let mut requests = Vec::new();
    for n in 0..PEOPLE as u32 {
        let person = w.patient(600 + n).await;
        w.book(person, other).await.unwrap();
        let daughter = w.patient(650 + n).await;
        let via_daughter = w.patient_of(daughter.0, 600 + n).await;
        requests.push((person, main.clone()));
        requests.push((via_daughter, third.clone()));
    }
    // Bo's patient is removed from his account before the burst.
    let bo = w.patient(699).await;
    booking_core::accounts::entity::patient::Entity::update_many()
        .col_expr(
            booking_core::accounts::entity::patient::Column::DeletedAt,
            Expr::value(Utc::now()),
        )
        .filter(booking_core::accounts::entity::patient::Column::Id.eq(bo.1))
        .exec(&w.db)
        .await
        .unwrap();
    requests.push((bo, main.clone()));
    for n in 0..20 {
        requests.push((w.patient(710 + n).await, main.clone()));
    }
    let answers = burst(&w, requests).await;
    let codes: Vec<String> = answers.iter().map(code).collect();

    for pair in codes[..2 * PEOPLE].chunks(2) {
        let mut pair = pair.to_vec();
        pair.sort();
        assert_eq!(pair, ["QUOTA_VISIT_DAY", "ok"], "one of the two: {codes:?}");
    }
    assert_eq!(codes[2 * PEOPLE], "PatientNotFound");
    assert!(
        codes[2 * PEOPLE + 1..].iter().all(|c| c == "ok"),
        "{codes:?}"
    );

    // The database and Redis agree on every place: refusals left no hold behind.
    let main_won = 20
        + codes
            .iter()
            .step_by(2)
            .take(PEOPLE)
            .filter(|c| *c == "ok")
            .count();
    let third_won = PEOPLE + 20 - main_won;
    assert_eq!(w.booked(main.1.id).await as usize, main_won);
    assert_eq!(w.booked(third.1.id).await as usize, third_won);
    assert_eq!(w.holders(main).await, main_won);
    assert_eq!(w.holders(third).await, third_won);
}

#[tokio::test]
async fn a_batch_the_counter_refuses_is_undone_and_its_bookings_go_one_at_a_time() {
    let Some(w) = postgres().await else { return };
    let session = w.sessions_with_capacity(2, 0, 20).await.remove(0);
    // Load the segment into Redis with its 20 places, then let the database take 17 of them
    // some other way: Redis offers more than the database of record will give.
    w.book(w.patient(700).await, &session).await.unwrap();
    schedule_segment::Entity::update_many()
        .col_expr(schedule_segment::Column::Booked, Expr::value(17))
        .filter(schedule_segment::Column::Id.eq(session.1.id))
        .exec(&w.db)
        .await
        .unwrap();

    let mut requests = Vec::new();
    for n in 0..12 {
        requests.push((w.patient(710 + n).await, session.clone()));
    }
    let answers = burst(&w, requests).await;
    let won = answers.iter().filter(|a| a.is_ok()).count();
    let sold_out = answers
        .iter()
        .filter(|a| matches!(a, Err(BookingError::SoldOut)))
        .count();
    assert_eq!(
        (won, sold_out),
        (3, 9),
        "{:?}",
        answers.iter().map(code).collect::<Vec<_>>()
    );
    assert_eq!(w.booked(session.1.id).await, 20, "never over capacity");
    // The first booking and the three won hold places; every refused one gave its hold back.
    assert_eq!(w.holders(&session).await, 4);
}
