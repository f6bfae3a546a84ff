//! The simulated gateway driven by the real adapter (`payment_adapter::alipay::AlipayClient`) over
//! HTTP, with a merchant `notify_url` that checks every notification with the adapter's
//! `verify_notification`.

use super::*;
use actix_web::{App, HttpServer};
use chrono::DateTime;
use payment_adapter::alipay::{
    AlipayBuyer, AlipayClient, AlipayError, AlipayNotification, TradeCreateRequest, TradeStatus,
    verify_notification,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP_ID: &str = "2021000000000000";
const OPEN_ID: &str = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo";

fn dev_key(name: &str) -> std::path::PathBuf {
    keys_dir().join(name)
}

/// The merchant's `notify_url`: keeps the bodies and answers `success`.
#[derive(Default)]
struct Merchant {
    bodies: Mutex<Vec<Vec<u8>>>,
}

impl Merchant {
    /// Waits (at most 5 s) for the `n`th notification.
    async fn nth(&self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(body) = self.bodies.lock().unwrap().get(n - 1) {
                return body.clone();
            }
            assert!(Instant::now() < deadline, "notification {n} never came");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct World {
    client: AlipayClient,
    mock_url: String,
    notify_url: String,
    merchant: Arc<Merchant>,
    http: reqwest::Client,
    /// The `time_expire` of every order: one instant, as Alipay compares it (to the second)
    /// when an order is created again, and two calls to the clock can straddle a second.
    time_expire: DateTime<Utc>,
}

/// The alipay simulation and a merchant, each on a free loopback port.
async fn world() -> World {
    let state = web::Data::new(State::from_env().unwrap());
    let notifier = web::Data::new(Notifier::from_env());
    let mock = HttpServer::new(move || {
        App::new()
            .app_data(notifier.clone())
            .configure(|cfg| configure(cfg, &state))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let mock_url = format!("http://{}", mock.addrs()[0]);
    actix_web::rt::spawn(mock.run());

    let merchant = Arc::new(Merchant::default());
    let shared = web::Data::from(merchant.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(shared.clone()).default_service(web::to(
            |merchant: web::Data<Merchant>, body: web::Bytes| async move {
                merchant.bodies.lock().unwrap().push(body.to_vec());
                HttpResponse::Ok().body("success")
            },
        ))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let notify_url = format!("http://{}/callbacks/alipay", server.addrs()[0]);
    actix_web::rt::spawn(server.run());

    let client = AlipayClient::from_key_files(
        format!("{mock_url}/gateway.do"),
        APP_ID,
        dev_key("alipay_app_private.pem"),
        dev_key("alipay_platform_public.pem"),
        reqwest::Client::new(),
    )
    .unwrap();
    World {
        client,
        mock_url,
        notify_url,
        merchant,
        http: reqwest::Client::new(),
        time_expire: Utc::now() + TimeDelta::minutes(15),
    }
}

impl World {
    fn order<'a>(&'a self, out_trade_no: &'a str, total_fen: i64) -> TradeCreateRequest<'a> {
        TradeCreateRequest {
            out_trade_no,
            total_fen,
            subject: "挂号费 内科 Registration fee",
            buyer: AlipayBuyer::OpenId(OPEN_ID),
            time_expire: self.time_expire,
            notify_url: &self.notify_url,
        }
    }

    async fn pay(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/mock/alipay/pay", self.mock_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn verified(body: &[u8]) -> AlipayNotification<'static> {
    let key = RsaPublicKey::from_file(dev_key("alipay_platform_public.pem")).unwrap();
    verify_notification(body, &key, APP_ID)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
        .into_owned()
}

fn assert_business<T: std::fmt::Debug>(result: Result<T, AlipayError>, sub_code: &str) {
    match result {
        Err(error) => assert_eq!(error.sub_code(), Some(sub_code), "{error}"),
        Ok(value) => panic!("expected {sub_code}, got {value:?}"),
    }
}

#[actix_web::test]
async fn pay_then_refund_with_verified_notifications() {
    let world = world().await;
    let out_trade_no = "0195a0b2c3d4e5f60718293a4b5c6d7e";
    let created = world
        .client
        .trade_create(&world.order(out_trade_no, 2500))
        .await
        .unwrap();
    assert_eq!(created.trade_no.len(), 28);
    let query = world.client.trade_query(out_trade_no).await.unwrap();
    assert_eq!(
        (query.trade_status, query.total_fen, query.paid_at),
        (TradeStatus::WaitBuyerPay, 2500, None)
    );

    let (status, answer) = world.pay(json!({"trade_no": created.trade_no})).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"trade_no": created.trade_no, "out_trade_no": out_trade_no})
    );
    let paid = verified(&world.merchant.nth(1).await);
    assert_eq!(paid.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(
        (paid.total_fen, paid.receipt_amount_fen),
        (2500, Some(2500))
    );
    assert_eq!(
        (paid.out_trade_no.as_ref(), paid.trade_no.as_ref()),
        (out_trade_no, created.trade_no.as_str())
    );
    assert_eq!(paid.buyer_open_id.as_deref(), Some(OPEN_ID));
    assert!(paid.gmt_payment.is_some() && paid.refund_fee_fen.is_none());

    let query = world.client.trade_query(out_trade_no).await.unwrap();
    assert_eq!(query.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(query.buyer_open_id.as_deref(), Some(OPEN_ID));
    assert!(query.paid_at.is_some());
    assert_business(
        world.client.trade_close(out_trade_no).await,
        "ACQ.TRADE_STATUS_ERROR",
    );
    assert_business(
        world
            .client
            .trade_create(&world.order(out_trade_no, 2500))
            .await,
        "ACQ.TRADE_HAS_SUCCESS",
    );

    assert_business(
        world
            .client
            .trade_refund(out_trade_no, "R1", 2501, None)
            .await,
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    );
    let not_yet = world.client.refund_query(out_trade_no, "R1").await.unwrap();
    assert!(!not_yet.is_done());
    let refunded = world
        .client
        .trade_refund(out_trade_no, "R1", 2500, Some("患者取消"))
        .await
        .unwrap();
    assert!(refunded.is_done());
    assert_eq!(refunded.refund_fee_fen, 2500);
    let repeated = world
        .client
        .trade_refund(out_trade_no, "R1", 2500, None)
        .await
        .unwrap();
    assert!(!repeated.fund_change && !repeated.is_done());
    let query = world.client.refund_query(out_trade_no, "R1").await.unwrap();
    assert!(query.is_done());
    assert_eq!(query.refund_amount_fen, Some(2500));
    assert!(query.gmt_refund_pay.is_some());

    let closed = verified(&world.merchant.nth(2).await);
    assert_eq!(closed.trade_status, TradeStatus::TradeClosed);
    assert_eq!(closed.refund_fee_fen, Some(2500));
    assert_eq!(closed.out_biz_no.as_deref(), Some("R1"));
    assert!(closed.gmt_refund.is_some());
    assert_ne!(closed.notify_id, paid.notify_id);
    assert_eq!(
        world
            .client
            .trade_query(out_trade_no)
            .await
            .unwrap()
            .trade_status,
        TradeStatus::TradeClosed
    );
}

#[actix_web::test]
async fn a_tampered_amount_is_signed_like_any_other_notification() {
    let world = world().await;
    let created = world
        .client
        .trade_create(&world.order("T2", 2500))
        .await
        .unwrap();
    let (status, _) = world
        .pay(json!({"trade_no": created.trade_no, "total_amount": "0.01"}))
        .await;
    assert_eq!(status, 200);
    // Verification passes; comparing with the booking's amount is the merchant's job.
    assert_eq!(verified(&world.merchant.nth(1).await).total_fen, 1);
}

#[actix_web::test]
async fn creation_is_idempotent_only_for_the_same_terms() {
    let world = world().await;
    let first = world
        .client
        .trade_create(&world.order("T3", 2500))
        .await
        .unwrap();
    let order = world.order("T3", 2500);
    let again = world.client.trade_create(&order).await.unwrap();
    assert_eq!(again.trade_no, first.trade_no);
    assert_business(
        world.client.trade_create(&world.order("T3", 3000)).await,
        "ACQ.CONTEXT_INCONSISTENT",
    );
    world.client.trade_close("T3").await.unwrap();
    assert_business(
        world.client.trade_create(&order).await,
        "ACQ.TRADE_HAS_CLOSE",
    );
    let (status, answer) = world.pay(json!({"trade_no": first.trade_no})).await;
    assert_eq!(status, 409);
    assert_eq!(answer["error"]["code"], "ACQ.TRADE_HAS_CLOSE");
}

#[actix_web::test]
async fn unknown_trades_and_bad_orders_are_refused_as_alipay_does() {
    let world = world().await;
    assert_business(
        world.client.trade_query("nope").await,
        "ACQ.TRADE_NOT_EXIST",
    );
    assert_business(
        world.client.trade_close("nope").await,
        "ACQ.TRADE_NOT_EXIST",
    );
    assert_business(
        world.client.trade_refund("nope", "R1", 100, None).await,
        "ACQ.TRADE_NOT_EXIST",
    );
    assert_business(
        world.client.refund_query("nope", "R1").await,
        "ACQ.TRADE_NOT_EXIST",
    );
    let (status, answer) = world
        .pay(json!({"trade_no": "2025030122001000000000000000"}))
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("ACQ.TRADE_NOT_EXIST"))
    );

    let order = json!({
        "out_trade_no": "T4", "total_amount": "25.00", "subject": "挂号费",
        "product_code": "JSAPI_PAY", "buyer_open_id": OPEN_ID,
    });
    let without = |name: &str| {
        let mut biz = order.clone();
        biz.as_object_mut().unwrap().remove(name);
        biz
    };
    let with = |name: &str, value: &str| {
        let mut biz = order.clone();
        biz[name] = value.into();
        biz
    };
    let mut junk_user_id = without("buyer_open_id");
    junk_user_id["buyer_id"] = "not-a-2088-id".into();
    for (biz, sub_code) in [
        (without("buyer_open_id"), "ACQ.BUYER_NOT_EXIST"),
        (junk_user_id, "ACQ.BUYER_NOT_EXIST"),
        (
            with("buyer_id", "2088102150477652"),
            "ACQ.INVALID_PARAMETER",
        ),
        (without("product_code"), "ACQ.ACCESS_FORBIDDEN"),
        (with("total_amount", "25.001"), "ACQ.INVALID_PARAMETER"),
        (with("total_amount", "0.00"), "ACQ.INVALID_PARAMETER"),
        (
            with("total_amount", "100000000.01"),
            "ACQ.INVALID_PARAMETER",
        ),
        (without("subject"), "ACQ.INVALID_PARAMETER"),
        (with("out_trade_no", "T4/../x"), "ACQ.INVALID_PARAMETER"),
        (
            with("time_expire", "in 15 minutes"),
            "ACQ.INVALID_PARAMETER",
        ),
    ] {
        assert_business(
            world
                .client
                .call("alipay.trade.create", Some(biz), &[])
                .await,
            sub_code,
        );
    }
}

#[actix_web::test]
async fn an_unpaid_trade_closes_at_time_expire() {
    let world = world().await;
    let order = TradeCreateRequest {
        time_expire: Utc::now() - TimeDelta::seconds(1),
        ..world.order("T5", 2500)
    };
    let created = world.client.trade_create(&order).await.unwrap();
    assert_eq!(
        world.client.trade_query("T5").await.unwrap().trade_status,
        TradeStatus::TradeClosed
    );
    let (status, _) = world.pay(json!({"trade_no": created.trade_no})).await;
    assert_eq!(status, 409);
}

#[test]
fn only_a_2xx_success_body_stops_the_retries() {
    assert!(notification::accepted_answer(200, b"success"));
    assert!(!notification::accepted_answer(200, b"success\n"));
    assert!(!notification::accepted_answer(200, b"fail"));
    assert!(!notification::accepted_answer(500, b"success"));
}
