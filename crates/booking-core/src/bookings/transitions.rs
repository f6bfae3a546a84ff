//! Every status change is a conditional update (`… WHERE id = ? AND status = ?`) whose affected
//! row count decides whether it happened, plus an append-only event row in the same
//! transaction. Two racing callers cannot both move one booking.

use super::entity::{booking, booking_event};
use super::status::BookingStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    UpdateMany,
};
use uuid::Uuid;

/// Who caused a transition, as the event log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Patient(Uuid),
    Operator(Uuid),
    System(&'static str),
    Provider(&'static str),
}

impl Actor {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Actor::Patient(id) => ("patient", Some(id.to_string())),
            Actor::Operator(id) => ("operator", Some(id.to_string())),
            Actor::System(job) => ("system", Some((*job).to_owned())),
            Actor::Provider(name) => ("provider", Some((*name).to_owned())),
        }
    }
}

/// One requested move of the state machine.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub booking_id: Uuid,
    pub from: BookingStatus,
    pub to: BookingStatus,
    pub actor: &'a Actor,
    pub reason: Option<&'a str>,
    pub provider_txn_id: Option<&'a str>,
    pub details: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// Applies the transition if the booking is still in `from`. Returns whether it was applied;
/// the event is written only then.
pub async fn apply<C: ConnectionTrait>(conn: &C, t: Transition<'_>) -> Result<bool, DbErr> {
    apply_with(conn, t, |update| update).await
}

/// [`apply`], with more columns set by the same conditional update (`also` adds them), so a
/// value that belongs to the transition (a visit number) costs no statement of its own.
pub(crate) async fn apply_with<C: ConnectionTrait>(
    conn: &C,
    t: Transition<'_>,
    also: impl FnOnce(UpdateMany<booking::Entity>) -> UpdateMany<booking::Entity>,
) -> Result<bool, DbErr> {
    debug_assert!(
        t.from.can_become(t.to),
        "{:?} → {:?} is not an edge of the state machine",
        t.from,
        t.to
    );
    let mut update = booking::Entity::update_many()
        .col_expr(booking::Column::Status, Expr::value(t.to.as_str()))
        .col_expr(booking::Column::UpdatedAt, Expr::value(t.at))
        .filter(booking::Column::Id.eq(t.booking_id))
        .filter(booking::Column::Status.eq(t.from.as_str()));
    update = match t.to {
        BookingStatus::Confirmed => {
            update.col_expr(booking::Column::ConfirmedAt, Expr::value(t.at))
        }
        BookingStatus::Cancelled => {
            update.col_expr(booking::Column::CancelledAt, Expr::value(t.at))
        }
        BookingStatus::CheckedIn => {
            update.col_expr(booking::Column::CheckedInAt, Expr::value(t.at))
        }
        _ => update,
    };
    if also(update).exec(conn).await?.rows_affected != 1 {
        return Ok(false);
    }
    event_row(
        t.booking_id,
        Some(t.from),
        t.to,
        t.actor,
        t.reason,
        t.provider_txn_id,
        t.details,
        t.at,
    )
    .insert(conn)
    .await?;
    Ok(true)
}

/// An event row, to append with `.insert(conn)` (or many at once). Also used for a booking's
/// creation (`from` = `None`).
#[allow(clippy::too_many_arguments)]
pub fn event_row(
    booking_id: Uuid,
    from: Option<BookingStatus>,
    to: BookingStatus,
    actor: &Actor,
    reason: Option<&str>,
    provider_txn_id: Option<&str>,
    details: Option<serde_json::Value>,
    at: DateTime<Utc>,
) -> booking_event::ActiveModel {
    let (actor_type, actor_id) = actor.parts();
    let provider = match actor {
        Actor::Provider(name) => Some((*name).to_owned()),
        _ => None,
    };
    booking_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        booking_id: Set(booking_id),
        actor_type: Set(actor_type.to_owned()),
        actor_id: Set(actor_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        reason: Set(reason.map(str::to_owned)),
        provider: Set(provider),
        provider_txn_id: Set(provider_txn_id.map(str::to_owned)),
        details: Set(details.map(|d| d.to_string())),
        created_at: Set(at),
    }
}
