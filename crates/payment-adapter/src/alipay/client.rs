//! The gateway client: signs a call, sends it, verifies the answer and turns a refusal into
//! [`AlipayError::Business`].

use super::response::{Node, verified_node};
use super::{AlipayError, sign_params};
use crate::keys::{RsaPrivateKey, RsaPublicKey};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::path::Path;

/// Parameters that travel in the query string, as alipay-sdk sends them: the gateway reads
/// `charset` from the URL before it decodes the body, so Chinese text in `biz_content` arrives
/// intact (pitfall 5). Everything else (`biz_content`, `grant_type`, `code`, …) goes in the
/// `application/x-www-form-urlencoded` body.
const QUERY_PARAMS: &[&str] = &[
    "app_id",
    "method",
    "format",
    "charset",
    "sign_type",
    "sign",
    "timestamp",
    "version",
    "notify_url",
    "return_url",
    "auth_token",
    "app_auth_token",
    "app_cert_sn",
    "alipay_root_cert_sn",
    "ws_service_url",
];

/// Set by the client on every call; callers cannot override them.
const RESERVED: &[&str] = &[
    "app_id",
    "method",
    "format",
    "charset",
    "sign_type",
    "sign",
    "timestamp",
    "version",
    "biz_content",
];

/// One app's client of the classic gateway, in public-key mode.
#[derive(Debug)]
pub struct AlipayClient {
    gateway_url: String,
    app_id: String,
    app_private_key: RsaPrivateKey,
    alipay_public_key: RsaPublicKey,
    http: reqwest::Client,
}

impl AlipayClient {
    /// `alipay_public_key` is Alipay's key (the config's `alipay_public_key_path`), not the app's
    /// own public key: mixing them up is the most reported Alipay integration bug.
    pub fn new(
        gateway_url: impl Into<String>,
        app_id: impl Into<String>,
        app_private_key: RsaPrivateKey,
        alipay_public_key: RsaPublicKey,
        http: reqwest::Client,
    ) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            app_id: app_id.into(),
            app_private_key,
            alipay_public_key,
            http,
        }
    }

    /// [`AlipayClient::new`] with keys read from PEM files (`[alipay]` `app_private_key_path`
    /// and `alipay_public_key_path`).
    pub fn from_key_files(
        gateway_url: impl Into<String>,
        app_id: impl Into<String>,
        app_private_key_path: impl AsRef<Path>,
        alipay_public_key_path: impl AsRef<Path>,
        http: reqwest::Client,
    ) -> Result<Self, AlipayError> {
        Ok(Self::new(
            gateway_url,
            app_id,
            RsaPrivateKey::from_file(app_private_key_path)?,
            RsaPublicKey::from_file(alipay_public_key_path)?,
            http,
        ))
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Calls `method` and returns its verified response node. `biz_content` is sent as JSON
    /// text; `extra_params` are further top-level parameters (`notify_url`, or the `grant_type`
    /// and `code` of APIs that predate `biz_content`). A verified answer whose `code` is not
    /// `10000`, or that came in `error_response`, is [`AlipayError::Business`].
    pub async fn call(
        &self,
        method: &str,
        biz_content: Option<Value>,
        extra_params: &[(&str, &str)],
    ) -> Result<Value, AlipayError> {
        let biz_content = biz_content.map(|v| v.to_string());
        let timestamp = beijing_timestamp(Utc::now());
        let params =
            self.signed_params(method, biz_content.as_deref(), extra_params, &timestamp)?;
        let (query, form): (Vec<_>, Vec<_>) = params
            .iter()
            .partition(|(key, _)| QUERY_PARAMS.contains(key));
        let response = self
            .http
            .post(&self.gateway_url)
            .query(&query)
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            tracing::warn!(
                method,
                status = status.as_u16(),
                "alipay gateway HTTP error"
            );
            return Err(AlipayError::HttpStatus {
                status: status.as_u16(),
            });
        }
        let body = std::str::from_utf8(&body)
            .map_err(|_| AlipayError::Malformed("response is not UTF-8".into()))?;
        let outcome = verified_node(body, method, &self.alipay_public_key)
            .and_then(|(kind, node)| outcome(kind, node));
        match &outcome {
            Ok(_) => tracing::debug!(method, "alipay call succeeded"),
            Err(error) => tracing::warn!(method, %error, "alipay call failed"),
        }
        outcome
    }

    /// All parameters of one call, `sign` included, in the order they were set.
    fn signed_params<'a>(
        &'a self,
        method: &'a str,
        biz_content: Option<&'a str>,
        extra_params: &[(&'a str, &'a str)],
        timestamp: &'a str,
    ) -> Result<Vec<(&'a str, String)>, AlipayError> {
        if let Some((key, _)) = extra_params.iter().find(|(key, _)| RESERVED.contains(key)) {
            return Err(AlipayError::ReservedParameter((*key).to_owned()));
        }
        let mut params: Vec<(&str, &str)> = vec![
            ("app_id", &self.app_id),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", timestamp),
            ("version", "1.0"),
        ];
        params.extend(biz_content.map(|b| ("biz_content", b)));
        // Empty values are not signed, so they are not sent either.
        params.extend(extra_params.iter().filter(|(_, value)| !value.is_empty()));
        let sign = sign_params(&params, &self.app_private_key)?;
        let mut signed: Vec<(&str, String)> =
            params.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        signed.push(("sign", sign));
        Ok(signed)
    }
}

/// Alipay's `timestamp`: Beijing time (UTC+8, no daylight saving), `yyyy-MM-dd HH:mm:ss`.
pub(super) fn beijing_timestamp(now: DateTime<Utc>) -> String {
    (now.naive_utc() + TimeDelta::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Success is `code` `10000`; the older APIs such as `alipay.system.oauth.token` answer success
/// without any `code`, and fail with a `sub_code` or in `error_response`.
fn outcome(kind: Node, node: &str) -> Result<Value, AlipayError> {
    let value: Value = serde_json::from_str(node)
        .map_err(|e| AlipayError::Malformed(format!("response node: {e}")))?;
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let (code, sub_code) = (text("code"), text("sub_code"));
    let succeeded = match (kind, code.as_deref(), sub_code.is_some()) {
        (Node::Error, _, _) => false,
        (Node::Method, Some(code), _) => code == "10000",
        (Node::Method, None, has_sub_code) => !has_sub_code,
    };
    if succeeded {
        return Ok(value);
    }
    Err(AlipayError::Business {
        code: code.unwrap_or_default(),
        msg: text("msg").unwrap_or_default(),
        sub_code,
        sub_msg: text("sub_msg"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::verify_params;

    fn dev_key_path(name: &str) -> String {
        format!(
            "{}/../../config/dev-keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    fn client() -> AlipayClient {
        AlipayClient::from_key_files(
            "http://127.0.0.1:1/gateway.do",
            "2021000000000000",
            dev_key_path("alipay_app_private.pem"),
            dev_key_path("alipay_platform_public.pem"),
            reqwest::Client::new(),
        )
        .unwrap()
    }

    #[test]
    fn calls_carry_the_system_params_and_a_sign_the_app_key_verifies() {
        let client = client();
        let params = client
            .signed_params(
                "alipay.system.oauth.token",
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "abc"),
                    ("notify_url", ""),
                ],
                "2025-03-01 09:30:00",
            )
            .unwrap();
        let keys: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "app_id",
                "method",
                "format",
                "charset",
                "sign_type",
                "timestamp",
                "version",
                "grant_type",
                "code",
                "sign"
            ]
        );
        let (unsigned, sign) = params.split_at(params.len() - 1);
        let unsigned: Vec<(&str, &str)> = unsigned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app_public = RsaPublicKey::from_file(dev_key_path("alipay_app_public.pem")).unwrap();
        verify_params(&unsigned, &sign[0].1, &app_public).unwrap();
        // grant_type and code are form fields, not query parameters.
        assert!(!QUERY_PARAMS.contains(&"grant_type") && !QUERY_PARAMS.contains(&"code"));
    }

    #[test]
    fn reserved_params_cannot_be_overridden() {
        let client = client();
        let refused = client.signed_params("m", None, &[("app_id", "other")], "t");
        assert!(matches!(refused, Err(AlipayError::ReservedParameter(key)) if key == "app_id"));
    }

    #[test]
    fn timestamps_are_beijing_time() {
        let utc = DateTime::parse_from_rfc3339("2025-03-01T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(beijing_timestamp(utc), "2025-03-02 01:30:00");
    }

    #[test]
    fn outcomes_follow_code_sub_code_and_node() {
        assert!(outcome(Node::Method, r#"{"code":"10000","msg":"Success"}"#).is_ok());
        assert!(outcome(Node::Method, r#"{"access_token":"t","user_id":"2088"}"#).is_ok());
        let refused = outcome(
            Node::Method,
            r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#,
        );
        assert!(matches!(
            refused,
            Err(AlipayError::Business { ref code, ref sub_code, .. })
                if code == "40004" && sub_code.as_deref() == Some("ACQ.TRADE_NOT_EXIST")
        ));
        assert!(matches!(
            outcome(Node::Method, r#"{"sub_code":"isv.code-invalid"}"#),
            Err(AlipayError::Business { .. })
        ));
        assert!(matches!(
            outcome(Node::Error, r#"{"code":"10000"}"#),
            Err(AlipayError::Business { .. })
        ));
    }
}
