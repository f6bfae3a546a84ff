//! WeChat mini-program server API (`api.weixin.qq.com`, or the mock's `wechat.api_base`).

mod api;
mod error;
mod phone;
mod session;
mod token;

pub use error::WechatError;
pub use phone::WechatPhone;
pub use session::{SessionKey, WechatSession};
pub use token::{AccessToken, AccessTokenCache};

use crate::Secret;
use api::App;
use std::sync::Arc;

/// One mini-program's client. Cheap to clone; clones share the access-token cache, so one per
/// process (not per request) keeps WeChat's token issuance to one at a time.
#[derive(Clone, Debug)]
pub struct WechatClient {
    app: Arc<App>,
    tokens: Arc<AccessTokenCache>,
}

impl WechatClient {
    /// `api_base` without a trailing slash (`[wechat]` `api_base`), `appid` and `secret` from
    /// the same section. `http` should carry the deployment's timeouts.
    pub fn new(
        api_base: impl Into<String>,
        appid: impl Into<String>,
        secret: Secret,
        http: reqwest::Client,
    ) -> Self {
        let app = Arc::new(App {
            api_base: api_base.into().trim_end_matches('/').to_owned(),
            appid: appid.into(),
            secret,
            http,
        });
        Self {
            tokens: Arc::new(AccessTokenCache::new(app.clone())),
            app,
        }
    }

    pub fn appid(&self) -> &str {
        &self.app.appid
    }

    /// The app's access token cache (for server APIs beyond the phone number).
    pub fn access_tokens(&self) -> &AccessTokenCache {
        &self.tokens
    }
}
