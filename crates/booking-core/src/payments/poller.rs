//! Lost notifications: orders still open and refunds still pending a while after they were
//! made are asked about at the provider, and what it says is applied like a notification.
//!
//! Safe on several replicas: a row is claimed by a conditional update of its `polled_at`
//! stamp, so within one polling interval only the replica whose update counted asks about it.

use super::entity::{payment, refund};
use super::provider::OrderState;
use super::service::{PaymentError, PaymentService};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// What one polling round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    pub orders_asked: u32,
    pub refunds_asked: u32,
    /// Notices applied from the answers (payments confirmed, refunds completed or failed).
    pub applied: u32,
}

impl PaymentService {
    /// Asks about up to `limit` orders and `limit` refunds older than `stale_after` that no
    /// notification has settled, each at most once per `stale_after`.
    pub async fn poll(
        &self,
        stale_after: Duration,
        limit: u64,
    ) -> Result<PollReport, PaymentError> {
        let now = self.bookings.clock.now();
        let cutoff = now - stale_after;
        let mut report = PollReport::default();

        let orders = payment::Entity::find()
            .filter(payment::Column::Status.eq("created"))
            .filter(payment::Column::CreatedAt.lt(cutoff))
            .filter(unclaimed(payment::Column::PolledAt, cutoff))
            .order_by_asc(payment::Column::CreatedAt)
            .limit(limit)
            .all(&self.bookings.db)
            .await?;
        for order in orders {
            if !self.claim_payment(&order, cutoff, now).await? {
                continue;
            }
            let Some(provider) = self.provider_named(&order.provider) else {
                continue;
            };
            report.orders_asked += 1;
            match provider.query_order(&order.out_trade_no).await {
                Ok(OrderState::Paid(paid)) => {
                    self.apply_paid(provider.name(), &paid).await?;
                    report.applied += 1;
                }
                // Still open: the hold sweeper closes it when the hold ends.
                Ok(OrderState::Open | OrderState::Closed) => {}
                Err(error) => {
                    tracing::warn!(out_trade_no = %order.out_trade_no, %error, "order query failed; asking again next round")
                }
            }
        }

        let refunds = refund::Entity::find()
            .filter(refund::Column::Status.eq("pending"))
            .filter(refund::Column::CreatedAt.lt(cutoff))
            .filter(unclaimed(refund::Column::PolledAt, cutoff))
            .order_by_asc(refund::Column::CreatedAt)
            .limit(limit)
            .all(&self.bookings.db)
            .await?;
        for pending in refunds {
            if !self.claim_refund(&pending, cutoff, now).await? {
                continue;
            }
            let Some(payment) = payment::Entity::find_by_id(pending.payment_id)
                .one(&self.bookings.db)
                .await?
            else {
                continue;
            };
            let Some(provider) = self.provider_named(&payment.provider) else {
                continue;
            };
            report.refunds_asked += 1;
            match provider
                .query_refund(&payment.out_trade_no, &pending.out_refund_no)
                .await
            {
                // Never accepted (the first request was lost): ask for it again; the same
                // refund number keeps the provider from refunding twice.
                Ok(super::RefundState::Unknown) => {
                    self.request_refund(provider.name(), &payment, &pending)
                        .await?;
                }
                Ok(state) => {
                    if self
                        .follow_refund_state(provider.name(), &pending, state)
                        .await?
                        .is_some()
                    {
                        report.applied += 1;
                    }
                }
                Err(error) => {
                    tracing::warn!(out_refund_no = %pending.out_refund_no, %error, "refund query failed; asking again next round")
                }
            }
        }
        Ok(report)
    }

    fn provider_named(&self, name: &str) -> Option<&dyn super::PaymentProvider> {
        let provider = self.providers.by_name(name);
        if provider.is_none() {
            tracing::error!(provider = name, "payment row names an unknown provider");
        }
        provider
    }

    async fn claim_payment(
        &self,
        order: &payment::Model,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, PaymentError> {
        let claimed = payment::Entity::update_many()
            .col_expr(payment::Column::PolledAt, Expr::value(now))
            .filter(payment::Column::Id.eq(order.id))
            .filter(unclaimed(payment::Column::PolledAt, cutoff))
            .exec(&self.bookings.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    async fn claim_refund(
        &self,
        pending: &refund::Model,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, PaymentError> {
        let claimed = refund::Entity::update_many()
            .col_expr(refund::Column::PolledAt, Expr::value(now))
            .filter(refund::Column::Id.eq(pending.id))
            .filter(unclaimed(refund::Column::PolledAt, cutoff))
            .exec(&self.bookings.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }
}

/// Never polled, or last polled before `cutoff`.
fn unclaimed(column: impl ColumnTrait, cutoff: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(column.is_null())
        .add(column.lt(cutoff))
}
