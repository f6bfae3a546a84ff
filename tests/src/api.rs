//! One HTTP client for the gateway's API, as the mini-programs and the operators' tools use it:
//! every request asks for English answers, and every answer comes back as its status, headers
//! and body (JSON, or the text itself when it is not JSON).

mod catalog;
mod operator;
mod patient;

use crate::Gateway;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

pub use catalog::{bookable_segment_of, place_of};

/// The gateway's API at one address. `http` and `base` are open for requests no method covers.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(gateway: &Gateway) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: gateway.base_url.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` with `Accept-Language: en`, so error messages are the English ones.
    pub async fn send(&self, request: RequestBuilder) -> (u16, HeaderMap, Value) {
        let response = request
            .header("Accept-Language", "en")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (status, headers, json_or_text(text))
    }

    /// `method path`, with the bearer `token` and the JSON `body` when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, _, body) = self.call(Method::GET, path, token, None).await;
        (status, body)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let (status, _, body) = self.call(Method::POST, path, token, Some(body)).await;
        (status, body)
    }
}

/// The `error.code` of an error answer (`<no code>` when there is none).
pub fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// An answer's body: `null` when empty, its JSON, or else the text itself (which says more in a
/// failed assertion than `null` would).
fn json_or_text(text: String) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::json_or_text;
    use serde_json::{Value, json};

    #[test]
    fn bodies_are_json_or_their_text() {
        assert_eq!(json_or_text(String::new()), Value::Null);
        assert_eq!(
            json_or_text(r#"{"error":{"code":"X"}}"#.to_owned()),
            json!({"error": {"code": "X"}})
        );
        assert_eq!(
            json_or_text("Bad Gateway".to_owned()),
            Value::String("Bad Gateway".to_owned())
        );
    }
}
