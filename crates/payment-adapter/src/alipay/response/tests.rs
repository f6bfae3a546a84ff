use super::*;
use crate::keys::{RsaPrivateKey, SignatureError};

const METHOD: &str = "alipay.trade.query";

fn dev_key_path(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn platform_private() -> RsaPrivateKey {
    RsaPrivateKey::from_file(dev_key_path("alipay_platform_private.pem")).unwrap()
}

fn platform_public() -> RsaPublicKey {
    RsaPublicKey::from_file(dev_key_path("alipay_platform_public.pem")).unwrap()
}

fn sign(node: &str) -> String {
    platform_private().sign_base64(node.as_bytes()).unwrap()
}

/// A body as Alipay lays it out: the node, then `sign` beside it.
fn signed_body(node_name: &str, node: &str) -> String {
    format!(r#"{{"{node_name}":{node},"sign":"{}"}}"#, sign(node))
}

const NODE: &str = r#"{"code":"10000","msg":"Success","out_trade_no":"T1","trade_status":"WAIT_BUYER_PAY","total_amount":"25.00"}"#;

#[test]
fn a_good_answer_returns_the_exact_node_text() {
    let body = signed_body("alipay_trade_query_response", NODE);
    assert_eq!(
        verify_response(&body, METHOD, &platform_public()).unwrap(),
        NODE
    );
}

#[test]
fn whitespace_unicode_and_escapes_inside_the_node_are_kept_byte_for_byte() {
    let node = "{ \"code\" : \"10000\",\n  \"msg\":\"Success\", \"subject\":\"挂号费 \\\"内科\\\" \\\\ \\/ \\u00e9 }{ ][\",\n  \"nested\":{\"a\":[1,2,{\"b\":\"}\"}]}, \"n\": -1.5e3, \"t\": true, \"z\": null }";
    let body = format!(
        "\r\n {{ \"sign\" : \"{}\" ,\n \"alipay_trade_query_response\" :  {node} , \"alipay_cert_sn\":\"x\" }} \n",
        sign(node)
    );
    let verified = verify_response(&body, METHOD, &platform_public()).unwrap();
    assert_eq!(verified, node);
    let parsed: serde_json::Value = serde_json::from_str(verified).unwrap();
    assert_eq!(parsed["subject"], "挂号费 \"内科\" \\ / é }{ ][");
}

#[test]
fn a_sign_with_escaped_slashes_is_decoded_before_checking() {
    let signature = sign(NODE);
    let escaped = signature.replace('/', "\\/");
    let body = format!(r#"{{"alipay_trade_query_response":{NODE},"sign":"{escaped}"}}"#);
    verify_response(&body, METHOD, &platform_public()).unwrap();
}

#[test]
fn a_tampered_node_fails() {
    let body =
        signed_body("alipay_trade_query_response", NODE).replace("WAIT_BUYER_PAY", "TRADE_SUCCESS");
    assert!(matches!(
        verify_response(&body, METHOD, &platform_public()),
        Err(AlipayError::BadSignature(SignatureError::Mismatch))
    ));
    // Re-serializing changes bytes (here: added whitespace), which must fail too.
    let reformatted =
        signed_body("alipay_trade_query_response", NODE).replace(",\"msg\"", ", \"msg\"");
    assert!(matches!(
        verify_response(&reformatted, METHOD, &platform_public()),
        Err(AlipayError::BadSignature(_))
    ));
}

#[test]
fn the_wrong_key_fails() {
    // Pitfall #1: the app public key configured where Alipay's belongs.
    let app_public = RsaPublicKey::from_file(dev_key_path("alipay_app_public.pem")).unwrap();
    let body = signed_body("alipay_trade_query_response", NODE);
    assert!(matches!(
        verify_response(&body, METHOD, &app_public),
        Err(AlipayError::BadSignature(_))
    ));
}

#[test]
fn a_duplicated_node_key_cannot_forge_a_result() {
    let forged = r#"{"code":"10000","msg":"Success","out_trade_no":"T1","trade_status":"TRADE_SUCCESS","total_amount":"25.00"}"#;
    let signed = signed_body("alipay_trade_query_response", NODE);
    let inner = signed.strip_suffix('}').unwrap();
    for duplicate in [
        format!(r#"{inner},"alipay_trade_query_response":{forged}}}"#),
        // The same key spelled with an escape, which a JSON parser would merge.
        format!(r#"{inner},"alipay_trade_query\u005fresponse":{forged}}}"#),
        // A second sign beside a forged node.
        format!(r#"{inner},"sign":"AAAA"}}"#),
    ] {
        assert!(
            matches!(
                verify_response(&duplicate, METHOD, &platform_public()),
                Err(AlipayError::Malformed(why)) if why.contains("duplicate")
            ),
            "{duplicate}"
        );
    }
}

#[test]
fn stray_keys_outside_the_node_are_never_read() {
    let node = NODE.replace("WAIT_BUYER_PAY", "TRADE_CLOSED");
    let body = format!(
        r#"{{"trade_status":"TRADE_SUCCESS","code":"10000","alipay_trade_query_response":{node},"sign":"{}","total_amount":"0.01"}}"#,
        sign(&node)
    );
    let verified = verify_response(&body, METHOD, &platform_public()).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(verified).unwrap();
    assert_eq!(parsed["trade_status"], "TRADE_CLOSED");
    assert_eq!(parsed["total_amount"], "25.00");
}

#[test]
fn an_error_response_node_is_verified_and_returned() {
    let node = r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"}"#;
    let body = signed_body("error_response", node);
    assert_eq!(
        verify_response(&body, "alipay.system.oauth.token", &platform_public()).unwrap(),
        node
    );
    // Both nodes at once is not an answer Alipay gives.
    let both = format!(
        r#"{{"alipay_trade_query_response":{NODE},"error_response":{node},"sign":"{}"}}"#,
        sign(NODE)
    );
    assert!(matches!(
        verify_response(&both, METHOD, &platform_public()),
        Err(AlipayError::Malformed(_))
    ));
}

#[test]
fn a_node_for_another_method_is_not_accepted() {
    let body = signed_body("alipay_trade_refund_response", NODE);
    assert!(matches!(
        verify_response(&body, METHOD, &platform_public()),
        Err(AlipayError::Malformed(_))
    ));
}

#[test]
fn unsigned_answers_are_not_trusted() {
    let node = r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}"#;
    for body in [
        format!(r#"{{"error_response":{node}}}"#),
        format!(r#"{{"error_response":{node},"sign":""}}"#),
        format!(r#"{{"error_response":{node},"sign":null}}"#),
    ] {
        match verify_response(&body, METHOD, &platform_public()) {
            Err(AlipayError::Unsigned { code, sub_code }) => {
                assert_eq!(code.as_deref(), Some("40002"));
                assert_eq!(sub_code.as_deref(), Some("isv.invalid-app-id"));
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    let success = format!(r#"{{"alipay_trade_query_response":{NODE}}}"#);
    assert!(matches!(
        verify_response(&success, METHOD, &platform_public()),
        Err(AlipayError::Unsigned { .. })
    ));
}

#[test]
fn malformed_bodies_are_refused() {
    let sig = sign(NODE);
    for body in [
        String::new(),
        "<html>502 Bad Gateway</html>".to_owned(),
        format!(r#"{{"alipay_trade_query_response":"encrypted","sign":"{sig}"}}"#),
        format!(r#"{{"alipay_trade_query_response":{NODE},"sign":42}}"#),
        format!(r#"{{"alipay_trade_query_response":{NODE},"sign":"{sig}"}} trailing"#),
        signed_body("alipay_trade_query_response", NODE)
            .trim_end_matches('}')
            .to_owned(),
    ] {
        assert!(
            matches!(
                verify_response(&body, METHOD, &platform_public()),
                Err(AlipayError::Malformed(_))
            ),
            "{body}"
        );
    }
    let not_base64 = format!(r#"{{"alipay_trade_query_response":{NODE},"sign":"%%%"}}"#);
    assert!(matches!(
        verify_response(&not_base64, METHOD, &platform_public()),
        Err(AlipayError::BadSignature(SignatureError::Encoding))
    ));
}

#[test]
fn node_names_follow_the_method() {
    assert_eq!(
        response_node_name("alipay.system.oauth.token"),
        "alipay_system_oauth_token_response"
    );
}
