//! The raw callback log: every notification a provider posted, valid or not, written before
//! it is acted on, then completed with what came of it. Operators read it to settle disputes.

use super::entity::callback_log;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set,
};
use uuid::Uuid;

/// One received notification, as it arrived.
#[derive(Debug, Clone)]
pub struct CallbackEntry<'a> {
    pub provider: &'a str,
    /// The `{merchant}` of the callback path, if any.
    pub merchant: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// The headers that matter for verification, as JSON.
    pub headers: serde_json::Value,
    pub raw_body: &'a [u8],
    pub verified: bool,
    /// Why verification failed (the adapter's stable reason), if it did.
    pub reason: Option<&'a str>,
    pub out_trade_no: Option<&'a str>,
    pub provider_txn_id: Option<&'a str>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CallbackLog {
    db: DatabaseConnection,
}

impl CallbackLog {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Writes the entry with outcome `rejected` if it failed verification, else `received`
    /// (to be completed by [`CallbackLog::complete`]).
    pub async fn record(&self, entry: CallbackEntry<'_>) -> Result<Uuid, DbErr> {
        let outcome = if entry.verified {
            "received"
        } else {
            "rejected"
        };
        record_in(&self.db, entry, outcome, None).await
    }

    /// What applying the notification did: `outcome` (e.g. `confirmed`, `duplicate`,
    /// `unknown_order`, `error`), why, and the booking it concerned.
    pub async fn complete(
        &self,
        id: Uuid,
        outcome: &str,
        reason: Option<&str>,
        booking_id: Option<Uuid>,
    ) -> Result<(), DbErr> {
        callback_log::Entity::update_many()
            .col_expr(callback_log::Column::Outcome, Expr::value(outcome))
            .col_expr(callback_log::Column::Reason, Expr::value(reason))
            .col_expr(callback_log::Column::BookingId, Expr::value(booking_id))
            .filter(callback_log::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// Writes the entry on `conn` (a transaction that applies it, say) with its final `outcome`.
pub(crate) async fn record_in<C: ConnectionTrait>(
    conn: &C,
    entry: CallbackEntry<'_>,
    outcome: &str,
    booking_id: Option<Uuid>,
) -> Result<Uuid, DbErr> {
    let mut row = new_row(entry, outcome);
    row.booking_id = Set(booking_id);
    Ok(row.insert(conn).await?.id)
}

/// The row of `entry` with `outcome`, a fresh id and no booking yet.
pub(crate) fn new_row(entry: CallbackEntry<'_>, outcome: &str) -> callback_log::ActiveModel {
    callback_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(entry.provider.to_owned()),
        merchant: Set(entry.merchant.map(str::to_owned)),
        received_at: Set(entry.received_at),
        request_id: Set(entry.request_id.map(str::to_owned)),
        headers: Set(entry.headers.to_string()),
        raw_body: Set(entry.raw_body.to_vec()),
        verified: Set(entry.verified),
        outcome: Set(outcome.to_owned()),
        reason: Set(entry.reason.map(str::to_owned)),
        booking_id: Set(None),
        out_trade_no: Set(entry.out_trade_no.map(str::to_owned)),
        provider_txn_id: Set(entry.provider_txn_id.map(str::to_owned)),
    }
}
