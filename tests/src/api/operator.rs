//! The operators' side of the API: logging in with a username and password.

use super::Api;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

impl Api {
    /// `POST /api/v1/ops/login`, whatever it answers.
    pub async fn ops_login(&self, username: &str, password: &str) -> (u16, HeaderMap, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/ops/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// The token of an operator login that must succeed.
    pub async fn operator_token(&self, username: &str, password: &str) -> String {
        let (status, _, body) = self.ops_login(username, password).await;
        assert_eq!(status, 200, "{username}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }
}
