//! The signed texts of API v3 and the `Authorization` header that carries our request signature.
//!
//! One implementation for both ends: the client signs with these functions and the mock (like
//! WeChat) parses and verifies with them, so the two cannot drift apart.

use crate::keys::{RsaPrivateKey, RsaPublicKey, SignatureError};
use std::fmt;

/// The scheme of the `Authorization` header.
pub const AUTHORIZATION_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The text we sign for a request: `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
///
/// `path_and_query` is the URL as sent without scheme and host (`/v3/…?mchid=…`); `body` is the
/// exact bytes sent, empty for a GET.
pub fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(
        method.len() + path_and_query.len() + timestamp.len() + nonce.len() + body.len() + 5,
    );
    for line in [
        method.as_bytes(),
        path_and_query.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        message.extend_from_slice(line);
        message.push(b'\n');
    }
    message
}

/// The text WeChat Pay signs for an answer or a notification: `TIMESTAMP\nNONCE\nBODY\n`, with
/// the header values as received and the body's raw bytes.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for line in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(line);
        message.push(b'\n');
    }
    message
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    #[error("authorization scheme is not {AUTHORIZATION_SCHEME}")]
    WrongScheme,
    #[error("malformed authorization item `{0}`")]
    MalformedItem(String),
    #[error("authorization item `{0}` appears twice")]
    Duplicate(String),
    #[error("unknown authorization item `{0}`")]
    UnknownItem(String),
    #[error("authorization lacks `{0}`")]
    Missing(&'static str),
}

/// The five items of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub mchid: &'a str,
    pub nonce_str: &'a str,
    /// Unix seconds, as text: the signature covers this exact text.
    pub timestamp: &'a str,
    /// Serial of the merchant API certificate whose key signed.
    pub serial_no: &'a str,
    pub signature: &'a str,
}

impl<'a> Authorization<'a> {
    /// Reads a header value; the items may come in any order, with spaces after the commas.
    pub fn parse(header: &'a str) -> Result<Self, AuthorizationError> {
        let items = header
            .strip_prefix(AUTHORIZATION_SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(AuthorizationError::WrongScheme)?;
        let mut fields: [Option<&'a str>; 5] = [None; 5];
        const NAMES: [&str; 5] = ["mchid", "nonce_str", "timestamp", "serial_no", "signature"];
        for item in items.split(',') {
            let item = item.trim();
            let (name, quoted) = item
                .split_once('=')
                .ok_or_else(|| AuthorizationError::MalformedItem(item.to_owned()))?;
            let value = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains('"'))
                .ok_or_else(|| AuthorizationError::MalformedItem(item.to_owned()))?;
            let index = NAMES
                .iter()
                .position(|known| *known == name)
                .ok_or_else(|| AuthorizationError::UnknownItem(name.to_owned()))?;
            if fields[index].replace(value).is_some() {
                return Err(AuthorizationError::Duplicate(name.to_owned()));
            }
        }
        let [mchid, nonce_str, timestamp, serial_no, signature] = fields;
        Ok(Self {
            mchid: mchid.ok_or(AuthorizationError::Missing("mchid"))?,
            nonce_str: nonce_str.ok_or(AuthorizationError::Missing("nonce_str"))?,
            timestamp: timestamp.ok_or(AuthorizationError::Missing("timestamp"))?,
            serial_no: serial_no.ok_or(AuthorizationError::Missing("serial_no"))?,
            signature: signature.ok_or(AuthorizationError::Missing("signature"))?,
        })
    }

    /// Checks the signature over the request it came with, using the merchant's public key.
    pub fn verify(
        &self,
        merchant_public_key: &RsaPublicKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let message = request_message(method, path_and_query, self.timestamp, self.nonce_str, body);
        merchant_public_key.verify_base64(&message, self.signature)
    }
}

/// The header value, items in the order of the official SDKs.
impl fmt::Display for Authorization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{AUTHORIZATION_SCHEME} mchid="{}",nonce_str="{}",timestamp="{}",serial_no="{}",signature="{}""#,
            self.mchid, self.nonce_str, self.timestamp, self.serial_no, self.signature
        )
    }
}

/// What identifies the signer of a request: the merchant and its API certificate.
#[derive(Debug, Clone, Copy)]
pub struct Merchant<'a> {
    pub mchid: &'a str,
    pub serial_no: &'a str,
    pub private_key: &'a RsaPrivateKey,
}

/// The `Authorization` header value for one request.
pub fn authorization_header(
    merchant: Merchant<'_>,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Result<String, SignatureError> {
    let message = request_message(method, path_and_query, timestamp, nonce, body);
    let signature = merchant.private_key.sign_base64(&message)?;
    Ok(Authorization {
        mchid: merchant.mchid,
        nonce_str: nonce,
        timestamp,
        serial_no: merchant.serial_no,
        signature: &signature,
    }
    .to_string())
}

#[cfg(test)]
mod tests;
