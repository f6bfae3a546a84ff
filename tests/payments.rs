//! Paying for bookings end to end: the real gateway and the mock providers over HTTP. A booking
//! opens its WeChat Pay or Alipay order, the mock "pays" and posts the signed notification, the
//! gateway verifies and applies it once; cancelling refunds; forged, stale, replayed and foreign
//! notifications are refused and logged; copies confirm once; a gateway that was down when the
//! mock sent is caught up by the mock's retries, and a lost notification by the poller.

use chrono::{Days, FixedOffset, Utc};
use e2e::{
    Api, Gateway, GatewayOptions, Mock, TestDb, own_redis_keys, place_of, shared_servers, unique,
    unique_passport, workspace_root,
};
use payment_adapter::keys::{RsaPrivateKey, RsaPublicKey};
use payment_adapter::wechatpay::{ApiV3Key, pay_sign_message};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::time::Duration;

const MCHID: &str = "1900000001";
const APPID: &str = "wxd0000000000dev0";
const APIV3_KEY: &str = "dev-only-apiv3-key-0123456789abc";
const PLATFORM_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";

/// A bookable doctor's schedule of the `nth` hospital, `(schedule_id, segment_id)`, two days
/// ahead or later in Beijing: a paid booking of it can be cancelled at any hour of the run
/// (online cancellation closes at 15:00 the day before the visit).
async fn bookable(api: &Api, nth: usize) -> (String, String) {
    let hospital = api.hospital_id(nth).await;
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
    let from = Utc::now().with_timezone(&beijing).date_naive() + Days::new(2);
    let schedules = api
        .bookable_doctor_schedules(&format!("hospital_id={hospital}&date_from={from}"))
        .await;
    place_of(
        schedules
            .first()
            .expect("a bookable schedule in the demo data"),
    )
}

/// A booking of `patient` at `place` paid through `channel`, which must be held.
async fn book(
    api: &Api,
    token: &str,
    patient: &str,
    place: &(String, String),
    channel: &str,
) -> Value {
    let (status, _, body) = api
        .book(
            token,
            Some(&format!("pay-{patient}")),
            &json!({"schedule_id": place.0, "segment_id": place.1, "patient_id": patient, "channel": channel}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Cancels a booking, which must be accepted.
async fn cancel(api: &Api, token: &str, id: &str) -> Value {
    let (status, body) = api.cancel(token, id).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn mock_post(mock: &Mock, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", mock.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// A gateway on SQLite with in-process stores, or on a fresh PostgreSQL database with the
/// shared Redis (`None` when those servers are missing and not required). The database lives as
/// long as the returned guard.
async fn start(
    mock: &Mock,
    postgres: bool,
    more: Vec<(String, String)>,
) -> Option<(Gateway, Option<TestDb>)> {
    let (database, redis_url) = if postgres {
        let (database, redis_url) = shared_servers().await?;
        (Some(database), Some(redis_url))
    } else {
        (None, None)
    };
    let mut env = vec![own_redis_keys("guahao-e2e-pay")];
    env.extend(more);
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: database.as_ref().map(|d| d.url.clone()),
        redis_url,
        seed_demo: true,
        extra_env: mock.env_with(env),
    })
    .await;
    Some((gateway, database))
}

async fn database(gateway: &Gateway) -> DatabaseConnection {
    Database::connect(gateway.setting("GUAHAO__DATABASE__URL").unwrap())
        .await
        .unwrap()
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

/// A patient logged in through `channel` (as `mock-{tag}`) with one patient record.
async fn patient(api: &Api, channel: &str, tag: &str) -> (String, String) {
    let token = api.login(channel, &format!("mock-{tag}")).await;
    let patient = api
        .add_patient(&token, "Pay Patient", &unique_passport())
        .await;
    (token, patient)
}

/// A new WeChat patient's booking at the first hospital: `(token, booking)`.
async fn wechat_booking(api: &Api, tag: &str) -> (String, Value) {
    let (token, patient) = patient(api, "wechat", &unique(tag)).await;
    let booking = book(api, &token, &patient, &bookable(api, 0).await, "wechat").await;
    (token, booking)
}

/// The `prepay_id` inside the booking's `wx.requestPayment` package.
fn prepay_id(booking: &Value) -> String {
    booking["payment"]["package"]
        .as_str()
        .and_then(|p| p.strip_prefix("prepay_id="))
        .expect("package = prepay_id=…")
        .to_owned()
}

/// The mock pays the booking's WeChat order and posts the notification.
async fn pay_with_wechat(mock: &Mock, booking: &Value) {
    mock_post(
        mock,
        "/mock/wechatpay/pay",
        json!({"prepay_id": prepay_id(booking)}),
    )
    .await;
}

async fn wechat_journey(api: &Api, mock: &Mock) {
    let (token, booking) = wechat_booking(api, "wx-payer").await;
    let payment = &booking["payment"];
    assert_eq!(payment["appId"], APPID, "{booking}");
    assert_eq!(payment["signType"], "RSA");
    // wx.requestPayment checks paySign with the merchant's public key: so does this test.
    let text = |field: &str| payment[field].as_str().unwrap();
    let merchant_key = RsaPublicKey::from_file(
        workspace_root().join("config/dev-keys/wechatpay_merchant_public.pem"),
    )
    .unwrap();
    merchant_key
        .verify_base64(
            &pay_sign_message(
                text("appId"),
                text("timeStamp"),
                text("nonceStr"),
                text("package"),
            ),
            text("paySign"),
        )
        .expect("paySign verifies with the merchant key");

    pay_with_wechat(mock, &booking).await;
    let id = booking["id"].as_str().unwrap();
    let confirmed = api
        .wait_for(&token, id, "confirmed", Duration::from_secs(10))
        .await;
    assert_eq!(confirmed["visit_number"], 1, "{confirmed}");

    let cancelled = cancel(api, &token, id).await;
    assert_eq!(cancelled["status"], "refunding", "{cancelled}");
    // The mock answers PROCESSING and then posts REFUND.SUCCESS.
    api.wait_for(&token, id, "refunded", Duration::from_secs(10))
        .await;
}

async fn alipay_journey(api: &Api, mock: &Mock) {
    let (token, patient) = patient(api, "alipay", &unique("ali-payer")).await;
    let place = bookable(api, 1).await;
    let booking = book(api, &token, &patient, &place, "alipay").await;
    let trade_no = booking["payment"]["tradeNO"]
        .as_str()
        .expect("{tradeNO}")
        .to_owned();
    mock_post(mock, "/mock/alipay/pay", json!({"trade_no": trade_no})).await;
    let id = booking["id"].as_str().unwrap();
    api.wait_for(&token, id, "confirmed", Duration::from_secs(10))
        .await;
    // Alipay refunds synchronously (fund_change=Y): refunded in the cancel's own answer.
    let cancelled = cancel(api, &token, id).await;
    assert_eq!(cancelled["status"], "refunded", "{cancelled}");
}

#[tokio::test]
async fn both_channels_pay_and_refund_on_sqlite_with_in_process_stores() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    wechat_journey(&api, &mock).await;
    alipay_journey(&api, &mock).await;
    let db = database(&gateway).await;
    let applied = rows(
        &db,
        "SELECT provider, outcome FROM callback_log WHERE verified = true ORDER BY received_at",
    )
    .await;
    let seen: Vec<(String, String)> = applied
        .iter()
        .map(|r| {
            (
                r.try_get("", "provider").unwrap(),
                r.try_get("", "outcome").unwrap(),
            )
        })
        .collect();
    assert!(
        seen.contains(&("wechatpay".into(), "confirmed".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("wechatpay".into(), "refunded".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("alipay".into(), "confirmed".into())),
        "{seen:?}"
    );
}

#[tokio::test]
async fn both_channels_pay_and_refund_on_postgresql_with_redis() {
    let mock = Mock::start().await;
    let Some((gateway, _db)) = start(&mock, true, Vec::new()).await else {
        return;
    };
    let api = Api::new(&gateway);
    wechat_journey(&api, &mock).await;
    alipay_journey(&api, &mock).await;
}

/// A WeChat Pay notification as WeChat sends it, signed and encrypted with the dev keys; each
/// field can be spoiled to test one rejection.
struct WechatNotification {
    body: Vec<u8>,
    timestamp: String,
    nonce: String,
    serial: String,
    signature: String,
}

fn wechat_notification(
    out_trade_no: &str,
    amount_fen: i64,
    (mchid, appid): (&str, &str),
    tweak: impl FnOnce(&mut Value, &mut String),
) -> WechatNotification {
    let resource = json!({
        "mchid": mchid, "appid": appid, "out_trade_no": out_trade_no,
        "transaction_id": format!("42000{}", &out_trade_no[..20]),
        "trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "bank_type": "OTHERS", "success_time": "2026-11-22T10:00:00+08:00",
        "payer": {"openid": "o-e2e"},
        "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"}
    });
    let mut associated_data = "transaction".to_owned();
    let nonce = *b"e2eRsrcNonce";
    let key = ApiV3Key::new(APIV3_KEY).unwrap();
    let ciphertext = key.encrypt(&nonce, &associated_data, resource.to_string().as_bytes());
    let mut envelope = json!({
        "id": unique("EV"), "create_time": "2026-11-22T10:00:01+08:00",
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": ciphertext, "associated_data": associated_data.clone(),
                     "nonce": String::from_utf8(nonce.to_vec()).unwrap()}
    });
    tweak(&mut envelope, &mut associated_data);
    envelope["resource"]["associated_data"] = associated_data.into();
    let body = envelope.to_string().into_bytes();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let nonce = unique("n");
    WechatNotification {
        signature: sign_wechat(&timestamp, &nonce, &body),
        body,
        timestamp,
        nonce,
        serial: PLATFORM_KEY_ID.to_owned(),
    }
}

fn sign_wechat(timestamp: &str, nonce: &str, body: &[u8]) -> String {
    sign_wechat_with("wechatpay_platform_private.pem", timestamp, nonce, body)
}

/// Signs as WeChat Pay with the dev key `key_file` of `config/dev-keys`.
fn sign_wechat_with(key_file: &str, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    let key =
        RsaPrivateKey::from_file(workspace_root().join("config/dev-keys").join(key_file)).unwrap();
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    key.sign_base64(&message).unwrap()
}

async fn post_wechat(gateway: &Gateway, n: &WechatNotification) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(gateway.url("/callbacks/wechatpay"))
        .header("Content-Type", "application/json")
        .header("Wechatpay-Timestamp", &n.timestamp)
        .header("Wechatpay-Nonce", &n.nonce)
        .header("Wechatpay-Serial", &n.serial)
        .header("Wechatpay-Signature", &n.signature)
        .body(n.body.clone())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn wechat_notifications_are_verified_logged_and_refused_with_reasons() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-forger").await;
    let id = booking["id"].as_str().unwrap();
    let out_trade_no = booking["out_trade_no"].as_str().unwrap();
    let amount = booking["amount_fen"].as_i64().unwrap();
    let plain = |_: &mut Value, _: &mut String| {};

    let mut cases: Vec<(&str, WechatNotification, u16)> = Vec::new();
    let mut n = wechat_notification(out_trade_no, amount, (MCHID, APPID), plain);
    n.signature = sign_wechat(&n.timestamp, &n.nonce, b"{}");
    cases.push(("bad_signature", n, 401));
    let mut n = wechat_notification(out_trade_no, amount, (MCHID, APPID), plain);
    n.serial = "PUB_KEY_ID_0000000000000000000000000000XXXX".into();
    cases.push(("unknown_serial", n, 401));
    let mut n = wechat_notification(out_trade_no, amount, (MCHID, APPID), plain);
    n.timestamp = (chrono::Utc::now().timestamp() - 6 * 60).to_string();
    n.signature = sign_wechat(&n.timestamp, &n.nonce, &n.body);
    cases.push(("stale_timestamp", n, 401));
    let n = wechat_notification(out_trade_no, amount, (MCHID, APPID), |envelope, _| {
        envelope["resource"]["ciphertext"] = "AAAA".repeat(20).into();
    });
    cases.push(("decrypt_failed", n, 401));
    let n = wechat_notification(out_trade_no, amount, (MCHID, APPID), |_, aad| {
        *aad = "refund".into()
    });
    cases.push(("decrypt_failed", n, 401));
    let n = wechat_notification(out_trade_no, amount, ("1900000999", APPID), plain);
    cases.push(("wrong_mchid", n, 400));
    let n = wechat_notification(out_trade_no, amount, (MCHID, "wxd00000000000bad"), plain);
    cases.push(("wrong_appid", n, 400));
    let n = wechat_notification(&"Z".repeat(32), amount, (MCHID, APPID), plain);
    cases.push(("unknown_out_trade_no", n, 404));
    let mut n = wechat_notification(out_trade_no, amount, (MCHID, APPID), plain);
    n.body = b"{not json".to_vec();
    n.signature = sign_wechat(&n.timestamp, &n.nonce, &n.body);
    cases.push(("malformed_body", n, 401));

    for (reason, notification, status) in &cases {
        let (got, body) = post_wechat(&gateway, notification).await;
        assert_eq!(got, *status, "{reason}: {body}");
        assert_eq!(body["code"], "FAIL", "{reason}");
    }
    assert_eq!(api.booking(&token, id).await["status"], "pending_payment");

    // The genuine one applies; the very same request again is a replay.
    let genuine = wechat_notification(out_trade_no, amount, (MCHID, APPID), plain);
    assert_eq!(post_wechat(&gateway, &genuine).await.0, 204);
    assert_eq!(api.booking(&token, id).await["status"], "confirmed");
    let (status, _) = post_wechat(&gateway, &genuine).await;
    assert_eq!(status, 401, "a replayed nonce is refused");

    let db = database(&gateway).await;
    let logged = rows(
        &db,
        "SELECT verified, outcome, reason FROM callback_log ORDER BY received_at",
    )
    .await;
    let logged: Vec<(bool, String, Option<String>)> = logged
        .iter()
        .map(|r| {
            (
                r.try_get("", "verified").unwrap(),
                r.try_get("", "outcome").unwrap(),
                r.try_get("", "reason").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        logged.len(),
        cases.len() + 2,
        "every notification is logged: {logged:?}"
    );
    for ((reason, _, _), (verified, outcome, logged_reason)) in cases.iter().zip(&logged) {
        assert_eq!(logged_reason.as_deref(), Some(*reason), "{logged:?}");
        assert_eq!(*verified, *reason == "unknown_out_trade_no", "{reason}");
        assert_eq!(outcome, "rejected", "{reason}");
    }
    assert_eq!(logged[cases.len()].1, "confirmed");
    assert_eq!(logged[cases.len() + 1].2.as_deref(), Some("replayed_nonce"));
}

/// During WeChat Pay's move from platform certificates to the platform public key (and while a
/// certificate rotates), notifications come signed under either: each configured serial verifies
/// with its own key, and only with it.
#[tokio::test]
async fn a_platform_certificate_verifies_beside_the_public_key_during_a_migration() {
    const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    // The repository's configuration plus one platform certificate, in a root of its own.
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::copy(
        workspace_root().join("config/default.toml"),
        config.join("default.toml"),
    )
    .unwrap();
    let mut test_toml = std::fs::read_to_string(workspace_root().join("config/test.toml")).unwrap();
    test_toml.push_str(&format!(
        "\n[[wechatpay.platform_certificates]]\nserial_no = \"{}\"\n\
         public_key_path = \"config/dev-keys/wechatpay_platform_cert_public.pem\"\n",
        SERIAL.to_ascii_lowercase()
    ));
    std::fs::write(config.join("test.toml"), test_toml).unwrap();
    std::os::unix::fs::symlink(
        workspace_root().join("config/dev-keys"),
        config.join("dev-keys"),
    )
    .unwrap();

    let mock = Mock::start().await;
    let root_env = ("GUAHAO_ROOT".to_owned(), root.path().display().to_string());
    let (gateway, _db) = start(&mock, false, vec![root_env]).await.unwrap();
    let api = Api::new(&gateway);
    let plain = |_: &mut Value, _: &mut String| {};
    let signed_by_certificate = |booking: &Value, serial: &str| {
        let mut n = wechat_notification(
            booking["out_trade_no"].as_str().unwrap(),
            booking["amount_fen"].as_i64().unwrap(),
            (MCHID, APPID),
            plain,
        );
        n.serial = serial.to_owned();
        n.signature = sign_wechat_with(
            "wechatpay_platform_cert_private.pem",
            &n.timestamp,
            &n.nonce,
            &n.body,
        );
        n
    };

    let (token, by_certificate) = wechat_booking(&api, "wx-cert").await;
    let id = by_certificate["id"].as_str().unwrap();
    // The certificate's key under the public key's id: the key must be the serial's own.
    let (status, body) = post_wechat(
        &gateway,
        &signed_by_certificate(&by_certificate, PLATFORM_KEY_ID),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(api.booking(&token, id).await["status"], "pending_payment");
    let (status, body) =
        post_wechat(&gateway, &signed_by_certificate(&by_certificate, SERIAL)).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(api.booking(&token, id).await["status"], "confirmed");

    // The public key still verifies what it signs.
    let (token, by_public_key) = wechat_booking(&api, "wx-pubkey").await;
    let genuine = wechat_notification(
        by_public_key["out_trade_no"].as_str().unwrap(),
        by_public_key["amount_fen"].as_i64().unwrap(),
        (MCHID, APPID),
        plain,
    );
    assert_eq!(post_wechat(&gateway, &genuine).await.0, 204);
    let id = by_public_key["id"].as_str().unwrap();
    assert_eq!(api.booking(&token, id).await["status"], "confirmed");
}

#[tokio::test]
async fn fifty_copies_of_one_notification_confirm_once_on_postgresql() {
    let mock = Mock::start().await;
    let Some((gateway, _db)) = start(&mock, true, Vec::new()).await else {
        return;
    };
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-copies").await;
    let out_trade_no = booking["out_trade_no"].as_str().unwrap().to_owned();
    let amount = booking["amount_fen"].as_i64().unwrap();
    // Fifty deliveries of one notification: each a request of its own, as WeChat retries are.
    let copies: Vec<_> = (0..50)
        .map(|_| wechat_notification(&out_trade_no, amount, (MCHID, APPID), |_, _| {}))
        .collect();
    let gateway_url = gateway.base_url.clone();
    let tasks: Vec<_> = copies
        .into_iter()
        .map(|n| {
            let url = gateway_url.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(format!("{url}/callbacks/wechatpay"))
                    .header("Wechatpay-Timestamp", &n.timestamp)
                    .header("Wechatpay-Nonce", &n.nonce)
                    .header("Wechatpay-Serial", &n.serial)
                    .header("Wechatpay-Signature", &n.signature)
                    .body(n.body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            204,
            "every copy gets the success answer"
        );
    }
    let id = booking["id"].as_str().unwrap();
    assert_eq!(api.booking(&token, id).await["visit_number"], 1);
    let db = database(&gateway).await;
    let confirmations = rows(
        &db,
        &format!(
            "SELECT id FROM booking_events WHERE booking_id = '{id}' AND to_status = 'confirmed'"
        ),
    )
    .await;
    assert_eq!(confirmations.len(), 1);
    let outcomes = rows(
        &db,
        &format!("SELECT outcome FROM callback_log WHERE out_trade_no = '{out_trade_no}'"),
    )
    .await;
    assert_eq!(outcomes.len(), 50);
}

#[tokio::test]
async fn a_gateway_down_while_the_mock_sends_is_caught_up_by_retries() {
    let mock = Mock::start().await;
    let (mut gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-retry").await;
    let prepay_id = prepay_id(&booking);
    // The mock pays while the gateway is down: its first deliveries fail, later ones land.
    let paying = {
        let base = mock.base_url.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            reqwest::Client::new()
                .post(format!("{base}/mock/wechatpay/pay"))
                .json(&json!({"prepay_id": prepay_id}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    gateway.crash_and_restart(Duration::from_secs(1)).await;
    assert!(paying.await.unwrap().is_success());
    let id = booking["id"].as_str().unwrap();
    api.wait_for(&token, id, "confirmed", Duration::from_secs(20))
        .await;
    let deliveries: Value = reqwest::get(format!("{}/mock/notifications", mock.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attempts = deliveries["items"].as_array().unwrap();
    assert!(
        attempts
            .iter()
            .any(|a| a["accepted"] == false && a["error"].is_string()),
        "some deliveries found the gateway down: {deliveries}"
    );
    assert!(
        attempts.last().is_some_and(|a| a["accepted"] == true),
        "a later retry landed: {deliveries}"
    );
}

#[tokio::test]
async fn a_lost_notification_is_recovered_by_the_poller() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(
        &mock,
        false,
        vec![
            (
                "GUAHAO__BOOKING__PAYMENT_POLL_INTERVAL_S".into(),
                "1".into(),
            ),
            ("GUAHAO__BOOKING__PAYMENT_POLL_AFTER_S".into(), "1".into()),
        ],
    )
    .await
    .unwrap();
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-lost").await;
    mock_post(&mock, "/mock/notifications/behaviour", json!({"drop": 1})).await;
    pay_with_wechat(&mock, &booking).await;
    let id = booking["id"].as_str().unwrap();
    api.wait_for(&token, id, "confirmed", Duration::from_secs(15))
        .await;
    let db = database(&gateway).await;
    let logged = rows(&db, "SELECT id FROM callback_log").await;
    assert!(
        logged.is_empty(),
        "no notification arrived: the poller found the payment"
    );
}

/// An Alipay async notification for `out_trade_no`, signed with the dev platform key unless
/// `sign_with_app_key`; `tweak` edits the parameters before signing.
fn alipay_notification(
    out_trade_no: &str,
    total_amount: &str,
    tweak: impl FnOnce(&mut Vec<(&'static str, String)>),
) -> Vec<u8> {
    let mut params: Vec<(&'static str, String)> = vec![
        ("notify_time", "2026-11-22 10:00:00".into()),
        ("notify_type", "trade_status_sync".into()),
        ("notify_id", unique("nid")),
        ("app_id", "2021000000000000".into()),
        ("charset", "utf-8".into()),
        ("version", "1.0".into()),
        ("trade_no", format!("2026112222001{}", &out_trade_no[..10])),
        ("out_trade_no", out_trade_no.into()),
        ("trade_status", "TRADE_SUCCESS".into()),
        ("total_amount", total_amount.into()),
        ("receipt_amount", total_amount.into()),
        (
            "buyer_open_id",
            "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5".into(),
        ),
        ("gmt_payment", "2026-11-22 10:00:00".into()),
    ];
    tweak(&mut params);
    let key = RsaPrivateKey::from_file(
        workspace_root().join("config/dev-keys/alipay_platform_private.pem"),
    )
    .unwrap();
    let signed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sign = payment_adapter::alipay::sign_params(&signed, &key).unwrap();
    let mut form: Vec<(&str, &str)> = signed;
    form.push(("sign_type", "RSA2"));
    form.push(("sign", &sign));
    serde_urlencoded::to_string(&form).unwrap().into_bytes()
}

async fn post_alipay(gateway: &Gateway, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(gateway.url("/callbacks/alipay"))
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn alipay_notifications_are_verified_logged_and_refused_with_reasons() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    let (token, patient) = patient(&api, "alipay", &unique("ali-forger")).await;
    let booking = book(&api, &token, &patient, &bookable(&api, 1).await, "alipay").await;
    let id = booking["id"].as_str().unwrap();
    let out_trade_no = booking["out_trade_no"].as_str().unwrap();
    let fen = booking["amount_fen"].as_i64().unwrap();
    let yuan = format!("{}.{:02}", fen / 100, fen % 100);

    let mut forged = alipay_notification(out_trade_no, &yuan, |_| {});
    let at = forged.len() - 8;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bad_signature", forged, 400),
        (
            "wrong_app_id",
            alipay_notification(out_trade_no, &yuan, |p| p[3].1 = "2021999999999999".into()),
            400,
        ),
        ("malformed_body", b"%%%=&&sign".to_vec(), 400),
        (
            "unknown_out_trade_no",
            alipay_notification(&"Y".repeat(32), &yuan, |_| {}),
            404,
        ),
    ];
    for (reason, body, status) in &cases {
        let (got, text) = post_alipay(&gateway, body.clone()).await;
        assert_eq!((got, text.as_str()), (*status, "fail"), "{reason}");
    }
    assert_eq!(api.booking(&token, id).await["status"], "pending_payment");

    // The right notification with one fen less is a mismatch: acknowledged, never confirmed.
    let short = format!("{}.{:02}", (fen - 1) / 100, (fen - 1) % 100);
    let (status, text) =
        post_alipay(&gateway, alipay_notification(out_trade_no, &short, |_| {})).await;
    assert_eq!((status, text.as_str()), (200, "success"));
    assert_eq!(api.booking(&token, id).await["status"], "payment_mismatch");

    let db = database(&gateway).await;
    let logged = rows(
        &db,
        "SELECT outcome, reason FROM callback_log WHERE provider = 'alipay' ORDER BY received_at",
    )
    .await;
    let logged: Vec<(String, Option<String>)> = logged
        .iter()
        .map(|r| {
            (
                r.try_get("", "outcome").unwrap(),
                r.try_get("", "reason").unwrap(),
            )
        })
        .collect();
    let reasons: Vec<Option<&str>> = logged.iter().map(|(_, r)| r.as_deref()).collect();
    assert_eq!(
        reasons[..cases.len()],
        cases.iter().map(|(r, _, _)| Some(*r)).collect::<Vec<_>>()[..],
        "{logged:?}"
    );
    assert_eq!(logged.last().unwrap().0, "payment_mismatch");
}

#[tokio::test]
async fn a_tampered_amount_from_the_provider_is_a_mismatch_not_a_confirmation() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-short").await;
    let prepay_id = prepay_id(&booking);
    let short = booking["amount_fen"].as_i64().unwrap() - 1;
    mock_post(
        &mock,
        "/mock/wechatpay/pay",
        json!({"prepay_id": prepay_id, "amount_fen": short}),
    )
    .await;
    let id = booking["id"].as_str().unwrap();
    api.wait_for(&token, id, "payment_mismatch", Duration::from_secs(10))
        .await;
    let db = database(&gateway).await;
    let events = rows(
        &db,
        // By out_trade_no: SQLite keeps UUIDs as blobs, PostgreSQL as uuid.
        &format!(
            "SELECT e.details FROM booking_events e JOIN bookings b ON b.id = e.booking_id \
             WHERE b.out_trade_no = '{}' AND e.to_status = 'payment_mismatch'",
            booking["out_trade_no"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(events.len(), 1);
    let details: String = events[0].try_get("", "details").unwrap();
    assert!(
        details.contains(&format!("\"paid_amount_fen\":{short}")),
        "{details}"
    );
}

#[tokio::test]
async fn a_paid_booking_checks_in_on_its_day_with_its_visit_code() {
    let mock = Mock::start().await;
    let (gateway, _db) = start(&mock, false, Vec::new()).await.unwrap();
    let api = Api::new(&gateway);
    let (token, booking) = wechat_booking(&api, "wx-visit").await;
    pay_with_wechat(&mock, &booking).await;
    let id = booking["id"].as_str().unwrap();
    api.wait_for(&token, id, "confirmed", Duration::from_secs(10))
        .await;

    // The visit day comes: the gateway runs on the real clock, so the schedule is moved to today
    // with its segment starting in a few minutes (inside the check-in window).
    let shanghai = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let now = chrono::Utc::now().with_timezone(&shanghai);
    let soon = now + chrono::Duration::minutes(20);
    let start = if soon.date_naive() == now.date_naive() {
        soon
    } else {
        now - chrono::Duration::minutes(10)
    };
    let out_trade_no = booking["out_trade_no"].as_str().unwrap();
    let db = database(&gateway).await;
    for sql in [
        format!(
            "UPDATE schedules SET visit_date = '{}' WHERE id = (SELECT schedule_id FROM bookings WHERE out_trade_no = '{out_trade_no}')",
            now.format("%Y-%m-%d")
        ),
        format!(
            "UPDATE schedule_segments SET start_time = '{}', end_time = '{}' WHERE id = (SELECT segment_id FROM bookings WHERE out_trade_no = '{out_trade_no}')",
            start.format("%H:%M:17"),
            (start + chrono::Duration::minutes(30)).format("%H:%M:17"),
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }

    let (status, code) = api
        .get(&format!("/api/v1/bookings/{id}/visit-code"), Some(&token))
        .await;
    assert_eq!(status, 200, "{code}");
    let visit_code = code["visit_code"].as_str().expect("visit_code").to_owned();

    gateway.create_operator("kiosk-e2e", "kiosk", None, "a-long-kiosk-password");
    let kiosk = api
        .operator_token("kiosk-e2e", "a-long-kiosk-password")
        .await;
    let check_in = || {
        api.post(
            "/api/v1/ops/check-in",
            Some(&kiosk),
            json!({"visit_code": visit_code}),
        )
    };
    let (status, checked) = check_in().await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["queue_position"], 1, "{checked}");
    assert_eq!(api.booking(&token, id).await["status"], "checked_in");
    let (status, again) = check_in().await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("ALREADY_CHECKED_IN")),
        "{again}"
    );
}
