//! What a patient does through a mini-program: log in, add a patient record, book, follow and
//! cancel a booking.

use super::Api;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl Api {
    /// A patient login through `channel` (`wechat` or `alipay`) that must succeed: the whole
    /// answer (token, expiry, user).
    pub async fn login_body(&self, channel: &str, code: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/v1/auth/{channel}/login"),
                None,
                json!({"code": code}),
            )
            .await;
        assert_eq!(status, 200, "{channel} login: {body}");
        body
    }

    /// The token of a patient login through `channel` that must succeed.
    pub async fn login(&self, channel: &str, code: &str) -> String {
        self.login_body(channel, code).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A patient record identified by passport, which must be accepted: its id.
    pub async fn add_patient(&self, token: &str, name: &str, passport: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/patients",
                Some(token),
                json!({"name": name, "id_type": "passport", "id_number": passport}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// `POST /api/v1/bookings`, with the `Idempotency-Key` when given.
    pub async fn book(
        &self,
        token: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (u16, HeaderMap, Value) {
        let mut request = self
            .http
            .post(self.url("/api/v1/bookings"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        self.send(request).await
    }

    /// A booking of this account, which must be found.
    pub async fn booking(&self, token: &str, id: &str) -> Value {
        let (status, body) = self
            .get(&format!("/api/v1/bookings/{id}"), Some(token))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls the booking until it reaches `status`, or panics after `within`.
    pub async fn wait_for(&self, token: &str, id: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let booking = self.booking(token, id).await;
            if booking["status"] == status {
                return booking;
            }
            assert!(
                Instant::now() < deadline,
                "booking {id} is {} after {within:?}, not {status}",
                booking["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /api/v1/bookings/{id}/cancel`, without a body.
    pub async fn cancel(&self, token: &str, id: &str) -> (u16, Value) {
        let (status, _, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/bookings/{id}/cancel"),
                Some(token),
                None,
            )
            .await;
        (status, body)
    }
}
