use super::*;
use chrono::TimeZone;
use payment_adapter::wechatpay as adapter;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 20, 5, minute, 0).unwrap()
}

fn order() -> NewOrder {
    NewOrder {
        appid: "wxd0000000000dev0".into(),
        mchid: "1900000001".into(),
        description: "挂号费".into(),
        out_trade_no: "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f".into(),
        time_expire: Some(at(30)),
        notify_url: "http://127.0.0.1:8080/callbacks/wechatpay".into(),
        total_fen: 500,
        payer_openid: "o-alice".into(),
    }
}

fn refund_of(refund_fen: i64, out_refund_no: &str) -> NewRefund {
    NewRefund {
        out_trade_no: "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f".into(),
        out_refund_no: out_refund_no.into(),
        reason: None,
        notify_url: Some("http://127.0.0.1:8080/callbacks/wechatpay".into()),
        refund_fen,
        total_fen: 500,
    }
}

fn paid_ledger() -> Ledger {
    let mut ledger = Ledger::default();
    ledger.place(order(), "wx1".into()).unwrap();
    ledger.pay("wx1", "4200001".into(), None, at(1)).unwrap();
    ledger
}

#[test]
fn an_identical_repeat_gets_another_prepay_id_and_a_different_one_is_refused() {
    let mut ledger = Ledger::default();
    assert_eq!(ledger.place(order(), "wx1".into()), Ok("wx1".into()));
    assert_eq!(ledger.place(order(), "wx2".into()), Ok("wx2".into()));
    let changed = NewOrder {
        total_fen: 600,
        ..order()
    };
    let refusal = ledger.place(changed, "wx3".into()).unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "INVALID_REQUEST"));
    // Either prepay_id pays the one order.
    ledger.pay("wx2", "4200001".into(), None, at(1)).unwrap();
    let refusal = ledger
        .pay("wx1", "4200002".into(), None, at(2))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (409, "ORDER_NOT_PAYABLE"));
    let refusal = ledger.place(order(), "wx4".into()).unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "ORDERPAID"));
}

#[test]
fn the_query_answer_reads_as_the_adapters_transaction() {
    let mut ledger = Ledger::default();
    ledger.place(order(), "wx1".into()).unwrap();
    let unpaid: adapter::Transaction = serde_json::from_value(
        ledger
            .order(&order().out_trade_no)
            .unwrap()
            .transaction_json(),
    )
    .unwrap();
    assert_eq!(unpaid.trade_state, adapter::TradeState::NotPay);
    assert_eq!(unpaid.transaction_id, None);

    ledger.pay("wx1", "4200001".into(), None, at(1)).unwrap();
    let paid: adapter::Transaction = serde_json::from_value(
        ledger
            .order(&order().out_trade_no)
            .unwrap()
            .transaction_json(),
    )
    .unwrap();
    assert_eq!(paid.trade_state, adapter::TradeState::Success);
    assert_eq!(paid.transaction_id.as_deref(), Some("4200001"));
    assert_eq!(paid.total_fen, Some(500));
    assert_eq!(paid.success_time, Some(at(1)));
    assert_eq!(paid.payer_openid.as_deref(), Some("o-alice"));
}

#[test]
fn a_tampered_payment_reports_the_other_amount() {
    let mut ledger = Ledger::default();
    ledger.place(order(), "wx1".into()).unwrap();
    let order = ledger.pay("wx1", "4200001".into(), Some(1), at(1)).unwrap();
    assert_eq!(order.transaction_json()["amount"]["total"], 1);
}

#[test]
fn only_unpaid_orders_before_time_expire_can_be_paid() {
    let mut ledger = Ledger::default();
    ledger.place(order(), "wx1".into()).unwrap();
    let refusal = ledger
        .pay("wx1", "4200001".into(), None, at(31))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (409, "ORDER_EXPIRED"));
    let refusal = ledger
        .pay("wx-unknown", "4200001".into(), None, at(1))
        .unwrap_err();
    assert_eq!(refusal.status, 404);
    ledger.close(&order().out_trade_no).unwrap();
    let refusal = ledger
        .pay("wx1", "4200001".into(), None, at(1))
        .unwrap_err();
    assert_eq!(refusal.code, "ORDER_NOT_PAYABLE");
}

#[test]
fn closing_works_on_unpaid_orders_only() {
    let mut ledger = paid_ledger();
    let refusal = ledger.close(&order().out_trade_no).unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "ORDERPAID"));
    let refusal = ledger
        .close("0192f0c0a0b07c3d8e9f0a1b2c3d4e60")
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (404, "ORDER_NOT_EXIST"));

    let mut ledger = Ledger::default();
    ledger.place(order(), "wx1".into()).unwrap();
    ledger.close(&order().out_trade_no).unwrap();
    ledger.close(&order().out_trade_no).unwrap();
    let refusal = ledger.place(order(), "wx2".into()).unwrap_err();
    assert_eq!(refusal.code, "ORDER_CLOSED");
}

#[test]
fn refunds_are_idempotent_by_number_and_limited_to_what_was_paid() {
    let mut ledger = paid_ledger();
    let (refund, is_new) = ledger
        .refund(refund_of(300, "R1"), "5030001".into(), at(2))
        .unwrap();
    assert!(is_new);
    assert_eq!(refund.status, RefundStatus::Processing);
    let (again, is_new) = ledger
        .refund(refund_of(300, "R1"), "5030002".into(), at(3))
        .unwrap();
    assert!(!is_new);
    assert_eq!(again.refund_id, "5030001");
    let refusal = ledger
        .refund(refund_of(200, "R1"), "5030003".into(), at(3))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "INVALID_REQUEST"));

    let refusal = ledger
        .refund(refund_of(201, "R2"), "5030004".into(), at(3))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "INVALID_REQUEST"));
    ledger
        .refund(refund_of(200, "R2"), "5030005".into(), at(3))
        .unwrap();
    assert_eq!(
        ledger.order(&order().out_trade_no).unwrap().state,
        TradeState::Refund
    );

    let wrong_total = NewRefund {
        total_fen: 400,
        ..refund_of(100, "R3")
    };
    assert_eq!(
        ledger
            .refund(wrong_total, "5030006".into(), at(3))
            .unwrap_err()
            .code,
        "PARAM_ERROR"
    );
}

#[test]
fn unpaid_or_unknown_orders_cannot_be_refunded() {
    let mut ledger = Ledger::default();
    let refusal = ledger
        .refund(refund_of(100, "R1"), "5030001".into(), at(2))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (404, "ORDER_NOT_EXIST"));
    ledger.place(order(), "wx1".into()).unwrap();
    let refusal = ledger
        .refund(refund_of(100, "R1"), "5030001".into(), at(2))
        .unwrap_err();
    assert_eq!((refusal.status, refusal.code), (400, "INVALID_REQUEST"));
}

#[test]
fn refund_answers_and_notifications_read_as_the_adapters_refund() {
    let mut ledger = paid_ledger();
    let (refund, _) = ledger
        .refund(refund_of(500, "R1"), "5030001".into(), at(2))
        .unwrap();
    let answered: adapter::Refund = serde_json::from_value(refund.answer_json()).unwrap();
    assert_eq!(answered.status, adapter::RefundStatus::Processing);
    assert_eq!((answered.refund_fen, answered.total_fen), (500, 500));
    assert_eq!(answered.transaction_id.as_deref(), Some("4200001"));

    let completed = ledger.complete_refund("R1", at(3)).unwrap();
    let notified: adapter::Refund = serde_json::from_value(completed.notification_json()).unwrap();
    assert_eq!(notified.status, adapter::RefundStatus::Success);
    assert_eq!(notified.mchid.as_deref(), Some("1900000001"));
    assert_eq!(notified.success_time, Some(at(3)));
    let queried: adapter::Refund =
        serde_json::from_value(ledger.refund_of("R1").unwrap().answer_json()).unwrap();
    assert_eq!(queried.status, adapter::RefundStatus::Success);
    assert_eq!(
        ledger.refund_of("R9").unwrap_err().code,
        "RESOURCE_NOT_EXISTS"
    );
}
