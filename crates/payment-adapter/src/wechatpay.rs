//! WeChat Pay API v3 for a direct merchant taking mini-program (JSAPI) payments: request
//! signing, the order / close / query / refund calls, the `wx.requestPayment` object, and the
//! verification and decryption of notifications.
//!
//! Trust rules built in: every answer with a body is verified against WeChat's key before it is
//! read; notifications are verified on their raw bytes, within 5 minutes of our clock, by the key
//! their `Wechatpay-Serial` names (platform certificates and the public key both work, for
//! rotations and the public-key migration), and only then decrypted.

mod api_v3_key;
mod client;
mod config;
mod error;
mod models;
mod notification;
mod payment;
mod platform_keys;
mod signing;

pub use api_v3_key::{ApiV3Key, ApiV3KeyError, DecryptError};
pub use client::WechatPayClient;
pub use config::WechatPayConfig;
pub use error::WechatPayError;
pub use models::{
    JsapiOrder, Refund, RefundRequest, RefundStatus, RequestPayment, TradeState, Transaction,
};
pub use notification::{
    EventType, NotificationResource, NotifyError, WechatPayNotification, verify_notification,
};
pub use payment::{pay_sign_message, request_payment};
pub use platform_keys::{
    HEADER_NONCE, HEADER_SERIAL, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_S,
    PlatformKeys, SignatureCheckError, SignatureHeaders, Signed,
};
pub use signing::{
    AUTHORIZATION_SCHEME, Authorization, AuthorizationError, Merchant, authorization_header,
    request_message, response_message,
};
