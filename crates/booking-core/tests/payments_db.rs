//! The booking ↔ payment flow against an in-memory provider: orders opened with the hold,
//! notices applied exactly once, mismatches, late payments, refunds, closing expired orders
//! and the poller. SQLite + in-process inventory and PostgreSQL + Redis inventory.

mod common;

use async_trait::async_trait;
use booking_core::bookings::entity::{booking, booking_event};
use booking_core::bookings::{BookingError, BookingStatus};
use booking_core::inventory::ScheduleStock;
use booking_core::payments::entity::{callback_log, payment, refund};
use booking_core::payments::{
    Applied, CallbackEntry, OpenedOrder, OrderRequest, OrderState, PaidOrder, PaymentError,
    PaymentNotice, PaymentProvider, PaymentService, ProviderError, Providers, RefundRequest,
    RefundState,
};
use chrono::{Duration, TimeZone, Utc};
use common::{Session, World};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
    TransactionTrait,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const MERCHANT: &str = "1900000001";

/// A provider that keeps its orders in memory and remembers every call, like the real one would
/// see them.
#[derive(Default)]
struct MemoryProvider {
    state: Mutex<ProviderState>,
}

#[derive(Default)]
struct ProviderState {
    orders: HashMap<String, OrderRequest>,
    paid: HashMap<String, PaidOrder>,
    closed: Vec<String>,
    refunds: Vec<RefundRequest>,
    /// How the next refund requests are answered.
    refund_answer: Option<RefundState>,
    refuse_orders: bool,
}

impl MemoryProvider {
    fn pay(&self, out_trade_no: &str, amount_fen: Option<i64>) -> PaidOrder {
        let mut state = self.state.lock().unwrap();
        let order = state.orders[out_trade_no].clone();
        let paid = PaidOrder {
            out_trade_no: out_trade_no.to_owned(),
            provider_txn_id: format!("4200{}", &out_trade_no[..20]),
            amount_fen: amount_fen.unwrap_or(order.amount_fen),
            merchant_id: MERCHANT.to_owned(),
        };
        state.paid.insert(out_trade_no.to_owned(), paid.clone());
        paid
    }
}

#[async_trait]
impl PaymentProvider for MemoryProvider {
    fn name(&self) -> &'static str {
        "wechatpay"
    }
    fn merchant_id(&self) -> &str {
        MERCHANT
    }
    async fn open_order(&self, order: &OrderRequest) -> Result<OpenedOrder, ProviderError> {
        let mut state = self.state.lock().unwrap();
        if state.refuse_orders {
            return Err(ProviderError::Unavailable("connection refused".into()));
        }
        state
            .orders
            .insert(order.out_trade_no.clone(), order.clone());
        Ok(OpenedOrder {
            provider_order_ref: format!("wx{}", order.out_trade_no),
            client_payload: json!({"package": format!("prepay_id=wx{}", order.out_trade_no)}),
        })
    }
    async fn query_order(&self, out_trade_no: &str) -> Result<OrderState, ProviderError> {
        let state = self.state.lock().unwrap();
        Ok(match state.paid.get(out_trade_no) {
            Some(paid) => OrderState::Paid(paid.clone()),
            None if state.closed.iter().any(|c| c == out_trade_no) => OrderState::Closed,
            None => OrderState::Open,
        })
    }
    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        self.state
            .lock()
            .unwrap()
            .closed
            .push(out_trade_no.to_owned());
        Ok(())
    }
    async fn refund(&self, refund: &RefundRequest) -> Result<RefundState, ProviderError> {
        let mut state = self.state.lock().unwrap();
        state.refunds.push(refund.clone());
        Ok(state
            .refund_answer
            .clone()
            .unwrap_or(RefundState::Processing))
    }
    async fn query_refund(
        &self,
        _out_trade_no: &str,
        out_refund_no: &str,
    ) -> Result<RefundState, ProviderError> {
        let state = self.state.lock().unwrap();
        Ok(
            match state
                .refunds
                .iter()
                .any(|r| r.out_refund_no == out_refund_no)
            {
                true => RefundState::Succeeded {
                    provider_refund_id: Some(format!("5030{out_refund_no}")),
                },
                false => RefundState::Unknown,
            },
        )
    }
}

struct PayWorld {
    world: World,
    provider: Arc<MemoryProvider>,
    payments: PaymentService,
}

async fn pay_worlds() -> Vec<PayWorld> {
    let mut out = Vec::new();
    for world in common::worlds("pay-test").await {
        let provider = Arc::new(MemoryProvider::default());
        // Only WeChat bookings are made here; Alipay gets its own provider so a mix-up shows.
        let payments = PaymentService::new(
            world.service.clone(),
            Providers::new(provider.clone(), Arc::new(AlipayNeverCalled)),
        );
        out.push(PayWorld {
            world,
            provider,
            payments,
        });
    }
    out
}

struct AlipayNeverCalled;

#[async_trait]
impl PaymentProvider for AlipayNeverCalled {
    fn name(&self) -> &'static str {
        "alipay"
    }
    fn merchant_id(&self) -> &str {
        "2021000000000000"
    }
    async fn open_order(&self, _: &OrderRequest) -> Result<OpenedOrder, ProviderError> {
        panic!("a WeChat booking was sent to Alipay")
    }
    async fn query_order(&self, _: &str) -> Result<OrderState, ProviderError> {
        panic!("a WeChat booking was sent to Alipay")
    }
    async fn close_order(&self, _: &str) -> Result<(), ProviderError> {
        panic!("a WeChat booking was sent to Alipay")
    }
    async fn refund(&self, _: &RefundRequest) -> Result<RefundState, ProviderError> {
        panic!("a WeChat booking was sent to Alipay")
    }
    async fn query_refund(&self, _: &str, _: &str) -> Result<RefundState, ProviderError> {
        panic!("a WeChat booking was sent to Alipay")
    }
}

impl PayWorld {
    async fn book(
        &self,
        who: (Uuid, Uuid),
        session: &Session,
    ) -> Result<(booking_core::bookings::Booking, serde_json::Value), PaymentError> {
        self.payments.book(common::new_booking(who, session)).await
    }

    /// Patient `n` books the session and the provider's payment is applied: `(who, booking)`.
    async fn paid_booking(
        &self,
        n: u32,
        session: &Session,
    ) -> ((Uuid, Uuid), booking_core::bookings::Booking) {
        let who = self.world.patient(n).await;
        let (booking, _) = self.book(who, session).await.unwrap();
        let paid = self.provider.pay(&booking.out_trade_no, None);
        self.payments
            .apply("wechatpay", &PaymentNotice::Paid(paid))
            .await
            .unwrap();
        (who, booking)
    }

    async fn status(&self, booking_id: Uuid) -> BookingStatus {
        booking::Entity::find_by_id(booking_id)
            .one(&self.world.db)
            .await
            .unwrap()
            .unwrap()
            .status
            .parse()
            .unwrap()
    }

    async fn events_to(&self, booking_id: Uuid, to: BookingStatus) -> u64 {
        booking_event::Entity::find()
            .filter(booking_event::Column::BookingId.eq(booking_id))
            .filter(booking_event::Column::ToStatus.eq(to.as_str()))
            .count(&self.world.db)
            .await
            .unwrap()
    }

    async fn payment_row(&self, booking_id: Uuid) -> payment::Model {
        payment::Entity::find()
            .filter(payment::Column::BookingId.eq(booking_id))
            .one(&self.world.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// The session's places and holders in the inventory.
    async fn stock(&self, session: &Session) -> ScheduleStock {
        let stock = self.world.inventory.stock(session.0.id).await.unwrap();
        stock.expect("the schedule is in the inventory")
    }

    /// Tuesday 09:00 in Shanghai: two-day-ahead sessions are open for booking.
    fn morning(&self) {
        self.world
            .clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
    }
}

#[tokio::test]
async fn a_paid_notice_confirms_once_however_many_copies_race() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 10).await[0];
        let who = w.world.patient(1).await;
        let (booking, payload) = w.book(who, session).await.unwrap();
        assert_eq!(
            payload["package"],
            format!("prepay_id=wx{}", booking.out_trade_no)
        );
        let row = w.payment_row(booking.id).await;
        assert_eq!(
            (
                row.status.as_str(),
                row.amount_fen,
                row.merchant_id.as_str()
            ),
            ("created", booking.amount.0, MERCHANT)
        );

        let paid = w.provider.pay(&booking.out_trade_no, None);
        let notice = PaymentNotice::Paid(paid.clone());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let payments = w.payments.clone();
                let notice = notice.clone();
                tokio::spawn(async move { payments.apply("wechatpay", &notice).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().unwrap());
        }
        let confirmed = outcomes
            .iter()
            .filter(|o| matches!(o, Applied::Confirmed { .. }))
            .count();
        assert_eq!(confirmed, 1, "{}: {outcomes:?}", w.world.label);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Applied::Confirmed { .. } | Applied::Unchanged { .. })),
            "{}",
            w.world.label
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Confirmed);
        assert_eq!(w.events_to(booking.id, BookingStatus::Confirmed).await, 1);
        let row = w.payment_row(booking.id).await;
        assert_eq!(row.status, "paid");
        assert_eq!(
            row.provider_txn_id.as_deref(),
            Some(paid.provider_txn_id.as_str())
        );
        let confirmed = w.world.service.get(who.0, booking.id).await.unwrap();
        assert_eq!(confirmed.visit_number, Some(1), "{}", w.world.label);
    }
}

/// A verified notification as the gateway logs it.
fn logged<'a>(paid: &'a PaidOrder, body: &'a [u8]) -> CallbackEntry<'a> {
    CallbackEntry {
        provider: "wechatpay",
        merchant: None,
        request_id: Some("req-1"),
        headers: json!({"Wechatpay-Nonce": "n"}),
        raw_body: body,
        verified: true,
        reason: None,
        out_trade_no: Some(&paid.out_trade_no),
        provider_txn_id: Some(&paid.provider_txn_id),
        received_at: Utc::now(),
    }
}

#[tokio::test]
async fn the_first_copy_is_confirmed_and_logged_in_one_transaction_and_only_once() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 10).await[0];
        let who = w.world.patient(1).await;
        let (booking, _) = w.book(who, session).await.unwrap();
        let log_rows = || async {
            callback_log::Entity::find()
                .filter(callback_log::Column::OutTradeNo.eq(booking.out_trade_no.as_str()))
                .all(&w.world.db)
                .await
                .unwrap()
        };

        // Another amount is not the usual case: nothing is written, the step-by-step path
        // (log, apply, complete) takes it.
        let short = w
            .provider
            .pay(&booking.out_trade_no, Some(booking.amount.0 - 1));
        let body = b"short".to_vec();
        let answer = w
            .payments
            .confirm_logged("wechatpay", &short, logged(&short, &body));
        assert_eq!(answer.await.unwrap(), None, "{}", w.world.label);
        assert!(log_rows().await.is_empty(), "{}", w.world.label);
        assert_eq!(w.status(booking.id).await, BookingStatus::PendingPayment);

        let paid = w.provider.pay(&booking.out_trade_no, None);
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let payments = w.payments.clone();
                let paid = paid.clone();
                tokio::spawn(async move {
                    let body = format!("copy {n}").into_bytes();
                    payments
                        .confirm_logged("wechatpay", &paid, logged(&paid, &body))
                        .await
                })
            })
            .collect();
        let mut confirmed = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Some(Applied::Confirmed { booking_id }) if booking_id == booking.id => {
                    confirmed += 1
                }
                None => {}
                other => panic!("{}: {other:?}", w.world.label),
            }
        }
        assert_eq!(confirmed, 1, "{}", w.world.label);
        let rows = log_rows().await;
        assert_eq!(rows.len(), 1, "{}: one row, the winner's", w.world.label);
        assert_eq!(rows[0].outcome, "confirmed");
        assert_eq!(rows[0].booking_id, Some(booking.id));
        assert!(rows[0].verified && rows[0].raw_body.starts_with(b"copy "));
        assert_eq!(w.status(booking.id).await, BookingStatus::Confirmed);
        assert_eq!(w.events_to(booking.id, BookingStatus::Confirmed).await, 1);
        assert_eq!(w.payment_row(booking.id).await.status, "paid");
        let visit = w.world.service.get(who.0, booking.id).await.unwrap();
        assert_eq!(visit.visit_number, Some(1), "{}", w.world.label);
    }
}

#[tokio::test]
async fn many_bookings_paid_at_once_are_each_confirmed_and_logged_with_distinct_numbers() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 40).await[0];
        let mut paid_orders = Vec::new();
        for n in 0..30 {
            let (booking, _) = w
                .book(w.world.patient(100 + n).await, session)
                .await
                .unwrap();
            paid_orders.push((booking.id, w.provider.pay(&booking.out_trade_no, None)));
        }
        let tasks: Vec<_> = paid_orders
            .iter()
            .cloned()
            .map(|(booking_id, paid)| {
                let payments = w.payments.clone();
                tokio::spawn(async move {
                    let body = paid.out_trade_no.clone().into_bytes();
                    let applied = payments
                        .confirm_logged("wechatpay", &paid, logged(&paid, &body))
                        .await;
                    (booking_id, applied)
                })
            })
            .collect();
        for task in tasks {
            let (booking_id, applied) = task.await.unwrap();
            assert_eq!(
                applied.unwrap(),
                Some(Applied::Confirmed { booking_id }),
                "{}",
                w.world.label
            );
        }
        let mut numbers = Vec::new();
        for (booking_id, paid) in &paid_orders {
            let row = booking::Entity::find_by_id(*booking_id)
                .one(&w.world.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.status, "confirmed", "{}", w.world.label);
            numbers.push(row.visit_number.unwrap());
            assert_eq!(w.events_to(*booking_id, BookingStatus::Confirmed).await, 1);
            // PostgreSQL writes the batch's events in its update statement: the same event as
            // one confirmation at a time writes (SQLite).
            let event = booking_event::Entity::find()
                .filter(booking_event::Column::BookingId.eq(*booking_id))
                .filter(booking_event::Column::ToStatus.eq("confirmed"))
                .one(&w.world.db)
                .await
                .unwrap()
                .unwrap();
            let amount = format!("{{\"amount_fen\":{}}}", paid.amount_fen);
            assert_eq!(
                (
                    event.actor_type.as_str(),
                    event.actor_id.as_deref(),
                    event.from_status.as_deref(),
                    event.reason.as_deref(),
                    event.provider.as_deref(),
                    event.provider_txn_id.as_deref(),
                    event.details.as_deref(),
                    event.created_at,
                ),
                (
                    "provider",
                    Some("wechatpay"),
                    Some("pending_payment"),
                    Some("payment confirmed"),
                    Some("wechatpay"),
                    Some(paid.provider_txn_id.as_str()),
                    Some(amount.as_str()),
                    row.confirmed_at.unwrap(),
                ),
                "{}",
                w.world.label
            );
            let payment = w.payment_row(*booking_id).await;
            assert_eq!(
                (payment.status.as_str(), payment.provider_txn_id.as_deref()),
                ("paid", Some(paid.provider_txn_id.as_str()))
            );
            let logs = callback_log::Entity::find()
                .filter(callback_log::Column::BookingId.eq(*booking_id))
                .all(&w.world.db)
                .await
                .unwrap();
            assert_eq!(logs.len(), 1, "{}", w.world.label);
            assert_eq!(logs[0].outcome, "confirmed");
            assert_eq!(logs[0].raw_body, paid.out_trade_no.as_bytes());
        }
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (1..=30).collect::<Vec<i32>>(),
            "{}: 1…30, no gap, no repeat",
            w.world.label
        );
    }
}

#[tokio::test]
async fn a_confirmation_racing_a_cancellation_is_all_or_nothing() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 40).await[0];
        let mut races = Vec::new();
        for n in 0..20 {
            let who = w.world.patient(300 + n).await;
            let (booking, _) = w.book(who, session).await.unwrap();
            let paid = w.provider.pay(&booking.out_trade_no, None);
            let payments = w.payments.clone();
            let confirm = tokio::spawn(async move {
                let body = b"race".to_vec();
                payments
                    .confirm_logged("wechatpay", &paid, logged(&paid, &body))
                    .await
                    .unwrap()
            });
            // The hold's own cancellation (a paid booking's would refund it instead).
            let bookings = w.world.service.clone();
            let cancel = tokio::spawn(async move { bookings.cancel(who.0, booking.id).await });
            races.push((booking.id, confirm, cancel));
        }
        for (booking_id, confirm, cancel) in races {
            let confirmed = confirm.await.unwrap();
            let cancelled = cancel.await.unwrap();
            let status = w.status(booking_id).await;
            let payment = w.payment_row(booking_id).await;
            let logs = callback_log::Entity::find()
                .filter(callback_log::Column::BookingId.eq(booking_id))
                .count(&w.world.db)
                .await
                .unwrap();
            match confirmed {
                Some(Applied::Confirmed { .. }) => {
                    assert_eq!(status, BookingStatus::Confirmed, "{}", w.world.label);
                    assert_eq!(payment.status, "paid");
                    assert_eq!(logs, 1);
                    assert!(
                        cancelled.is_err(),
                        "{}: a confirmed hold is not cancelled",
                        w.world.label
                    );
                }
                None => {
                    // The cancellation won: nothing of the confirmation may remain.
                    assert_eq!(status, BookingStatus::Cancelled, "{}", w.world.label);
                    assert_ne!(payment.status, "paid");
                    assert_eq!(logs, 0, "{}", w.world.label);
                    assert_eq!(w.events_to(booking_id, BookingStatus::Confirmed).await, 0);
                }
                other => panic!("{}: {other:?}", w.world.label),
            }
        }
    }
}

#[tokio::test]
async fn a_wrong_amount_or_merchant_is_a_mismatch_not_a_confirmation() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 10).await[0];
        let (short, _) = w.book(w.world.patient(1).await, session).await.unwrap();
        let paid = w
            .provider
            .pay(&short.out_trade_no, Some(short.amount.0 - 1));
        let outcome = w
            .payments
            .apply("wechatpay", &PaymentNotice::Paid(paid.clone()))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Applied::Mismatch {
                booking_id: short.id
            }
        );
        assert_eq!(w.status(short.id).await, BookingStatus::PaymentMismatch);
        assert_eq!(w.payment_row(short.id).await.status, "mismatch");
        let again = w
            .payments
            .apply("wechatpay", &PaymentNotice::Paid(paid))
            .await
            .unwrap();
        assert_eq!(
            again,
            Applied::Unchanged {
                booking_id: short.id
            }
        );
        assert_eq!(
            w.events_to(short.id, BookingStatus::PaymentMismatch).await,
            1
        );

        let (elsewhere, _) = w.book(w.world.patient(2).await, session).await.unwrap();
        let mut paid = w.provider.pay(&elsewhere.out_trade_no, None);
        paid.merchant_id = "1900000999".into();
        let outcome = w
            .payments
            .apply("wechatpay", &PaymentNotice::Paid(paid))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Applied::Mismatch {
                booking_id: elsewhere.id
            },
            "{}",
            w.world.label
        );
        assert_eq!(w.status(elsewhere.id).await, BookingStatus::PaymentMismatch);
    }
}

#[tokio::test]
async fn notices_for_orders_we_never_opened_are_refused() {
    for w in pay_worlds().await {
        let notice = PaymentNotice::Paid(PaidOrder {
            out_trade_no: "A".repeat(32),
            provider_txn_id: "4200000000".into(),
            amount_fen: 500,
            merchant_id: MERCHANT.into(),
        });
        assert!(matches!(
            w.payments.apply("wechatpay", &notice).await,
            Err(PaymentError::UnknownOrder(_))
        ));
        let refund = PaymentNotice::RefundSucceeded {
            out_trade_no: "A".repeat(32),
            out_refund_no: "B".repeat(32),
            provider_refund_id: None,
        };
        assert!(matches!(
            w.payments.apply("wechatpay", &refund).await,
            Err(PaymentError::UnknownRefund(_))
        ));
    }
}

#[tokio::test]
async fn an_order_the_provider_cannot_open_gives_the_place_back() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 1).await[0];
        w.provider.state.lock().unwrap().refuse_orders = true;
        let who = w.world.patient(1).await;
        assert!(matches!(
            w.book(who, session).await,
            Err(PaymentError::Provider(ProviderError::Unavailable(_)))
        ));
        assert_eq!(w.world.booked(session.1.id).await, 0, "{}", w.world.label);
        w.provider.state.lock().unwrap().refuse_orders = false;
        // The only place is free again, for the same patient too.
        w.book(who, session).await.unwrap();
    }
}

#[tokio::test]
async fn an_expired_hold_closes_its_order_and_a_late_payment_takes_a_free_place() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 5).await[0];
        let (booking, _) = w.book(w.world.patient(1).await, session).await.unwrap();
        w.world
            .clock
            .advance(Duration::minutes(10) + Duration::seconds(1));
        assert_eq!(w.payments.expire_holds(100).await.unwrap(), 1);
        assert_eq!(w.status(booking.id).await, BookingStatus::Cancelled);
        assert_eq!(
            w.provider.state.lock().unwrap().closed,
            vec![booking.out_trade_no.clone()]
        );
        assert_eq!(w.payment_row(booking.id).await.status, "closed");

        let paid = w.provider.pay(&booking.out_trade_no, None);
        let outcome = w
            .payments
            .apply("wechatpay", &PaymentNotice::Paid(paid))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Applied::ConfirmedLate {
                booking_id: booking.id
            },
            "{}",
            w.world.label
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Confirmed);
        assert_eq!(w.world.booked(session.1.id).await, 1);
        let stock = w.stock(session).await;
        assert_eq!(stock.remaining[&session.1.id], 4, "{}", w.world.label);
    }
}

#[tokio::test]
async fn a_late_payment_without_a_place_is_refunded_and_keeps_no_place() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 1).await[0];
        let (late, _) = w.book(w.world.patient(1).await, session).await.unwrap();
        w.world
            .clock
            .advance(Duration::minutes(10) + Duration::seconds(1));
        w.payments.expire_holds(100).await.unwrap();
        let (taker, _) = w.book(w.world.patient(2).await, session).await.unwrap();

        let paid = w.provider.pay(&late.out_trade_no, None);
        let outcome = w
            .payments
            .apply("wechatpay", &PaymentNotice::Paid(paid.clone()))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Applied::RefundingLate {
                booking_id: late.id
            },
            "{}",
            w.world.label
        );
        assert_eq!(w.status(late.id).await, BookingStatus::Refunding);
        let asked = w.provider.state.lock().unwrap().refunds.clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].refund_fen, late.amount.0);
        // A copy of the payment notice changes nothing.
        assert_eq!(
            w.payments
                .apply("wechatpay", &PaymentNotice::Paid(paid))
                .await
                .unwrap(),
            Applied::Unchanged {
                booking_id: late.id
            }
        );

        let done = PaymentNotice::RefundSucceeded {
            out_trade_no: late.out_trade_no.clone(),
            out_refund_no: asked[0].out_refund_no.clone(),
            provider_refund_id: Some("50300000001".into()),
        };
        assert_eq!(
            w.payments.apply("wechatpay", &done).await.unwrap(),
            Applied::Refunded {
                booking_id: late.id
            }
        );
        assert_eq!(w.status(late.id).await, BookingStatus::Refunded);
        // The place stayed with the other patient: nothing was given back twice.
        assert_eq!(w.world.booked(session.1.id).await, 1, "{}", w.world.label);
        assert_eq!(w.status(taker.id).await, BookingStatus::PendingPayment);
        assert_eq!(
            w.payments.apply("wechatpay", &done).await.unwrap(),
            Applied::Unchanged {
                booking_id: late.id
            }
        );
    }
}

#[tokio::test]
async fn cancelling_a_paid_booking_refunds_it_and_the_refund_returns_the_place() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 1).await[0];
        let (who, booking) = w.paid_booking(1, session).await;

        let cancelled = w.payments.cancel(who.0, booking.id).await.unwrap();
        assert_eq!(
            cancelled.status,
            BookingStatus::Refunding,
            "{}",
            w.world.label
        );
        assert_eq!(
            w.world.booked(session.1.id).await,
            1,
            "the place is kept until the money is back"
        );
        assert!(matches!(
            w.payments.cancel(who.0, booking.id).await,
            Err(PaymentError::Booking(BookingError::NotCancellable { .. }))
        ));

        let out_refund_no = w.provider.state.lock().unwrap().refunds[0]
            .out_refund_no
            .clone();
        let done = PaymentNotice::RefundSucceeded {
            out_trade_no: booking.out_trade_no.clone(),
            out_refund_no,
            provider_refund_id: Some("50300000002".into()),
        };
        assert_eq!(
            w.payments.apply("wechatpay", &done).await.unwrap(),
            Applied::Refunded {
                booking_id: booking.id
            }
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Refunded);
        assert_eq!(w.world.booked(session.1.id).await, 0, "{}", w.world.label);
        let refund_row = refund::Entity::find()
            .filter(refund::Column::BookingId.eq(booking.id))
            .one(&w.world.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refund_row.status, "succeeded");
        // The place is bookable again.
        w.book(w.world.patient(2).await, session).await.unwrap();
    }
}

#[tokio::test]
async fn a_paid_booking_cannot_be_cancelled_after_the_deadline() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(1, 0, 5).await[0];
        let (who, booking) = w.paid_booking(1, session).await;
        // 15:00 the day before the visit has passed.
        w.world
            .clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 7, 30, 0).unwrap());
        assert!(
            matches!(
                w.payments.cancel(who.0, booking.id).await,
                Err(PaymentError::Booking(BookingError::Refused(_)))
            ),
            "{}",
            w.world.label
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Confirmed);
        assert!(w.provider.state.lock().unwrap().refunds.is_empty());
    }
}

#[tokio::test]
async fn the_poller_recovers_lost_notifications_once_per_interval() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 5).await[0];
        let who = w.world.patient(1).await;
        let (booking, _) = w.book(who, session).await.unwrap();
        w.provider.pay(&booking.out_trade_no, None);
        let stale = Duration::minutes(3);
        assert_eq!(
            w.payments.poll(stale, 50).await.unwrap().orders_asked,
            0,
            "too fresh to ask about"
        );
        w.world.clock.advance(Duration::minutes(4));
        let report = w.payments.poll(stale, 50).await.unwrap();
        assert_eq!(
            (report.orders_asked, report.applied),
            (1, 1),
            "{}",
            w.world.label
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Confirmed);
        assert_eq!(w.payments.poll(stale, 50).await.unwrap().orders_asked, 0);

        // A refund whose notification never came is completed from the provider's answer.
        w.payments.cancel(who.0, booking.id).await.unwrap();
        w.world.clock.advance(Duration::minutes(4));
        let report = w.payments.poll(stale, 50).await.unwrap();
        assert_eq!(
            (report.refunds_asked, report.applied),
            (1, 1),
            "{}",
            w.world.label
        );
        assert_eq!(w.status(booking.id).await, BookingStatus::Refunded);
    }
}

#[tokio::test]
async fn two_pollers_never_ask_about_the_same_order() {
    for w in pay_worlds().await {
        w.morning();
        let session = &w.world.sessions_with_capacity(2, 0, 30).await[0];
        for n in 0..20 {
            let (booking, _) = w.book(w.world.patient(n).await, session).await.unwrap();
            w.provider.pay(&booking.out_trade_no, None);
        }
        w.world.clock.advance(Duration::minutes(4));
        let (a, b) = tokio::join!(
            w.payments.poll(Duration::minutes(3), 50),
            w.payments.poll(Duration::minutes(3), 50)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.orders_asked + b.orders_asked, 20, "{}", w.world.label);
        assert_eq!(a.applied + b.applied, 20);
        assert_eq!(w.world.booked(session.1.id).await, 20);
    }
}

/// New orders' payment rows are inserted together on PostgreSQL (`payments::order_rows`); a row
/// the database refuses must fail alone, its booking giving its place back, while every other
/// row of its batch is written on its own.
#[tokio::test]
async fn a_payment_row_the_database_refuses_fails_alone_in_its_batch() {
    for w in pay_worlds().await {
        if w.world.db.get_database_backend() != DbBackend::Postgres {
            continue; // SQLite inserts each row on its own
        }
        w.morning();
        let session = w.world.sessions_with_capacity(2, 0, 20).await.remove(0);
        let mut patients = Vec::new();
        for n in 1..=12 {
            patients.push(w.world.patient(n).await);
        }
        let refused = patients[5];
        w.world
            .db
            .execute_unprepared(&format!(
                "CREATE FUNCTION refuse_one_payment() RETURNS trigger AS $$ BEGIN \
                   IF (SELECT patient_id FROM bookings WHERE id = NEW.booking_id) = '{}' THEN \
                     RAISE EXCEPTION 'this payment row is refused'; \
                   END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER refuse_one_payment BEFORE INSERT ON payments \
                   FOR EACH ROW EXECUTE FUNCTION refuse_one_payment()",
                refused.1
            ))
            .await
            .unwrap();

        // The first row's insert waits on a lock, so that the other eleven queue behind it and
        // are drained as one batch once the lock goes.
        let blocker = w.world.db.begin().await.unwrap();
        blocker
            .execute_unprepared("LOCK TABLE payments IN EXCLUSIVE MODE")
            .await
            .unwrap();
        let book = |who: (Uuid, Uuid)| {
            let (payments, session) = (w.payments.clone(), session.clone());
            tokio::spawn(async move { payments.book(common::new_booking(who, &session)).await })
        };
        let first = book(patients[0]);
        w.wait_for(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE 'INSERT INTO payments%'",
            1,
        )
        .await;
        let rest: Vec<_> = patients[1..].iter().map(|&who| book(who)).collect();
        w.wait_for("SELECT COUNT(*) FROM bookings", 12).await;
        // Written bookings go on to their orders without any I/O: let them reach the queue.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        blocker.commit().await.unwrap();

        first.await.unwrap().unwrap();
        let mut written = Vec::new();
        for (task, who) in rest.into_iter().zip(&patients[1..]) {
            let answer = task.await.unwrap();
            if *who == refused {
                assert!(
                    matches!(answer, Err(PaymentError::Database(_))),
                    "{answer:?}"
                );
            } else {
                written.push(answer.unwrap().0.id);
            }
        }
        assert_eq!(written.len(), 10);
        for &booking_id in &written {
            assert_eq!(w.payment_row(booking_id).await.status, "created");
        }
        // Each row of the failed batch went in its own transaction.
        let transactions: HashSet<String> = w
            .world
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT xmin::text FROM payments",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect();
        assert_eq!(transactions.len(), 11, "one transaction per row written");
        // The refused booking holds nothing: eleven places taken, in the database and in Redis.
        assert_eq!(w.world.booked(session.1.id).await, 11);
        let stock = w.stock(&session).await;
        assert_eq!(stock.holders.len(), 11, "{stock:?}");
    }
}

impl PayWorld {
    /// Polls the one count `sql` answers until it is `expected`.
    async fn wait_for(&self, sql: &str, expected: i64) {
        for _ in 0..500 {
            let row = self
                .world
                .db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await
                .unwrap()
                .unwrap();
            if row.try_get_by_index::<i64>(0).unwrap() == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{sql} never reached {expected}");
    }
}
