use super::*;
use crate::keys::RsaPrivateKey;
use chrono::TimeZone;

const PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";
const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const NEXT_CERT_SERIAL: &str = "7A3C09EFDC096DE15EBE81A47057A7232F1B8E2";
const TIMESTAMP: &str = "1716200000";
const BODY: &[u8] = br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS"}"#;

fn dev_key(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn public(name: &str) -> RsaPublicKey {
    RsaPublicKey::from_file(dev_key(name)).unwrap()
}

fn sign(private: &str, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    RsaPrivateKey::from_file(dev_key(private))
        .unwrap()
        .sign_base64(&response_message(timestamp, nonce, body))
        .unwrap()
}

/// Mid-migration keys: the public key, the current certificate (same key pair as the public
/// key, as WeChat does) and the next certificate (another pair).
fn migrating_keys() -> PlatformKeys {
    let mut keys =
        PlatformKeys::with_public_key(PUB_KEY_ID, public("wechatpay_platform_public.pem"));
    keys.add_certificate(CERT_SERIAL, public("wechatpay_platform_public.pem"));
    keys.add_certificate(NEXT_CERT_SERIAL, public("alipay_platform_public.pem"));
    keys
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

fn headers<'a>(signature: &'a str, serial: &'a str) -> SignatureHeaders<'a> {
    SignatureHeaders {
        timestamp: Some(TIMESTAMP),
        nonce: Some("nonce456"),
        signature: Some(signature),
        serial: Some(serial),
    }
}

#[test]
fn every_serial_in_use_during_rotation_and_migration_verifies() {
    let keys = migrating_keys();
    let by_platform_key = sign(
        "wechatpay_platform_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    let by_next_cert = sign("alipay_platform_private.pem", TIMESTAMP, "nonce456", BODY);
    let now = at(1716200000);

    for (signature, serial) in [
        (&by_platform_key, PUB_KEY_ID),
        (&by_platform_key, CERT_SERIAL),
        // Serials are hex; WeChat writes them upper-case but some proxies lower-case headers.
        (&by_platform_key, &CERT_SERIAL.to_ascii_lowercase()),
        (&by_next_cert, NEXT_CERT_SERIAL),
    ] {
        assert_eq!(
            keys.verify(&headers(signature, serial), BODY, now),
            Ok(Signed {
                timestamp: 1716200000,
                nonce: "nonce456",
                serial,
            }),
            "{serial}"
        );
    }
    // A key is only good for the serial it is registered under.
    assert_eq!(
        keys.verify(&headers(&by_next_cert, CERT_SERIAL), BODY, now),
        Err(SignatureCheckError::BadSignature)
    );
    assert_eq!(keys.public_key_id(), Some(PUB_KEY_ID));
}

#[test]
fn a_missing_header_is_named() {
    let signature = sign(
        "wechatpay_platform_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    let complete = headers(&signature, PUB_KEY_ID);
    let cases = [
        (
            SignatureHeaders {
                timestamp: None,
                ..complete
            },
            HEADER_TIMESTAMP,
        ),
        (
            SignatureHeaders {
                nonce: None,
                ..complete
            },
            HEADER_NONCE,
        ),
        (
            SignatureHeaders {
                signature: None,
                ..complete
            },
            HEADER_SIGNATURE,
        ),
        (
            SignatureHeaders {
                serial: None,
                ..complete
            },
            HEADER_SERIAL,
        ),
    ];
    for (incomplete, name) in cases {
        let error = migrating_keys()
            .verify(&incomplete, BODY, at(1716200000))
            .unwrap_err();
        assert_eq!(error, SignatureCheckError::MissingHeader(name));
        assert_eq!(error.reason(), "missing_header");
    }
}

#[test]
fn timestamps_more_than_five_minutes_away_are_refused_either_way() {
    let keys = migrating_keys();
    let signature = sign(
        "wechatpay_platform_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    let headers = headers(&signature, PUB_KEY_ID);
    for edge in [1716200000 - 300, 1716200000 + 300] {
        assert!(keys.verify(&headers, BODY, at(edge)).is_ok());
    }
    for (now, skew_s) in [(1716200301, 301), (1716199699, -301)] {
        let error = keys.verify(&headers, BODY, at(now)).unwrap_err();
        assert_eq!(error, SignatureCheckError::StaleTimestamp { skew_s });
        assert_eq!(error.reason(), "stale_timestamp");
    }
}

#[test]
fn a_timestamp_that_is_not_a_number_is_refused() {
    let signature = sign(
        "wechatpay_platform_private.pem",
        "17162e5",
        "nonce456",
        BODY,
    );
    let headers = SignatureHeaders {
        timestamp: Some("17162e5"),
        ..headers(&signature, PUB_KEY_ID)
    };
    let error = migrating_keys()
        .verify(&headers, BODY, at(1716200000))
        .unwrap_err();
    assert_eq!(error, SignatureCheckError::MalformedTimestamp);
    assert_eq!(error.reason(), "malformed_timestamp");
}

#[test]
fn an_unknown_serial_is_refused_before_any_signature_work() {
    let error = migrating_keys()
        .verify(
            &headers("irrelevant", "PUB_KEY_ID_0000000000000000000000000000DEV2"),
            BODY,
            at(1716200000),
        )
        .unwrap_err();
    assert_eq!(
        error,
        SignatureCheckError::UnknownSerial("PUB_KEY_ID_0000000000000000000000000000DEV2".into())
    );
    assert_eq!(error.reason(), "unknown_serial");
    // The public key id is matched exactly, unlike certificate serials.
    assert!(
        migrating_keys()
            .get(&PUB_KEY_ID.to_ascii_lowercase())
            .is_none()
    );
    assert!(PlatformKeys::default().is_empty());
}

#[test]
fn wechats_signature_probe_is_told_apart() {
    let error = migrating_keys()
        .verify(
            &headers("WECHATPAY/SIGNTEST/abc123", PUB_KEY_ID),
            BODY,
            at(1716200000),
        )
        .unwrap_err();
    assert_eq!(error, SignatureCheckError::SignatureProbe);
    assert_eq!(error.reason(), "signature_probe");
}

#[test]
fn the_signature_covers_the_raw_body_and_both_headers() {
    let keys = migrating_keys();
    let now = at(1716200000);
    let signature = sign(
        "wechatpay_platform_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    // The same JSON re-serialized with a space: a different text, so no longer authentic.
    let reserialized = br#"{"id": "EV-1","event_type":"TRANSACTION.SUCCESS"}"#;
    let other_nonce = SignatureHeaders {
        nonce: Some("nonce457"),
        ..headers(&signature, PUB_KEY_ID)
    };
    let other_timestamp = SignatureHeaders {
        timestamp: Some("1716200001"),
        ..headers(&signature, PUB_KEY_ID)
    };
    let by_merchant_key = sign(
        "wechatpay_merchant_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    let failures = [
        keys.verify(&headers(&signature, PUB_KEY_ID), reserialized, now),
        keys.verify(&other_nonce, BODY, now),
        keys.verify(&other_timestamp, BODY, now),
        keys.verify(&headers(&by_merchant_key, PUB_KEY_ID), BODY, now),
        keys.verify(&headers("bm90IGEgc2lnbmF0dXJl", PUB_KEY_ID), BODY, now),
        keys.verify(&headers("not base64!", PUB_KEY_ID), BODY, now),
    ];
    for failure in failures {
        assert_eq!(failure, Err(SignatureCheckError::BadSignature));
    }
    assert_eq!(SignatureCheckError::BadSignature.reason(), "bad_signature");
}

#[test]
fn headers_are_read_through_a_lookup() {
    let headers = SignatureHeaders::from_lookup(|name| match name {
        HEADER_TIMESTAMP => Some("1"),
        HEADER_NONCE => Some("n"),
        HEADER_SERIAL => Some("s"),
        _ => None,
    });
    assert_eq!(
        headers,
        SignatureHeaders {
            timestamp: Some("1"),
            nonce: Some("n"),
            signature: None,
            serial: Some("s"),
        }
    );
}

#[test]
fn replacing_a_certificate_keeps_one_entry_per_serial() {
    let mut keys = PlatformKeys::default();
    keys.add_certificate(CERT_SERIAL, public("alipay_platform_public.pem"));
    keys.add_certificate(
        &CERT_SERIAL.to_ascii_lowercase(),
        public("wechatpay_platform_public.pem"),
    );
    let signature = sign(
        "wechatpay_platform_private.pem",
        TIMESTAMP,
        "nonce456",
        BODY,
    );
    assert!(
        keys.verify(&headers(&signature, CERT_SERIAL), BODY, at(1716200000))
            .is_ok()
    );
    assert_eq!(keys.certificates.len(), 1);
}
