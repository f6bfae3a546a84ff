//! The request signature: what Alipay calls the "string to sign" and SHA256withRSA over it.

use super::AlipayError;
use crate::keys::{RsaPrivateKey, RsaPublicKey, SignatureError};

/// The text Alipay signs: the parameters sorted by key (byte order), without `sign` and without
/// empty values, as `key=value` joined by `&`, with the raw values — never URL-encoded, which
/// happens only when the request is put on the wire. `sign_type` stays in for requests; the
/// async notification rule (which drops it too) is the caller's choice of `params`.
pub fn string_to_sign(params: &[(&str, &str)]) -> String {
    let mut kept: Vec<&(&str, &str)> = params
        .iter()
        .filter(|(key, value)| *key != "sign" && !key.is_empty() && !value.is_empty())
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    kept.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `sign` parameter for `params`: base64 SHA256withRSA of [`string_to_sign`] in UTF-8.
pub fn sign_params(params: &[(&str, &str)], key: &RsaPrivateKey) -> Result<String, AlipayError> {
    key.sign_base64(string_to_sign(params).as_bytes())
        .map_err(AlipayError::Signing)
}

/// Checks a `sign` made by [`sign_params`] (the mock gateway checks our requests with this).
pub fn verify_params(
    params: &[(&str, &str)],
    sign: &str,
    key: &RsaPublicKey,
) -> Result<(), SignatureError> {
    key.verify_base64(string_to_sign(params).as_bytes(), sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_private() -> RsaPrivateKey {
        RsaPrivateKey::from_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/dev-keys/alipay_app_private.pem"
        ))
        .unwrap()
    }

    /// Out of order, with an empty value and a stale `sign`, both of which must be left out.
    const PARAMS: &[(&str, &str)] = &[
        ("timestamp", "2025-03-01 09:30:00"),
        ("sign", "stale"),
        ("method", "alipay.trade.create"),
        ("app_id", "2021000123456789"),
        ("return_url", ""),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
        ("charset", "utf-8"),
        (
            "notify_url",
            "https://api.example-hospital.cn/pay/alipay/notify?a=1&b=2",
        ),
        ("format", "JSON"),
        (
            "biz_content",
            r#"{"out_trade_no":"APT20250301000123","total_amount":"25.00","subject":"挂号费 Registration fee","buyer_open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo","product_code":"JSAPI_PAY"}"#,
        ),
    ];

    const STRING_TO_SIGN: &str = r#"app_id=2021000123456789&biz_content={"out_trade_no":"APT20250301000123","total_amount":"25.00","subject":"挂号费 Registration fee","buyer_open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo","product_code":"JSAPI_PAY"}&charset=utf-8&format=JSON&method=alipay.trade.create&notify_url=https://api.example-hospital.cn/pay/alipay/notify?a=1&b=2&sign_type=RSA2&timestamp=2025-03-01 09:30:00&version=1.0"#;

    #[test]
    fn string_to_sign_sorts_skips_sign_and_empties_and_keeps_raw_values() {
        assert_eq!(string_to_sign(PARAMS), STRING_TO_SIGN);
    }

    /// Known answer, computed independently of this code:
    ///
    /// ```sh
    /// printf '%s' "$STRING_TO_SIGN" > /tmp/sts.txt
    /// openssl dgst -sha256 -sign config/dev-keys/alipay_app_private.pem /tmp/sts.txt | base64 -w0
    /// ```
    #[test]
    fn sign_params_matches_openssl() {
        let expected = "b7iQsFTSlJXmx7TzS2PCT3YJ8eaT+vzMlaHHWzfWJwyPp434Ps29bl0WD+LebQzod8XbI+3F1JrW0RAt+u6pahHMjc0YlSuTiGW+qoPhGqc9dpHbnx7fRHiyiyk0x9yJKUa6BeWo9WyrFhefXhgnkcIiXYOOGGDE2KpHqWDVdrSGmIamyAQBQlv8g59UKChGFgNq0fwCQ9QPEWTfodfZmkon5dTVwIgRJC+iIUyeQJ6ATjJv7sWL6HeDBs2uU4GYwzTp1e0ZA01BZWBF8O0dVbk/Y5U9iR2t6+tsvtYJuQMPQsuRxprqr2iF+RwB2FypRuhVMfr1C8g/uD9B9/cXwg==";
        assert_eq!(sign_params(PARAMS, &dev_private()).unwrap(), expected);
    }

    #[test]
    fn verify_params_accepts_our_signature_and_refuses_a_changed_value() {
        let public = RsaPublicKey::from_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/dev-keys/alipay_app_public.pem"
        ))
        .unwrap();
        let sign = sign_params(PARAMS, &dev_private()).unwrap();
        verify_params(PARAMS, &sign, &public).unwrap();
        let mut changed = PARAMS.to_vec();
        changed[0] = ("timestamp", "2025-03-01 09:30:01");
        assert!(matches!(
            verify_params(&changed, &sign, &public),
            Err(SignatureError::Mismatch)
        ));
    }
}
