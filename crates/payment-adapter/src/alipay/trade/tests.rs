mod fake_gateway;

use super::*;
use crate::alipay::{beijing_time, sign_params, string_to_sign};
use crate::keys::RsaPrivateKey;
use fake_gateway::{FakeGateway, client, dev_key_path, signed_answer};
use serde_json::Value;

const OUT_TRADE_NO: &str = "0195a0b2c3d4e5f60718293a4b5c6d7e";
const TRADE_NO: &str = "2025030122001412341234567890";
const OPEN_ID: &str = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo";

fn order() -> TradeCreateRequest<'static> {
    TradeCreateRequest {
        out_trade_no: OUT_TRADE_NO,
        total_fen: 2500,
        subject: "挂号费 内科 Registration fee",
        buyer: AlipayBuyer::OpenId(OPEN_ID),
        time_expire: beijing_time::parse("2025-03-01 09:45:00").unwrap(),
        notify_url: "http://127.0.0.1:8080/callbacks/alipay",
    }
}

/// What [`order`] is signed as when sent at `2025-03-01 09:30:00`. `biz_content`'s keys are
/// sorted because serde_json's map is (nothing in the tree turns on `preserve_order`).
const CREATE_STRING_TO_SIGN: &str = r#"app_id=2021000000000000&biz_content={"buyer_open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo","out_trade_no":"0195a0b2c3d4e5f60718293a4b5c6d7e","product_code":"JSAPI_PAY","subject":"挂号费 内科 Registration fee","time_expire":"2025-03-01 09:45:00","total_amount":"25.00"}&charset=utf-8&format=JSON&method=alipay.trade.create&notify_url=http://127.0.0.1:8080/callbacks/alipay&sign_type=RSA2&timestamp=2025-03-01 09:30:00&version=1.0"#;

/// `openssl dgst -sha256 -sign config/dev-keys/alipay_app_private.pem` over
/// [`CREATE_STRING_TO_SIGN`], base64.
const CREATE_SIGN: &str = "MChZ85qPNBfi0BlUci+JwDLZRga961F0oMOezx1UwcTmJOtpTC6hh0htGbMG9QKDBo3URtq8hIFc1VAOlwhJZT+ewrvDtZLFuIwS44mLuwFI0xIaWUQuKxAYOa2p6R/bkn1mtyt8AnGOaONd5PQyiqbgBYD94p7mK9QH8+QcJE5pXbIQp1CRRy40jQutdwe5TK0jtlVPnFMegA1kxLNd8IO/Ux683q+Q3A7qNdjbaaiNhLm9Z+vhxFn8WLKGK5ldMDlTLHbS8VFAaQ5M1PczvtmGZd0NcNyhG0ayn6aiwI8QcWb7UILYZaq/cS1RNUp5XxsCXVwIKOQf4vz78Qy/FA==";

/// Nothing listens there: calls refused before sending never get that far.
fn unreachable_client() -> AlipayClient {
    client("http://127.0.0.1:1/gateway.do")
}

fn business_error(sub_code: &str) -> String {
    format!(r#"{{"code":"40004","msg":"Business Failed","sub_code":"{sub_code}","sub_msg":"…"}}"#)
}

fn assert_business(result: Result<impl std::fmt::Debug, AlipayError>, sub_code: &str) {
    match result {
        Err(error @ AlipayError::Business { .. }) => {
            assert_eq!(error.sub_code(), Some(sub_code));
            assert!(matches!(error, AlipayError::Business { ref code, .. } if code == "40004"));
        }
        other => panic!("expected {sub_code}, got {other:?}"),
    }
}

fn assert_malformed(result: Result<impl std::fmt::Debug, AlipayError>, about: &str) {
    match result {
        Err(AlipayError::Malformed(why)) => assert!(why.contains(about), "{why}"),
        other => panic!("expected malformed ({about}), got {other:?}"),
    }
}

#[tokio::test]
async fn trade_create_sends_the_pinned_request_and_returns_the_trade_no() {
    let node = format!(
        r#"{{"code":"10000","msg":"Success","out_trade_no":"{OUT_TRADE_NO}","trade_no":"{TRADE_NO}"}}"#
    );
    let gateway = FakeGateway::answering(signed_answer("alipay.trade.create", &node)).await;
    let created = client(&gateway.url).trade_create(&order()).await.unwrap();
    assert_eq!(
        created,
        TradeCreated {
            trade_no: TRADE_NO.into(),
            out_trade_no: OUT_TRADE_NO.into()
        }
    );

    let request = gateway.request().await;
    request.assert_signed_by_the_app();
    assert_eq!(request.param("charset"), Some("utf-8"));
    // charset and notify_url ride in the query string, biz_content in the form body.
    assert!(request.in_query("charset") && request.in_query("notify_url"));
    assert!(!request.in_query("biz_content"));
    // With the send time pinned, what was sent is exactly the known answer.
    let mut sent: Vec<(&str, &str)> = request
        .query
        .iter()
        .chain(&request.form)
        .filter(|(key, _)| key != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sent.iter_mut()
        .find(|(key, _)| *key == "timestamp")
        .unwrap()
        .1 = "2025-03-01 09:30:00";
    assert_eq!(string_to_sign(&sent), CREATE_STRING_TO_SIGN);
    let app_private = RsaPrivateKey::from_file(dev_key_path("alipay_app_private.pem")).unwrap();
    assert_eq!(sign_params(&sent, &app_private).unwrap(), CREATE_SIGN);
}

#[test]
fn a_user_id_buyer_is_sent_as_buyer_id() {
    let order = TradeCreateRequest {
        buyer: AlipayBuyer::UserId("2088102150477652"),
        ..order()
    };
    let biz = trade_create_biz_content(&order).unwrap();
    assert_eq!(biz["buyer_id"], "2088102150477652");
    assert_eq!(biz.get("buyer_open_id"), None);
}

#[tokio::test]
async fn amounts_alipay_would_refuse_are_not_sent() {
    let client = unreachable_client();
    for total_fen in [0, -1, 10_000_000_001] {
        let order = TradeCreateRequest {
            total_fen,
            ..order()
        };
        assert!(matches!(
            client.trade_create(&order).await,
            Err(AlipayError::InvalidAmount { fen }) if fen == total_fen
        ));
    }
    assert!(matches!(
        client.trade_refund(OUT_TRADE_NO, "R1", 0, None).await,
        Err(AlipayError::InvalidAmount { fen: 0 })
    ));
    let order = TradeCreateRequest {
        total_fen: 10_000_000_000,
        ..order()
    };
    assert_eq!(
        trade_create_biz_content(&order).unwrap()["total_amount"],
        "100000000.00"
    );
}

#[tokio::test]
async fn an_existing_out_trade_no_with_other_terms_is_a_business_error() {
    let answer = signed_answer(
        "alipay.trade.create",
        &business_error("ACQ.CONTEXT_INCONSISTENT"),
    );
    let gateway = FakeGateway::answering(answer).await;
    assert_business(
        client(&gateway.url).trade_create(&order()).await,
        "ACQ.CONTEXT_INCONSISTENT",
    );
}

#[tokio::test]
async fn trade_query_reads_the_verified_node() {
    let node = format!(
        r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{OUT_TRADE_NO}","buyer_open_id":"{OPEN_ID}","buyer_logon_id":"159****5620","trade_status":"TRADE_SUCCESS","total_amount":"25.00","receipt_amount":"25.00","send_pay_date":"2025-03-01 09:31:02"}}"#
    );
    let gateway = FakeGateway::answering(signed_answer("alipay.trade.query", &node)).await;
    let query = client(&gateway.url)
        .trade_query(OUT_TRADE_NO)
        .await
        .unwrap();
    assert_eq!(
        query,
        TradeQuery {
            trade_no: TRADE_NO.into(),
            out_trade_no: OUT_TRADE_NO.into(),
            trade_status: TradeStatus::TradeSuccess,
            total_fen: 2500,
            buyer_user_id: None,
            buyer_open_id: Some(OPEN_ID.into()),
            paid_at: beijing_time::parse("2025-03-01 09:31:02"),
        }
    );
    assert!(query.trade_status.is_paid());
    let request = gateway.request().await;
    request.assert_signed_by_the_app();
    assert_eq!(request.param("method"), Some("alipay.trade.query"));
    assert_eq!(
        request.biz_content(),
        serde_json::json!({"out_trade_no": OUT_TRADE_NO})
    );
}

#[tokio::test]
async fn keys_outside_the_verified_node_cannot_forge_a_result() {
    let node = format!(
        r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{OUT_TRADE_NO}","trade_status":"WAIT_BUYER_PAY","total_amount":"25.00"}}"#
    );
    let genuine = signed_answer("alipay.trade.query", &node);
    let inner = genuine.strip_prefix('{').unwrap();
    // Stray business keys beside the node are never read.
    let stray = format!(r#"{{"trade_status":"TRADE_SUCCESS","total_amount":"0.01",{inner}"#);
    let gateway = FakeGateway::answering(stray).await;
    let query = client(&gateway.url)
        .trade_query(OUT_TRADE_NO)
        .await
        .unwrap();
    assert_eq!(
        (query.trade_status, query.total_fen),
        (TradeStatus::WaitBuyerPay, 2500)
    );
    // A second copy of the node, paid, after the signed one: refused outright.
    let forged_node = node.replace("WAIT_BUYER_PAY", "TRADE_SUCCESS");
    let duplicated = format!(
        r#"{},"alipay_trade_query_response":{forged_node}}}"#,
        genuine.strip_suffix('}').unwrap()
    );
    let gateway = FakeGateway::answering(duplicated).await;
    assert_malformed(
        client(&gateway.url).trade_query(OUT_TRADE_NO).await,
        "duplicate",
    );
}

#[tokio::test]
async fn an_unknown_trade_is_trade_not_exist() {
    let answer = signed_answer("alipay.trade.query", &business_error("ACQ.TRADE_NOT_EXIST"));
    let gateway = FakeGateway::answering(answer).await;
    assert_business(
        client(&gateway.url).trade_query(OUT_TRADE_NO).await,
        "ACQ.TRADE_NOT_EXIST",
    );
}

#[tokio::test]
async fn answers_that_do_not_add_up_are_malformed() {
    let node = |status: &str, amount: &str, out_trade_no: &str| {
        format!(
            r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{out_trade_no}","trade_status":"{status}","total_amount":"{amount}"}}"#
        )
    };
    for (node, about) in [
        (node("TRADE_PENDING", "25.00", OUT_TRADE_NO), "trade_status"),
        (
            node("TRADE_SUCCESS", "25.001", OUT_TRADE_NO),
            "total_amount",
        ),
        (node("TRADE_SUCCESS", "", OUT_TRADE_NO), "total_amount"),
        (
            node("TRADE_SUCCESS", "25.00", "someone-else"),
            "out_trade_no",
        ),
        (
            node("TRADE_SUCCESS", "25.00", OUT_TRADE_NO)
                .replace(r#""msg""#, r#""send_pay_date":"yesterday","msg""#),
            "send_pay_date",
        ),
    ] {
        let gateway = FakeGateway::answering(signed_answer("alipay.trade.query", &node)).await;
        assert_malformed(client(&gateway.url).trade_query(OUT_TRADE_NO).await, about);
    }
}

#[tokio::test]
async fn trade_close_closes_and_reports_a_paid_trade() {
    let node = format!(
        r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{OUT_TRADE_NO}"}}"#
    );
    let gateway = FakeGateway::answering(signed_answer("alipay.trade.close", &node)).await;
    client(&gateway.url)
        .trade_close(OUT_TRADE_NO)
        .await
        .unwrap();
    let request = gateway.request().await;
    request.assert_signed_by_the_app();
    assert_eq!(
        request.biz_content(),
        serde_json::json!({"out_trade_no": OUT_TRADE_NO})
    );

    let answer = signed_answer(
        "alipay.trade.close",
        &business_error("ACQ.TRADE_STATUS_ERROR"),
    );
    let gateway = FakeGateway::answering(answer).await;
    assert_business(
        client(&gateway.url).trade_close(OUT_TRADE_NO).await,
        "ACQ.TRADE_STATUS_ERROR",
    );
}

fn refund_node(fund_change: &str) -> String {
    format!(
        r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{OUT_TRADE_NO}","buyer_logon_id":"159****5620","fund_change":"{fund_change}","refund_fee":"25.00","gmt_refund_pay":"2025-03-01 10:00:00","buyer_open_id":"{OPEN_ID}"}}"#
    )
}

#[tokio::test]
async fn trade_refund_sends_yuan_and_reads_fund_change() {
    let gateway =
        FakeGateway::answering(signed_answer("alipay.trade.refund", &refund_node("Y"))).await;
    let outcome = client(&gateway.url)
        .trade_refund(OUT_TRADE_NO, "R0195a0b2", 2500, Some("患者取消 cancelled"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RefundOutcome {
            trade_no: TRADE_NO.into(),
            out_trade_no: OUT_TRADE_NO.into(),
            fund_change: true,
            refund_fee_fen: 2500,
            gmt_refund_pay: beijing_time::parse("2025-03-01 10:00:00"),
        }
    );
    assert!(outcome.is_done());
    let request = gateway.request().await;
    request.assert_signed_by_the_app();
    assert_eq!(
        request.biz_content(),
        serde_json::json!({
            "out_trade_no": OUT_TRADE_NO,
            "out_request_no": "R0195a0b2",
            "refund_amount": "25.00",
            "refund_reason": "患者取消 cancelled",
        })
    );
}

#[tokio::test]
async fn a_refund_without_fund_change_is_not_done_yet() {
    for fund_change in ["N", ""] {
        let answer = signed_answer("alipay.trade.refund", &refund_node(fund_change));
        let gateway = FakeGateway::answering(answer).await;
        let outcome = client(&gateway.url)
            .trade_refund(OUT_TRADE_NO, "R0195a0b2", 2500, None)
            .await
            .unwrap();
        assert!(!outcome.is_done(), "fund_change {fund_change:?}");
        assert_eq!(
            gateway.request().await.biz_content().get("refund_reason"),
            None
        );
    }
    let answer = signed_answer("alipay.trade.refund", &refund_node("maybe"));
    let gateway = FakeGateway::answering(answer).await;
    assert_malformed(
        client(&gateway.url)
            .trade_refund(OUT_TRADE_NO, "R0195a0b2", 2500, None)
            .await,
        "fund_change",
    );
}

#[tokio::test]
async fn refund_query_tells_whether_the_refund_went_through() {
    let done = format!(
        r#"{{"code":"10000","msg":"Success","trade_no":"{TRADE_NO}","out_trade_no":"{OUT_TRADE_NO}","out_request_no":"R0195a0b2","total_amount":"25.00","refund_amount":"25.00","refund_status":"REFUND_SUCCESS","gmt_refund_pay":"2025-03-01 10:00:00"}}"#
    );
    let gateway =
        FakeGateway::answering(signed_answer("alipay.trade.fastpay.refund.query", &done)).await;
    let query = client(&gateway.url)
        .refund_query(OUT_TRADE_NO, "R0195a0b2")
        .await
        .unwrap();
    assert_eq!(
        query,
        RefundQuery {
            out_trade_no: OUT_TRADE_NO.into(),
            out_request_no: "R0195a0b2".into(),
            refund_status: Some("REFUND_SUCCESS".into()),
            refund_amount_fen: Some(2500),
            total_fen: Some(2500),
            gmt_refund_pay: beijing_time::parse("2025-03-01 10:00:00"),
        }
    );
    assert!(query.is_done());
    let request = gateway.request().await;
    request.assert_signed_by_the_app();
    let biz: Value = request.biz_content();
    assert_eq!(biz["out_request_no"], "R0195a0b2");
    assert_eq!(biz["query_options"], serde_json::json!(["gmt_refund_pay"]));

    // No such refund (yet): success without a refund_status.
    let not_yet = format!(
        r#"{{"code":"10000","msg":"Success","out_trade_no":"{OUT_TRADE_NO}","out_request_no":"R0195a0b2"}}"#
    );
    let gateway =
        FakeGateway::answering(signed_answer("alipay.trade.fastpay.refund.query", &not_yet)).await;
    let query = client(&gateway.url)
        .refund_query(OUT_TRADE_NO, "R0195a0b2")
        .await
        .unwrap();
    assert!(!query.is_done());
    assert_eq!(query.refund_amount_fen, None);
}

#[test]
fn trade_statuses_round_trip_and_know_what_is_paid() {
    for status in [
        TradeStatus::WaitBuyerPay,
        TradeStatus::TradeClosed,
        TradeStatus::TradeSuccess,
        TradeStatus::TradeFinished,
    ] {
        assert_eq!(TradeStatus::from_alipay(status.as_str()), Some(status));
    }
    assert_eq!(TradeStatus::from_alipay("trade_success"), None);
    assert!(TradeStatus::TradeFinished.is_paid());
    assert!(!TradeStatus::TradeClosed.is_paid() && !TradeStatus::WaitBuyerPay.is_paid());
}
