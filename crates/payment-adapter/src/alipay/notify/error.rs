use crate::alipay::amount::AmountError;
use crate::keys::SignatureError;

/// Why an async notification was refused. Values quoted from the body are clipped, since the
/// body is whatever anyone posted.
#[derive(Debug, thiserror::Error)]
pub enum AlipayNotifyError {
    #[error("notification body is not a UTF-8 form: {0}")]
    MalformedBody(&'static str),
    /// Which copy Alipay signed would be a guess, so neither is used.
    #[error("notification parameter `{0}` appears twice")]
    DuplicateField(String),
    #[error("notification charset `{0}` is not UTF-8 (orders are created with charset=utf-8)")]
    UnsupportedCharset(String),
    #[error("notification parameter `{0}` is missing")]
    MissingField(&'static str),
    #[error("notification sign_type `{0}` is not RSA2")]
    BadSignType(String),
    /// Our app_id is checked before the signature so junk is refused without an RSA operation.
    #[error("notification is for app_id `{0}`, not ours")]
    WrongAppId(String),
    /// Forged or altered, or the wrong key configured (the app public key instead of Alipay's).
    #[error("notification signature does not verify ({0})")]
    BadSignature(SignatureError),
    #[error("notification amount `{field}`: {source}")]
    BadAmount {
        field: &'static str,
        source: AmountError,
    },
    #[error("notification trade_status `{0}` is unknown")]
    UnknownTradeStatus(String),
    #[error("notification parameter `{0}` has an invalid value")]
    InvalidField(&'static str),
}

impl AlipayNotifyError {
    /// A stable snake_case name for logs, metrics and the callback log.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::DuplicateField(_) => "duplicate_field",
            Self::UnsupportedCharset(_) => "unsupported_charset",
            Self::MissingField(_) => "missing_field",
            Self::BadSignType(_) => "bad_sign_type",
            Self::WrongAppId(_) => "wrong_app_id",
            Self::BadSignature(_) => "bad_signature",
            Self::BadAmount { .. } => "bad_amount",
            Self::UnknownTradeStatus(_) => "unknown_trade_status",
            Self::InvalidField(_) => "invalid_field",
        }
    }
}
