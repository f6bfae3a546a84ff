//! HTTP for the demo: requests to the gateway and to the mock, each sent on behalf of one
//! numbered step, so that whatever goes wrong is reported with the step, the request, the HTTP
//! status and the body the server answered.

use super::step::Step;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// No single call of the demo should take longer than this; the gateway answers in
/// milliseconds, so a silent server is reported instead of waited on forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("{origin}: no answer")]
    Unreachable {
        origin: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{origin}: HTTP {status}\n{body}")]
    Status {
        origin: String,
        status: StatusCode,
        body: String,
    },
    #[error("{origin}: {problem}\n{body}")]
    Answer {
        origin: String,
        problem: String,
        body: String,
    },
    #[error("{step}: {problem}")]
    Step { step: String, problem: String },
}

/// The gateway and the mock, by base URL.
pub struct Api {
    http: reqwest::Client,
    gateway: String,
    mock: String,
}

impl Api {
    pub fn new(gateway: &str, mock: &str) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(DemoError::Client)?;
        Ok(Self {
            http,
            gateway: gateway.trim_end_matches('/').to_owned(),
            mock: mock.trim_end_matches('/').to_owned(),
        })
    }

    /// A request to the gateway's `path`; error messages in English.
    pub fn gateway(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.gateway))
            .header("Accept-Language", "en")
    }

    /// A request to the mock's `path`.
    pub fn mock(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.mock))
    }

    /// Sends `request` for `step` and reads the whole answer; only a failure to get an answer
    /// at all is an error here.
    pub async fn send(&self, step: &Step, request: RequestBuilder) -> Result<Answer, DemoError> {
        let (client, request) = request.build_split();
        let request = request.map_err(|source| DemoError::Unreachable {
            origin: step.to_string(),
            source,
        })?;
        let origin = format!("{step}: {} {}", request.method(), request.url());
        let unreachable = |source| DemoError::Unreachable {
            origin: origin.clone(),
            source,
        };
        let response = client.execute(request).await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        Ok(Answer {
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            origin,
            status,
            text,
        })
    }
}

/// A server's answer to one request.
pub struct Answer {
    origin: String,
    pub status: StatusCode,
    body: Value,
    text: String,
}

impl Answer {
    /// The body, if the status is `expected`; otherwise the status and body as an error.
    pub fn expect(self, expected: StatusCode) -> Result<Body, DemoError> {
        if self.status != expected {
            return Err(self.into_error());
        }
        Ok(Body {
            origin: self.origin,
            value: self.body,
            text: self.text,
        })
    }

    /// The gateway's `error.code`, if the answer is one of its errors.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// The gateway's `error.message`, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.body["error"]["message"].as_str()
    }

    /// This answer as an unexpected one: the status and the body as the server sent it.
    pub fn into_error(self) -> DemoError {
        DemoError::Status {
            origin: self.origin,
            status: self.status,
            body: self.text,
        }
    }
}

/// A JSON body the step expected; reading a field it lacks is an error naming the request.
pub struct Body {
    origin: String,
    value: Value,
    text: String,
}

impl Body {
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The string at `pointer` (RFC 6901, e.g. `/user/id`).
    pub fn str(&self, pointer: &str) -> Result<&str, DemoError> {
        self.value
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(pointer, "a string"))
    }

    /// The integer at `pointer`.
    pub fn i64(&self, pointer: &str) -> Result<i64, DemoError> {
        self.value
            .pointer(pointer)
            .and_then(Value::as_i64)
            .ok_or_else(|| self.missing(pointer, "an integer"))
    }

    /// The answer did not have the shape the step relies on.
    pub fn unexpected(&self, problem: impl Into<String>) -> DemoError {
        DemoError::Answer {
            origin: self.origin.clone(),
            problem: problem.into(),
            body: self.text.clone(),
        }
    }

    fn missing(&self, pointer: &str, kind: &str) -> DemoError {
        self.unexpected(format!("expected {kind} at {pointer} in the answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            origin: "step 6/10 (book): POST http://gw/api/v1/bookings".into(),
            status: StatusCode::from_u16(status).unwrap(),
            text: body.to_string(),
            body,
        }
    }

    #[test]
    fn an_unexpected_status_reports_the_request_status_and_body() {
        let refused = answer(
            409,
            json!({"error": {"code": "SLOT_SOLD_OUT", "message": "sold out"}}),
        );
        assert_eq!(refused.error_code(), Some("SLOT_SOLD_OUT"));
        assert_eq!(refused.error_message(), Some("sold out"));
        let error = refused.expect(StatusCode::CREATED).err().unwrap();
        assert_eq!(
            error.to_string(),
            "step 6/10 (book): POST http://gw/api/v1/bookings: HTTP 409 Conflict\n\
             {\"error\":{\"code\":\"SLOT_SOLD_OUT\",\"message\":\"sold out\"}}"
        );
    }

    #[test]
    fn fields_are_read_by_pointer_and_a_missing_one_is_named() {
        let body = answer(200, json!({"user": {"id": "u1"}, "expires_in": 7200}))
            .expect(StatusCode::OK)
            .unwrap();
        assert_eq!(body.str("/user/id").unwrap(), "u1");
        assert_eq!(body.i64("/expires_in").unwrap(), 7200);
        assert_eq!(
            body.str("/token").unwrap_err().to_string(),
            "step 6/10 (book): POST http://gw/api/v1/bookings: expected a string at /token in \
             the answer\n{\"expires_in\":7200,\"user\":{\"id\":\"u1\"}}"
        );
    }
}
