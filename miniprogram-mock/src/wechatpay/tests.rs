//! The simulation driven through real HTTP by the adapter's own client, and its notifications
//! checked by the adapter's own verifier: what the gateway will do against it.

use super::*;
use actix_web::{App, HttpServer};
use payment_adapter::wechatpay::{
    JsapiOrder, NotificationResource, PlatformKeys, RefundRequest, RefundStatus, SignatureHeaders,
    TradeState, WechatPayClient, WechatPayConfig, WechatPayError, WechatPayNotification,
    authorization_header, verify_notification,
};
use std::time::{Duration, Instant};

const PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";
const MERCHANT_SERIAL: &str = "DEV0000000000000000000000000000000000001";
const APIV3_KEY: &str = "dev-only-apiv3-key-0123456789abc";

fn key_path(name: &str) -> std::path::PathBuf {
    keys_dir().join(name)
}

/// Starts the mock's WeChat Pay on a free port; returns its base URL.
fn start_mock() -> String {
    let state = web::Data::new(State::from_env().unwrap());
    let notifier = web::Data::new(Notifier::from_env());
    let server = HttpServer::new(move || {
        App::new().configure(|cfg| {
            crate::notify::configure(cfg, &notifier);
            configure(cfg, &state);
        })
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    url
}

/// A merchant `notify_url` that records each notification's signature headers and raw body.
struct Merchant {
    received: Mutex<Vec<Received>>,
}

#[derive(Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn receive(
    merchant: web::Data<Merchant>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = [
        HEADER_TIMESTAMP,
        HEADER_NONCE,
        HEADER_SIGNATURE,
        HEADER_SERIAL,
    ]
    .iter()
    .filter_map(|name| {
        let value = request.headers().get(*name)?.to_str().ok()?;
        Some(((*name).to_owned(), value.to_owned()))
    })
    .collect();
    merchant.received.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    HttpResponse::NoContent().finish()
}

fn start_merchant() -> (web::Data<Merchant>, String) {
    let merchant = web::Data::new(Merchant {
        received: Mutex::new(Vec::new()),
    });
    let shared = merchant.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/callbacks/wechatpay", web::post().to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/callbacks/wechatpay", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    (merchant, url)
}

impl Merchant {
    /// Waits (at most 5 s) for the `count`-th notification and opens it as the gateway would.
    async fn notification(&self, count: usize) -> WechatPayNotification {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let received = self.received.lock().unwrap().get(count - 1).cloned();
            if let Some(Received { headers, body }) = received {
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(known, _)| known == name)
                        .map(|(_, value)| value.as_str())
                };
                let headers = SignatureHeaders::from_lookup(header);
                return verify_notification(
                    &platform_keys(),
                    &ApiV3Key::new(APIV3_KEY).unwrap(),
                    &headers,
                    &body,
                    Utc::now(),
                )
                .expect("the notification verifies and decrypts");
            }
            assert!(Instant::now() < deadline, "notification {count} never came");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn platform_keys() -> PlatformKeys {
    PlatformKeys::with_public_key(
        PUB_KEY_ID,
        RsaPublicKey::from_file(key_path("wechatpay_platform_public.pem")).unwrap(),
    )
}

fn config(base_url: &str) -> WechatPayConfig {
    WechatPayConfig {
        base_url: base_url.into(),
        mchid: "1900000001".into(),
        appid: "wxd0000000000dev0".into(),
        merchant_serial_no: MERCHANT_SERIAL.into(),
        merchant_private_key: RsaPrivateKey::from_file(key_path("wechatpay_merchant_private.pem"))
            .unwrap(),
        apiv3_key: ApiV3Key::new(APIV3_KEY).unwrap(),
        platform_keys: platform_keys(),
    }
}

fn client(config: WechatPayConfig) -> WechatPayClient {
    WechatPayClient::new(config, reqwest::Client::new()).unwrap()
}

fn order(out_trade_no: &str, notify_url: &str) -> JsapiOrder {
    JsapiOrder {
        out_trade_no: out_trade_no.into(),
        description: "协和医院-内科-挂号费".into(),
        amount_fen: 500,
        payer_openid: "o-mock-alice".into(),
        notify_url: notify_url.into(),
        time_expire: Utc::now() + chrono::TimeDelta::minutes(10),
    }
}

async fn pay_hook(base_url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/mock/wechatpay/pay"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn api_code(error: &WechatPayError) -> (Option<u16>, Option<&str>, bool) {
    let authenticated = matches!(
        error,
        WechatPayError::Api {
            authenticated: true,
            ..
        }
    );
    (error.status(), error.code(), authenticated)
}

#[actix_web::test]
async fn the_adapter_pays_refunds_and_hears_of_both() {
    let base_url = start_mock();
    let (merchant, notify_url) = start_merchant();
    let wechat = client(config(&base_url));
    let out_trade_no = "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f";

    let prepay_id = wechat
        .jsapi_prepay(&order(out_trade_no, &notify_url))
        .await
        .unwrap();
    assert!(prepay_id.starts_with("wx"));
    assert_eq!(
        wechat.query_order(out_trade_no).await.unwrap().trade_state,
        TradeState::NotPay
    );

    let (status, paid) = pay_hook(&base_url, json!({"prepay_id": prepay_id})).await;
    assert_eq!(status, 200);
    assert_eq!(paid["out_trade_no"], out_trade_no);
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_owned();

    let notification = merchant.notification(1).await;
    assert_eq!(notification.event_type.as_str(), "TRANSACTION.SUCCESS");
    assert_eq!(notification.serial, PUB_KEY_ID);
    let NotificationResource::Transaction(transaction) = notification.resource else {
        panic!("expected a transaction");
    };
    assert_eq!(transaction.out_trade_no, out_trade_no);
    assert_eq!(transaction.total_fen, Some(500));
    assert_eq!(
        transaction.transaction_id.as_deref(),
        Some(transaction_id.as_str())
    );
    assert_eq!(transaction.payer_openid.as_deref(), Some("o-mock-alice"));

    let queried = wechat.query_order(out_trade_no).await.unwrap();
    assert_eq!(queried.trade_state, TradeState::Success);
    assert_eq!(
        queried.transaction_id.as_deref(),
        Some(transaction_id.as_str())
    );

    let closing_paid = wechat.close_order(out_trade_no).await.unwrap_err();
    assert_eq!(
        api_code(&closing_paid),
        (Some(400), Some("ORDERPAID"), true)
    );

    let refund = RefundRequest {
        out_trade_no: out_trade_no.into(),
        out_refund_no: "R0192f0c0a0b07c3d8e9f0a1b2c3d4e5f".into(),
        reason: Some("患者取消".into()),
        refund_fen: 500,
        total_fen: 500,
        notify_url: Some(notify_url.clone()),
    };
    let started = wechat.refund(&refund).await.unwrap();
    assert_eq!(started.status, RefundStatus::Processing);

    let notification = merchant.notification(2).await;
    assert_eq!(notification.event_type.as_str(), "REFUND.SUCCESS");
    let NotificationResource::Refund(refunded) = notification.resource else {
        panic!("expected a refund");
    };
    assert_eq!(refunded.status, RefundStatus::Success);
    assert_eq!(refunded.refund_id, started.refund_id);
    assert_eq!(refunded.refund_fen, 500);

    let queried = wechat.query_refund(&refund.out_refund_no).await.unwrap();
    assert_eq!(queried.status, RefundStatus::Success);
    assert_eq!(
        wechat.query_order(out_trade_no).await.unwrap().trade_state,
        TradeState::Refund
    );
    let more = RefundRequest {
        out_refund_no: "R2".into(),
        refund_fen: 1,
        ..refund
    };
    let refusal = wechat.refund(&more).await.unwrap_err();
    assert_eq!(
        api_code(&refusal),
        (Some(400), Some("INVALID_REQUEST"), true)
    );
}

#[actix_web::test]
async fn requests_not_signed_by_the_merchant_are_refused_with_sign_error() {
    let base_url = start_mock();
    let wrong_key = WechatPayConfig {
        merchant_private_key: RsaPrivateKey::from_file(key_path("alipay_app_private.pem")).unwrap(),
        ..config(&base_url)
    };
    let wrong_serial = WechatPayConfig {
        merchant_serial_no: "DEV0000000000000000000000000000000000002".into(),
        ..config(&base_url)
    };
    let wrong_mchid = WechatPayConfig {
        mchid: "1900000002".into(),
        ..config(&base_url)
    };
    for config in [wrong_key, wrong_serial, wrong_mchid] {
        let error = client(config)
            .query_order("0192f0c0a0b07c3d8e9f0a1b2c3d4e5f")
            .await
            .unwrap_err();
        assert_eq!(api_code(&error), (Some(401), Some("SIGN_ERROR"), true));
    }
}

/// Sends `body` to `path` signed like the adapter does, but stamped `timestamp`.
async fn signed_post(base_url: &str, path: &str, body: &Value, timestamp: i64) -> (u16, Value) {
    let body = body.to_string();
    let key = RsaPrivateKey::from_file(key_path("wechatpay_merchant_private.pem")).unwrap();
    let authorization = authorization_header(
        payment_adapter::wechatpay::Merchant {
            mchid: "1900000001",
            serial_no: MERCHANT_SERIAL,
            private_key: &key,
        },
        "POST",
        path,
        &timestamp.to_string(),
        "0123456789ABCDEF0123456789ABCDEF",
        body.as_bytes(),
    )
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .header("Authorization", authorization)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn order_body() -> Value {
    json!({
        "appid": "wxd0000000000dev0", "mchid": "1900000001", "description": "挂号费",
        "out_trade_no": "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "notify_url": "http://127.0.0.1:9/callbacks/wechatpay",
        "amount": {"total": 500, "currency": "CNY"}, "payer": {"openid": "o-mock-alice"}
    })
}

#[actix_web::test]
async fn stale_or_missing_authorization_is_refused() {
    let base_url = start_mock();
    let stale = Utc::now().timestamp() - 301;
    let (status, answer) = signed_post(
        &base_url,
        "/v3/pay/transactions/jsapi",
        &order_body(),
        stale,
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("SIGN_ERROR")));

    let response = reqwest::Client::new()
        .post(format!("{base_url}/v3/pay/transactions/jsapi"))
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Even the refusal is signed, so a client can trust it.
    assert_eq!(
        response
            .headers()
            .get(HEADER_SERIAL)
            .and_then(|v| v.to_str().ok()),
        Some(PUB_KEY_ID)
    );
}

#[actix_web::test]
async fn order_bodies_are_validated_like_wechat() {
    let base_url = start_mock();
    let now = Utc::now().timestamp();
    let path = "/v3/pay/transactions/jsapi";
    let with = |pointer: &str, value: Value| {
        let mut body = order_body();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases = [
        (with("/amount/total", json!(0)), "PARAM_ERROR"),
        (with("/payer/openid", json!("")), "PARAM_ERROR"),
        (
            with("/appid", json!("wxd0000000000dev9")),
            "APPID_MCHID_NOT_MATCH",
        ),
        (with("/mchid", json!("1900000002")), "APPID_MCHID_NOT_MATCH"),
        (with("/out_trade_no", json!("a/b")), "PARAM_ERROR"),
        (
            with("/notify_url", json!("http://x/callbacks?a=1")),
            "PARAM_ERROR",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = signed_post(&base_url, path, &body, now).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }

    let (status, first) = signed_post(&base_url, path, &order_body(), now).await;
    assert_eq!(status, 200);
    let (status, again) = signed_post(&base_url, path, &order_body(), now).await;
    assert_eq!(status, 200);
    assert_ne!(first["prepay_id"], again["prepay_id"]);
    let (status, answer) =
        signed_post(&base_url, path, &with("/amount/total", json!(501)), now).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
}

#[actix_web::test]
async fn unknown_orders_are_order_not_exist() {
    let wechat = client(config(&start_mock()));
    for error in [
        wechat
            .query_order("0192f0c0a0b07c3d8e9f0a1b2c3d4e60")
            .await
            .unwrap_err(),
        wechat
            .close_order("0192f0c0a0b07c3d8e9f0a1b2c3d4e60")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(api_code(&error), (Some(404), Some("ORDER_NOT_EXIST"), true));
    }
    let (status, answer) =
        pay_hook(&wechat.config().base_url, json!({"prepay_id": "wx-none"})).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("PREPAY_ID_NOT_EXIST"))
    );
}

#[actix_web::test]
async fn a_closed_order_cannot_be_paid() {
    let base_url = start_mock();
    let wechat = client(config(&base_url));
    let out_trade_no = "0192f0c0a0b07c3d8e9f0a1b2c3d4e61";
    let prepay_id = wechat
        .jsapi_prepay(&order(
            out_trade_no,
            "http://127.0.0.1:9/callbacks/wechatpay",
        ))
        .await
        .unwrap();

    wechat.close_order(out_trade_no).await.unwrap();

    assert_eq!(
        wechat.query_order(out_trade_no).await.unwrap().trade_state,
        TradeState::Closed
    );
    let (status, _) = pay_hook(&base_url, json!({"prepay_id": prepay_id})).await;
    assert_eq!(status, 409);
}

#[actix_web::test]
async fn the_pay_hook_can_report_a_tampered_amount() {
    let base_url = start_mock();
    let (merchant, notify_url) = start_merchant();
    let wechat = client(config(&base_url));
    let prepay_id = wechat
        .jsapi_prepay(&order("0192f0c0a0b07c3d8e9f0a1b2c3d4e62", &notify_url))
        .await
        .unwrap();

    let (status, _) = pay_hook(&base_url, json!({"prepay_id": prepay_id, "amount_fen": 1})).await;
    assert_eq!(status, 200);

    let NotificationResource::Transaction(transaction) = merchant.notification(1).await.resource
    else {
        panic!("expected a transaction");
    };
    assert_eq!(transaction.total_fen, Some(1));
}
