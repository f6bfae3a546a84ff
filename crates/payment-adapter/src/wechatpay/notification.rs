//! WeChat Pay's notifications to our `notify_url`: signature on the raw body, then the envelope,
//! then the AES-256-GCM resource, each step only after the one before succeeded.
//!
//! Built for throughput (every paid booking brings one, retries bring more): keys are parsed
//! once, the envelope borrows from the body, the ciphertext is decoded and opened in one buffer.

use super::api_v3_key::ApiV3Key;
use super::models::{Refund, Transaction};
use super::platform_keys::{PlatformKeys, SignatureCheckError, SignatureHeaders};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;

/// The only resource cipher WeChat Pay uses.
const AEAD_AES_256_GCM: &str = "AEAD_AES_256_GCM";

/// The notifications we handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    TransactionSuccess,
    RefundSuccess,
    RefundAbnormal,
    RefundClosed,
}

impl EventType {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "TRANSACTION.SUCCESS" => Some(Self::TransactionSuccess),
            "REFUND.SUCCESS" => Some(Self::RefundSuccess),
            "REFUND.ABNORMAL" => Some(Self::RefundAbnormal),
            "REFUND.CLOSED" => Some(Self::RefundClosed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransactionSuccess => "TRANSACTION.SUCCESS",
            Self::RefundSuccess => "REFUND.SUCCESS",
            Self::RefundAbnormal => "REFUND.ABNORMAL",
            Self::RefundClosed => "REFUND.CLOSED",
        }
    }
}

/// The decrypted resource of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationResource {
    /// `TRANSACTION.SUCCESS`.
    Transaction(Transaction),
    /// `REFUND.*`; `status` is the resource's `refund_status`.
    Refund(Refund),
}

/// A notification whose signature verified and whose resource decrypted.
///
/// Not yet safe to apply: the caller must (1) reject a `nonce` it has seen within the last
/// [`MAX_CLOCK_SKEW_S`](super::MAX_CLOCK_SKEW_S) seconds (replay; it needs a shared store, so it
/// is not done here), (2) compare `mchid`/`appid`/`out_trade_no`/`total_fen` with its own order,
/// and (3) apply it idempotently — WeChat re-sends the same `id` until it gets a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatPayNotification {
    /// The same on every retry of one notification.
    pub id: String,
    pub event_type: EventType,
    /// `Wechatpay-Timestamp`, unix seconds.
    pub timestamp: i64,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Serial`: which key signed.
    pub serial: String,
    pub resource: NotificationResource,
}

/// Why a notification was refused. [`reason`](NotifyError::reason) is a stable snake_case name
/// for the callback log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Signature(#[from] SignatureCheckError),
    #[error("notification body is not the expected JSON: {0}")]
    MalformedBody(String),
    #[error("resource algorithm {0} is not AEAD_AES_256_GCM")]
    UnsupportedAlgorithm(String),
    #[error("resource does not decrypt with our APIv3 key")]
    DecryptFailed,
    /// Authentic, but an event we do not handle; answer 2xx so WeChat stops re-sending it.
    #[error("unhandled event type {0}")]
    UnknownEvent(String),
    #[error("decrypted resource is not the expected JSON: {0}")]
    MalformedResource(String),
}

impl NotifyError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Signature(error) => error.reason(),
            Self::MalformedBody(_) => "malformed_body",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::DecryptFailed => "decrypt_failed",
            Self::UnknownEvent(_) => "unknown_event",
            Self::MalformedResource(_) => "malformed_resource",
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    resource: EncryptedResource<'a>,
}

#[derive(Deserialize)]
struct EncryptedResource<'a> {
    #[serde(borrow)]
    algorithm: Cow<'a, str>,
    #[serde(borrow)]
    ciphertext: Cow<'a, str>,
    /// May be absent or empty; WeChat sends `transaction` / `refund`.
    #[serde(borrow, default)]
    associated_data: Cow<'a, str>,
    #[serde(borrow)]
    nonce: Cow<'a, str>,
}

/// Verifies and opens a notification: `headers` as received, `body` the raw request bytes (never
/// a re-serialization), `now` our clock.
pub fn verify_notification(
    platform_keys: &PlatformKeys,
    apiv3_key: &ApiV3Key,
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<WechatPayNotification, NotifyError> {
    let signed = platform_keys.verify(headers, body, now)?;
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| NotifyError::MalformedBody(e.to_string()))?;
    let event_type = EventType::parse(&envelope.event_type)
        .ok_or_else(|| NotifyError::UnknownEvent(envelope.event_type.clone().into_owned()))?;
    let sealed = &envelope.resource;
    if sealed.algorithm != AEAD_AES_256_GCM {
        return Err(NotifyError::UnsupportedAlgorithm(
            sealed.algorithm.clone().into_owned(),
        ));
    }
    let plaintext = apiv3_key
        .decrypt(&sealed.nonce, &sealed.associated_data, &sealed.ciphertext)
        .map_err(|_| NotifyError::DecryptFailed)?;
    let malformed = |e: serde_json::Error| NotifyError::MalformedResource(e.to_string());
    let resource = match event_type {
        EventType::TransactionSuccess => NotificationResource::Transaction(
            serde_json::from_slice(&plaintext).map_err(malformed)?,
        ),
        EventType::RefundSuccess | EventType::RefundAbnormal | EventType::RefundClosed => {
            NotificationResource::Refund(serde_json::from_slice(&plaintext).map_err(malformed)?)
        }
    };
    Ok(WechatPayNotification {
        id: envelope.id.into_owned(),
        event_type,
        timestamp: signed.timestamp,
        nonce: signed.nonce.to_owned(),
        serial: signed.serial.to_owned(),
        resource,
    })
}

#[cfg(test)]
mod tests;
