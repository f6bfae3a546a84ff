//! What every WeChat server call shares: the app's credentials and reading an answer, which is
//! HTTP 200 with either the payload or a non-zero `errcode` in the body (and, for
//! `jscode2session`, a `text/plain` content type, so the body is parsed whatever the header says).

use super::WechatError;
use crate::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug)]
pub(super) struct App {
    pub api_base: String,
    pub appid: String,
    pub secret: Secret,
    pub http: reqwest::Client,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_base)
    }
}

/// Sends `request` and reads its answer as `T`. `what` names the call in errors and logs.
pub(super) async fn send<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &'static str,
) -> Result<T, WechatError> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        tracing::warn!(call = what, status = status.as_u16(), "wechat HTTP error");
        return Err(WechatError::HttpStatus {
            status: status.as_u16(),
        });
    }
    let value: Value =
        serde_json::from_slice(&body).map_err(|_| WechatError::Malformed { what })?;
    let errcode = value.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = value
            .get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        tracing::warn!(call = what, errcode, %errmsg, "wechat refused");
        return Err(WechatError::from_errcode(errcode, errmsg));
    }
    serde_json::from_value(value).map_err(|_| WechatError::Malformed { what })
}
