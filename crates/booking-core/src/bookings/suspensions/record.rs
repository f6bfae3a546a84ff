//! An identity's no-shows and suspension lifts, read from the database of record.

use super::standing::{self, NoShow};
use crate::bookings::entity::{booking, suspension_lift};
use crate::bookings::rule_sets::{StoredRulesError, rules_by_label};
use crate::bookings::status::BookingStatus;
use crate::catalog::entity::schedule;
use crate::rules::RuleSet;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("corrupted no-show record: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<StoredRulesError> for RecordError {
    fn from(error: StoredRulesError) -> Self {
        match error {
            StoredRulesError::Database(e) => RecordError::Database(e),
            e @ StoredRulesError::Corrupted(_) => RecordError::Corrupted(e.to_string()),
        }
    }
}

/// Every booking of the identity that ended as `no_show`, with the rules it was made under.
/// All of them, not just this year's: a long rung of last year may still be running.
pub(super) async fn no_shows(
    conn: &impl ConnectionTrait,
    identity: &str,
) -> Result<Vec<NoShow>, RecordError> {
    let rows = booking::Entity::find()
        .filter(booking::Column::IdentityHash.eq(identity))
        .filter(booking::Column::Status.eq(BookingStatus::NoShow.as_str()))
        .find_also_related(schedule::Entity)
        .all(conn)
        .await?;
    judged(conn, rows).await
}

/// No-show bookings, each with its schedule, as the suspension ladder sees them: with the
/// rules each was made under (read only when there is a no-show at all).
pub(crate) async fn judged(
    conn: &impl ConnectionTrait,
    rows: Vec<(booking::Model, Option<schedule::Model>)>,
) -> Result<Vec<NoShow>, RecordError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rules = rules_by_label(
        conn,
        rows.iter().filter_map(|(b, _)| b.rule_version.as_deref()),
    )
    .await?;
    rows.into_iter()
        .map(|(b, schedule)| {
            let schedule = schedule.ok_or_else(|| {
                RecordError::Corrupted(format!("booking {} has no schedule", b.id))
            })?;
            let rules = match &b.rule_version {
                Some(label) => rules.get(label).cloned().ok_or_else(|| {
                    RecordError::Corrupted(format!("booking {}: rule version {label:?}", b.id))
                })?,
                None => RuleSet::default(),
            };
            Ok(NoShow {
                booking_id: b.id,
                hospital_id: schedule.hospital_id,
                visit_date: schedule.visit_date,
                // A `no_show` booking changes no more: its last update is when it was marked.
                at: b.updated_at,
                rule_version: b.rule_version,
                rules,
            })
        })
        .collect()
}

/// The lifts recorded for the identity, newest first.
pub(super) async fn lifts(
    conn: &impl ConnectionTrait,
    identity: &str,
) -> Result<Vec<suspension_lift::Model>, DbErr> {
    suspension_lift::Entity::find()
        .filter(suspension_lift::Column::IdentityHash.eq(identity))
        .order_by_desc(suspension_lift::Column::CreatedAt)
        .order_by_desc(suspension_lift::Column::Id)
        .all(conn)
        .await
}

/// Through when the identity's no-shows are forgiven.
pub(super) fn lifted_through(lifts: &[suspension_lift::Model]) -> Option<DateTime<Utc>> {
    lifts.iter().map(|l| l.covers_through).max()
}

/// Until when the identity may not book at `now`, given its no-shows (`judged`), lifts taken
/// into account. Reads nothing when the identity has never missed a visit, which is nearly
/// everyone.
pub(crate) async fn suspended_until(
    conn: &impl ConnectionTrait,
    identity: &str,
    no_shows: Vec<NoShow>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, RecordError> {
    if no_shows.is_empty() {
        return Ok(None);
    }
    let lifts = lifts(conn, identity).await?;
    Ok(standing::assess(no_shows, lifted_through(&lifts), now)
        .suspension
        .map(|s| s.until))
}
