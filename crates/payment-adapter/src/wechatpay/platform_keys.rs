//! The keys that may sign WeChat Pay's answers and notifications, and the check of those
//! signatures (`Wechatpay-Timestamp/Nonce/Signature/Serial` over `ts\nnonce\nbody\n`).
//!
//! WeChat names the signing key in `Wechatpay-Serial`: a platform-certificate serial (upper-case
//! hex; during a certificate rotation two are in use at once) or, in public-key mode, the id
//! `PUB_KEY_ID_…`. During the migration to public-key mode both kinds sign, so the set holds any
//! number of certificate keys and at most one public key, all verifying at the same time.

use super::signing::response_message;
use crate::keys::RsaPublicKey;
use chrono::{DateTime, Utc};

pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";

/// How far WeChat's timestamp may be from our clock, either way (the SDKs' 5 minutes).
pub const MAX_CLOCK_SKEW_S: i64 = 300;

/// WeChat deliberately sends a few wrongly signed answers and notifications to check that
/// merchants verify; their signature starts with this text.
const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// The four signature headers of an answer or notification, as received (absent ones `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub serial: Option<&'a str>,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the four headers through `header`, which looks a name up case-insensitively (as
    /// every HTTP header map does).
    pub fn from_lookup(header: impl Fn(&'static str) -> Option<&'a str>) -> Self {
        Self {
            timestamp: header(HEADER_TIMESTAMP),
            nonce: header(HEADER_NONCE),
            signature: header(HEADER_SIGNATURE),
            serial: header(HEADER_SERIAL),
        }
    }
}

/// The signature headers of a verified message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed<'a> {
    pub timestamp: i64,
    pub nonce: &'a str,
    pub serial: &'a str,
}

/// Why a signed answer or notification was not accepted. Each case has a stable
/// [`reason`](SignatureCheckError::reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheckError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("{HEADER_TIMESTAMP} is not unix seconds")]
    MalformedTimestamp,
    #[error("timestamp is {skew_s} s away from our clock (at most {MAX_CLOCK_SKEW_S} s allowed)")]
    StaleTimestamp { skew_s: i64 },
    #[error("no WeChat Pay key with serial {0}")]
    UnknownSerial(String),
    /// WeChat's deliberate wrong signature (`WECHATPAY/SIGNTEST/…`): refuse it, do not alarm.
    #[error("WeChat Pay signature probe")]
    SignatureProbe,
    /// Not base64, or not a signature of this message by the named key.
    #[error("signature does not verify")]
    BadSignature,
}

impl SignatureCheckError {
    /// A stable snake_case name for logs and the callback log.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedTimestamp => "malformed_timestamp",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::UnknownSerial(_) => "unknown_serial",
            Self::SignatureProbe => "signature_probe",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// The keys WeChat Pay signs with, by serial. Parsed once at start; verification borrows them.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    /// Platform certificates, serials kept upper-case. A handful at most, so a list beats a map.
    certificates: Vec<(String, RsaPublicKey)>,
    public_key: Option<(String, RsaPublicKey)>,
}

impl PlatformKeys {
    /// Public-key mode: `id` is the `PUB_KEY_ID_…` shown beside the key in the merchant platform.
    pub fn with_public_key(id: impl Into<String>, key: RsaPublicKey) -> Self {
        Self {
            certificates: Vec::new(),
            public_key: Some((id.into(), key)),
        }
    }

    /// Adds (or replaces) the key of the platform certificate with `serial` (hex, any case).
    pub fn add_certificate(&mut self, serial: &str, key: RsaPublicKey) {
        let serial = serial.to_ascii_uppercase();
        self.certificates.retain(|(known, _)| *known != serial);
        self.certificates.push((serial, key));
    }

    /// Sets the public-key-mode key, replacing any previous one.
    pub fn set_public_key(&mut self, id: impl Into<String>, key: RsaPublicKey) {
        self.public_key = Some((id.into(), key));
    }

    /// The `PUB_KEY_ID_…` in use, which requests carry in `Wechatpay-Serial` so that WeChat signs
    /// its answers with the public key.
    pub fn public_key_id(&self) -> Option<&str> {
        self.public_key.as_ref().map(|(id, _)| id.as_str())
    }

    /// The key named by a `Wechatpay-Serial` value.
    pub fn get(&self, serial: &str) -> Option<&RsaPublicKey> {
        if let Some((id, key)) = &self.public_key
            && id == serial
        {
            return Some(key);
        }
        self.certificates
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(serial))
            .map(|(_, key)| key)
    }

    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.public_key.is_none()
    }

    /// Checks an answer or notification in the recommended order: all four headers present,
    /// timestamp within [`MAX_CLOCK_SKEW_S`] of `now`, serial known, signature valid over the raw
    /// `body`. Nonce replay is the caller's to check (it needs a store).
    pub fn verify<'h>(
        &self,
        headers: &SignatureHeaders<'h>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Signed<'h>, SignatureCheckError> {
        let require =
            |value: Option<&'h str>, name| value.ok_or(SignatureCheckError::MissingHeader(name));
        let timestamp_text = require(headers.timestamp, HEADER_TIMESTAMP)?;
        let nonce = require(headers.nonce, HEADER_NONCE)?;
        let signature = require(headers.signature, HEADER_SIGNATURE)?;
        let serial = require(headers.serial, HEADER_SERIAL)?;

        let timestamp: i64 = timestamp_text
            .parse()
            .map_err(|_| SignatureCheckError::MalformedTimestamp)?;
        let skew_s = now.timestamp().saturating_sub(timestamp);
        if skew_s.saturating_abs() > MAX_CLOCK_SKEW_S {
            return Err(SignatureCheckError::StaleTimestamp { skew_s });
        }
        let key = self
            .get(serial)
            .ok_or_else(|| SignatureCheckError::UnknownSerial(serial.to_owned()))?;
        if signature.starts_with(SIGNATURE_PROBE_PREFIX) {
            return Err(SignatureCheckError::SignatureProbe);
        }
        key.verify_base64(&response_message(timestamp_text, nonce, body), signature)
            .map_err(|_| SignatureCheckError::BadSignature)?;
        Ok(Signed {
            timestamp,
            nonce,
            serial,
        })
    }
}

#[cfg(test)]
mod tests;
