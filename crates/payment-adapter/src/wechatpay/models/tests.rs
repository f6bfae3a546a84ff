use super::*;
use chrono::TimeZone;

#[test]
fn a_paid_transaction_reads_into_fen_and_utc() {
    let answer = r#"{
        "appid":"wxd0000000000dev0","mchid":"1900000001",
        "out_trade_no":"0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "transaction_id":"4200000000202405201234567890",
        "trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功",
        "bank_type":"OTHERS","attach":"","success_time":"2024-05-20T13:29:35+08:00",
        "payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount":{"total":500,"payer_total":450,"currency":"CNY","payer_currency":"CNY"}
    }"#;
    let transaction: Transaction = serde_json::from_str(answer).unwrap();
    assert_eq!(
        transaction,
        Transaction {
            appid: "wxd0000000000dev0".into(),
            mchid: "1900000001".into(),
            out_trade_no: "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f".into(),
            transaction_id: Some("4200000000202405201234567890".into()),
            trade_type: Some("JSAPI".into()),
            trade_state: TradeState::Success,
            trade_state_desc: Some("支付成功".into()),
            success_time: Some(Utc.with_ymd_and_hms(2024, 5, 20, 5, 29, 35).unwrap()),
            payer_openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
            total_fen: Some(500),
            payer_total_fen: Some(450),
        }
    );
}

#[test]
fn an_unpaid_transaction_has_no_id_or_payment_time() {
    let answer = r#"{"appid":"wxd0000000000dev0","mchid":"1900000001",
        "out_trade_no":"0192f0c0a0b07c3d8e9f0a1b2c3d4e5f","transaction_id":"","trade_type":"",
        "trade_state":"NOTPAY","trade_state_desc":"订单未支付",
        "amount":{"payer_currency":"CNY"}}"#;
    let transaction: Transaction = serde_json::from_str(answer).unwrap();
    assert_eq!(transaction.trade_state, TradeState::NotPay);
    assert_eq!(transaction.transaction_id, None);
    assert_eq!(transaction.trade_type, None);
    assert_eq!(transaction.success_time, None);
    assert_eq!(transaction.total_fen, None);
    assert_eq!(transaction.payer_openid, None);
}

#[test]
fn states_round_trip_and_unknown_ones_are_kept() {
    for text in [
        "SUCCESS",
        "REFUND",
        "NOTPAY",
        "CLOSED",
        "REVOKED",
        "USERPAYING",
        "PAYERROR",
        "SOMETHING_NEW",
    ] {
        assert_eq!(TradeState::from(text.to_owned()).as_str(), text);
    }
    assert_eq!(
        TradeState::from("SOMETHING_NEW".to_owned()),
        TradeState::Other("SOMETHING_NEW".into())
    );
    for text in ["SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL", "NEW"] {
        assert_eq!(RefundStatus::from(text.to_owned()).as_str(), text);
    }
}

#[test]
fn a_refund_answer_and_a_refund_notification_read_alike() {
    let answer = r#"{"refund_id":"50000000382019052709732678859","out_refund_no":"R1",
        "transaction_id":"4200000000202405201234567890","out_trade_no":"0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "channel":"ORIGINAL","user_received_account":"支付用户零钱",
        "create_time":"2024-05-20T14:00:00+08:00","status":"PROCESSING","funds_account":"AVAILABLE",
        "amount":{"total":500,"refund":500,"payer_total":500,"payer_refund":500,
                  "settlement_refund":500,"settlement_total":500,"discount_refund":0,"currency":"CNY",
                  "from":[]},
        "promotion_detail":[]}"#;
    let refund: Refund = serde_json::from_str(answer).unwrap();
    assert_eq!(refund.status, RefundStatus::Processing);
    assert_eq!(
        (refund.refund_fen, refund.total_fen, refund.payer_refund_fen),
        (500, 500, Some(500))
    );
    assert_eq!(
        refund.create_time,
        Some(Utc.with_ymd_and_hms(2024, 5, 20, 6, 0, 0).unwrap())
    );
    assert_eq!(refund.mchid, None);

    let notified = r#"{"mchid":"1900000001","out_trade_no":"0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "transaction_id":"4200000000202405201234567890","out_refund_no":"R1",
        "refund_id":"50000000382019052709732678859","refund_status":"SUCCESS",
        "success_time":"2024-05-20T14:01:00+08:00","user_received_account":"支付用户零钱",
        "amount":{"total":500,"refund":500,"payer_total":500,"payer_refund":500}}"#;
    let refund: Refund = serde_json::from_str(notified).unwrap();
    assert_eq!(refund.status, RefundStatus::Success);
    assert_eq!(refund.mchid.as_deref(), Some("1900000001"));
    assert_eq!(
        refund.success_time,
        Some(Utc.with_ymd_and_hms(2024, 5, 20, 6, 1, 0).unwrap())
    );
}

#[test]
fn times_we_send_are_beijing_rfc3339() {
    let instant = Utc.with_ymd_and_hms(2024, 5, 20, 5, 29, 35).unwrap();
    assert_eq!(beijing_rfc3339(instant), "2024-05-20T13:29:35+08:00");
}

#[test]
fn the_order_body_has_wechats_shape() {
    let body = JsapiOrderBody {
        appid: "wxd0000000000dev0",
        mchid: "1900000001",
        description: "挂号费",
        out_trade_no: "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        time_expire: "2024-05-20T13:29:35+08:00".into(),
        notify_url: "https://example.org/callbacks/wechatpay",
        amount: AmountBody {
            total: 500,
            currency: "CNY",
        },
        payer: PayerBody {
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        },
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({
            "appid": "wxd0000000000dev0",
            "mchid": "1900000001",
            "description": "挂号费",
            "out_trade_no": "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
            "time_expire": "2024-05-20T13:29:35+08:00",
            "notify_url": "https://example.org/callbacks/wechatpay",
            "amount": {"total": 500, "currency": "CNY"},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        })
    );
}
