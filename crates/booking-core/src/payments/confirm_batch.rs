//! Group commit for payment confirmations on PostgreSQL. When notifications arrive faster than
//! one transaction each can commit, those waiting are confirmed together in one transaction: one
//! read, one lock statement, one statement numbering and confirming the bookings, settling
//! their payments and recording their events, and one insert for the log rows; then the
//! Redis updates, sent together. What is written does not change: each booking moves `pending_payment → confirmed` by a conditional
//! update with its visit number and event, its payment is settled by a conditional update, and
//! its `callback_log` row commits with it. If any conditional update of a batch finds a row
//! that someone else moved, the batch is rolled back whole and each of its notifications takes
//! the one-at-a-time path, which sorts the race out as it always does.

use super::entity::{callback_log, payment};
use super::notice::Applied;
use super::provider::PaidOrder;
use super::service::{PaymentError, PaymentService, first_copy, paid_confirmation};
use crate::bookings::BookingStatus;
use crate::bookings::entity::{booking, booking_event};
use crate::bookings::transitions::{self, Actor};
use crate::group_commit::{GroupCommit, array, texts, uuids};
use futures_util::future::join_all;
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, PgFunc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TransactionTrait, TryIntoModel, Value,
};
use std::collections::{HashMap, HashSet};
use tokio::sync::oneshot;
use uuid::Uuid;

/// At most this many notifications per transaction.
const MAX_BATCH: usize = 64;

/// One notification waiting to be confirmed.
pub(super) struct Job {
    pub provider: &'static str,
    pub paid: PaidOrder,
    /// Its `callback_log` row, written with outcome `confirmed` if the batch confirms it.
    pub log: callback_log::ActiveModel,
    /// `Some` when confirmed here; `None` sends the notification down the one-at-a-time path.
    pub reply: oneshot::Sender<Option<Applied>>,
}

/// The payment confirmations waiting for a transaction.
pub(super) type ConfirmQueue = GroupCommit<Job>;

pub(super) fn confirm_queue() -> ConfirmQueue {
    GroupCommit::new(MAX_BATCH)
}

impl PaymentService {
    pub(super) async fn confirm_batch(&self, jobs: Vec<Job>) {
        let results = match self.try_confirm_batch(&jobs).await {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(%error, notifications = jobs.len(), "batch confirmation failed; its notifications go one at a time");
                vec![None; jobs.len()]
            }
        };
        for (job, result) in jobs.into_iter().zip(results) {
            // A caller that went away gets its answer from the provider's next retry.
            let _ = job.reply.send(result);
        }
    }

    /// The answer for each job. Redis follows the database before anyone is answered.
    async fn try_confirm_batch(&self, jobs: &[Job]) -> Result<Vec<Option<Applied>>, PaymentError> {
        let db = &self.bookings.db;
        let mut results = vec![None; jobs.len()];
        // By provider and order number, the columns of `ux_payments_provider_out_trade_no`.
        let mut by_provider = Condition::any();
        let providers: HashSet<&str> = jobs.iter().map(|job| job.provider).collect();
        for provider in providers {
            let orders: Vec<String> = jobs
                .iter()
                .filter(|job| job.provider == provider)
                .map(|job| job.paid.out_trade_no.clone())
                .collect();
            by_provider = by_provider.add(
                payment::Column::Provider.eq(provider).and(
                    Expr::col((payment::Entity, payment::Column::OutTradeNo))
                        .eq(PgFunc::any(Expr::val(orders))),
                ),
            );
        }
        let found: HashMap<(String, String), (payment::Model, booking::Model)> =
            payment::Entity::find()
                .filter(by_provider)
                .find_also_related(booking::Entity)
                .all(db)
                .await?
                .into_iter()
                .filter_map(|(p, b)| Some(((p.provider.clone(), p.out_trade_no.clone()), (p, b?))))
                .collect();
        // Each booking at most once per batch: a second copy waits for the one-at-a-time path.
        let mut taken = HashSet::new();
        let chosen: Vec<(usize, &payment::Model, &booking::Model)> = jobs
            .iter()
            .enumerate()
            .filter_map(|(i, job)| {
                let key = (job.provider.to_owned(), job.paid.out_trade_no.clone());
                let (payment, row) = found.get(&key)?;
                (first_copy(payment, row, &job.paid) && taken.insert(row.id))
                    .then_some((i, payment, row))
            })
            .collect();
        if chosen.is_empty() {
            return Ok(results);
        }

        let now = self.bookings.clock.now();
        let txn = db.begin().await?;
        let mut schedules: Vec<Uuid> = chosen.iter().map(|(_, _, row)| row.schedule_id).collect();
        schedules.sort_unstable();
        schedules.dedup();
        // The per-schedule locks of `BookingService::confirm_in`, taken in one order everywhere.
        let schedules: Vec<String> = schedules.iter().map(Uuid::to_string).collect();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended(s, 1)) FROM unnest($1::text[]) AS v(s)",
            [Value::from(schedules)],
        ))
        .await?;
        // Each booking's event, built as every transition builds it; the statement below
        // inserts those of the bookings it confirms.
        let events: Vec<booking_event::Model> = chosen
            .iter()
            .map(|(i, _, row)| {
                let paid = &jobs[*i].paid;
                let actor = Actor::Provider(jobs[*i].provider);
                let confirmation = paid_confirmation(&actor, paid);
                transitions::event_row(
                    row.id,
                    Some(confirmation.from),
                    BookingStatus::Confirmed,
                    &actor,
                    Some(confirmation.reason),
                    confirmation.provider_txn_id,
                    confirmation.details,
                    now,
                )
                .try_into_model()
            })
            .collect::<Result<_, DbErr>>()?;
        // One statement, under the locks just taken: each booking gets its schedule's highest
        // visit number (one probe of `ux_bookings_schedule_visit_number`) plus its place among
        // the batch's bookings of that schedule; the bookings are confirmed and their payments
        // settled, both conditionally, a payment only with its booking, and each confirmed
        // booking gets its event; the counts tell whether every row was still as read. What
        // every event of a confirmation shares is sent once, the rest per row.
        let shared = &events[0];
        let values = vec![
            Value::from(now),
            Value::from(BookingStatus::Confirmed.as_str()),
            Value::from(BookingStatus::PendingPayment.as_str()),
            Value::from("paid"),
            Value::from(shared.actor_type.as_str()),
            Value::from(shared.reason.clone()),
            uuids(chosen.iter().map(|(_, _, row)| row.id)),
            uuids(chosen.iter().map(|(_, _, row)| row.schedule_id)),
            array(ArrayType::Int, 0..chosen.len() as i32),
            uuids(chosen.iter().map(|(_, payment, _)| payment.id)),
            texts(
                chosen
                    .iter()
                    .map(|(i, _, _)| jobs[*i].paid.provider_txn_id.clone()),
            ),
            uuids(events.iter().map(|e| e.id)),
            texts(events.iter().map(|e| e.provider.clone())),
            texts(events.iter().map(|e| e.details.clone())),
        ];
        let counts = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "WITH batch AS (\
                       SELECT * FROM unnest($7::uuid[], $8::uuid[], $9::int4[], $10::uuid[], \
                       $11::text[], $12::uuid[], $13::text[], $14::text[]) \
                       AS v(id, schedule_id, ord, payment_id, txn, event_id, provider, details)), \
                     numbered AS (\
                       SELECT batch.*, COALESCE((SELECT MAX(b.visit_number) FROM bookings b \
                         WHERE b.schedule_id = batch.schedule_id), 0) \
                         + ROW_NUMBER() OVER (PARTITION BY batch.schedule_id ORDER BY batch.ord) AS n \
                       FROM batch), \
                     confirmed AS (\
                       UPDATE bookings AS b SET status = $2, confirmed_at = $1, updated_at = $1, \
                       visit_number = numbered.n FROM numbered \
                       WHERE b.id = numbered.id AND b.status = $3 \
                       RETURNING numbered.*), \
                     settled AS (\
                       UPDATE payments AS p SET status = $4, provider_txn_id = c.txn, \
                       paid_at = $1, updated_at = $1 FROM confirmed AS c \
                       WHERE p.id = c.payment_id AND p.status IN ('created', 'closed') \
                       RETURNING p.id), \
                     recorded AS (\
                       INSERT INTO booking_events (id, booking_id, actor_type, actor_id, \
                       from_status, to_status, reason, provider, provider_txn_id, details, \
                       created_at) \
                       SELECT c.event_id, c.id, $5, c.provider, $3, $2, $6, c.provider, c.txn, \
                       c.details, $1 FROM confirmed AS c \
                       RETURNING 1) \
                     SELECT (SELECT COUNT(*) FROM confirmed) AS confirmed, \
                     (SELECT COUNT(*) FROM settled) AS settled, \
                     (SELECT COUNT(*) FROM recorded) AS recorded",
                values,
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the batch update's counts".into()))?;
        let everyone = chosen.len() as i64;
        let confirmed: i64 = counts.try_get("", "confirmed")?;
        let settled: i64 = counts.try_get("", "settled")?;
        let recorded: i64 = counts.try_get("", "recorded")?;
        if confirmed != everyone || settled != everyone || recorded != everyone {
            txn.rollback().await?;
            return Ok(results);
        }
        let logs = chosen.iter().map(|(i, _, row)| {
            let mut log = jobs[*i].log.clone();
            log.outcome = sea_orm::Set(
                Applied::Confirmed { booking_id: row.id }
                    .outcome()
                    .to_owned(),
            );
            log.booking_id = sea_orm::Set(Some(row.id));
            log
        });
        callback_log::Entity::insert_many(logs).exec(&txn).await?;
        txn.commit().await?;

        // Concurrently: the Redis connection is multiplexed, so the updates travel together.
        join_all(chosen.iter().map(|(_, _, row)| self.own_in_inventory(row))).await;
        for (i, _, row) in chosen {
            results[i] = Some(Applied::Confirmed { booking_id: row.id });
        }
        Ok(results)
    }
}
