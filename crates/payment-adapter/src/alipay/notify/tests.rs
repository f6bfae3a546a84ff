use super::*;
use crate::alipay::{sign_params, string_to_sign};
use crate::keys::{RsaPrivateKey, SignatureError};

const APP_ID: &str = "2021000000000000";

fn dev_key_path(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn platform_public() -> RsaPublicKey {
    RsaPublicKey::from_file(dev_key_path("alipay_platform_public.pem")).unwrap()
}

fn platform_private() -> RsaPrivateKey {
    RsaPrivateKey::from_file(dev_key_path("alipay_platform_private.pem")).unwrap()
}

/// A payment notification as Alipay sends it, in its order, `sign` aside. `body` is empty and
/// so unsigned; `passback_params` holds a `%` that must survive the single decode.
const PAID: &[(&str, &str)] = &[
    ("gmt_create", "2025-03-01 09:30:10"),
    ("charset", "utf-8"),
    ("seller_id", "2088123412341234"),
    ("subject", "挂号费 内科 Registration fee"),
    (
        "buyer_open_id",
        "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo",
    ),
    ("invoice_amount", "25.00"),
    ("notify_id", "2025030100222093102012341234567890"),
    (
        "fund_bill_list",
        r#"[{"amount":"25.00","fundChannel":"ALIPAYACCOUNT"}]"#,
    ),
    ("notify_type", "trade_status_sync"),
    ("trade_status", "TRADE_SUCCESS"),
    ("receipt_amount", "25.00"),
    ("app_id", APP_ID),
    ("buyer_pay_amount", "25.00"),
    ("sign_type", "RSA2"),
    ("notify_time", "2025-03-01 09:31:05"),
    ("passback_params", "booking%3D42"),
    ("body", ""),
    ("version", "1.0"),
    ("total_amount", "25.00"),
    ("trade_no", "2025030122001412341234567890"),
    ("auth_app_id", APP_ID),
    ("gmt_payment", "2025-03-01 09:31:02"),
    ("point_amount", "0.00"),
    ("out_trade_no", "0195a0b2c3d4e5f60718293a4b5c6d7e"),
];

const PAID_STRING_TO_VERIFY: &str = r#"app_id=2021000000000000&auth_app_id=2021000000000000&buyer_open_id=074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo&buyer_pay_amount=25.00&charset=utf-8&fund_bill_list=[{"amount":"25.00","fundChannel":"ALIPAYACCOUNT"}]&gmt_create=2025-03-01 09:30:10&gmt_payment=2025-03-01 09:31:02&invoice_amount=25.00&notify_id=2025030100222093102012341234567890&notify_time=2025-03-01 09:31:05&notify_type=trade_status_sync&out_trade_no=0195a0b2c3d4e5f60718293a4b5c6d7e&passback_params=booking%3D42&point_amount=0.00&receipt_amount=25.00&seller_id=2088123412341234&subject=挂号费 内科 Registration fee&total_amount=25.00&trade_no=2025030122001412341234567890&trade_status=TRADE_SUCCESS&version=1.0"#;

/// Computed independently of this code:
///
/// ```sh
/// printf '%s' "$PAID_STRING_TO_VERIFY" > sts.txt
/// openssl dgst -sha256 -sign config/dev-keys/alipay_platform_private.pem sts.txt | base64 -w0
/// ```
const PAID_SIGN: &str = "KI4k4bK+HbRqGIvXZ7oRKB/2vx+jHQi4R+Zlm8mW9ZfENVBCEEq0GoNcu40WZxBCrYFHNXvrisfLLzfg5pPvqtROHYuC+grlZZZPVOtdX/UNW5V4uRakvQ6V95xrJ5Y651/gYyrRZix3XYOZB+heNI4DnEslVYyREOBpUV7Goz15SBaKXKQF58b5YHtte1Cs1H0nm9erP8ggde+Hokd+kNEPbOuTGM89fDuesZMxjtWJmZ7zkUdDT49XFJvjBRcyztZ92lgeFViADdxWX7HPh0vxPvp0wyUR/GYbif4IKUPh3gbj4cHszzLMaeYF8MKlasPLcH836vcmS3+754HB2A==";

/// `application/x-www-form-urlencoded` as Java's `URLEncoder` writes it.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn form_body(params: &[(&str, &str)]) -> Vec<u8> {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// `params` signed by the rule Alipay follows for payment notifications (without `sign_type`),
/// with `sign` appended.
fn signed(params: &[(&str, &str)]) -> Vec<u8> {
    let unsigned: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(k, _)| *k != "sign_type")
        .collect();
    let sign = sign_params(&unsigned, &platform_private()).unwrap();
    let mut all = params.to_vec();
    all.push(("sign", &sign));
    form_body(&all)
}

/// [`PAID`] with `name` replaced (or added), re-signed.
fn paid_with(name: &str, value: &str) -> Vec<u8> {
    let mut params = PAID.to_vec();
    match params.iter_mut().find(|(k, _)| *k == name) {
        Some(param) => param.1 = value,
        None => params.push((name, value)),
    }
    signed(&params)
}

fn paid_body() -> Vec<u8> {
    let mut params = PAID.to_vec();
    params.push(("sign", PAID_SIGN));
    form_body(&params)
}

fn verify(body: &[u8]) -> Result<AlipayNotification<'_>, AlipayNotifyError> {
    verify_notification(body, &platform_public(), APP_ID)
}

fn reason(body: &[u8]) -> &'static str {
    match verify(body) {
        Err(error) => error.reason(),
        Ok(notification) => panic!("accepted: {notification:?}"),
    }
}

fn beijing(text: &str) -> DateTime<Utc> {
    beijing_time::parse(text).unwrap()
}

#[test]
fn string_to_verify_and_sign_match_the_known_answer() {
    let without_sign_type: Vec<(&str, &str)> = PAID
        .iter()
        .copied()
        .filter(|(k, _)| *k != "sign_type")
        .collect();
    assert_eq!(string_to_sign(&without_sign_type), PAID_STRING_TO_VERIFY);
    assert_eq!(
        sign_params(&without_sign_type, &platform_private()).unwrap(),
        PAID_SIGN
    );
}

#[test]
fn a_genuine_payment_notification_verifies_and_reads() {
    let body = paid_body();
    let notification = verify(&body).unwrap();
    assert_eq!(
        notification,
        AlipayNotification {
            notify_id: "2025030100222093102012341234567890".into(),
            notify_time: beijing("2025-03-01 09:31:05"),
            trade_no: "2025030122001412341234567890".into(),
            out_trade_no: "0195a0b2c3d4e5f60718293a4b5c6d7e".into(),
            trade_status: TradeStatus::TradeSuccess,
            total_fen: 2500,
            receipt_amount_fen: Some(2500),
            buyer_id: None,
            buyer_open_id: Some("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo".into()),
            seller_id: Some("2088123412341234".into()),
            gmt_payment: Some(beijing("2025-03-01 09:31:02")),
            refund_fee_fen: None,
            gmt_refund: None,
            out_biz_no: None,
            fund_change: None,
        }
    );
    assert_eq!(
        notification.notify_time.to_rfc3339(),
        "2025-03-01T01:31:05+00:00"
    );
    // Values that needed no decoding are borrowed from the body, not copied.
    assert!(matches!(notification.trade_no, Cow::Borrowed(_)));
    let owned: AlipayNotification<'static> = notification.clone().into_owned();
    drop(body);
    assert_eq!(owned.out_trade_no, "0195a0b2c3d4e5f60718293a4b5c6d7e");
}

#[test]
fn a_refund_notification_carries_the_refund_fields() {
    let mut params = PAID.to_vec();
    params.retain(|(k, _)| *k != "gmt_payment");
    params.extend([
        ("refund_fee", "25.00"),
        ("gmt_refund", "2025-03-01 10:00:00.123"),
        ("out_biz_no", "R0195a0b2c3d4e5f60718293a4b5c6d7"),
        ("fund_change", "Y"),
        ("buyer_id", "2088102150477652"),
    ]);
    params
        .iter_mut()
        .find(|(k, _)| *k == "trade_status")
        .unwrap()
        .1 = "TRADE_CLOSED";
    let body = signed(&params);
    let notification = verify(&body).unwrap();
    assert_eq!(notification.trade_status, TradeStatus::TradeClosed);
    assert_eq!(notification.refund_fee_fen, Some(2500));
    assert_eq!(
        notification.gmt_refund.unwrap().to_rfc3339(),
        "2025-03-01T02:00:00.123+00:00"
    );
    assert_eq!(
        notification.out_biz_no.as_deref(),
        Some("R0195a0b2c3d4e5f60718293a4b5c6d7")
    );
    assert_eq!(notification.fund_change, Some(true));
    assert_eq!(notification.buyer_id.as_deref(), Some("2088102150477652"));
    assert_eq!(notification.gmt_payment, None);
}

#[test]
fn any_changed_value_breaks_the_signature() {
    let tampered = String::from_utf8(paid_body())
        .unwrap()
        .replace("total_amount=25.00", "total_amount=0.01");
    assert_eq!(reason(tampered.as_bytes()), "bad_signature");
    // A value decoded twice (`booking=42`) is not what Alipay signed.
    let decoded_twice = String::from_utf8(paid_body())
        .unwrap()
        .replace("booking%253D42", "booking%3D42");
    assert_eq!(reason(decoded_twice.as_bytes()), "bad_signature");
}

#[test]
fn only_alipays_key_verifies() {
    // Pitfall 1: the app's own public key configured where Alipay's belongs.
    let app_public = RsaPublicKey::from_file(dev_key_path("alipay_app_public.pem")).unwrap();
    assert!(matches!(
        verify_notification(&paid_body(), &app_public, APP_ID),
        Err(AlipayNotifyError::BadSignature(SignatureError::Mismatch))
    ));
    // Signed by the app key instead of Alipay's.
    let mut params = PAID.to_vec();
    params.retain(|(k, _)| *k != "sign_type");
    let app_private = RsaPrivateKey::from_file(dev_key_path("alipay_app_private.pem")).unwrap();
    let sign = sign_params(&params, &app_private).unwrap();
    params.extend([("sign_type", "RSA2"), ("sign", &sign)]);
    assert_eq!(reason(&form_body(&params)), "bad_signature");
}

#[test]
fn sign_type_is_not_part_of_what_is_signed() {
    // Signed the "V2" way (sign_type included): not how payment notifications are signed.
    let sign = sign_params(PAID, &platform_private()).unwrap();
    let mut params = PAID.to_vec();
    params.push(("sign", &sign));
    assert_eq!(reason(&form_body(&params)), "bad_signature");
}

#[test]
fn a_duplicated_parameter_cannot_forge_a_result() {
    let genuine = String::from_utf8(paid_body()).unwrap();
    for forged in [
        format!("{genuine}&total_amount=0.01"),
        format!(
            "trade_status=TRADE_SUCCESS&{}",
            genuine.replace("TRADE_SUCCESS", "WAIT_BUYER_PAY")
        ),
        format!("{genuine}&out_trade%5Fno=someone-else"),
        format!("{genuine}&sign=AAAA"),
    ] {
        assert_eq!(reason(forged.as_bytes()), "duplicate_field", "{forged}");
    }
}

#[test]
fn added_empty_values_change_nothing() {
    let genuine = String::from_utf8(paid_body()).unwrap();
    let padded = format!("{genuine}&refund_fee=&out_biz_no=&&");
    let notification = verify(padded.as_bytes()).unwrap();
    assert_eq!(
        (notification.refund_fee_fen, notification.out_biz_no),
        (None, None)
    );
}

#[test]
fn every_refusal_has_its_reason() {
    let without = |name: &str| {
        let mut params = PAID.to_vec();
        params.retain(|(k, _)| *k != name);
        params
    };
    let mut unsigned = PAID.to_vec();
    unsigned.push(("sign", ""));
    let not_base64 = {
        let mut params = PAID.to_vec();
        params.push(("sign", "%%%"));
        form_body(&params)
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"a=%zz".to_vec(), "malformed_body"),
        (b"\xff\xfe=1".to_vec(), "malformed_body"),
        (b"<xml>not a form</xml>".to_vec(), "missing_field"),
        (Vec::new(), "missing_field"),
        (form_body(&unsigned), "missing_field"),
        (signed(&without("sign_type")), "missing_field"),
        (signed(&without("app_id")), "missing_field"),
        (paid_with("charset", "GBK"), "unsupported_charset"),
        (paid_with("sign_type", "RSA"), "bad_sign_type"),
        (paid_with("app_id", "2021000000000001"), "wrong_app_id"),
        (not_base64, "bad_signature"),
        (signed(&without("notify_id")), "missing_field"),
        (signed(&without("notify_time")), "missing_field"),
        (signed(&without("trade_no")), "missing_field"),
        (signed(&without("out_trade_no")), "missing_field"),
        (signed(&without("trade_status")), "missing_field"),
        (signed(&without("total_amount")), "missing_field"),
        (paid_with("total_amount", "25.001"), "bad_amount"),
        (paid_with("total_amount", "-25.00"), "bad_amount"),
        (paid_with("receipt_amount", "25,00"), "bad_amount"),
        (paid_with("refund_fee", "1e2"), "bad_amount"),
        (
            paid_with("trade_status", "TRADE_PENDING"),
            "unknown_trade_status",
        ),
        (
            paid_with("notify_time", "2025-03-01T09:31:05Z"),
            "invalid_field",
        ),
        (paid_with("gmt_payment", "yesterday"), "invalid_field"),
        (
            paid_with("gmt_refund", "2025-13-01 00:00:00"),
            "invalid_field",
        ),
        (paid_with("fund_change", "yes"), "invalid_field"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            reason(&body),
            expected,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn quoted_values_are_clipped() {
    let long = "X".repeat(10_000);
    match verify(&paid_with("app_id", &long)) {
        Err(AlipayNotifyError::WrongAppId(shown)) => assert_eq!(shown.len(), 64),
        other => panic!("{other:?}"),
    }
}
