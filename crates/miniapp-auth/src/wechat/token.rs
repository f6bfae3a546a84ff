//! The app's access token (`GET /cgi-bin/token`, classic mode). WeChat invalidates the previous
//! token whenever a new one is issued (after a 5-minute overlap), so every caller in the process
//! must share one token: it is cached behind one async mutex, and whoever finds it stale fetches
//! while the others wait for that fetch instead of starting their own (single flight).

use super::WechatError;
use super::api::{self, App};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before WeChat's expiry, inside the 5-minute window in which WeChat still
/// honours a replaced token, so a call never carries a token about to lapse.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// An access token. `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// In-memory, single-flight cache of the app's access token.
pub struct AccessTokenCache {
    app: Arc<App>,
    cached: Mutex<Option<Cached>>,
}

impl fmt::Debug for AccessTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenCache")
            .field("appid", &self.app.appid)
            .finish_non_exhaustive()
    }
}

impl AccessTokenCache {
    pub(super) fn new(app: Arc<App>) -> Self {
        Self {
            app,
            cached: Mutex::new(None),
        }
    }

    /// The current token, fetched when there is none or it is within 5 minutes of expiry. If
    /// that fetch fails while the old token has not yet expired, the old one is used.
    pub async fn get(&self) -> Result<AccessToken, WechatError> {
        let mut cached = self.cached.lock().await;
        let now = Instant::now();
        if let Some(current) = cached.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(current.token.clone());
        }
        match self.fetch().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cached = Some(fresh);
                Ok(token)
            }
            Err(error) => match cached.as_ref().filter(|c| Instant::now() < c.expires_at) {
                Some(still_valid) => {
                    tracing::warn!(%error, "wechat access token refresh failed; using the current one");
                    Ok(still_valid.token.clone())
                }
                None => Err(error),
            },
        }
    }

    /// After WeChat refused `rejected` (errcode 40001 or 42001): fetches a new token, unless a
    /// concurrent caller has already replaced it, in which case that replacement is returned.
    pub async fn replace(&self, rejected: &AccessToken) -> Result<AccessToken, WechatError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref().filter(|c| &c.token != rejected) {
            return Ok(current.token.clone());
        }
        *cached = None;
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn fetch(&self) -> Result<Cached, WechatError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: u64,
        }
        let app = &self.app;
        let request = app.http.get(app.url("/cgi-bin/token")).query(&[
            ("grant_type", "client_credential"),
            ("appid", app.appid.as_str()),
            ("secret", app.secret.expose()),
        ]);
        let answer: Answer = api::send(request, "cgi-bin/token").await?;
        if answer.access_token.is_empty() {
            return Err(WechatError::Malformed {
                what: "empty access_token",
            });
        }
        tracing::info!(
            expires_in = answer.expires_in,
            "wechat access token fetched"
        );
        let now = Instant::now();
        let lifetime = Duration::from_secs(answer.expires_in);
        Ok(Cached {
            token: AccessToken(answer.access_token.into()),
            refresh_at: now + refresh_after(lifetime),
            expires_at: now + lifetime,
        })
    }
}

/// How long a token is used before it is replaced: until 5 minutes before expiry, but for short
/// lifetimes at least half of it, so a short-lived token does not cause a fetch on every call.
fn refresh_after(lifetime: Duration) -> Duration {
    lifetime - REFRESH_BEFORE_EXPIRY.min(lifetime / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_five_minutes_before_expiry() {
        let secs = |s| Duration::from_secs(s);
        assert_eq!(refresh_after(secs(7200)), secs(6900));
        assert_eq!(refresh_after(secs(600)), secs(300));
        assert_eq!(refresh_after(secs(300)), secs(150));
        assert_eq!(refresh_after(secs(0)), secs(0));
    }

    #[test]
    fn debug_masks_the_token() {
        let token = AccessToken("mock-secret-token".into());
        assert!(!format!("{token:?}").contains("secret"));
    }
}
