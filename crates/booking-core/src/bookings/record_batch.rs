//! Group commit for new bookings on PostgreSQL. At a release-time rush the winners of the Redis
//! holds come faster than one transaction each can commit, and every one of them queues on its
//! segment's counter row. Those waiting are written together in one transaction: one statement
//! takes the identities' locks and the accounts' rows (checking that each patient is still the
//! account's), one reads every quota fact, and one writes the bookings, their events and the
//! conditional capacity updates. The rules are the same and are checked per booking under the
//! same locks as one at a time. Two bookings of one identity or one account never share a batch
//! (the second takes the one-at-a-time path, which waits for the first's locks), and a batch
//! whose capacity update or counts fall short is rolled back whole, each of its bookings then
//! taking the one-at-a-time path, which sorts the race out as it always does.

use super::service::{
    Booking, BookingError, BookingService, HeldPlace, identity_facts, live_duplicate,
};
use crate::group_commit::{GroupCommit, big_ints, instants, texts, uuids};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, TransactionTrait, TryIntoModel};
use std::collections::{HashMap, HashSet};
use tokio::sync::oneshot;
use uuid::Uuid;

/// At most this many bookings per transaction.
const MAX_BATCH: usize = 64;

/// The answer for one held place: `Some` when decided here (written, or refused by a rule);
/// `None` sends it down the one-at-a-time path.
type Decided = Option<Result<(Booking, String), BookingError>>;

/// One held place waiting to be written.
pub(super) struct Job {
    pub held: HeldPlace,
    pub reply: oneshot::Sender<Decided>,
}

pub(super) type RecordQueue = GroupCommit<Job>;

pub(super) fn record_queue() -> RecordQueue {
    GroupCommit::new(MAX_BATCH)
}

impl BookingService {
    pub(super) async fn record_batch(&self, jobs: Vec<Job>) {
        let held: Vec<&HeldPlace> = jobs.iter().map(|job| &job.held).collect();
        let decided = match self.try_record_batch(&held).await {
            Ok(decided) => decided,
            Err(error) => {
                // A duplicate live booking is an answer the one-at-a-time path gives properly.
                if !matches!(&error, BookingError::Database(e) if live_duplicate(e)) {
                    tracing::warn!(%error, bookings = jobs.len(), "batch booking write failed; its bookings go one at a time");
                }
                Vec::new()
            }
        };
        let mut decided = decided.into_iter();
        for job in jobs {
            // A caller that went away has left its booking to this batch: nothing to answer.
            let _ = job.reply.send(decided.next().flatten());
        }
    }

    /// The answer for each held place, in order.
    async fn try_record_batch(&self, held: &[&HeldPlace]) -> Result<Vec<Decided>, BookingError> {
        let mut decided: Vec<Decided> = held.iter().map(|_| None).collect();
        let mut identities = HashSet::new();
        let mut accounts = HashSet::new();
        let chosen: Vec<usize> = (0..held.len())
            .filter(|&i| {
                identities.insert(held[i].identity.as_str())
                    && accounts.insert(held[i].request.user_id)
            })
            .collect();

        let txn = self.db.begin().await?;
        // The locks of `lock_account`, for all at once: each identity's advisory lock (in one
        // order everywhere), then the account rows of the patients still on their accounts.
        let mut locked_identities: Vec<String> =
            chosen.iter().map(|&i| held[i].identity.clone()).collect();
        locked_identities.sort_unstable();
        let patients: Vec<Uuid> = chosen.iter().map(|&i| held[i].request.patient_id).collect();
        let payers: HashMap<(Uuid, Uuid), String> = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended(i, 0)) \
                   FROM unnest($1::text[]) AS v(i)) \
                 SELECT p.id AS patient_id, u.id AS user_id, u.platform_user_id \
                 FROM patients p JOIN users u ON u.id = p.user_id \
                 WHERE p.id = ANY($2) AND p.deleted_at IS NULL \
                 AND (SELECT COUNT(*) FROM locked) > 0 \
                 ORDER BY u.id FOR NO KEY UPDATE OF u",
                [
                    texts(locked_identities.into_iter()),
                    uuids(patients.into_iter()),
                ],
            ))
            .await?
            .into_iter()
            .map(|row| {
                Ok((
                    (row.try_get("", "patient_id")?, row.try_get("", "user_id")?),
                    row.try_get("", "platform_user_id")?,
                ))
            })
            .collect::<Result<_, DbErr>>()?;
        let mut to_write = Vec::new();
        for &i in &chosen {
            let request = &held[i].request;
            match payers.get(&(request.patient_id, request.user_id)) {
                Some(payer) => to_write.push((i, payer.clone())),
                None => decided[i] = Some(Err(BookingError::PatientNotFound)),
            }
        }

        let wanted: Vec<(&str, Uuid)> = to_write
            .iter()
            .map(|&(i, _)| (held[i].identity.as_str(), held[i].request.user_id))
            .collect();
        let facts = identity_facts(&txn, &wanted, held[0].now).await?;
        let mut written = Vec::new();
        for ((i, payer), facts) in to_write.into_iter().zip(facts) {
            match held[i].check_quotas(&facts) {
                Ok(()) => written.push((i, payer)),
                Err(refusal) => decided[i] = Some(Err(refusal.into())),
            }
        }
        if written.is_empty() {
            txn.commit().await?;
            return Ok(decided);
        }

        let mut rows = Vec::with_capacity(written.len());
        let mut events = Vec::with_capacity(written.len());
        for (i, _) in &written {
            let (row, event) = held[*i].rows();
            rows.push(row);
            events.push(event.try_into_model()?);
        }
        // The bookings, their events and the capacity updates, one per segment by the number
        // of its places taken, in one statement; the counts tell whether all of it happened.
        let values = vec![
            uuids(rows.iter().map(|r| r.id)),
            uuids(rows.iter().map(|r| r.user_id)),
            uuids(rows.iter().map(|r| r.patient_id)),
            texts(rows.iter().map(|r| r.identity_hash.clone())),
            uuids(rows.iter().map(|r| r.schedule_id)),
            uuids(rows.iter().map(|r| r.segment_id)),
            texts(rows.iter().map(|r| r.channel.clone())),
            texts(rows.iter().map(|r| r.status.clone())),
            texts(rows.iter().map(|r| r.out_trade_no.clone())),
            big_ints(rows.iter().map(|r| r.amount_fen)),
            instants(rows.iter().map(|r| r.hold_expires_at)),
            texts(rows.iter().map(|r| r.rule_version.clone())),
            instants(rows.iter().map(|r| r.created_at)),
            uuids(events.iter().map(|e| e.id)),
            texts(events.iter().map(|e| e.actor_type.clone())),
            texts(events.iter().map(|e| e.actor_id.clone())),
            texts(events.iter().map(|e| e.to_status.clone())),
            texts(events.iter().map(|e| e.reason.clone())),
            texts(events.iter().map(|e| e.details.clone())),
        ];
        let counts = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "WITH held AS (\
                   INSERT INTO bookings (id, user_id, patient_id, identity_hash, schedule_id, \
                   segment_id, channel, status, out_trade_no, amount_fen, hold_expires_at, \
                   rule_version, created_at, updated_at) \
                   SELECT v.*, v.created_at FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], \
                   $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::text[], \
                   $10::int8[], $11::timestamptz[], $12::text[], $13::timestamptz[]) \
                   AS v(id, user_id, patient_id, identity_hash, schedule_id, segment_id, \
                   channel, status, out_trade_no, amount_fen, hold_expires_at, rule_version, \
                   created_at) \
                   RETURNING 1), \
                 recorded AS (\
                   INSERT INTO booking_events (id, booking_id, actor_type, actor_id, \
                   from_status, to_status, reason, provider, provider_txn_id, details, \
                   created_at) \
                   SELECT e.id, e.booking_id, e.actor_type, e.actor_id, NULL, e.to_status, \
                   e.reason, NULL, NULL, e.details, e.created_at \
                   FROM unnest($14::uuid[], $1::uuid[], $15::text[], $16::text[], $17::text[], \
                   $18::text[], $19::text[], $13::timestamptz[]) \
                   AS e(id, booking_id, actor_type, actor_id, to_status, reason, details, \
                   created_at) \
                   RETURNING 1), \
                 wanted AS (\
                   SELECT segment_id, COUNT(*) AS places FROM unnest($6::uuid[]) AS w(segment_id) \
                   GROUP BY segment_id), \
                 taken AS (\
                   UPDATE schedule_segments AS s SET booked = s.booked + w.places FROM wanted AS w \
                   WHERE s.id = w.segment_id AND s.booked + s.reserved + w.places <= s.capacity \
                   RETURNING w.places) \
                 SELECT (SELECT COUNT(*) FROM held) AS held, \
                 (SELECT COUNT(*) FROM recorded) AS recorded, \
                 (SELECT COALESCE(SUM(places), 0) FROM taken)::int8 AS taken",
                values,
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the batch write's counts".into()))?;
        let everyone = rows.len() as i64;
        for column in ["held", "recorded", "taken"] {
            if counts.try_get::<i64>("", column)? != everyone {
                // A segment's counter refused (its places went some other way): nothing of
                // the batch stays, and each booking tries again on its own.
                txn.rollback().await?;
                return Ok(held.iter().map(|_| None).collect());
            }
        }
        txn.commit().await?;
        for ((i, payer), row) in written.into_iter().zip(rows) {
            decided[i] = Some(Ok((row.try_into()?, payer)));
        }
        Ok(decided)
    }
}
