//! No-show suspensions of a real-name identity: where it stands on the ladder, and operators
//! lifting a suspension with a reason.
//!
//! # Decisions
//!
//! - **Each no-show is judged under its own booking's rules.** The n-th no-show of a Shanghai
//!   calendar year (counted over every hospital, as quotas are) suspends for the n-th rung of the
//!   ladder in the rule version *that booking* recorded. The suspension is then a property of the
//!   identity alone: the booking check and the operator's view agree whatever hospital the next
//!   booking is for, and a dispute is judged by rules the patient was shown when booking.
//! - **A lift covers the suspension in force, not the future.** It records the no-show the
//!   suspension follows, the end it had, and `covers_through`: the latest no-show it forgives.
//!   A later no-show starts a new suspension that the old lift does not reach. Lifted no-shows
//!   still count for the ladder: a lift forgives the suspension, not the missed visit.
//! - **Hospital-scoped operators** see a patient only when the identity has a booking at their
//!   hospital (others get "no such patient"), and may lift only a suspension whose running
//!   no-shows were all at their hospital: one hospital cannot forgive a visit missed at another.
//! - The lift and its audit row commit together; a suspension is lifted at most once (a unique
//!   index), so two operators lifting at the same moment leave one lift and one "not suspended".

mod reason;
mod record;
mod standing;

pub use reason::{LIFT_REASON_MAX_CHARS, LiftReason};
pub use record::RecordError;
pub(crate) use record::{judged, suspended_until};
pub use standing::{NoShow, RankedNoShow, Standing, Suspension, assess};

use super::entity::{booking, suspension_lift};
use super::service::BookingError;
use crate::accounts::entity::patient;
use crate::catalog::entity::schedule;
use crate::clock::Clock;
use crate::operators::ActingOperator;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set, SqlErr,
    TransactionTrait,
};
use std::sync::Arc;
use uuid::Uuid;

/// One lift, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lift {
    pub id: Uuid,
    /// The no-show the lifted suspension followed.
    pub no_show_booking_id: Uuid,
    /// When the lifted suspension would have ended.
    pub suspended_until: DateTime<Utc>,
    /// No-shows up to this instant are covered.
    pub covers_through: DateTime<Utc>,
    pub operator_id: Uuid,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl From<suspension_lift::Model> for Lift {
    fn from(m: suspension_lift::Model) -> Self {
        Self {
            id: m.id,
            no_show_booking_id: m.no_show_booking_id,
            suspended_until: m.suspended_until,
            covers_through: m.covers_through,
            operator_id: m.operator_id,
            reason: m.reason,
            created_at: m.created_at,
        }
    }
}

/// What an operator sees about a patient's identity: its no-shows, the suspension in force if
/// any, and the lifts so far (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSuspension {
    pub patient_id: Uuid,
    pub standing: Standing,
    pub lifts: Vec<Lift>,
}

#[derive(Debug, thiserror::Error)]
pub enum SuspensionError {
    #[error("no such patient")]
    PatientNotFound,
    #[error("a reason is required to lift a suspension")]
    ReasonRequired,
    #[error("a reason may be at most {max_chars} characters")]
    ReasonTooLong { max_chars: usize },
    #[error("no suspension is in force")]
    NotSuspended,
    #[error("the suspension follows no-shows at another hospital")]
    OutsideHospital,
    #[error("corrupted suspension data: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<RecordError> for SuspensionError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Database(e) => SuspensionError::Database(e),
            RecordError::Corrupted(what) => SuspensionError::Corrupted(what),
        }
    }
}

impl From<RecordError> for BookingError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Database(e) => BookingError::Database(e),
            RecordError::Corrupted(what) => BookingError::Corrupted(what),
        }
    }
}

#[derive(Clone)]
pub struct Suspensions {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Suspensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suspensions").finish_non_exhaustive()
    }
}

impl Suspensions {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Where the patient's identity stands now.
    pub async fn of_patient(
        &self,
        patient_id: Uuid,
        acting: &ActingOperator,
    ) -> Result<PatientSuspension, SuspensionError> {
        let identity = self.identity_for(patient_id, acting).await?;
        let no_shows = record::no_shows(&self.db, &identity).await?;
        let lifts = record::lifts(&self.db, &identity).await?;
        Ok(PatientSuspension {
            patient_id,
            standing: assess(no_shows, record::lifted_through(&lifts), self.clock.now()),
            lifts: lifts.into_iter().map(Lift::from).collect(),
        })
    }

    /// Lifts the suspension in force for the patient's identity, with the audit row in the same
    /// transaction. Refused when the reason is blank or too long, or nothing is in force.
    pub async fn lift(
        &self,
        patient_id: Uuid,
        reason: &str,
        acting: &ActingOperator,
    ) -> Result<Lift, SuspensionError> {
        let reason = LiftReason::parse(reason)?;
        let identity = self.identity_for(patient_id, acting).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let no_shows = record::no_shows(&txn, &identity).await?;
        let lifts = record::lifts(&txn, &identity).await?;
        let suspension = assess(no_shows, record::lifted_through(&lifts), now)
            .suspension
            .ok_or(SuspensionError::NotSuspended)?;
        if suspension
            .hospitals
            .iter()
            .any(|hospital| !acting.works_for(*hospital))
        {
            return Err(SuspensionError::OutsideHospital);
        }
        let row = suspension_lift::Model {
            id: Uuid::now_v7(),
            identity_hash: identity,
            no_show_booking_id: suspension.follows,
            suspended_until: suspension.until,
            covers_through: suspension.covers_through,
            operator_id: acting.operator_id,
            reason: reason.as_str().to_owned(),
            created_at: now,
        };
        let inserted = suspension_lift::Entity::insert(suspension_lift::ActiveModel {
            id: Set(row.id),
            identity_hash: Set(row.identity_hash.clone()),
            no_show_booking_id: Set(row.no_show_booking_id),
            suspended_until: Set(row.suspended_until),
            covers_through: Set(row.covers_through),
            operator_id: Set(row.operator_id),
            reason: Set(row.reason.clone()),
            created_at: Set(row.created_at),
        })
        .exec_without_returning(&txn)
        .await;
        match inserted {
            Ok(_) => {}
            // Another operator lifted this very suspension a moment ago.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(SuspensionError::NotSuspended);
            }
            Err(e) => return Err(e.into()),
        }
        acting
            .audit(
                &txn,
                "suspension.lift",
                "patient",
                &patient_id.to_string(),
                serde_json::json!({
                    "lift_id": row.id,
                    "no_show_booking_id": row.no_show_booking_id,
                    "suspended_until": row.suspended_until,
                    "covers_through": row.covers_through,
                    "reason": row.reason,
                }),
            )
            .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// The real-name identity of a patient (deleted ones too: their no-shows still count) the
    /// operator may see.
    async fn identity_for(
        &self,
        patient_id: Uuid,
        acting: &ActingOperator,
    ) -> Result<String, SuspensionError> {
        let identity = patient::Entity::find_by_id(patient_id)
            .one(&self.db)
            .await?
            .ok_or(SuspensionError::PatientNotFound)?
            .id_number_hash;
        if let Some(hospital_id) = acting.hospital_id {
            let at_hospital = Query::select()
                .column(schedule::Column::Id)
                .from(schedule::Entity)
                .and_where(schedule::Column::HospitalId.eq(hospital_id))
                .to_owned();
            let bookings_there = booking::Entity::find()
                .filter(booking::Column::IdentityHash.eq(identity.as_str()))
                .filter(booking::Column::ScheduleId.in_subquery(at_hospital))
                .count(&self.db)
                .await?;
            if bookings_there == 0 {
                return Err(SuspensionError::PatientNotFound);
            }
        }
        Ok(identity)
    }
}
