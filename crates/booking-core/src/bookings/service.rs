//! The booking service: create (hold) a booking, read the caller's bookings, cancel, expire
//! holds, and warm the inventory from the database.

use super::entity::{booking, booking_event};
use super::out_trade_no::new_out_trade_no;
use super::read_cache::{CachedSchedule, ReadCache};
use super::record_batch::{Job, RecordQueue, record_queue};
use super::rule_sets::StoredRulesError;
use super::status::BookingStatus;
use super::transitions::{self, Actor, Transition};
use crate::accounts::Channel;
use crate::accounts::entity::patient;
use crate::catalog::ScheduleStatus;
use crate::catalog::entity::{schedule, schedule_segment};
use crate::clock::Clock;
use crate::inventory::{HoldOutcome, HoldState, HolderEntry, ScheduleStock, SlotInventory};
use crate::money::Fen;
use crate::paging::{Cursor, Page, PageRequest};
use crate::rules::{
    self, ActiveBooking, BookingTarget, IdentityFacts, ResolvedRules, RuleRefusal, ScheduleFacts,
    VersionedRuleSet,
};
use chrono::{DateTime, NaiveDate, Utc};
use kv_store::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait, PgFunc, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewBooking {
    pub user_id: Uuid,
    pub patient_id: Uuid,
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub channel: Channel,
}

/// A booking as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub status: BookingStatus,
    pub channel: Channel,
    pub out_trade_no: String,
    pub amount: Fen,
    pub hold_expires_at: DateTime<Utc>,
    pub visit_number: Option<u32>,
    pub rule_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<booking::Model> for Booking {
    type Error = BookingError;
    fn try_from(m: booking::Model) -> Result<Self, BookingError> {
        Ok(Self {
            id: m.id,
            patient_id: m.patient_id,
            schedule_id: m.schedule_id,
            segment_id: m.segment_id,
            status: m.status.parse().map_err(BookingError::Corrupted)?,
            channel: m
                .channel
                .parse()
                .map_err(|_| BookingError::Corrupted(format!("channel {:?}", m.channel)))?,
            out_trade_no: m.out_trade_no,
            amount: Fen(m.amount_fen),
            hold_expires_at: m.hold_expires_at,
            visit_number: m.visit_number.and_then(|n| u32::try_from(n).ok()),
            rule_version: m.rule_version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("no such patient on this account")]
    PatientNotFound,
    #[error("no such schedule")]
    ScheduleNotFound,
    #[error("no such time segment in this schedule")]
    SegmentNotFound,
    #[error("no such booking")]
    NotFound,
    #[error("refused by the booking rules: {}", .0.code)]
    Refused(RuleRefusal),
    #[error("no place left in this time segment")]
    SoldOut,
    #[error("this patient already holds booking {booking_id} in this schedule")]
    AlreadyBooked { booking_id: Uuid },
    #[error("a {status:?} booking cannot be cancelled")]
    NotCancellable { status: BookingStatus },
    #[error("the booking is {status:?}, not confirmed")]
    NotConfirmed { status: BookingStatus },
    #[error("the booking has already checked in")]
    AlreadyCheckedIn,
    #[error("the visit is on {visit_date}, not today")]
    WrongDay { visit_date: NaiveDate },
    #[error(transparent)]
    VisitCode(#[from] crate::checkin::VisitCodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("corrupted booking data: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<RuleRefusal> for BookingError {
    fn from(refusal: RuleRefusal) -> Self {
        BookingError::Refused(refusal)
    }
}

/// A place held in Redis for a booking not yet written (`hold_place`, then `record_held`).
#[derive(Clone)]
pub(crate) struct HeldPlace {
    pub(super) request: NewBooking,
    pub(super) schedule: Arc<CachedSchedule>,
    pub(super) identity: String,
    pub(super) booking_id: Uuid,
    hold_expires_at: DateTime<Utc>,
    resolved: ResolvedRules,
    pub(super) now: DateTime<Utc>,
}

impl HeldPlace {
    /// The quotas, against what the database of record holds for the identity and account.
    pub(super) fn check_quotas(&self, facts: &IdentityFacts) -> Result<(), RuleRefusal> {
        let schedule = &self.schedule.schedule;
        let target = BookingTarget {
            visit_date: schedule.visit_date,
            hospital_id: schedule.hospital_id,
            department_id: schedule.department_id,
        };
        rules::check_quotas(&self.resolved.rules, self.now, &target, facts)
    }

    /// The booking row and its first event, `pending_payment`.
    pub(super) fn rows(&self) -> (booking::Model, booking_event::ActiveModel) {
        let (request, schedule, now) = (&self.request, &self.schedule.schedule, self.now);
        let row = booking::Model {
            id: self.booking_id,
            user_id: request.user_id,
            patient_id: request.patient_id,
            identity_hash: self.identity.clone(),
            schedule_id: schedule.id,
            segment_id: request.segment_id,
            channel: request.channel.as_str().to_owned(),
            status: BookingStatus::PendingPayment.as_str().to_owned(),
            out_trade_no: new_out_trade_no(),
            amount_fen: schedule.fee_fen,
            hold_expires_at: self.hold_expires_at,
            visit_number: None,
            rule_version: Some(self.resolved.version_label.clone()),
            idempotency_key: None,
            confirmed_at: None,
            cancelled_at: None,
            checked_in_at: None,
            created_at: now,
            updated_at: now,
        };
        let event = transitions::event_row(
            self.booking_id,
            None,
            BookingStatus::PendingPayment,
            &Actor::Patient(request.user_id),
            Some("place held"),
            None,
            Some(
                serde_json::json!({"rule_version": self.resolved.version_label, "hold_expires_at": self.hold_expires_at}),
            ),
            now,
        );
        (row, event)
    }
}

#[derive(Clone)]
pub struct BookingService {
    pub(crate) db: DatabaseConnection,
    pub(crate) inventory: Arc<dyn SlotInventory>,
    pub(crate) clock: Arc<dyn Clock>,
    cache: Arc<ReadCache>,
    recorder: Arc<RecordQueue>,
}

impl std::fmt::Debug for BookingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingService").finish_non_exhaustive()
    }
}

const LIVE: [&str; 3] = ["pending_payment", "confirmed", "checked_in"];
const NO_SHOW: &str = BookingStatus::NoShow.as_str();

impl BookingService {
    pub fn new(
        db: DatabaseConnection,
        inventory: Arc<dyn SlotInventory>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            inventory,
            clock,
            cache: Arc::new(ReadCache::default()),
            recorder: Arc::new(record_queue()),
        }
    }

    /// Holds a place: rules first, then the Redis front line, then the database transaction
    /// (quotas under a per-identity lock, the conditional capacity update, the booking and its
    /// event). Whatever refuses after the Redis hold gives the hold back.
    pub async fn create(&self, request: NewBooking) -> Result<Booking, BookingError> {
        Ok(self.create_for_payer(request).await?.0)
    }

    /// [`BookingService::create`], also answering who pays: the account's platform user id
    /// (openid, Alipay user id), read by the booking transaction's account lock.
    pub(crate) async fn create_for_payer(
        &self,
        request: NewBooking,
    ) -> Result<(Booking, String), BookingError> {
        let held = self.hold_place(request).await?;
        self.record_held(held).await
    }

    /// The rules that need no database, then the Redis hold: a winner of the rush leaves here
    /// with its place held, before any database work.
    async fn hold_place(&self, request: NewBooking) -> Result<HeldPlace, BookingError> {
        let now = self.clock.now();
        let identity = self
            .identity_of(request.user_id, request.patient_id)
            .await?;
        let cached = self.schedule_for_booking(request.schedule_id).await?;
        let schedule = &cached.schedule;
        let segment = cached
            .segments
            .iter()
            .find(|s| s.id == request.segment_id)
            .ok_or(BookingError::SegmentNotFound)?;
        let resolved = rules::resolve(
            &cached.rule_candidates,
            schedule.hospital_id,
            schedule.department_id,
            schedule.doctor_id,
            now,
        );
        rules::check_bookable(
            &resolved.rules,
            now,
            &ScheduleFacts {
                visit_date: schedule.visit_date,
                status: schedule
                    .status
                    .parse::<ScheduleStatus>()
                    .map_err(|e| BookingError::Corrupted(e.to_string()))?,
                release_at: schedule.release_at,
                segment_start: segment.start_time,
            },
        )?;

        let booking_id = Uuid::now_v7();
        let hold_expires_at = rules::hold_expires_at(&resolved.rules, now);
        self.hold_in_inventory(schedule, segment.id, &identity, booking_id, hold_expires_at)
            .await?;
        Ok(HeldPlace {
            request,
            schedule: Arc::clone(&cached),
            identity,
            booking_id,
            hold_expires_at,
            resolved,
            now,
        })
    }

    /// The database transaction behind a Redis hold: quotas under the identity's lock, the
    /// booking, its event and the conditional capacity update; on PostgreSQL together with
    /// the other holds waiting (`record_batch`). If the database refuses, the hold is given back.
    async fn record_held(&self, held: HeldPlace) -> Result<(Booking, String), BookingError> {
        let result = match self.db.get_database_backend() {
            DbBackend::Postgres => self.record_together(&held).await,
            _ => self.create_in_database(&held).await,
        };
        if result.is_err() {
            // The database refused: the Redis hold must not leak.
            let booking_id = held.booking_id;
            if let Err(e) = self
                .inventory
                .release(held.schedule.schedule.id, &held.identity, booking_id)
                .await
            {
                tracing::error!(%booking_id, error = %e, "could not give back a Redis hold; reconcile will repair it");
            }
        }
        result
    }

    async fn record_together(&self, held: &HeldPlace) -> Result<(Booking, String), BookingError> {
        let (reply, answer) = oneshot::channel();
        let service = self.clone();
        self.recorder.submit(
            Job {
                held: held.clone(),
                reply,
            },
            move |batch| {
                let service = service.clone();
                async move { service.record_batch(batch).await }
            },
        );
        match answer.await {
            Ok(Some(decided)) => decided,
            Ok(None) | Err(_) => self.create_in_database(held).await,
        }
    }

    /// The release-time rush is mostly people too late: this answers them from one Redis read,
    /// before any database work; the gateway asks it before its idempotency store, so `create`
    /// does not ask again (its Redis hold refuses a sold-out segment all the same). A
    /// patient who already holds a place hears "sold out" rather than "already booked" once
    /// nothing is left; both mean no new place.
    pub async fn sold_out(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
    ) -> Result<bool, BookingError> {
        if self.cache.sold_out(schedule_id, segment_id) {
            return Ok(true);
        }
        let sold_out = self.inventory.remaining(schedule_id, segment_id).await? == Some(0);
        if sold_out {
            self.cache.remember_sold_out(schedule_id, segment_id);
        }
        Ok(sold_out)
    }

    /// A place of the segment went back to the inventory: this process stops answering
    /// "sold out" from memory.
    pub(crate) fn place_returned(&self, schedule_id: Uuid, segment_id: Uuid) {
        self.cache.forget_sold_out(schedule_id, segment_id);
    }

    async fn hold_in_inventory(
        &self,
        schedule: &schedule::Model,
        segment_id: Uuid,
        identity: &str,
        booking_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), BookingError> {
        for attempt in 0..2 {
            match self
                .inventory
                .hold(
                    schedule.id,
                    segment_id,
                    identity,
                    booking_id,
                    expires_at.timestamp_millis(),
                )
                .await?
            {
                HoldOutcome::Held => return Ok(()),
                HoldOutcome::SoldOut => return Err(BookingError::SoldOut),
                HoldOutcome::AlreadyHolding { booking_id, .. } => {
                    return Err(BookingError::AlreadyBooked { booking_id });
                }
                HoldOutcome::NotLoaded | HoldOutcome::UnknownSegment if attempt == 0 => {
                    let stock = self.stock_from_database(schedule.id).await?;
                    self.inventory.load_if_absent(schedule.id, &stock).await?;
                }
                HoldOutcome::NotLoaded | HoldOutcome::UnknownSegment => {
                    return Err(BookingError::Corrupted(format!(
                        "schedule {} would not load into the inventory",
                        schedule.id
                    )));
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// The one-at-a-time path: SQLite, and on PostgreSQL whatever a batch did not decide.
    async fn create_in_database(
        &self,
        held: &HeldPlace,
    ) -> Result<(Booking, String), BookingError> {
        let txn = self.db.begin().await?;
        let payer = lock_account(&txn, &held.identity, &held.request, held.now)
            .await?
            .ok_or(BookingError::PatientNotFound)?;
        let facts = identity_facts(&txn, &[(&held.identity, held.request.user_id)], held.now)
            .await?
            .remove(0);
        held.check_quotas(&facts)?;
        let (row, event) = held.rows();
        row.clone()
            .into_active_model()
            .insert(&txn)
            .await
            .map_err(|e| match live_duplicate(&e) {
                true => BookingError::AlreadyBooked {
                    booking_id: Uuid::nil(),
                },
                false => BookingError::Database(e),
            })?;
        event.insert(&txn).await?;
        // Last before the commit: at a release-time rush every winner of a segment queues on
        // this one counter row, so its lock is held for as short a time as possible.
        if !take_place(&txn, held.request.segment_id).await? {
            return Err(BookingError::SoldOut);
        }
        txn.commit().await?;
        Ok((row.try_into()?, payer))
    }

    /// The caller's own bookings, newest first.
    pub async fn list(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Booking>, BookingError> {
        let mut select = booking::Entity::find()
            .filter(booking::Column::UserId.eq(user_id))
            .order_by_desc(booking::Column::Id);
        match page.after {
            None => {}
            Some(Cursor::After(id)) => select = select.filter(booking::Column::Id.lt(id)),
            Some(Cursor::AfterDated(..)) => return Err(BookingError::NotFound),
        }
        let mut rows = select.limit(page.limit + 1).all(&self.db).await?;
        let more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| Cursor::After(r.id).encode())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(Booking::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// One of the caller's bookings; anyone else's is simply not found.
    pub async fn get(&self, user_id: Uuid, booking_id: Uuid) -> Result<Booking, BookingError> {
        booking::Entity::find_by_id(booking_id)
            .filter(booking::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?
            .ok_or(BookingError::NotFound)?
            .try_into()
    }

    /// Cancels an unpaid hold and gives the place back. Paid bookings are cancelled through
    /// `PaymentService::cancel`, which refunds them.
    pub async fn cancel(&self, user_id: Uuid, booking_id: Uuid) -> Result<Booking, BookingError> {
        let booking = self.get(user_id, booking_id).await?;
        match booking.status {
            BookingStatus::PendingPayment => {}
            status => return Err(BookingError::NotCancellable { status }),
        }
        let actor = Actor::Patient(user_id);
        let released = self
            .release_hold(&booking, &actor, "cancelled by the patient")
            .await?;
        if !released {
            // Someone else moved it first (payment, expiry): report what it is now.
            let now = self.get(user_id, booking_id).await?;
            return Err(BookingError::NotCancellable { status: now.status });
        }
        self.get(user_id, booking_id).await
    }

    /// `pending_payment → cancelled`, the place back in the database and then in Redis.
    pub(crate) async fn release_hold(
        &self,
        booking: &Booking,
        actor: &Actor,
        reason: &str,
    ) -> Result<bool, BookingError> {
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let applied = transitions::apply(
            &txn,
            Transition {
                booking_id: booking.id,
                from: BookingStatus::PendingPayment,
                to: BookingStatus::Cancelled,
                actor,
                reason: Some(reason),
                provider_txn_id: None,
                details: None,
                at: now,
            },
        )
        .await?;
        if !applied {
            return Ok(false);
        }
        give_back_place(&txn, booking.segment_id).await?;
        txn.commit().await?;
        let identity = booking_identity(&self.db, booking.id).await?;
        self.inventory
            .release(booking.schedule_id, &identity, booking.id)
            .await?;
        self.place_returned(booking.schedule_id, booking.segment_id);
        Ok(true)
    }

    /// Cancels holds whose payment time ran out. Safe on several replicas at once: each
    /// booking moves by a conditional update, so only one replica's move counts, and on
    /// PostgreSQL the candidates are claimed with `FOR UPDATE SKIP LOCKED` so replicas share the
    /// work instead of racing for it.
    pub async fn expire_holds(&self, limit: u64) -> Result<Vec<Booking>, BookingError> {
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let candidates: Vec<booking::Model> = match txn.get_database_backend() {
            DbBackend::Postgres => {
                let sql = "SELECT * FROM bookings WHERE status = 'pending_payment' AND hold_expires_at < $1 \
                           ORDER BY hold_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED";
                booking::Entity::find()
                    .from_raw_sql(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        sql,
                        [now.into(), (limit as i64).into()],
                    ))
                    .all(&txn)
                    .await?
            }
            _ => {
                booking::Entity::find()
                    .filter(booking::Column::Status.eq(BookingStatus::PendingPayment.as_str()))
                    .filter(booking::Column::HoldExpiresAt.lt(now))
                    .order_by_asc(booking::Column::HoldExpiresAt)
                    .limit(limit)
                    .all(&txn)
                    .await?
            }
        };
        let actor = Actor::System("hold_sweeper");
        let mut expired = Vec::new();
        for row in candidates {
            let applied = transitions::apply(
                &txn,
                Transition {
                    booking_id: row.id,
                    from: BookingStatus::PendingPayment,
                    to: BookingStatus::Cancelled,
                    actor: &actor,
                    reason: Some("hold expired before payment"),
                    provider_txn_id: None,
                    details: None,
                    at: now,
                },
            )
            .await?;
            if applied {
                give_back_place(&txn, row.segment_id).await?;
                expired.push(row);
            }
        }
        txn.commit().await?;
        for row in &expired {
            self.inventory
                .release(row.schedule_id, &row.identity_hash, row.id)
                .await?;
            self.place_returned(row.schedule_id, row.segment_id);
        }
        expired.into_iter().map(Booking::try_from).collect()
    }

    /// Loads every upcoming schedule the inventory does not know yet (on start).
    pub async fn warm_inventory(&self, from: NaiveDate) -> Result<u32, BookingError> {
        let ids: Vec<Uuid> = schedule::Entity::find()
            .filter(schedule::Column::VisitDate.gte(from))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let mut loaded = 0;
        for id in ids {
            let stock = self.stock_from_database(id).await?;
            if self.inventory.load_if_absent(id, &stock).await? {
                loaded += 1;
            }
        }
        Ok(loaded)
    }

    /// The schedule's stock as the database sees it.
    pub async fn stock_from_database(
        &self,
        schedule_id: Uuid,
    ) -> Result<ScheduleStock, BookingError> {
        let mut remaining = BTreeMap::new();
        for segment in schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(schedule_id))
            .all(&self.db)
            .await?
        {
            remaining.insert(
                segment.id,
                u32::try_from(segment.capacity - segment.booked - segment.reserved).unwrap_or(0),
            );
        }
        let holders = booking::Entity::find()
            .filter(booking::Column::ScheduleId.eq(schedule_id))
            .filter(booking::Column::Status.is_in(LIVE))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| HolderEntry {
                state: if b.status == BookingStatus::PendingPayment.as_str() {
                    HoldState::Held {
                        expires_at_ms: b.hold_expires_at.timestamp_millis(),
                    }
                } else {
                    HoldState::Owned
                },
                holder: b.identity_hash,
                booking_id: b.id,
                segment_id: b.segment_id,
            })
            .collect();
        Ok(ScheduleStock { remaining, holders })
    }

    /// The rule set in force for this schedule at `at`: the most specific scope, the newest
    /// effective version.
    pub(crate) async fn rules_for(
        &self,
        schedule: &schedule::Model,
        at: DateTime<Utc>,
    ) -> Result<ResolvedRules, BookingError> {
        let candidates = self.rule_candidates(schedule).await?;
        Ok(rules::resolve(
            &candidates,
            schedule.hospital_id,
            schedule.department_id,
            schedule.doctor_id,
            at,
        ))
    }

    /// Every rule set of the schedule's hospital, department and doctor; `resolve` picks the one
    /// in force at a given instant.
    async fn rule_candidates(
        &self,
        schedule: &schedule::Model,
    ) -> Result<Vec<VersionedRuleSet>, BookingError> {
        self.rule_candidates_of([schedule]).await
    }

    /// Every rule set that may govern any of `schedules`, in one read.
    pub(crate) async fn rule_candidates_of<'a>(
        &self,
        schedules: impl IntoIterator<Item = &'a schedule::Model>,
    ) -> Result<Vec<VersionedRuleSet>, BookingError> {
        super::rule_sets::candidates_for(&self.db, schedules)
            .await
            .map_err(|e| match e {
                StoredRulesError::Database(e) => BookingError::Database(e),
                corrupted => BookingError::Corrupted(corrupted.to_string()),
            })
    }

    /// The schedule, its segments and rule sets, from the read cache when fresh.
    async fn schedule_for_booking(
        &self,
        schedule_id: Uuid,
    ) -> Result<Arc<CachedSchedule>, BookingError> {
        if let Some(hit) = self.cache.schedule(schedule_id) {
            return Ok(hit);
        }
        let schedule = schedule::Entity::find_by_id(schedule_id)
            .one(&self.db)
            .await?
            .ok_or(BookingError::ScheduleNotFound)?;
        let segments = schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.eq(schedule_id))
            .all(&self.db)
            .await?;
        let rule_candidates = self.rule_candidates(&schedule).await?;
        let cached = Arc::new(CachedSchedule {
            schedule,
            segments,
            rule_candidates,
        });
        self.cache.remember_schedule(cached.clone());
        Ok(cached)
    }

    /// The real-name identity a booking for this patient counts against; the patient must be the
    /// caller's own.
    async fn identity_of(&self, user_id: Uuid, patient_id: Uuid) -> Result<String, BookingError> {
        if let Some(identity) = self.cache.identity(user_id, patient_id) {
            return Ok(identity);
        }
        let patient = patient::Entity::find_by_id(patient_id)
            .filter(patient::Column::UserId.eq(user_id))
            .filter(patient::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or(BookingError::PatientNotFound)?;
        self.cache
            .remember_identity(user_id, patient_id, patient.id_number_hash.clone());
        Ok(patient.id_number_hash)
    }
}

/// Serializes booking attempts of one real-name identity (and one account), so that two
/// simultaneous attempts cannot both pass a quota, and checks that the patient is still the
/// account's (the identity may come from the read cache). PostgreSQL: a transaction-scoped
/// advisory lock on the identity, then the account row. SQLite: the account-row update takes the
/// database's single write lock, which serializes everything. One statement either way, at every
/// booking: answers the account's platform user id (who pays), `None` when the patient is gone.
async fn lock_account(
    txn: &DatabaseTransaction,
    identity: &str,
    request: &NewBooking,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![
        now.into(),
        request.user_id.into(),
        request.patient_id.into(),
    ];
    let sql = match backend {
        // The lock is an uncorrelated condition: PostgreSQL takes it once, before it reads the
        // account row.
        DbBackend::Postgres => {
            values.push(identity.into());
            "WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($4, 0))) \
             UPDATE users SET updated_at = $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM locked) \
             AND EXISTS (SELECT 1 FROM patients WHERE id = $3 AND user_id = $2 \
             AND deleted_at IS NULL) RETURNING platform_user_id"
        }
        _ => {
            "UPDATE users SET updated_at = ?1 WHERE id = ?2 \
             AND EXISTS (SELECT 1 FROM patients WHERE id = ?3 AND user_id = ?2 \
             AND deleted_at IS NULL) RETURNING platform_user_id"
        }
    };
    txn.query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .map(|row| row.try_get::<String>("", "platform_user_id"))
        .transpose()
}

/// What the quota rules need to know about each (identity, account) of `wanted`, in its order.
/// The suspension is the identity's own (see `suspensions`): each no-show judged under its
/// booking's rules, lifts taken into account.
pub(super) async fn identity_facts(
    txn: &DatabaseTransaction,
    wanted: &[(&str, Uuid)],
    now: DateTime<Utc>,
) -> Result<Vec<IdentityFacts>, BookingError> {
    // One read for the quotas and the no-show ladder: the unfinished bookings of the
    // identities or of the accounts, and the identities' missed visits.
    let identities: Vec<String> = wanted.iter().map(|(i, _)| (*i).to_owned()).collect();
    let users: Vec<Uuid> = wanted.iter().map(|(_, u)| *u).collect();
    let rows = booking::Entity::find()
        .filter(booking::Column::Status.is_in(LIVE.into_iter().chain([NO_SHOW])))
        .filter(
            Condition::any()
                .add(one_of(booking::Column::IdentityHash, identities))
                .add(one_of(booking::Column::UserId, users)),
        )
        .find_also_related(schedule::Entity)
        .all(txn)
        .await?;
    let mut all_facts = Vec::with_capacity(wanted.len());
    for (identity, user_id) in wanted {
        let mut facts = IdentityFacts::default();
        let mut no_shows = Vec::new();
        for (booking, schedule) in &rows {
            let own = booking.identity_hash == *identity;
            if booking.status == NO_SHOW {
                if own {
                    no_shows.push((booking.clone(), schedule.clone()));
                }
                continue;
            }
            if own {
                let schedule = schedule.as_ref().ok_or_else(|| {
                    BookingError::Corrupted(format!("booking {} has no schedule", booking.id))
                })?;
                facts.active_bookings.push(ActiveBooking {
                    visit_date: schedule.visit_date,
                    hospital_id: schedule.hospital_id,
                    department_id: schedule.department_id,
                });
            }
            if booking.user_id == *user_id {
                facts.account_active_bookings += 1;
            }
        }
        let no_shows = super::suspensions::judged(txn, no_shows).await?;
        facts.suspended_until =
            super::suspensions::suspended_until(txn, identity, no_shows, now).await?;
        all_facts.push(facts);
    }
    Ok(all_facts)
}

/// `column` equal to one of `values`. A batch's (on PostgreSQL) compares with one array,
/// `= ANY($1)`, so that its statement is the same text, prepared once, whatever its size.
fn one_of<V>(column: booking::Column, mut values: Vec<V>) -> SimpleExpr
where
    V: Into<sea_orm::Value>,
    Vec<V>: Into<sea_orm::Value>,
{
    if values.len() == 1 {
        return column.eq(values.remove(0));
    }
    Expr::col((booking::Entity, column)).eq(PgFunc::any(Expr::val(values)))
}

/// The conditional capacity update: one more place booked if one is left. The database's
/// final guard against overselling.
pub(crate) async fn take_place(txn: &DatabaseTransaction, segment_id: Uuid) -> Result<bool, DbErr> {
    let taken = schedule_segment::Entity::update_many()
        .col_expr(
            schedule_segment::Column::Booked,
            Expr::col(schedule_segment::Column::Booked).add(1),
        )
        .filter(schedule_segment::Column::Id.eq(segment_id))
        .filter(
            Expr::col(schedule_segment::Column::Booked)
                .add(Expr::col(schedule_segment::Column::Reserved))
                .lt(Expr::col(schedule_segment::Column::Capacity)),
        )
        .exec(txn)
        .await?;
    Ok(taken.rows_affected == 1)
}

pub(crate) async fn give_back_place(
    txn: &DatabaseTransaction,
    segment_id: Uuid,
) -> Result<(), DbErr> {
    schedule_segment::Entity::update_many()
        .col_expr(
            schedule_segment::Column::Booked,
            Expr::col(schedule_segment::Column::Booked).sub(1),
        )
        .filter(schedule_segment::Column::Id.eq(segment_id))
        .filter(schedule_segment::Column::Booked.gt(0))
        .exec(txn)
        .await?;
    Ok(())
}

pub(super) async fn booking_identity(
    db: &DatabaseConnection,
    booking_id: Uuid,
) -> Result<String, BookingError> {
    Ok(booking::Entity::find_by_id(booking_id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound)?
        .identity_hash)
}

/// The partial unique index `ux_bookings_live_identity_schedule` refused a second live booking.
pub(crate) fn live_duplicate(error: &DbErr) -> bool {
    let text = error.to_string();
    text.contains("ux_bookings_live_identity_schedule")
        || (text.contains("UNIQUE constraint failed") && text.contains("bookings.schedule_id"))
}
