/// What went wrong calling WeChat. The first four are the documented user-facing outcomes of a
/// login; the rest are failures of the platform, the configuration or the network.
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// 40029: the code is wrong, used, expired or from another appid. Also an empty code, which
    /// is refused without asking WeChat.
    #[error("invalid code")]
    InvalidCode,
    /// 45011: too many logins for this user (about 100 a minute).
    #[error("wechat rate limit reached")]
    RateLimited,
    /// 40226: WeChat judged the user high-risk and blocked the login.
    #[error("wechat blocked a high-risk user")]
    RiskyUser,
    /// -1: WeChat is busy; retrying later may succeed.
    #[error("wechat is busy")]
    Busy,
    /// Any other errcode, e.g. 40013 invalid appid, 40125 invalid appsecret (configuration),
    /// or 40001/42001 when even a freshly fetched access token is refused.
    #[error("wechat errcode {errcode}: {errmsg}")]
    Other { errcode: i64, errmsg: String },
    /// The request did not complete. The URL (which carries the secret or the access token) is
    /// stripped from the error.
    #[error("wechat unreachable: {0}")]
    Transport(reqwest::Error),
    #[error("wechat answered HTTP {status}")]
    HttpStatus { status: u16 },
    /// The answer was not what the API documents. Only `what` is kept: the body may hold a
    /// `session_key` or a phone number.
    #[error("malformed wechat answer: {what}")]
    Malformed { what: &'static str },
}

impl WechatError {
    /// The documented meaning of a non-zero `errcode`.
    pub(super) fn from_errcode(errcode: i64, errmsg: String) -> Self {
        match errcode {
            40029 => Self::InvalidCode,
            45011 => Self::RateLimited,
            40226 => Self::RiskyUser,
            -1 => Self::Busy,
            _ => Self::Other { errcode, errmsg },
        }
    }

    /// 40001 (invalid credential) and 42001 (expired): the access token must be fetched again.
    pub(super) fn is_stale_access_token(&self) -> bool {
        matches!(
            self,
            Self::Other {
                errcode: 40001 | 42001,
                ..
            }
        )
    }
}

impl From<reqwest::Error> for WechatError {
    fn from(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url())
    }
}
