//! `alipay.system.oauth.token`: a mini-program auth code for the user's id. It predates
//! `biz_content`, so `grant_type` and `code` are top-level parameters.

use super::{AlipayClient, AlipayError};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// The token exchange's answer. Apps in user-id mode get `user_id` (`2088…`, 16 digits); apps in
/// open-id mode — every new app — get only `open_id`, so either may be absent, never both.
/// `Debug` masks the tokens.
#[derive(Clone, Deserialize)]
pub struct AlipayOAuthToken {
    #[serde(default, deserialize_with = "non_empty")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub open_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub union_id: Option<String>,
    pub access_token: String,
    /// Seconds; Alipay sends a number or a numeric string.
    #[serde(deserialize_with = "seconds")]
    pub expires_in: u64,
    #[serde(default, deserialize_with = "non_empty")]
    pub refresh_token: Option<String>,
    #[serde(default, deserialize_with = "optional_seconds")]
    pub re_expires_in: Option<u64>,
    /// `yyyy-MM-dd HH:mm:ss`, Beijing time.
    #[serde(default, deserialize_with = "non_empty")]
    pub auth_start: Option<String>,
}

impl fmt::Debug for AlipayOAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayOAuthToken")
            .field("user_id", &self.user_id)
            .field("open_id", &self.open_id)
            .field("union_id", &self.union_id)
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("re_expires_in", &self.re_expires_in)
            .field("auth_start", &self.auth_start)
            .finish()
    }
}

impl AlipayClient {
    /// Exchanges a mini-program `my.getAuthCode` code. An invalid, expired or reused code is
    /// [`AlipayError::Business`] with `sub_code` `isv.code-invalid`.
    pub async fn oauth_token(&self, auth_code: &str) -> Result<AlipayOAuthToken, AlipayError> {
        let node = self
            .call(
                "alipay.system.oauth.token",
                None,
                &[("grant_type", "authorization_code"), ("code", auth_code)],
            )
            .await?;
        parse_token(node)
    }
}

fn parse_token(node: serde_json::Value) -> Result<AlipayOAuthToken, AlipayError> {
    let token: AlipayOAuthToken = serde_json::from_value(node)
        // serde's message could quote a token value, so only the fact is kept.
        .map_err(|_| AlipayError::Malformed("oauth token fields missing or mistyped".into()))?;
    if token.user_id.is_none() && token.open_id.is_none() {
        return Err(AlipayError::Malformed(
            "oauth token has neither user_id nor open_id".into(),
        ));
    }
    Ok(token)
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

fn optional_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    seconds(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_id_mode_and_open_id_mode_both_parse() {
        let token = parse_token(json!({
            "access_token": "authusrB1", "alipay_user_id": "old", "expires_in": 1296000,
            "re_expires_in": "2592000", "refresh_token": "authusrB2", "user_id": "2088102150477652",
            "auth_start": "2025-03-01 09:30:00"
        }))
        .unwrap();
        assert_eq!(token.user_id.as_deref(), Some("2088102150477652"));
        assert_eq!(token.open_id, None);
        assert_eq!(
            (token.expires_in, token.re_expires_in),
            (1296000, Some(2592000))
        );

        let token = parse_token(json!({
            "access_token": "a", "expires_in": "3600", "open_id": "074a1CcTG1", "user_id": ""
        }))
        .unwrap();
        assert_eq!(
            (token.user_id, token.open_id.as_deref()),
            (None, Some("074a1CcTG1"))
        );
    }

    #[test]
    fn a_token_without_any_user_is_refused() {
        assert!(matches!(
            parse_token(json!({"access_token": "a", "expires_in": 1})),
            Err(AlipayError::Malformed(_))
        ));
        assert!(matches!(
            parse_token(json!({"user_id": "2088", "expires_in": 1})),
            Err(AlipayError::Malformed(_))
        ));
    }

    #[test]
    fn debug_masks_the_tokens() {
        let token = parse_token(json!({
            "access_token": "SECRET-A", "refresh_token": "SECRET-R", "expires_in": 1, "open_id": "o"
        }))
        .unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
