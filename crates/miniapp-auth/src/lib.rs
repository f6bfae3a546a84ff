//! miniapp-auth: the server side of mini-program login.
//!
//! - [`wechat`]: `code2Session` (a `wx.login` code for the user's openid), the app's access
//!   token (cached, single-flight) and `getuserphonenumber`.
//! - [`alipay`]: `alipay.system.oauth.token` through the one Alipay gateway client in
//!   `payment-adapter`, so login and payment share request signing and response verification.
//!
//! Secrets (app secret, `session_key`, access tokens) and phone numbers never appear in `Debug`,
//! in error texts or in log fields.

pub mod alipay;
mod masked;
pub mod wechat;

pub use alipay::{AlipayLogin, AlipayLoginError, AlipayUser};
pub use masked::{Secret, mask_phone};
pub use wechat::{
    AccessToken, AccessTokenCache, SessionKey, WechatClient, WechatError, WechatPhone,
    WechatSession,
};
