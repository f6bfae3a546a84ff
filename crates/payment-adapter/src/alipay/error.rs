use crate::keys::{KeyError, SignatureError};

/// What went wrong talking to the Alipay gateway. Only [`AlipayError::Business`] is Alipay's
/// authenticated answer; every other variant means no trustworthy answer was received.
#[derive(Debug, thiserror::Error)]
pub enum AlipayError {
    #[error("alipay key: {0}")]
    Key(#[from] KeyError),
    #[error("could not sign the request: {0}")]
    Signing(SignatureError),
    /// A caller passed a parameter the client sets itself (`app_id`, `sign`, …).
    #[error("request parameter `{0}` is reserved for the client")]
    ReservedParameter(String),
    /// An amount Alipay refuses before looking at it: trades and refunds are 0.01 to
    /// 100000000.00 yuan.
    #[error("amount of {fen} fen is outside Alipay's 0.01 to 100000000.00 yuan")]
    InvalidAmount { fen: i64 },
    #[error("alipay gateway unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("alipay gateway answered HTTP {status}")]
    HttpStatus { status: u16 },
    #[error("malformed alipay response: {0}")]
    Malformed(String),
    /// The answer carried no `sign`. Alipay leaves some pre-dispatch errors unsigned; their
    /// content cannot be trusted, so it is only shown, never acted on.
    #[error("unsigned alipay response (code {code:?}, sub_code {sub_code:?}); not trusted")]
    Unsigned {
        code: Option<String>,
        sub_code: Option<String>,
    },
    /// `sign` does not match the response node under the configured Alipay public key: a forged
    /// or altered answer, or the wrong key configured (the app public key instead of Alipay's).
    #[error("alipay response signature does not verify ({0})")]
    BadSignature(SignatureError),
    /// A verified answer that says the call failed (`code` other than `10000`). `sub_msg` is
    /// left out of the message: for `isv.invalid-signature` it echoes the whole request,
    /// `biz_content` and auth code included.
    #[error("alipay refused: {code} {msg} (sub_code {sub_code:?})")]
    Business {
        code: String,
        msg: String,
        sub_code: Option<String>,
        sub_msg: Option<String>,
    },
}

impl AlipayError {
    /// `sub_code` of a verified business error, for matching such as `isv.code-invalid`.
    pub fn sub_code(&self) -> Option<&str> {
        match self {
            Self::Business { sub_code, .. } => sub_code.as_deref(),
            _ => None,
        }
    }
}
