//! Alipay mini-program login: `my.getAuthCode` code → `alipay.system.oauth.token` → the user's
//! ids, through the shared gateway client of `payment-adapter`.

use payment_adapter::alipay::{AlipayClient, AlipayError};
use std::sync::Arc;

/// `sub_code` of an invalid, expired or reused auth code.
const CODE_INVALID: &str = "isv.code-invalid";

/// Who logged in. Apps in open-id mode (every new app) get only `open_id`; older apps get
/// `user_id` (`2088…`) and may get both during the migration. At least one is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlipayUser {
    pub user_id: Option<String>,
    pub open_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AlipayLoginError {
    /// The code is empty, invalid, expired or used (`isv.code-invalid`): the client should call
    /// `my.getAuthCode` again.
    #[error("invalid auth code")]
    InvalidCode,
    /// Anything else: transport, signature, configuration or another refusal by Alipay.
    #[error(transparent)]
    Gateway(AlipayError),
}

/// The login half of the Alipay client.
#[derive(Clone, Debug)]
pub struct AlipayLogin {
    client: Arc<AlipayClient>,
}

impl AlipayLogin {
    /// Shares `client` with the payment side: one key pair, one verification path.
    pub fn new(client: Arc<AlipayClient>) -> Self {
        Self { client }
    }

    pub async fn login(&self, auth_code: &str) -> Result<AlipayUser, AlipayLoginError> {
        if auth_code.is_empty() {
            return Err(AlipayLoginError::InvalidCode);
        }
        match self.client.oauth_token(auth_code).await {
            Ok(token) => Ok(AlipayUser {
                user_id: token.user_id,
                open_id: token.open_id,
            }),
            Err(error) if error.sub_code() == Some(CODE_INVALID) => {
                Err(AlipayLoginError::InvalidCode)
            }
            Err(error) => Err(AlipayLoginError::Gateway(error)),
        }
    }
}
