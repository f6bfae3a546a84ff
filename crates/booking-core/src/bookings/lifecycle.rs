//! After the hold: confirmation with visit numbers, visit codes and check-in, no-shows, and
//! reconciling the Redis inventory with the database.

use super::entity::booking;
use super::service::{Booking, BookingError, BookingService};
use super::status::BookingStatus;
use super::transitions::{self, Actor, Transition};
use crate::catalog::entity::{schedule, schedule_segment};
use crate::checkin::VisitCodeSigner;
use crate::clock::shanghai;
use crate::inventory::ScheduleStock;
use crate::rules::{self, ResolvedRules};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, Statement, TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// How long a visit code shown as a QR code stays valid; the page refreshes it.
pub const VISIT_CODE_TTL: Duration = Duration::minutes(5);

/// How a booking comes to be confirmed, for [`BookingService::confirm_in`].
pub(crate) struct Confirmation<'a> {
    /// `pending_payment`, or `cancelled` for a payment that arrived after its hold expired.
    pub from: BookingStatus,
    pub actor: &'a Actor,
    pub reason: &'a str,
    pub provider_txn_id: Option<&'a str>,
    pub details: Option<serde_json::Value>,
}

/// A successful check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub booking: Booking,
    /// 1 for the first checked-in visit of the session still waiting, and so on.
    pub queue_position: u32,
}

/// What `reconcile` found for one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDrift {
    pub schedule_id: Uuid,
    /// `missing` (Redis had nothing) or `differs` (counts or holders disagreed).
    pub kind: &'static str,
    pub redis: Option<ScheduleStock>,
    pub database: ScheduleStock,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub schedules_checked: u32,
    pub drifts: Vec<ScheduleDrift>,
}

impl BookingService {
    /// Payment confirmed: `pending_payment → confirmed`, with the next visit number of the
    /// schedule. Returns `None` when the booking was not pending any more (a duplicate
    /// notification): nothing is confirmed twice.
    pub async fn confirm(
        &self,
        booking_id: Uuid,
        actor: &Actor,
        provider_txn_id: Option<&str>,
    ) -> Result<Option<Booking>, BookingError> {
        let row = booking::Entity::find_by_id(booking_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::NotFound)?;
        let txn = self.db.begin().await?;
        let confirmation = Confirmation {
            from: BookingStatus::PendingPayment,
            actor,
            reason: "payment confirmed",
            provider_txn_id,
            details: None,
        };
        if !self.confirm_in(&txn, &row, confirmation).await? {
            return Ok(None);
        }
        txn.commit().await?;
        self.inventory
            .confirm(row.schedule_id, &row.identity_hash, booking_id)
            .await?;
        let confirmed = booking::Entity::find_by_id(booking_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::NotFound)?;
        Ok(Some(confirmed.try_into()?))
    }

    /// Inside the caller's transaction: moves the booking from `confirmation.from` to
    /// `confirmed` and gives it the next visit number of its schedule (1, 2, 3… without gaps or
    /// repeats: numbers are handed out under a per-schedule lock on PostgreSQL and under
    /// SQLite's single writer). `false` when the booking was not in `from` any more.
    pub(crate) async fn confirm_in(
        &self,
        txn: &DatabaseTransaction,
        row: &booking::Model,
        confirmation: Confirmation<'_>,
    ) -> Result<bool, DbErr> {
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))",
                [row.schedule_id.to_string().into()],
            ))
            .await?;
        }
        // The next number of the schedule, computed by the update itself: under the lock above
        // (or SQLite's single writer) no other confirmation of the schedule runs in between.
        let numbered = Alias::new("numbered");
        let next_visit_number = Query::select()
            .expr(
                Expr::from(Func::coalesce([
                    Expr::col((numbered.clone(), booking::Column::VisitNumber)).max(),
                    Expr::val(0),
                ]))
                .add(1),
            )
            .from_as(booking::Entity, numbered.clone())
            .and_where(Expr::col((numbered, booking::Column::ScheduleId)).eq(row.schedule_id))
            .to_owned();
        transitions::apply_with(
            txn,
            Transition {
                booking_id: row.id,
                from: confirmation.from,
                to: BookingStatus::Confirmed,
                actor: confirmation.actor,
                reason: Some(confirmation.reason),
                provider_txn_id: confirmation.provider_txn_id,
                details: confirmation.details,
                at: self.clock.now(),
            },
            |update| update.col_expr(booking::Column::VisitNumber, next_visit_number.into()),
        )
        .await
    }

    /// A short-lived signed code for the patient's own confirmed booking.
    pub async fn visit_code(
        &self,
        signer: &VisitCodeSigner,
        user_id: Uuid,
        booking_id: Uuid,
    ) -> Result<(String, DateTime<Utc>), BookingError> {
        let booking = self.get(user_id, booking_id).await?;
        if booking.status != BookingStatus::Confirmed {
            return Err(BookingError::NotConfirmed {
                status: booking.status,
            });
        }
        let schedule = schedule::Entity::find_by_id(booking.schedule_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::ScheduleNotFound)?;
        let expires_at = self.clock.now() + VISIT_CODE_TTL;
        Ok((
            signer.issue(booking.id, schedule.visit_date, expires_at),
            expires_at,
        ))
    }

    /// Checks a visit code in at the hospital. `hospital` limits an operator bound to one
    /// hospital: another hospital's booking is not found.
    pub async fn check_in(
        &self,
        signer: &VisitCodeSigner,
        code: &str,
        hospital: Option<Uuid>,
        actor: &Actor,
    ) -> Result<CheckIn, BookingError> {
        let now = self.clock.now();
        let claims = signer.verify(code, now)?;
        let row = booking::Entity::find_by_id(claims.booking_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::NotFound)?;
        let schedule = schedule::Entity::find_by_id(row.schedule_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::ScheduleNotFound)?;
        if hospital.is_some_and(|h| h != schedule.hospital_id) {
            return Err(BookingError::NotFound);
        }
        let status: BookingStatus = row.status.parse().map_err(BookingError::Corrupted)?;
        match status {
            BookingStatus::Confirmed => {}
            BookingStatus::CheckedIn | BookingStatus::Completed => {
                return Err(BookingError::AlreadyCheckedIn);
            }
            other => return Err(BookingError::NotConfirmed { status: other }),
        }
        let today = now.with_timezone(&shanghai()).date_naive();
        if claims.visit_date != schedule.visit_date || schedule.visit_date != today {
            return Err(BookingError::WrongDay {
                visit_date: schedule.visit_date,
            });
        }
        let segment = schedule_segment::Entity::find_by_id(row.segment_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::SegmentNotFound)?;
        let rules = self.rules_in_force(&schedule, now).await?;
        rules::check_in_window(&rules.rules, now, schedule.visit_date, segment.start_time)?;

        let txn = self.db.begin().await?;
        let applied = transitions::apply(
            &txn,
            Transition {
                booking_id: row.id,
                from: BookingStatus::Confirmed,
                to: BookingStatus::CheckedIn,
                actor,
                reason: Some("checked in with a visit code"),
                provider_txn_id: None,
                details: None,
                at: now,
            },
        )
        .await?;
        if !applied {
            return Err(BookingError::AlreadyCheckedIn);
        }
        let ahead = booking::Entity::find()
            .filter(booking::Column::ScheduleId.eq(row.schedule_id))
            .filter(booking::Column::Status.eq(BookingStatus::CheckedIn.as_str()))
            .filter(booking::Column::VisitNumber.lt(row.visit_number.unwrap_or(i32::MAX)))
            .count(&txn)
            .await?;
        txn.commit().await?;
        let booking: Booking = booking::Entity::find_by_id(row.id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::NotFound)?
            .try_into()?;
        Ok(CheckIn {
            booking,
            queue_position: u32::try_from(ahead).unwrap_or(u32::MAX).saturating_add(1),
        })
    }

    /// Confirmed visits whose check-in window closed without a check-in become `no_show`.
    /// Returns how many were marked.
    pub async fn mark_no_shows(&self) -> Result<u32, BookingError> {
        let now = self.clock.now();
        let today = now.with_timezone(&shanghai()).date_naive();
        // Only visits of today or before can have let their check-in window close: those, with
        // their schedules, then their segments and the rule sets over them, in three reads
        // however many there are.
        let candidates: Vec<(booking::Model, schedule::Model)> = booking::Entity::find()
            .filter(booking::Column::Status.eq(BookingStatus::Confirmed.as_str()))
            .find_also_related(schedule::Entity)
            .filter(schedule::Column::VisitDate.lte(today))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|(row, schedule)| Some((row, schedule?)))
            .collect();
        if candidates.is_empty() {
            return Ok(0);
        }
        let mut schedule_ids: Vec<Uuid> = candidates.iter().map(|(_, s)| s.id).collect();
        schedule_ids.sort_unstable();
        schedule_ids.dedup();
        let segments: HashMap<Uuid, schedule_segment::Model> = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.is_in(schedule_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|segment| (segment.id, segment))
            .collect();
        let rule_candidates = self
            .rule_candidates_of(candidates.iter().map(|(_, schedule)| schedule))
            .await?;
        let actor = Actor::System("no_show_marker");
        let mut marked = 0;
        for (row, schedule) in &candidates {
            let Some(segment) = segments.get(&row.segment_id) else {
                continue;
            };
            let rules = rules::resolve(
                &rule_candidates,
                schedule.hospital_id,
                schedule.department_id,
                schedule.doctor_id,
                now,
            );
            let window = rules::check_in_window_bounds(
                &rules.rules,
                schedule.visit_date,
                segment.start_time,
            );
            if now <= window.closes_at {
                continue;
            }
            let applied = transitions::apply(
                &self.db,
                Transition {
                    booking_id: row.id,
                    from: BookingStatus::Confirmed,
                    to: BookingStatus::NoShow,
                    actor: &actor,
                    reason: Some("not checked in before the check-in window closed"),
                    provider_txn_id: None,
                    details: None,
                    at: now,
                },
            )
            .await?;
            marked += u32::from(applied);
        }
        Ok(marked)
    }

    /// Compares the inventory with the database for every schedule from `from` on, reports each
    /// drift and repairs it by loading the database's state. `progress` hears about each
    /// schedule (for a progress line on long runs).
    pub async fn reconcile(
        &self,
        from: NaiveDate,
        mut progress: impl FnMut(u32, u32),
    ) -> Result<ReconcileReport, BookingError> {
        let ids: Vec<Uuid> = schedule::Entity::find()
            .filter(schedule::Column::VisitDate.gte(from))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let total = ids.len() as u32;
        let mut report = ReconcileReport::default();
        for (done, id) in ids.into_iter().enumerate() {
            let database = self.stock_from_database(id).await?;
            let redis = self.inventory.stock(id).await?;
            let kind = match &redis {
                None => Some("missing"),
                Some(stock) if !same_stock(stock, &database) => Some("differs"),
                Some(_) => None,
            };
            if let Some(kind) = kind {
                self.inventory.load(id, &database).await?;
                report.drifts.push(ScheduleDrift {
                    schedule_id: id,
                    kind,
                    redis,
                    database,
                });
            }
            report.schedules_checked += 1;
            progress(done as u32 + 1, total);
        }
        Ok(report)
    }

    async fn rules_in_force(
        &self,
        schedule: &schedule::Model,
        at: DateTime<Utc>,
    ) -> Result<ResolvedRules, BookingError> {
        self.rules_for(schedule, at).await
    }
}

/// Holder lists compare without regard to order.
fn same_stock(a: &ScheduleStock, b: &ScheduleStock) -> bool {
    let mut left = a.holders.clone();
    let mut right = b.holders.clone();
    left.sort_by_key(|h| h.booking_id);
    right.sort_by_key(|h| h.booking_id);
    a.remaining == b.remaining && left == right
}
