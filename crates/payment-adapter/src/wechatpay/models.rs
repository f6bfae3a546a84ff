//! What we send to and read from WeChat Pay: the JSAPI order, the transaction, the refund.
//! Amounts are fen; wire shapes (`amount.total`, `payer.openid`) stay private to this module.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// A mini-program (JSAPI) order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsapiOrder {
    /// 6 to 32 of `[0-9A-Za-z_-|*]`, unique per merchant.
    pub out_trade_no: String,
    /// Shown in the payer's bill; at most 127 bytes.
    pub description: String,
    pub amount_fen: i64,
    /// The payer's openid under the configured appid.
    pub payer_openid: String,
    /// Public HTTPS URL without a query string.
    pub notify_url: String,
    /// After this the order can no longer be paid.
    pub time_expire: DateTime<Utc>,
}

#[derive(Serialize)]
pub(super) struct JsapiOrderBody<'a> {
    pub appid: &'a str,
    pub mchid: &'a str,
    pub description: &'a str,
    pub out_trade_no: &'a str,
    pub time_expire: String,
    pub notify_url: &'a str,
    pub amount: AmountBody,
    pub payer: PayerBody<'a>,
}

#[derive(Serialize)]
pub(super) struct AmountBody {
    pub total: i64,
    pub currency: &'static str,
}

#[derive(Serialize)]
pub(super) struct PayerBody<'a> {
    pub openid: &'a str,
}

/// WeChat's own examples write times in Beijing time (`2025-05-20T13:29:35+08:00`); the same
/// instant in `Z` form is valid RFC 3339 but the Beijing form is what every integration sends.
pub(super) fn beijing_rfc3339(time: DateTime<Utc>) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    time.with_timezone(&beijing)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[derive(Deserialize)]
pub(super) struct PrepayAnswer {
    pub prepay_id: String,
}

/// `trade_state` of a transaction. For JSAPI payments only `SUCCESS`, `REFUND`, `NOTPAY` and
/// `CLOSED` occur; the rest belong to other products and are kept for completeness.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum TradeState {
    Success,
    /// A (partial or full) refund was started.
    Refund,
    NotPay,
    Closed,
    Revoked,
    UserPaying,
    PayError,
    /// A state this code does not know, verbatim.
    Other(String),
}

impl From<String> for TradeState {
    fn from(text: String) -> Self {
        match text.as_str() {
            "SUCCESS" => Self::Success,
            "REFUND" => Self::Refund,
            "NOTPAY" => Self::NotPay,
            "CLOSED" => Self::Closed,
            "REVOKED" => Self::Revoked,
            "USERPAYING" => Self::UserPaying,
            "PAYERROR" => Self::PayError,
            _ => Self::Other(text),
        }
    }
}

impl TradeState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::NotPay => "NOTPAY",
            Self::Closed => "CLOSED",
            Self::Revoked => "REVOKED",
            Self::UserPaying => "USERPAYING",
            Self::PayError => "PAYERROR",
            Self::Other(text) => text,
        }
    }
}

/// A transaction, from the order query or a `TRANSACTION.SUCCESS` notification.
///
/// Before trusting it as a payment of one of our bookings, compare `mchid`, `appid`,
/// `out_trade_no` and `total_fen` with the booking, and require [`TradeState::Success`].
/// `payer_total_fen` is what the payer spent and can be lower than `total_fen` with coupons.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "TransactionWire")]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    /// WeChat's id, present once paid.
    pub transaction_id: Option<String>,
    pub trade_type: Option<String>,
    pub trade_state: TradeState,
    pub trade_state_desc: Option<String>,
    pub success_time: Option<DateTime<Utc>>,
    pub payer_openid: Option<String>,
    pub total_fen: Option<i64>,
    pub payer_total_fen: Option<i64>,
}

#[derive(Deserialize)]
struct TransactionWire {
    appid: String,
    mchid: String,
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_type: Option<String>,
    trade_state: TradeState,
    trade_state_desc: Option<String>,
    success_time: Option<DateTime<Utc>>,
    payer: Option<PayerWire>,
    amount: Option<TransactionAmountWire>,
}

#[derive(Deserialize)]
struct PayerWire {
    openid: Option<String>,
}

#[derive(Deserialize)]
struct TransactionAmountWire {
    total: Option<i64>,
    payer_total: Option<i64>,
}

impl From<TransactionWire> for Transaction {
    fn from(wire: TransactionWire) -> Self {
        Self {
            appid: wire.appid,
            mchid: wire.mchid,
            out_trade_no: wire.out_trade_no,
            // WeChat sends "" rather than omitting the id of an unpaid order.
            transaction_id: wire.transaction_id.filter(|id| !id.is_empty()),
            trade_type: wire.trade_type.filter(|t| !t.is_empty()),
            trade_state: wire.trade_state,
            trade_state_desc: wire.trade_state_desc,
            success_time: wire.success_time,
            payer_openid: wire.payer.and_then(|payer| payer.openid),
            total_fen: wire.amount.as_ref().and_then(|amount| amount.total),
            payer_total_fen: wire.amount.and_then(|amount| amount.payer_total),
        }
    }
}

/// A refund to request. `out_refund_no` is the idempotency key: WeChat makes at most one refund
/// per number, so a retry after a timeout must reuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub out_trade_no: String,
    /// At most 64 of `[0-9A-Za-z_-|*@]`.
    pub out_refund_no: String,
    /// Shown to the payer.
    pub reason: Option<String>,
    pub refund_fen: i64,
    /// The original order's total.
    pub total_fen: i64,
    pub notify_url: Option<String>,
}

#[derive(Serialize)]
pub(super) struct RefundBody<'a> {
    pub out_trade_no: &'a str,
    pub out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<&'a str>,
    pub amount: RefundAmountBody,
}

#[derive(Serialize)]
pub(super) struct RefundAmountBody {
    pub refund: i64,
    pub total: i64,
    pub currency: &'static str,
}

/// A refund's `status` (`refund_status` in notifications).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum RefundStatus {
    Success,
    /// Closed without refunding: final, the money stays with the merchant.
    Closed,
    Processing,
    /// Not final: the payer's card cannot take it; needs the merchant's action.
    Abnormal,
    Other(String),
}

impl From<String> for RefundStatus {
    fn from(text: String) -> Self {
        match text.as_str() {
            "SUCCESS" => Self::Success,
            "CLOSED" => Self::Closed,
            "PROCESSING" => Self::Processing,
            "ABNORMAL" => Self::Abnormal,
            _ => Self::Other(text),
        }
    }
}

impl RefundStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "SUCCESS",
            Self::Closed => "CLOSED",
            Self::Processing => "PROCESSING",
            Self::Abnormal => "ABNORMAL",
            Self::Other(text) => text,
        }
    }
}

/// A refund, from the refund call, the refund query or a `REFUND.*` notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RefundWire")]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    pub transaction_id: Option<String>,
    pub out_trade_no: Option<String>,
    /// Present in notifications only.
    pub mchid: Option<String>,
    pub status: RefundStatus,
    pub refund_fen: i64,
    pub total_fen: i64,
    pub payer_refund_fen: Option<i64>,
    pub success_time: Option<DateTime<Utc>>,
    pub create_time: Option<DateTime<Utc>>,
    pub user_received_account: Option<String>,
    pub channel: Option<String>,
}

#[derive(Deserialize)]
struct RefundWire {
    refund_id: String,
    out_refund_no: String,
    transaction_id: Option<String>,
    out_trade_no: Option<String>,
    mchid: Option<String>,
    /// `status` in answers, `refund_status` in notifications.
    #[serde(alias = "refund_status")]
    status: RefundStatus,
    amount: RefundAmountWire,
    success_time: Option<DateTime<Utc>>,
    create_time: Option<DateTime<Utc>>,
    user_received_account: Option<String>,
    channel: Option<String>,
}

#[derive(Deserialize)]
struct RefundAmountWire {
    refund: i64,
    total: i64,
    payer_refund: Option<i64>,
}

impl From<RefundWire> for Refund {
    fn from(wire: RefundWire) -> Self {
        Self {
            refund_id: wire.refund_id,
            out_refund_no: wire.out_refund_no,
            transaction_id: wire.transaction_id,
            out_trade_no: wire.out_trade_no,
            mchid: wire.mchid,
            status: wire.status,
            refund_fen: wire.amount.refund,
            total_fen: wire.amount.total,
            payer_refund_fen: wire.amount.payer_refund,
            success_time: wire.success_time,
            create_time: wire.create_time,
            user_received_account: wire.user_received_account,
            channel: wire.channel,
        }
    }
}

/// The object `wx.requestPayment` takes, serialized with exactly WeChat's key names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPayment {
    /// Not passed to `wx.requestPayment` in a mini-program, but covered by `paySign`.
    pub app_id: String,
    /// Unix seconds as a string.
    pub time_stamp: String,
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// Always `RSA` in API v3.
    pub sign_type: String,
    pub pay_sign: String,
}

#[cfg(test)]
mod tests;
