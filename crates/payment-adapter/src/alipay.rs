//! Alipay OpenAPI classic gateway (`gateway.do`) with RSA2 keys in public-key mode: the one
//! implementation of request signing and response verification that the login exchange and the
//! `alipay.trade.*` payment calls share, and the verification of the async payment
//! notifications ([`verify_notification`]). Money crosses this boundary as yuan strings and is
//! fen everywhere else ([`yuan_to_fen`], [`fen_to_yuan`]).

mod amount;
mod beijing_time;
mod client;
mod error;
mod notify;
mod oauth;
mod response;
mod sign;
mod trade;

pub use amount::{AmountError, fen_to_yuan, yuan_to_fen};
pub use client::AlipayClient;
pub use error::AlipayError;
pub use notify::{AlipayNotification, AlipayNotifyError, verify_notification};
pub use oauth::AlipayOAuthToken;
pub use response::{response_node_name, verify_response};
pub use sign::{sign_params, string_to_sign, verify_params};
pub use trade::{
    AlipayBuyer, RefundOutcome, RefundQuery, TradeCreateRequest, TradeCreated, TradeQuery,
    TradeStatus,
};
