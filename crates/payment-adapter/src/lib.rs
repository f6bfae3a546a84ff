//! payment-adapter: clients of the payment providers. Each provider signs our requests and its
//! answers with RSA SHA256 keys, so [`keys`] loads and uses them once for all providers;
//! [`alipay`] is the Alipay OpenAPI gateway client (login token exchange now, `alipay.trade.*`
//! with the payment flow); [`wechatpay`] is the WeChat Pay API v3 client and notification verifier.

pub mod alipay;
pub mod keys;
pub mod wechatpay;
