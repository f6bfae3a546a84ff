use super::platform_keys::SignatureCheckError;
use crate::keys::SignatureError;

/// What went wrong calling WeChat Pay. Only [`WechatPayError::Api`] with `authenticated: true` is
/// WeChat's verified answer; every other case means no trustworthy answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum WechatPayError {
    /// A value WeChat would refuse, caught before sending (and before it could alter the URL).
    #[error("invalid {field}: {rule}")]
    InvalidArgument {
        field: &'static str,
        rule: &'static str,
    },
    #[error("system random source failed")]
    Random,
    #[error("could not sign the request: {0}")]
    Signing(#[from] SignatureError),
    #[error("could not reach WeChat Pay: {0}")]
    Transport(#[from] reqwest::Error),
    /// An error answer `{code, message}` (`SIGN_ERROR` 401, `ORDER_NOT_EXIST` 404, `ORDERPAID`
    /// 400, …). `authenticated` says whether its signature verified: an unauthenticated one is
    /// only for logs, never a reason to change state.
    #[error("WeChat Pay refused (HTTP {status}): {code} {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        authenticated: bool,
    },
    /// A success answer whose signature did not verify: a forgery, an altered answer or the
    /// wrong platform key configured.
    #[error("WeChat Pay answer not authentic: {0}")]
    Unauthenticated(#[from] SignatureCheckError),
    /// An answer of a shape WeChat does not send (status and body kept for the log).
    #[error("unexpected WeChat Pay answer (HTTP {status}): {detail}")]
    Unexpected { status: u16, detail: String },
}

impl WechatPayError {
    /// WeChat's error `code` of an API refusal, for matching such as `ORDER_NOT_EXIST`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of WeChat's answer, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Transport(error) => error.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}
