//! Delivering a code: the [`SmsSender`] trait and its providers.
//!
//! - [`AliyunSms`]: Alibaba Cloud `SendSms` (dysmsapi 2017-05-25, RPC style, HMAC-SHA1
//!   signature V1), template parameter `{"code":"…"}` (template text uses `${code}`).
//! - [`TencentSms`]: Tencent Cloud SMS `SendSms` (API 3.0, 2021-01-11, TC3-HMAC-SHA256),
//!   template parameter set `["…"]` (template text uses `{1}`).
//! - [`ConsoleSms`]: prints the code on stderr, for development without any provider.
//!
//! The signing functions are public and pure so that miniprogram-mock checks our requests
//! with the very same code, and so that they are tested against the providers' documented
//! examples.

pub mod aliyun;
mod console;
pub mod tencent;

pub use aliyun::{AliyunConfig, AliyunSms};
pub use console::ConsoleSms;
pub use tencent::{TencentConfig, TencentSms};

use async_trait::async_trait;
use std::time::Duration;

/// Sends one verification code by SMS.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// `phone` is 11 mainland digits, `code` the six digits to deliver.
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SendError>;
}

/// Why a message did not go out. None of these carries the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No answer: connection refused, timeout, TLS failure.
    #[error("SMS provider unreachable: {0}")]
    Transport(String),
    /// The provider answered and refused, with its own error code (e.g. Aliyun
    /// `isv.BUSINESS_LIMIT_CONTROL`, Tencent `AuthFailure.SignatureFailure`).
    #[error("SMS provider refused the message: {code}: {message}")]
    Rejected { code: String, message: String },
    /// The provider answered something we cannot read.
    #[error("unexpected answer from the SMS provider: {0}")]
    BadResponse(String),
}

/// A provider client could not be built from its configuration (reported at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("invalid SMS endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("cannot build the HTTP client for SMS: {0}")]
    Http(String),
}

/// Connect and whole-request timeouts for provider calls: a send runs inside a patient's
/// request, so a hung provider must fail it rather than hold it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections are dropped before a server's keep-alive (5 s at the shortest common
/// default) would close them under a request that reuses one.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

fn http_client() -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build()
        .map_err(|e| SetupError::Http(e.to_string()))
}

/// An `http(s)` endpoint URL, without a trailing slash.
fn parse_endpoint(endpoint: &str) -> Result<reqwest::Url, SetupError> {
    let invalid = |reason: String| SetupError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let url =
        reqwest::Url::parse(endpoint.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("expected an http(s) URL with a host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not carry a query or fragment".into()));
    }
    Ok(url)
}

fn transport_error(e: reqwest::Error) -> SendError {
    // Without the URL: Aliyun's query string carries the phone number and the code.
    SendError::Transport(e.without_url().to_string())
}

/// `138****8000`: the form phone numbers take in anything a person or a log may read.
pub fn mask_phone(phone: &str) -> String {
    match (phone.get(..3), phone.get(phone.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if phone.len() >= 8 => format!("{head}****{tail}"),
        _ => "****".to_owned(),
    }
}

/// A secret that prints as `<redacted>`, for the `Debug` of provider configs.
struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_in_the_middle() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("1380"), "****");
        assert_eq!(mask_phone(""), "****");
    }
}
