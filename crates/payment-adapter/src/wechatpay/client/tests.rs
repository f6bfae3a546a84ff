mod fake_wechatpay;

use super::*;
use crate::keys::{RsaPrivateKey, RsaPublicKey};
use crate::wechatpay::{
    ApiV3Key, Authorization, PlatformKeys, RefundStatus, SignatureCheckError, TradeState,
    pay_sign_message,
};
use chrono::TimeZone;
use fake_wechatpay::{FakeWechatPay, PUB_KEY_ID, Request, Signing, dev_key_path};
use serde_json::{Value, json};

const MCHID: &str = "1900000001";
const APPID: &str = "wxd0000000000dev0";
const MERCHANT_SERIAL: &str = "DEV0000000000000000000000000000000000001";
const OUT_TRADE_NO: &str = "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f";

fn config(base_url: &str) -> WechatPayConfig {
    WechatPayConfig {
        base_url: base_url.into(),
        mchid: MCHID.into(),
        appid: APPID.into(),
        merchant_serial_no: MERCHANT_SERIAL.into(),
        merchant_private_key: RsaPrivateKey::from_file(dev_key_path(
            "wechatpay_merchant_private.pem",
        ))
        .unwrap(),
        apiv3_key: ApiV3Key::new("dev-only-apiv3-key-0123456789abc").unwrap(),
        platform_keys: PlatformKeys::with_public_key(
            PUB_KEY_ID,
            RsaPublicKey::from_file(dev_key_path("wechatpay_platform_public.pem")).unwrap(),
        ),
    }
}

fn client(base_url: &str) -> WechatPayClient {
    WechatPayClient::new(config(base_url), reqwest::Client::new()).unwrap()
}

/// Checks the request the way WeChat Pay does: our merchant, our certificate serial, a fresh
/// timestamp, and a signature over exactly this method, target and body.
fn assert_signed_by_us(request: &Request) {
    let header = request.header("authorization").expect("Authorization");
    let authorization = Authorization::parse(header).unwrap();
    assert_eq!(authorization.mchid, MCHID);
    assert_eq!(authorization.serial_no, MERCHANT_SERIAL);
    assert_eq!(authorization.nonce_str.len(), 32);
    let timestamp: i64 = authorization.timestamp.parse().unwrap();
    assert!((Utc::now().timestamp() - timestamp).abs() <= 5);
    let merchant_public =
        RsaPublicKey::from_file(dev_key_path("wechatpay_merchant_public.pem")).unwrap();
    authorization
        .verify(
            &merchant_public,
            &request.method,
            &request.target,
            &request.body,
        )
        .expect("our request signature verifies");
    assert_eq!(request.header("accept"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("guahao-payment-adapter/"))
    );
    assert_eq!(request.header("wechatpay-serial"), Some(PUB_KEY_ID));
}

fn json_body(request: &Request) -> Value {
    assert_eq!(request.header("content-type"), Some("application/json"));
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn jsapi_prepay_sends_a_signed_order_and_reads_the_prepay_id() {
    let wechat = FakeWechatPay::answering(
        200,
        r#"{"prepay_id":"wx201410272009395522657a690389285100"}"#,
        Signing::Platform,
    )
    .await;
    let order = JsapiOrder {
        out_trade_no: OUT_TRADE_NO.into(),
        description: "北京协和医院-内科挂号费".into(),
        amount_fen: 500,
        payer_openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
        notify_url: "https://guahao.example.org/callbacks/wechatpay".into(),
        time_expire: Utc.with_ymd_and_hms(2024, 5, 20, 5, 39, 35).unwrap(),
    };

    let prepay_id = client(&wechat.url).jsapi_prepay(&order).await.unwrap();

    assert_eq!(prepay_id, "wx201410272009395522657a690389285100");
    let request = wechat.request().await;
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/v3/pay/transactions/jsapi")
    );
    assert_signed_by_us(&request);
    assert_eq!(
        json_body(&request),
        json!({
            "appid": APPID,
            "mchid": MCHID,
            "description": "北京协和医院-内科挂号费",
            "out_trade_no": OUT_TRADE_NO,
            "time_expire": "2024-05-20T13:39:35+08:00",
            "notify_url": "https://guahao.example.org/callbacks/wechatpay",
            "amount": {"total": 500, "currency": "CNY"},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        })
    );
}

#[tokio::test]
async fn query_order_signs_the_query_string_and_reads_the_transaction() {
    let wechat = FakeWechatPay::answering(
        200,
        &json!({
            "appid": APPID, "mchid": MCHID, "out_trade_no": OUT_TRADE_NO,
            "transaction_id": "4200000000202405201234567890", "trade_type": "JSAPI",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
            "success_time": "2024-05-20T13:29:35+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": 500, "payer_total": 500, "currency": "CNY"}
        })
        .to_string(),
        Signing::Platform,
    )
    .await;

    let transaction = client(&wechat.url).query_order(OUT_TRADE_NO).await.unwrap();

    assert_eq!(transaction.trade_state, TradeState::Success);
    assert_eq!(transaction.total_fen, Some(500));
    assert_eq!(
        transaction.transaction_id.as_deref(),
        Some("4200000000202405201234567890")
    );
    let request = wechat.request().await;
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.target,
        format!("/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}?mchid={MCHID}")
    );
    assert!(request.body.is_empty());
    assert_signed_by_us(&request);
}

#[tokio::test]
async fn close_order_accepts_wechats_empty_204() {
    let wechat = FakeWechatPay::answering(204, "", Signing::Unsigned).await;

    client(&wechat.url).close_order(OUT_TRADE_NO).await.unwrap();

    let request = wechat.request().await;
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        (
            "POST",
            "/v3/pay/transactions/out-trade-no/0192f0c0a0b07c3d8e9f0a1b2c3d4e5f/close"
        )
    );
    assert_signed_by_us(&request);
    assert_eq!(json_body(&request), json!({"mchid": MCHID}));
}

fn refund_answer(status: &str) -> String {
    json!({
        "refund_id": "50000000382019052709732678859", "out_refund_no": "R0192f0c0a0b07c3d",
        "transaction_id": "4200000000202405201234567890", "out_trade_no": OUT_TRADE_NO,
        "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
        "create_time": "2024-05-20T14:00:00+08:00", "status": status,
        "amount": {"total": 500, "refund": 500, "payer_total": 500, "payer_refund": 500, "currency": "CNY"}
    })
    .to_string()
}

#[tokio::test]
async fn refund_sends_the_amounts_and_reads_the_refund() {
    let wechat =
        FakeWechatPay::answering(200, &refund_answer("PROCESSING"), Signing::Platform).await;
    let request = RefundRequest {
        out_trade_no: OUT_TRADE_NO.into(),
        out_refund_no: "R0192f0c0a0b07c3d".into(),
        reason: Some("患者取消预约".into()),
        refund_fen: 500,
        total_fen: 500,
        notify_url: Some("https://guahao.example.org/callbacks/wechatpay".into()),
    };

    let refund = client(&wechat.url).refund(&request).await.unwrap();

    assert_eq!(refund.status, RefundStatus::Processing);
    assert_eq!(refund.refund_id, "50000000382019052709732678859");
    assert_eq!(refund.refund_fen, 500);
    let sent = wechat.request().await;
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("POST", "/v3/refund/domestic/refunds")
    );
    assert_signed_by_us(&sent);
    assert_eq!(
        json_body(&sent),
        json!({
            "out_trade_no": OUT_TRADE_NO,
            "out_refund_no": "R0192f0c0a0b07c3d",
            "reason": "患者取消预约",
            "notify_url": "https://guahao.example.org/callbacks/wechatpay",
            "amount": {"refund": 500, "total": 500, "currency": "CNY"},
        })
    );
}

#[tokio::test]
async fn query_refund_reads_the_outcome() {
    let wechat = FakeWechatPay::answering(200, &refund_answer("SUCCESS"), Signing::Platform).await;

    let refund = client(&wechat.url)
        .query_refund("R0192f0c0a0b07c3d")
        .await
        .unwrap();

    assert_eq!(refund.status, RefundStatus::Success);
    let request = wechat.request().await;
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("GET", "/v3/refund/domestic/refunds/R0192f0c0a0b07c3d")
    );
    assert_signed_by_us(&request);
}

#[tokio::test]
async fn a_signed_refusal_keeps_wechats_code_and_status() {
    for (status, code) in [
        (404, "ORDER_NOT_EXIST"),
        (400, "ORDERPAID"),
        (401, "SIGN_ERROR"),
    ] {
        let body = json!({"code": code, "message": "refused"}).to_string();
        let wechat = FakeWechatPay::answering(status, &body, Signing::Platform).await;

        let error = client(&wechat.url)
            .query_order(OUT_TRADE_NO)
            .await
            .unwrap_err();

        assert!(
            matches!(&error, WechatPayError::Api { authenticated: true, message, .. } if message == "refused"),
            "{error:?}"
        );
        assert_eq!(error.code(), Some(code));
        assert_eq!(error.status(), Some(status));
    }
}

#[tokio::test]
async fn an_unsigned_or_forged_refusal_is_marked_unauthenticated() {
    for signing in [Signing::Unsigned, Signing::Forged] {
        let wechat = FakeWechatPay::answering(
            400,
            r#"{"code":"ORDERPAID","message":"订单已支付"}"#,
            signing,
        )
        .await;

        let error = client(&wechat.url)
            .close_order(OUT_TRADE_NO)
            .await
            .unwrap_err();

        assert!(
            matches!(error, WechatPayError::Api { authenticated: false, status: 400, ref code, .. } if code == "ORDERPAID"),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_success_answer_that_does_not_verify_is_not_read() {
    let answer = r#"{"prepay_id":"wx-forged"}"#;
    for (signing, expected) in [
        (Signing::Forged, SignatureCheckError::BadSignature),
        (
            Signing::Unsigned,
            SignatureCheckError::MissingHeader("Wechatpay-Timestamp"),
        ),
    ] {
        let wechat = FakeWechatPay::answering(200, answer, signing).await;
        let order = JsapiOrder {
            out_trade_no: OUT_TRADE_NO.into(),
            description: "挂号费".into(),
            amount_fen: 500,
            payer_openid: "o1".into(),
            notify_url: "https://guahao.example.org/callbacks/wechatpay".into(),
            time_expire: Utc::now(),
        };

        let error = client(&wechat.url).jsapi_prepay(&order).await.unwrap_err();

        match error {
            WechatPayError::Unauthenticated(found) => assert_eq!(found, expected),
            other => panic!("expected Unauthenticated, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_answer_of_an_unknown_shape_is_reported_with_its_status() {
    let wechat = FakeWechatPay::answering(502, "<html>bad gateway</html>", Signing::Unsigned).await;

    let error = client(&wechat.url).query_refund("R1").await.unwrap_err();

    assert!(
        matches!(&error, WechatPayError::Unexpected { status: 502, detail } if detail.contains("bad gateway")),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(502));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (url, _held) = FakeWechatPay::silent().await;

    let error = client(&url)
        .with_timeout(Duration::from_millis(200))
        .query_order(OUT_TRADE_NO)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, WechatPayError::Transport(e) if e.is_timeout()),
        "{error:?}"
    );
}

#[tokio::test]
async fn values_wechat_would_refuse_are_caught_before_sending() {
    // Nothing listens here: a request that got out would fail with a transport error instead.
    let client = client("http://127.0.0.1:9");
    for out_trade_no in [
        "short",
        "../../v3/refund",
        "a?b=c#0123456789",
        &"x".repeat(33),
    ] {
        let error = client.query_order(out_trade_no).await.unwrap_err();
        assert!(
            matches!(
                error,
                WechatPayError::InvalidArgument {
                    field: "out_trade_no",
                    ..
                }
            ),
            "{out_trade_no}: {error:?}"
        );
    }
    let error = client.query_refund("R/1").await.unwrap_err();
    assert!(matches!(
        error,
        WechatPayError::InvalidArgument {
            field: "out_refund_no",
            ..
        }
    ));
    let too_much = RefundRequest {
        out_trade_no: OUT_TRADE_NO.into(),
        out_refund_no: "R1".into(),
        reason: None,
        refund_fen: 501,
        total_fen: 500,
        notify_url: None,
    };
    assert!(matches!(
        client.refund(&too_much).await.unwrap_err(),
        WechatPayError::InvalidArgument {
            field: "refund_fen",
            ..
        }
    ));
    let free = JsapiOrder {
        out_trade_no: OUT_TRADE_NO.into(),
        description: "挂号费".into(),
        amount_fen: 0,
        payer_openid: "o1".into(),
        notify_url: "https://guahao.example.org/callbacks/wechatpay".into(),
        time_expire: Utc::now(),
    };
    assert!(matches!(
        client.jsapi_prepay(&free).await.unwrap_err(),
        WechatPayError::InvalidArgument {
            field: "amount_fen",
            ..
        }
    ));
}

#[test]
fn a_base_url_that_is_not_absolute_http_is_refused() {
    for base_url in [
        "api.mch.weixin.qq.com",
        "ftp://api.mch.weixin.qq.com",
        "https://x/?a=1",
    ] {
        assert!(matches!(
            WechatPayClient::new(config(base_url), reqwest::Client::new()),
            Err(WechatPayError::InvalidArgument {
                field: "base_url",
                ..
            })
        ));
    }
}

#[test]
fn request_payment_is_signed_for_the_configured_appid() {
    let payment = client("http://127.0.0.1:9")
        .request_payment("wx201410272009395522657a690389285100")
        .unwrap();

    assert_eq!(payment.app_id, APPID);
    assert_eq!(
        payment.package,
        "prepay_id=wx201410272009395522657a690389285100"
    );
    assert_eq!(payment.sign_type, "RSA");
    assert_eq!(payment.nonce_str.len(), 32);
    let time_stamp: i64 = payment.time_stamp.parse().unwrap();
    assert!((Utc::now().timestamp() - time_stamp).abs() <= 5);
    RsaPublicKey::from_file(dev_key_path("wechatpay_merchant_public.pem"))
        .unwrap()
        .verify_base64(
            &pay_sign_message(
                &payment.app_id,
                &payment.time_stamp,
                &payment.nonce_str,
                &payment.package,
            ),
            &payment.pay_sign,
        )
        .unwrap();
}
