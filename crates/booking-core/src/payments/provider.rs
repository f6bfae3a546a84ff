//! What the booking domain needs of a payment provider, whatever the provider. The gateway
//! implements [`PaymentProvider`] for WeChat Pay and Alipay on top of `payment-adapter`;
//! tests implement it with an in-memory provider.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// An order to open for a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub out_trade_no: String,
    pub amount_fen: i64,
    /// Shown to the payer (WeChat `description`, Alipay `subject`).
    pub description: String,
    /// The payer on the provider's platform: WeChat `openid`, Alipay `open_id` or `user_id`.
    pub payer: String,
    /// The provider stops accepting payment then: the hold ends.
    pub expires_at: DateTime<Utc>,
}

/// The open order and what the mini-program needs to pay it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedOrder {
    /// WeChat `prepay_id`, Alipay `trade_no`.
    pub provider_order_ref: String,
    /// The `wx.requestPayment` object or `{tradeNO}` for `my.tradePay`, as the client uses it.
    pub client_payload: serde_json::Value,
}

/// A provider's view of an order, from a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Not paid yet.
    Open,
    Paid(PaidOrder),
    /// Closed without payment, or no such order at the provider.
    Closed,
}

/// A settled payment as the provider reports it (notification or query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    pub out_trade_no: String,
    /// WeChat `transaction_id`, Alipay `trade_no`.
    pub provider_txn_id: String,
    pub amount_fen: i64,
    /// WeChat `mchid`, Alipay `app_id`: whom the money was paid to.
    pub merchant_id: String,
}

/// A refund to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund_fen: i64,
    pub total_fen: i64,
    pub reason: String,
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    /// Accepted, money not back yet (WeChat `PROCESSING`).
    Processing,
    Succeeded {
        provider_refund_id: Option<String>,
    },
    /// The provider gave up (WeChat `CLOSED` / `ABNORMAL`).
    Failed {
        reason: String,
    },
    /// The provider has no such refund: it was never accepted and may be asked for again.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Network trouble, timeouts, 5xx: worth trying again later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (its code and message).
    #[error("payment provider refused: {code}: {message}")]
    Refused { code: String, message: String },
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `wechatpay` or `alipay`, as stored in `payments.provider` and `callback_log.provider`.
    fn name(&self) -> &'static str;
    /// Our merchant at this provider (WeChat `mchid`, Alipay `app_id`).
    fn merchant_id(&self) -> &str;
    async fn open_order(&self, order: &OrderRequest) -> Result<OpenedOrder, ProviderError>;
    async fn query_order(&self, out_trade_no: &str) -> Result<OrderState, ProviderError>;
    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError>;
    async fn refund(&self, refund: &RefundRequest) -> Result<RefundState, ProviderError>;
    async fn query_refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
    ) -> Result<RefundState, ProviderError>;
}
