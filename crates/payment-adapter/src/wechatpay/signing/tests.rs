use super::*;

fn dev_key(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn merchant_key() -> RsaPrivateKey {
    RsaPrivateKey::from_file(dev_key("wechatpay_merchant_private.pem")).unwrap()
}

fn merchant_public_key() -> RsaPublicKey {
    RsaPublicKey::from_file(dev_key("wechatpay_merchant_public.pem")).unwrap()
}

const BODY: &[u8] = br#"{"appid":"wxd0000000000dev0","mchid":"1900000001"}"#;

#[test]
fn request_message_is_five_newline_terminated_lines() {
    assert_eq!(
        request_message(
            "POST",
            "/v3/pay/transactions/jsapi",
            "1716200000",
            "N1",
            BODY
        ),
        [
            b"POST\n/v3/pay/transactions/jsapi\n1716200000\nN1\n".as_slice(),
            BODY,
            b"\n"
        ]
        .concat()
    );
    // A GET signs an empty body line.
    assert_eq!(
        request_message(
            "GET",
            "/v3/pay/transactions/out-trade-no/HOSP20240520001?mchid=1900000001",
            "1716200000",
            "abc123",
            b""
        ),
        b"GET\n/v3/pay/transactions/out-trade-no/HOSP20240520001?mchid=1900000001\n1716200000\nabc123\n\n"
    );
}

#[test]
fn response_message_is_three_newline_terminated_lines() {
    assert_eq!(
        response_message("1716200005", "nonce456", b"{}"),
        b"1716200005\nnonce456\n{}\n"
    );
    assert_eq!(response_message("1", "n", b""), b"1\nn\n\n");
}

/// The pinned signature is also what `openssl dgst -sha256 -sign` gives for the five lines.
#[test]
fn authorization_header_is_the_known_answer() {
    let header = authorization_header(
        Merchant {
            mchid: "1900000001",
            serial_no: "DEV0000000000000000000000000000000000001",
            private_key: &merchant_key(),
        },
        "POST",
        "/v3/pay/transactions/jsapi",
        "1716200000",
        "7F3A9C2E11D04B6A8E5F0C1D2B3A4958",
        BODY,
    )
    .unwrap();
    assert_eq!(
        header,
        concat!(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="7F3A9C2E11D04B6A8E5F0C1D2B3A4958","#,
            r#"timestamp="1716200000",serial_no="DEV0000000000000000000000000000000000001","#,
            r#"signature="CSJWsG7jyjqO+LvTEIPn5vKoHfWkJTmFoD1J/i9WHUlDRz5WKa3bVet6AuNliS41eJsambRGQ0SJM5x9wIAO9lvujUI7SmK2kMzZFIxPblVY/p4ciO/4YgBZq/1UV3QnM3j8uNaOsf19wDaHeB4SRRY7tB1NpOgXoOGgLRkW2VOj5rJ/MdgyYYRz9mZDGcl0sbMHtjYaPDd8qbsi7Q9JKG6b0Ecta9chDKYVClowb1pW2a2QAh1QeqmDjUUp67h+PPmdeRfvvasVAgdO+eZKa7s38rVPS1okMSRwx+wpxeCvjuYDUmHRiWX5O2s0dwwtVoTccDwhFuzDcTuz6mcuLw==""#
        )
    );
}

#[test]
fn a_parsed_header_verifies_against_the_request_it_signed() {
    let header = authorization_header(
        Merchant {
            mchid: "1900000001",
            serial_no: "DEV1",
            private_key: &merchant_key(),
        },
        "GET",
        "/v3/refund/domestic/refunds/R1",
        "1716200000",
        "N",
        b"",
    )
    .unwrap();
    let parsed = Authorization::parse(&header).unwrap();
    assert_eq!(
        (
            parsed.mchid,
            parsed.nonce_str,
            parsed.timestamp,
            parsed.serial_no
        ),
        ("1900000001", "N", "1716200000", "DEV1")
    );
    let public = merchant_public_key();
    parsed
        .verify(&public, "GET", "/v3/refund/domestic/refunds/R1", b"")
        .unwrap();
    // Any other request, or another signer, does not verify.
    assert!(
        parsed
            .verify(&public, "POST", "/v3/refund/domestic/refunds/R1", b"")
            .is_err()
    );
    assert!(
        parsed
            .verify(&public, "GET", "/v3/refund/domestic/refunds/R2", b"")
            .is_err()
    );
    assert!(
        parsed
            .verify(&public, "GET", "/v3/refund/domestic/refunds/R1", b"x")
            .is_err()
    );
    let platform = RsaPublicKey::from_file(dev_key("wechatpay_platform_public.pem")).unwrap();
    assert!(
        parsed
            .verify(&platform, "GET", "/v3/refund/domestic/refunds/R1", b"")
            .is_err()
    );
}

#[test]
fn items_may_come_in_any_order_with_spaces() {
    let header = r#"WECHATPAY2-SHA256-RSA2048 signature="c2ln", serial_no="S", timestamp="1", nonce_str="N", mchid="M""#;
    assert_eq!(
        Authorization::parse(header).unwrap(),
        Authorization {
            mchid: "M",
            nonce_str: "N",
            timestamp: "1",
            serial_no: "S",
            signature: "c2ln",
        }
    );
}

#[test]
fn malformed_headers_are_refused_with_the_reason() {
    let full = r#"mchid="M",nonce_str="N",timestamp="1",serial_no="S",signature="c2ln""#;
    let cases: [(String, AuthorizationError); 7] = [
        (
            format!("WECHATPAY2-SHA256-RSA4096 {full}"),
            AuthorizationError::WrongScheme,
        ),
        (full.to_owned(), AuthorizationError::WrongScheme),
        (
            format!(
                "{AUTHORIZATION_SCHEME} {}",
                full.replace(",signature=\"c2ln\"", "")
            ),
            AuthorizationError::Missing("signature"),
        ),
        (
            format!("{AUTHORIZATION_SCHEME} {full},mchid=\"X\""),
            AuthorizationError::Duplicate("mchid".into()),
        ),
        (
            format!("{AUTHORIZATION_SCHEME} {full},extra=\"1\""),
            AuthorizationError::UnknownItem("extra".into()),
        ),
        (
            format!(
                "{AUTHORIZATION_SCHEME} {}",
                full.replace("mchid=\"M\"", "mchid=M")
            ),
            AuthorizationError::MalformedItem("mchid=M".into()),
        ),
        (
            format!(
                "{AUTHORIZATION_SCHEME} {}",
                full.replace("mchid=\"M\"", "mchid")
            ),
            AuthorizationError::MalformedItem("mchid".into()),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(Authorization::parse(&header), Err(expected), "{header}");
    }
}
