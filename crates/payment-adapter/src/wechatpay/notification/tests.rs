use super::*;
use crate::keys::{RsaPrivateKey, RsaPublicKey};
use crate::wechatpay::{RefundStatus, TradeState, response_message};
use chrono::TimeZone;
use serde_json::json;

const PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";
const APIV3_KEY: &str = "dev-only-apiv3-key-0123456789abc";
const NOW: i64 = 1716200000;

fn dev_key(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn platform_keys() -> PlatformKeys {
    PlatformKeys::with_public_key(
        PUB_KEY_ID,
        RsaPublicKey::from_file(dev_key("wechatpay_platform_public.pem")).unwrap(),
    )
}

fn apiv3_key() -> ApiV3Key {
    ApiV3Key::new(APIV3_KEY).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(NOW, 0).unwrap()
}

/// A notification as WeChat would POST it.
struct Sent {
    timestamp: String,
    nonce: String,
    signature: String,
    serial: String,
    body: Vec<u8>,
}

impl Sent {
    /// Signs `body` with the platform key as WeChat does.
    fn signed(body: Vec<u8>) -> Self {
        let timestamp = NOW.to_string();
        let nonce = "nonce456".to_owned();
        let signature = RsaPrivateKey::from_file(dev_key("wechatpay_platform_private.pem"))
            .unwrap()
            .sign_base64(&response_message(&timestamp, &nonce, &body))
            .unwrap();
        Self {
            timestamp,
            nonce,
            signature,
            serial: PUB_KEY_ID.into(),
            body,
        }
    }

    fn headers(&self) -> SignatureHeaders<'_> {
        SignatureHeaders {
            timestamp: Some(&self.timestamp),
            nonce: Some(&self.nonce),
            signature: Some(&self.signature),
            serial: Some(&self.serial),
        }
    }

    fn verify(&self) -> Result<WechatPayNotification, NotifyError> {
        verify_notification(
            &platform_keys(),
            &apiv3_key(),
            &self.headers(),
            &self.body,
            now(),
        )
    }
}

/// The envelope around `resource` sealed with `key`, as WeChat writes it.
fn envelope(
    event_type: &str,
    algorithm: &str,
    associated_data: &str,
    resource: &serde_json::Value,
    key: &ApiV3Key,
) -> Vec<u8> {
    let ciphertext = key.encrypt(
        b"fdasflkja484",
        associated_data,
        resource.to_string().as_bytes(),
    );
    json!({
        "id": "EV-2018022511223320873",
        "create_time": "2024-05-20T13:29:36+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": algorithm,
            "ciphertext": ciphertext,
            "associated_data": associated_data,
            "nonce": "fdasflkja484",
        }
    })
    .to_string()
    .into_bytes()
}

fn paid_transaction() -> serde_json::Value {
    json!({
        "appid": "wxd0000000000dev0", "mchid": "1900000001",
        "out_trade_no": "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "transaction_id": "4200000000202405201234567890",
        "trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "bank_type": "OTHERS", "attach": "", "success_time": "2024-05-20T13:29:35+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 500, "payer_total": 500, "currency": "CNY", "payer_currency": "CNY"}
    })
}

fn refund(status: &str) -> serde_json::Value {
    json!({
        "mchid": "1900000001", "out_trade_no": "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f",
        "transaction_id": "4200000000202405201234567890", "out_refund_no": "R1",
        "refund_id": "50000000382019052709732678859", "refund_status": status,
        "success_time": "2024-05-20T14:01:00+08:00", "user_received_account": "支付用户零钱",
        "amount": {"total": 500, "refund": 300, "payer_total": 500, "payer_refund": 300}
    })
}

fn payment_notification() -> Sent {
    Sent::signed(envelope(
        "TRANSACTION.SUCCESS",
        "AEAD_AES_256_GCM",
        "transaction",
        &paid_transaction(),
        &apiv3_key(),
    ))
}

#[test]
fn a_payment_notification_verifies_and_decrypts() {
    let notification = payment_notification().verify().unwrap();
    assert_eq!(notification.id, "EV-2018022511223320873");
    assert_eq!(notification.event_type, EventType::TransactionSuccess);
    assert_eq!(notification.event_type.as_str(), "TRANSACTION.SUCCESS");
    assert_eq!(
        (
            notification.timestamp,
            notification.nonce.as_str(),
            notification.serial.as_str()
        ),
        (NOW, "nonce456", PUB_KEY_ID)
    );
    let NotificationResource::Transaction(transaction) = notification.resource else {
        panic!("expected a transaction");
    };
    assert_eq!(transaction.appid, "wxd0000000000dev0");
    assert_eq!(transaction.mchid, "1900000001");
    assert_eq!(transaction.out_trade_no, "0192f0c0a0b07c3d8e9f0a1b2c3d4e5f");
    assert_eq!(
        transaction.transaction_id.as_deref(),
        Some("4200000000202405201234567890")
    );
    assert_eq!(transaction.trade_state, TradeState::Success);
    assert_eq!(
        (transaction.total_fen, transaction.payer_total_fen),
        (Some(500), Some(500))
    );
    assert_eq!(
        transaction.success_time,
        Some(Utc.with_ymd_and_hms(2024, 5, 20, 5, 29, 35).unwrap())
    );
    assert_eq!(
        transaction.payer_openid.as_deref(),
        Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    );
}

#[test]
fn refund_notifications_of_every_outcome_decrypt() {
    for (event_type, expected_event, status) in [
        (
            "REFUND.SUCCESS",
            EventType::RefundSuccess,
            RefundStatus::Success,
        ),
        (
            "REFUND.ABNORMAL",
            EventType::RefundAbnormal,
            RefundStatus::Abnormal,
        ),
        (
            "REFUND.CLOSED",
            EventType::RefundClosed,
            RefundStatus::Closed,
        ),
    ] {
        let sent = Sent::signed(envelope(
            event_type,
            "AEAD_AES_256_GCM",
            "refund",
            &refund(status.as_str()),
            &apiv3_key(),
        ));
        let notification = sent.verify().unwrap();
        assert_eq!(notification.event_type, expected_event);
        let NotificationResource::Refund(refund) = notification.resource else {
            panic!("expected a refund");
        };
        assert_eq!(refund.status, status);
        assert_eq!(refund.mchid.as_deref(), Some("1900000001"));
        assert_eq!(refund.out_refund_no, "R1");
        assert_eq!(refund.refund_id, "50000000382019052709732678859");
        assert_eq!(
            refund.out_trade_no.as_deref(),
            Some("0192f0c0a0b07c3d8e9f0a1b2c3d4e5f")
        );
        assert_eq!(
            refund.transaction_id.as_deref(),
            Some("4200000000202405201234567890")
        );
        assert_eq!((refund.refund_fen, refund.total_fen), (300, 500));
        assert!(refund.success_time.is_some());
    }
}

#[test]
fn header_problems_are_refused_with_their_reason() {
    let sent = payment_notification();
    let verify = |headers: SignatureHeaders<'_>, now: DateTime<Utc>| {
        verify_notification(&platform_keys(), &apiv3_key(), &headers, &sent.body, now)
            .unwrap_err()
            .reason()
    };
    assert_eq!(
        verify(
            SignatureHeaders {
                nonce: None,
                ..sent.headers()
            },
            now()
        ),
        "missing_header"
    );
    assert_eq!(
        verify(sent.headers(), now() + chrono::TimeDelta::seconds(301)),
        "stale_timestamp"
    );
    assert_eq!(
        verify(
            SignatureHeaders {
                serial: Some("PUB_KEY_ID_OTHER"),
                ..sent.headers()
            },
            now()
        ),
        "unknown_serial"
    );
}

#[test]
fn a_body_changed_after_signing_is_refused_before_it_is_read() {
    let mut sent = payment_notification();
    let text = String::from_utf8(sent.body.clone()).unwrap();
    sent.body = text
        .replace("EV-2018022511223320873", "EV-2018022511223320874")
        .into_bytes();
    assert_eq!(sent.verify().unwrap_err().reason(), "bad_signature");
    // Not even JSON, but the signature is checked first.
    sent.body = b"not json".to_vec();
    assert_eq!(sent.verify().unwrap_err().reason(), "bad_signature");
}

#[test]
fn a_signed_body_that_is_not_a_notification_is_malformed() {
    for body in [&b"not json"[..], br#"{"id":"EV-1"}"#, b""] {
        let error = Sent::signed(body.to_vec()).verify().unwrap_err();
        assert!(matches!(error, NotifyError::MalformedBody(_)), "{error:?}");
        assert_eq!(error.reason(), "malformed_body");
    }
}

#[test]
fn only_aead_aes_256_gcm_is_accepted() {
    let sent = Sent::signed(envelope(
        "TRANSACTION.SUCCESS",
        "AEAD_SM4_GCM",
        "transaction",
        &paid_transaction(),
        &apiv3_key(),
    ));
    let error = sent.verify().unwrap_err();
    assert_eq!(
        error,
        NotifyError::UnsupportedAlgorithm("AEAD_SM4_GCM".into())
    );
    assert_eq!(error.reason(), "unsupported_algorithm");
}

#[test]
fn a_resource_that_does_not_decrypt_is_refused() {
    let wrong_key = ApiV3Key::new("another-apiv3-key-0123456789abcd").unwrap();
    let by_wrong_key = envelope(
        "TRANSACTION.SUCCESS",
        "AEAD_AES_256_GCM",
        "transaction",
        &paid_transaction(),
        &wrong_key,
    );
    let original: serde_json::Value = serde_json::from_slice(&payment_notification().body).unwrap();
    let altered = |field: &str, value: &str| {
        let mut body = original.clone();
        body["resource"][field] = json!(value);
        body.to_string().into_bytes()
    };

    for body in [
        by_wrong_key,
        altered("associated_data", "refund"),
        altered("ciphertext", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        altered("ciphertext", "not base64!"),
        altered("nonce", "fdasflkja485"),
        altered("nonce", "too-short"),
    ] {
        let error = Sent::signed(body).verify().unwrap_err();
        assert_eq!(error, NotifyError::DecryptFailed);
        assert_eq!(error.reason(), "decrypt_failed");
    }
}

#[test]
fn events_we_do_not_handle_are_named() {
    let sent = Sent::signed(envelope(
        "TRANSACTION.FAIL",
        "AEAD_AES_256_GCM",
        "transaction",
        &paid_transaction(),
        &apiv3_key(),
    ));
    let error = sent.verify().unwrap_err();
    assert_eq!(error, NotifyError::UnknownEvent("TRANSACTION.FAIL".into()));
    assert_eq!(error.reason(), "unknown_event");
}

#[test]
fn a_resource_of_the_wrong_shape_is_refused() {
    let sent = Sent::signed(envelope(
        "TRANSACTION.SUCCESS",
        "AEAD_AES_256_GCM",
        "transaction",
        &refund("SUCCESS"),
        &apiv3_key(),
    ));
    let error = sent.verify().unwrap_err();
    assert!(
        matches!(error, NotifyError::MalformedResource(_)),
        "{error:?}"
    );
    assert_eq!(error.reason(), "malformed_resource");
}

#[test]
fn an_empty_or_absent_associated_data_is_allowed() {
    let mut body: serde_json::Value = serde_json::from_slice(&envelope(
        "TRANSACTION.SUCCESS",
        "AEAD_AES_256_GCM",
        "",
        &paid_transaction(),
        &apiv3_key(),
    ))
    .unwrap();
    assert!(Sent::signed(body.to_string().into_bytes()).verify().is_ok());
    body["resource"]
        .as_object_mut()
        .unwrap()
        .remove("associated_data");
    assert!(Sent::signed(body.to_string().into_bytes()).verify().is_ok());
}
