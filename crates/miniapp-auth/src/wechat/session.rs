//! `code2Session`: the `wx.login` code for the user's openid (and unionid when the mini-program
//! is bound to an Open Platform account).

use super::{WechatClient, WechatError, api};
use serde::Deserialize;
use std::fmt;

/// The user's session key: base64 of a 16-byte AES key that decrypts `encryptedData`. It must
/// never reach the client or a log, so `Debug` masks it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// A successful login.
#[derive(Clone, Debug, Deserialize)]
pub struct WechatSession {
    /// The user within this appid: the account key.
    pub openid: String,
    #[serde(default)]
    pub unionid: Option<String>,
    pub session_key: SessionKey,
}

impl WechatClient {
    /// `GET /sns/jscode2session`. The code is single-use and short-lived, so it is exchanged
    /// right away and never retried.
    pub async fn code2session(&self, js_code: &str) -> Result<WechatSession, WechatError> {
        if js_code.is_empty() {
            return Err(WechatError::InvalidCode);
        }
        let app = &self.app;
        let request = app.http.get(app.url("/sns/jscode2session")).query(&[
            ("appid", app.appid.as_str()),
            ("secret", app.secret.expose()),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ]);
        let session: WechatSession = api::send(request, "jscode2session").await?;
        if session.openid.is_empty() {
            return Err(WechatError::Malformed {
                what: "jscode2session without openid",
            });
        }
        Ok(session)
    }
}
