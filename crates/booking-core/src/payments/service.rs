//! The payment service: the booking ↔ payment flow on top of [`BookingService`].

use super::callback_log::{self, CallbackEntry};
use super::confirm_batch::{ConfirmQueue, Job, confirm_queue};
use super::entity::{payment, refund};
use super::notice::{Applied, PaymentNotice};
use super::order_rows::{OrderRowQueue, order_row_queue};
use super::provider::{
    OrderRequest, PaidOrder, PaymentProvider, ProviderError, RefundRequest, RefundState,
};
use crate::accounts::Channel;
use crate::bookings::entity::{booking, booking_event};
use crate::bookings::transitions::{self, Actor, Transition};
use crate::bookings::{
    Booking, BookingError, BookingService, BookingStatus, Confirmation, NewBooking,
    give_back_place, live_duplicate, new_out_trade_no, take_place,
};
use crate::catalog::entity::schedule;
use crate::rules;
use chrono::{DateTime, Utc};
use kv_store::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

/// What the registration fee is called on the payer's receipt.
const ORDER_DESCRIPTION: &str = "门诊挂号费";

/// The provider of each channel: a WeChat booking is paid with WeChat Pay, an Alipay one with
/// Alipay.
pub struct Providers {
    wechat: Arc<dyn PaymentProvider>,
    alipay: Arc<dyn PaymentProvider>,
}

impl Providers {
    pub fn new(wechat: Arc<dyn PaymentProvider>, alipay: Arc<dyn PaymentProvider>) -> Self {
        Self { wechat, alipay }
    }

    pub fn for_channel(&self, channel: Channel) -> &dyn PaymentProvider {
        match channel {
            Channel::Wechat => self.wechat.as_ref(),
            Channel::Alipay => self.alipay.as_ref(),
        }
    }

    pub(super) fn by_name(&self, name: &str) -> Option<&dyn PaymentProvider> {
        [self.wechat.as_ref(), self.alipay.as_ref()]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("no order {0} was opened here")]
    UnknownOrder(String),
    #[error("no refund {0} was asked for here")]
    UnknownRefund(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<rules::RuleRefusal> for PaymentError {
    fn from(refusal: rules::RuleRefusal) -> Self {
        PaymentError::Booking(BookingError::Refused(refusal))
    }
}

#[derive(Clone)]
pub struct PaymentService {
    pub(super) bookings: BookingService,
    pub(super) providers: Arc<Providers>,
    confirmations: Arc<ConfirmQueue>,
    pub(super) order_rows: Arc<OrderRowQueue>,
}

impl std::fmt::Debug for PaymentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentService").finish_non_exhaustive()
    }
}

/// Payment rows that may still be settled: open, or closed by us a moment before the payer paid.
const SETTLEABLE: [&str; 2] = ["created", "closed"];

impl PaymentService {
    pub fn new(bookings: BookingService, providers: Providers) -> Self {
        Self {
            bookings,
            providers: Arc::new(providers),
            confirmations: Arc::new(confirm_queue()),
            order_rows: Arc::new(order_row_queue()),
        }
    }

    pub fn bookings(&self) -> &BookingService {
        &self.bookings
    }

    /// Holds a place and opens its provider order; answers the booking and what the
    /// mini-program needs to pay. An order that cannot be opened gives the place back: no
    /// payment can ever come for it.
    pub async fn book(
        &self,
        request: NewBooking,
    ) -> Result<(Booking, serde_json::Value), PaymentError> {
        let (booking, payer) = self.bookings.create_for_payer(request).await?;
        match self.open_order(&booking, payer).await {
            Ok(payload) => Ok((booking, payload)),
            Err(error) => {
                let actor = Actor::System("payments");
                if let Err(release) = self
                    .bookings
                    .release_hold(&booking, &actor, "the payment order could not be opened")
                    .await
                {
                    tracing::error!(booking_id = %booking.id, error = %release, "could not give back the place of a booking without an order");
                }
                Err(error)
            }
        }
    }

    /// Opens `booking`'s order at its channel's provider for `payer` (the account's platform
    /// user id) and records the payment row.
    async fn open_order(
        &self,
        booking: &Booking,
        payer: String,
    ) -> Result<serde_json::Value, PaymentError> {
        let provider = self.providers.for_channel(booking.channel);
        let opened = provider
            .open_order(&OrderRequest {
                out_trade_no: booking.out_trade_no.clone(),
                amount_fen: booking.amount.0,
                description: ORDER_DESCRIPTION.to_owned(),
                payer,
                expires_at: booking.hold_expires_at,
            })
            .await?;
        let now = self.bookings.clock.now();
        self.record_order(payment::Model {
            id: Uuid::now_v7(),
            booking_id: booking.id,
            provider: provider.name().to_owned(),
            merchant_id: provider.merchant_id().to_owned(),
            out_trade_no: booking.out_trade_no.clone(),
            provider_order_ref: Some(opened.provider_order_ref),
            provider_txn_id: None,
            amount_fen: booking.amount.0,
            status: "created".to_owned(),
            paid_at: None,
            polled_at: None,
            created_at: now,
            updated_at: now,
        })
        .await?;
        Ok(opened.client_payload)
    }

    /// Applies one verified notice from `provider`, exactly once however many copies arrive.
    pub async fn apply(
        &self,
        provider: &'static str,
        notice: &PaymentNotice,
    ) -> Result<Applied, PaymentError> {
        match notice {
            PaymentNotice::Paid(paid) => self.apply_paid(provider, paid).await,
            PaymentNotice::Closed { out_trade_no } => {
                let payment = self.payment(provider, out_trade_no).await?;
                Ok(Applied::Unchanged {
                    booking_id: payment.booking_id,
                })
            }
            PaymentNotice::RefundSucceeded {
                out_refund_no,
                provider_refund_id,
                ..
            } => {
                self.complete_refund(provider, out_refund_no, provider_refund_id.as_deref())
                    .await
            }
            PaymentNotice::RefundFailed {
                out_refund_no,
                reason,
                ..
            } => self.fail_refund(provider, out_refund_no, reason).await,
        }
    }

    async fn payment(
        &self,
        provider: &str,
        out_trade_no: &str,
    ) -> Result<payment::Model, PaymentError> {
        payment::Entity::find()
            .filter(payment::Column::Provider.eq(provider))
            .filter(payment::Column::OutTradeNo.eq(out_trade_no))
            .one(&self.bookings.db)
            .await?
            .ok_or_else(|| PaymentError::UnknownOrder(out_trade_no.to_owned()))
    }

    async fn booking_row(&self, booking_id: Uuid) -> Result<booking::Model, PaymentError> {
        Ok(booking::Entity::find_by_id(booking_id)
            .one(&self.bookings.db)
            .await?
            .ok_or(BookingError::NotFound)?)
    }

    pub(super) async fn apply_paid(
        &self,
        provider: &'static str,
        paid: &PaidOrder,
    ) -> Result<Applied, PaymentError> {
        let payment = self.payment(provider, &paid.out_trade_no).await?;
        let booking_id = payment.booking_id;
        if !SETTLEABLE.contains(&payment.status.as_str()) {
            return Ok(Applied::Unchanged { booking_id });
        }
        if paid.amount_fen != payment.amount_fen || paid.merchant_id != payment.merchant_id {
            return self.record_mismatch(provider, &payment, paid).await;
        }
        let actor = Actor::Provider(provider);
        // Twice at most: a hold that expires between reading the booking and confirming it is
        // read again and takes the late-payment path.
        for _ in 0..2 {
            let row = self.booking_row(booking_id).await?;
            let status: BookingStatus = row.status.parse().map_err(BookingError::Corrupted)?;
            match status {
                BookingStatus::PendingPayment => {
                    let txn = self.bookings.db.begin().await?;
                    let confirmation = paid_confirmation(&actor, paid);
                    if !self.bookings.confirm_in(&txn, &row, confirmation).await? {
                        continue;
                    }
                    settle(&txn, &payment, paid, "paid", self.bookings.clock.now()).await?;
                    txn.commit().await?;
                    self.own_in_inventory(&row).await;
                    return Ok(Applied::Confirmed { booking_id });
                }
                BookingStatus::Cancelled => {
                    return self.apply_late(provider, &payment, &row, paid).await;
                }
                // Already settled by an earlier copy (or moved on since).
                _ => return Ok(Applied::Unchanged { booking_id }),
            }
        }
        Ok(Applied::Unchanged { booking_id })
    }

    /// The common case of a payment notification, in one transaction: the first copy of a
    /// payment for a pending booking, of the amount and merchant of its order, confirms the
    /// booking (with its visit number and event), settles the payment and writes the
    /// notification's `callback_log` row, all committed together, so the row and the effect
    /// can never be apart. `None` for anything else (a copy already applied, a late or
    /// mismatched payment, an unknown order): nothing is written, and the caller logs the
    /// notification on its own and hands it to [`PaymentService::apply`]. On PostgreSQL
    /// notifications arriving together are confirmed in one transaction (`confirm_batch`).
    pub async fn confirm_logged(
        &self,
        provider: &'static str,
        paid: &PaidOrder,
        log: CallbackEntry<'_>,
    ) -> Result<Option<Applied>, PaymentError> {
        if self.bookings.db.get_database_backend() == DbBackend::Postgres {
            // Concurrent notifications share one transaction there (see `confirm_batch`).
            let (reply, answer) = oneshot::channel();
            let job = Job {
                provider,
                paid: paid.clone(),
                log: callback_log::new_row(log, "confirmed"),
                reply,
            };
            let service = self.clone();
            self.confirmations.submit(job, move |batch| {
                let service = service.clone();
                async move { service.confirm_batch(batch).await }
            });
            return Ok(answer.await.unwrap_or(None));
        }
        // Read before the transaction: a SQLite transaction that reads before it writes cannot
        // wait for another writer, it would fail at once.
        let found = payment::Entity::find()
            .filter(payment::Column::Provider.eq(provider))
            .filter(payment::Column::OutTradeNo.eq(&paid.out_trade_no))
            .find_also_related(booking::Entity)
            .one(&self.bookings.db)
            .await?;
        let Some((payment, Some(row))) = found else {
            return Ok(None);
        };
        if !first_copy(&payment, &row, paid) {
            return Ok(None);
        }
        let actor = Actor::Provider(provider);
        let txn = self.bookings.db.begin().await?;
        let confirmation = paid_confirmation(&actor, paid);
        if !self.bookings.confirm_in(&txn, &row, confirmation).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        settle(&txn, &payment, paid, "paid", self.bookings.clock.now()).await?;
        let applied = Applied::Confirmed { booking_id: row.id };
        callback_log::record_in(&txn, log, applied.outcome(), Some(row.id)).await?;
        txn.commit().await?;
        self.own_in_inventory(&row).await;
        Ok(Some(applied))
    }

    /// The inventory follows the database; if it cannot, reconcile repairs it.
    pub(super) async fn own_in_inventory(&self, row: &booking::Model) {
        if let Err(error) = self
            .bookings
            .inventory
            .confirm(row.schedule_id, &row.identity_hash, row.id)
            .await
        {
            tracing::warn!(booking_id = %row.id, %error, "inventory not updated; reconcile will repair it");
        }
    }

    /// A payment for a booking already cancelled. An expired hold is confirmed again if its
    /// place is still free; otherwise, or if the patient cancelled it, the money goes back.
    async fn apply_late(
        &self,
        provider: &'static str,
        payment: &payment::Model,
        row: &booking::Model,
        paid: &PaidOrder,
    ) -> Result<Applied, PaymentError> {
        let booking_id = row.id;
        let actor = Actor::Provider(provider);
        if !self.cancelled_by_patient(booking_id).await? {
            let txn = self.bookings.db.begin().await?;
            if self.retake_place(&txn, row, &actor, paid).await? {
                settle(&txn, payment, paid, "paid", self.bookings.clock.now()).await?;
                txn.commit().await?;
                self.hold_again_in_inventory(row).await;
                return Ok(Applied::ConfirmedLate { booking_id });
            }
            txn.rollback().await?;
        }
        let now = self.bookings.clock.now();
        let txn = self.bookings.db.begin().await?;
        let moved = transitions::apply(
            &txn,
            Transition {
                booking_id,
                from: BookingStatus::Cancelled,
                to: BookingStatus::Refunding,
                actor: &actor,
                reason: Some("paid after the booking ended; the money goes back"),
                provider_txn_id: Some(&paid.provider_txn_id),
                details: Some(json!({"amount_fen": paid.amount_fen})),
                at: now,
            },
        )
        .await?;
        if !moved {
            return Ok(Applied::Unchanged { booking_id });
        }
        settle(&txn, payment, paid, "paid", now).await?;
        let refund = insert_refund(
            &txn,
            payment,
            paid.amount_fen,
            "paid after the booking ended",
            false,
            now,
        )
        .await?;
        txn.commit().await?;
        self.request_refund(provider, payment, &refund).await?;
        Ok(Applied::RefundingLate { booking_id })
    }

    async fn cancelled_by_patient(&self, booking_id: Uuid) -> Result<bool, PaymentError> {
        let cancellation = booking_event::Entity::find()
            .filter(booking_event::Column::BookingId.eq(booking_id))
            .filter(booking_event::Column::ToStatus.eq(BookingStatus::Cancelled.as_str()))
            .order_by_desc(booking_event::Column::CreatedAt)
            .one(&self.bookings.db)
            .await?;
        Ok(cancellation.is_some_and(|event| event.actor_type == "patient"))
    }

    /// Inside `txn`: the place again (if one is left) and `cancelled → confirmed`. The identity
    /// may meanwhile hold another live booking in the schedule: then there is no place for
    /// this one.
    async fn retake_place(
        &self,
        txn: &DatabaseTransaction,
        row: &booking::Model,
        actor: &Actor,
        paid: &PaidOrder,
    ) -> Result<bool, PaymentError> {
        if !take_place(txn, row.segment_id).await? {
            return Ok(false);
        }
        let confirmation = Confirmation {
            from: BookingStatus::Cancelled,
            actor,
            reason: "paid after the hold expired; the place was still free",
            provider_txn_id: Some(&paid.provider_txn_id),
            details: Some(json!({"amount_fen": paid.amount_fen})),
        };
        match self.bookings.confirm_in(txn, row, confirmation).await {
            Ok(confirmed) => Ok(confirmed),
            Err(error) if live_duplicate(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn hold_again_in_inventory(&self, row: &booking::Model) {
        let inventory = &self.bookings.inventory;
        let held = inventory
            .hold(
                row.schedule_id,
                row.segment_id,
                &row.identity_hash,
                row.id,
                self.bookings.clock.now().timestamp_millis(),
            )
            .await;
        match held {
            Ok(crate::inventory::HoldOutcome::Held) => self.own_in_inventory(row).await,
            Ok(other) => {
                tracing::warn!(booking_id = %row.id, outcome = ?other, "late confirmation not mirrored in the inventory; reconcile will repair it")
            }
            Err(error) => {
                tracing::warn!(booking_id = %row.id, %error, "inventory not updated; reconcile will repair it")
            }
        }
    }

    async fn record_mismatch(
        &self,
        provider: &'static str,
        payment: &payment::Model,
        paid: &PaidOrder,
    ) -> Result<Applied, PaymentError> {
        let booking_id = payment.booking_id;
        let now = self.bookings.clock.now();
        let txn = self.bookings.db.begin().await?;
        if !settle(&txn, payment, paid, "mismatch", now).await? {
            return Ok(Applied::Unchanged { booking_id });
        }
        let details = json!({
            "expected_amount_fen": payment.amount_fen,
            "paid_amount_fen": paid.amount_fen,
            "expected_merchant": payment.merchant_id,
            "paid_merchant": paid.merchant_id,
        });
        let actor = Actor::Provider(provider);
        let reason = "paid amount or merchant differs from the order";
        let moved = transitions::apply(
            &txn,
            Transition {
                booking_id,
                from: BookingStatus::PendingPayment,
                to: BookingStatus::PaymentMismatch,
                actor: &actor,
                reason: Some(reason),
                provider_txn_id: Some(&paid.provider_txn_id),
                details: Some(details.clone()),
                at: now,
            },
        )
        .await?;
        if !moved {
            // The booking has moved on (e.g. its hold expired): the event still tells operators.
            let status: BookingStatus = self
                .booking_row(booking_id)
                .await?
                .status
                .parse()
                .map_err(BookingError::Corrupted)?;
            transitions::event_row(
                booking_id,
                Some(status),
                status,
                &actor,
                Some(reason),
                Some(&paid.provider_txn_id),
                Some(details),
                now,
            )
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        tracing::warn!(%booking_id, provider, "payment mismatch recorded");
        Ok(Applied::Mismatch { booking_id })
    }

    /// Cancels the caller's booking: an unpaid hold is released and its order closed; a paid
    /// one (until the rules' cancellation deadline) moves to `refunding` and its money is
    /// asked back; the place returns when the refund completes.
    pub async fn cancel(&self, user_id: Uuid, booking_id: Uuid) -> Result<Booking, PaymentError> {
        let booking = self.bookings.get(user_id, booking_id).await?;
        if booking.status != BookingStatus::Confirmed {
            let cancelled = self.bookings.cancel(user_id, booking_id).await?;
            self.close_order(&cancelled).await;
            return Ok(cancelled);
        }
        let schedule = schedule::Entity::find_by_id(booking.schedule_id)
            .one(&self.bookings.db)
            .await?
            .ok_or(BookingError::ScheduleNotFound)?;
        let now = self.bookings.clock.now();
        let resolved = self.bookings.rules_for(&schedule, now).await?;
        rules::check_cancellable(&resolved.rules, now, schedule.visit_date)?;
        let payment = payment::Entity::find()
            .filter(payment::Column::BookingId.eq(booking_id))
            .filter(payment::Column::Status.eq("paid"))
            .one(&self.bookings.db)
            .await?
            .ok_or(BookingError::NotCancellable {
                status: booking.status,
            })?;

        let txn = self.bookings.db.begin().await?;
        let moved = transitions::apply(
            &txn,
            Transition {
                booking_id,
                from: BookingStatus::Confirmed,
                to: BookingStatus::Refunding,
                actor: &Actor::Patient(user_id),
                reason: Some("cancelled by the patient; refund requested"),
                provider_txn_id: None,
                details: None,
                at: now,
            },
        )
        .await?;
        if !moved {
            let status = self.bookings.get(user_id, booking_id).await?.status;
            return Err(BookingError::NotCancellable { status }.into());
        }
        let refund = insert_refund(
            &txn,
            &payment,
            payment.amount_fen,
            "cancelled by the patient",
            true,
            now,
        )
        .await?;
        txn.commit().await?;
        let provider = self
            .providers
            .by_name(&payment.provider)
            .ok_or_else(|| BookingError::Corrupted(format!("provider {:?}", payment.provider)))?;
        self.request_refund(provider.name(), &payment, &refund)
            .await?;
        Ok(self.bookings.get(user_id, booking_id).await?)
    }

    /// Asks the provider for the refund. A synchronous success (Alipay `fund_change=Y`)
    /// completes it at once; otherwise the notification or the poller will.
    pub(super) async fn request_refund(
        &self,
        provider: &'static str,
        payment: &payment::Model,
        refund: &refund::Model,
    ) -> Result<(), PaymentError> {
        let Some(client) = self.providers.by_name(provider) else {
            return Err(BookingError::Corrupted(format!("provider {provider:?}")).into());
        };
        let request = RefundRequest {
            out_trade_no: payment.out_trade_no.clone(),
            out_refund_no: refund.out_refund_no.clone(),
            refund_fen: refund.amount_fen,
            total_fen: payment.amount_fen,
            reason: refund.reason.clone().unwrap_or_default(),
        };
        match client.refund(&request).await {
            Ok(state) => {
                self.follow_refund_state(provider, refund, state).await?;
            }
            Err(error) => {
                tracing::warn!(out_refund_no = %refund.out_refund_no, %error, "refund request failed; the poller asks again");
            }
        }
        Ok(())
    }

    pub(super) async fn follow_refund_state(
        &self,
        provider: &'static str,
        refund: &refund::Model,
        state: RefundState,
    ) -> Result<Option<Applied>, PaymentError> {
        Ok(match state {
            RefundState::Succeeded { provider_refund_id } => Some(
                self.complete_refund(
                    provider,
                    &refund.out_refund_no,
                    provider_refund_id.as_deref(),
                )
                .await?,
            ),
            RefundState::Failed { reason } => Some(
                self.fail_refund(provider, &refund.out_refund_no, &reason)
                    .await?,
            ),
            RefundState::Processing | RefundState::Unknown => None,
        })
    }

    async fn refund_row(&self, out_refund_no: &str) -> Result<refund::Model, PaymentError> {
        refund::Entity::find()
            .filter(refund::Column::OutRefundNo.eq(out_refund_no))
            .one(&self.bookings.db)
            .await?
            .ok_or_else(|| PaymentError::UnknownRefund(out_refund_no.to_owned()))
    }

    /// The money is back: `refunding → refunded`, and the place returns if the booking still
    /// had one.
    async fn complete_refund(
        &self,
        provider: &'static str,
        out_refund_no: &str,
        provider_refund_id: Option<&str>,
    ) -> Result<Applied, PaymentError> {
        let refund = self.refund_row(out_refund_no).await?;
        let booking_id = refund.booking_id;
        let row = self.booking_row(booking_id).await?;
        let now = self.bookings.clock.now();
        let txn = self.bookings.db.begin().await?;
        let completed = refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value("succeeded"))
            .col_expr(
                refund::Column::ProviderRefundId,
                Expr::value(provider_refund_id.map(str::to_owned)),
            )
            .col_expr(refund::Column::CompletedAt, Expr::value(now))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now))
            .filter(refund::Column::Id.eq(refund.id))
            .filter(refund::Column::Status.is_in(["pending", "failed"]))
            .exec(&txn)
            .await?;
        if completed.rows_affected != 1 {
            return Ok(Applied::Unchanged { booking_id });
        }
        transitions::apply(
            &txn,
            Transition {
                booking_id,
                from: BookingStatus::Refunding,
                to: BookingStatus::Refunded,
                actor: &Actor::Provider(provider),
                reason: Some("refund completed"),
                provider_txn_id: provider_refund_id,
                details: Some(
                    json!({"out_refund_no": out_refund_no, "amount_fen": refund.amount_fen}),
                ),
                at: now,
            },
        )
        .await?;
        if refund.returns_place {
            give_back_place(&txn, row.segment_id).await?;
        }
        txn.commit().await?;
        if refund.returns_place {
            let released = self
                .bookings
                .inventory
                .release(row.schedule_id, &row.identity_hash, row.id)
                .await;
            match released {
                Ok(_) => self
                    .bookings
                    .place_returned(row.schedule_id, row.segment_id),
                Err(error) => {
                    tracing::warn!(%booking_id, %error, "place not returned to the inventory; reconcile will repair it")
                }
            }
        }
        Ok(Applied::Refunded { booking_id })
    }

    /// The provider gave up on the refund: the booking stays `refunding`, with an event that
    /// tells operators why.
    async fn fail_refund(
        &self,
        provider: &'static str,
        out_refund_no: &str,
        reason: &str,
    ) -> Result<Applied, PaymentError> {
        let refund = self.refund_row(out_refund_no).await?;
        let booking_id = refund.booking_id;
        let now = self.bookings.clock.now();
        let txn = self.bookings.db.begin().await?;
        let failed = refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value("failed"))
            .col_expr(refund::Column::UpdatedAt, Expr::value(now))
            .filter(refund::Column::Id.eq(refund.id))
            .filter(refund::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        if failed.rows_affected != 1 {
            return Ok(Applied::Unchanged { booking_id });
        }
        transitions::event_row(
            booking_id,
            Some(BookingStatus::Refunding),
            BookingStatus::Refunding,
            &Actor::Provider(provider),
            Some(&format!("refund failed at the provider: {reason}")),
            None,
            Some(json!({"out_refund_no": out_refund_no})),
            now,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        tracing::warn!(%booking_id, out_refund_no, reason, "refund failed; an operator must act");
        Ok(Applied::RefundFailed { booking_id })
    }

    /// Releases expired holds and closes their provider orders, so the payer cannot pay a
    /// booking that no longer holds a place. Returns how many holds expired.
    pub async fn expire_holds(&self, limit: u64) -> Result<u32, PaymentError> {
        let expired = self.bookings.expire_holds(limit).await?;
        for booking in &expired {
            self.close_order(booking).await;
        }
        Ok(expired.len() as u32)
    }

    /// Best effort: a payment that slips through anyway is handled as a late payment.
    async fn close_order(&self, booking: &Booking) {
        let provider = self.providers.for_channel(booking.channel);
        if let Err(error) = provider.close_order(&booking.out_trade_no).await {
            tracing::warn!(booking_id = %booking.id, %error, "provider order not closed");
            return;
        }
        let now = self.bookings.clock.now();
        let closed = payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value("closed"))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now))
            .filter(payment::Column::BookingId.eq(booking.id))
            .filter(payment::Column::Status.eq("created"))
            .exec(&self.bookings.db)
            .await;
        if let Err(error) = closed {
            tracing::warn!(booking_id = %booking.id, %error, "payment row not marked closed");
        }
    }
}

/// Inside `txn`: the order is settled as `outcome` (`paid` or `mismatch`), only once: the row
/// must still be settleable. Whether this call settled it.
/// Whether `paid` is the first news of payment for a pending booking, of the amount and
/// merchant of its order: the case confirmed in one transaction with its log row.
pub(super) fn first_copy(payment: &payment::Model, row: &booking::Model, paid: &PaidOrder) -> bool {
    SETTLEABLE.contains(&payment.status.as_str())
        && paid.amount_fen == payment.amount_fen
        && paid.merchant_id == payment.merchant_id
        && row.status == BookingStatus::PendingPayment.as_str()
}

/// `pending_payment → confirmed` on a payment for the amount ordered.
pub(super) fn paid_confirmation<'a>(actor: &'a Actor, paid: &'a PaidOrder) -> Confirmation<'a> {
    Confirmation {
        from: BookingStatus::PendingPayment,
        actor,
        reason: "payment confirmed",
        provider_txn_id: Some(&paid.provider_txn_id),
        details: Some(json!({"amount_fen": paid.amount_fen})),
    }
}

async fn settle(
    txn: &DatabaseTransaction,
    payment: &payment::Model,
    paid: &PaidOrder,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let settled = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(outcome))
        .col_expr(
            payment::Column::ProviderTxnId,
            Expr::value(paid.provider_txn_id.clone()),
        )
        .col_expr(payment::Column::PaidAt, Expr::value(now))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(payment.id))
        .filter(payment::Column::Status.is_in(SETTLEABLE))
        .exec(txn)
        .await?;
    Ok(settled.rows_affected == 1)
}

async fn insert_refund(
    txn: &DatabaseTransaction,
    payment: &payment::Model,
    amount_fen: i64,
    reason: &str,
    returns_place: bool,
    now: DateTime<Utc>,
) -> Result<refund::Model, DbErr> {
    refund::ActiveModel {
        id: Set(Uuid::now_v7()),
        booking_id: Set(payment.booking_id),
        payment_id: Set(payment.id),
        out_refund_no: Set(new_out_trade_no()),
        provider_refund_id: Set(None),
        amount_fen: Set(amount_fen),
        status: Set("pending".to_owned()),
        reason: Set(Some(reason.to_owned())),
        completed_at: Set(None),
        polled_at: Set(None),
        returns_place: Set(returns_place),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
}
