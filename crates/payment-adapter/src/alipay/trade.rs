//! The `alipay.trade.*` calls of the mini-program payment flow: create the trade whose `trade_no`
//! the client passes to `my.tradePay`, query it, close it, refund it and ask whether a refund went
//! through. Amounts are fen on our side and yuan strings only on the wire; every business field
//! is read from the verified response node that [`AlipayClient::call`] returns.

mod node;

use super::amount::fen_to_yuan;
use super::client::beijing_timestamp;
use super::{AlipayClient, AlipayError};
use chrono::{DateTime, Utc};
use node::Fields;
use serde_json::json;

/// The product code of a payment started by `my.tradePay` in a mini-program.
const MINI_PROGRAM_PRODUCT: &str = "JSAPI_PAY";

/// Alipay takes 0.01 to 100000000.00 yuan per trade and per refund.
const AMOUNT_RANGE_FEN: std::ops::RangeInclusive<i64> = 1..=10_000_000_000;

/// The paying Alipay user, as the login exchange identified them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlipayBuyer<'a> {
    /// `buyer_open_id`: apps in open-id mode, which is every new app.
    OpenId(&'a str),
    /// `buyer_id`: the `2088…` user id of apps still in user-id mode.
    UserId(&'a str),
}

/// One `alipay.trade.create` order.
#[derive(Debug, Clone)]
pub struct TradeCreateRequest<'a> {
    pub out_trade_no: &'a str,
    pub total_fen: i64,
    /// Shown to the buyer; Alipay refuses `/`, `=` and `&` in it.
    pub subject: &'a str,
    pub buyer: AlipayBuyer<'a>,
    /// Alipay closes the trade unpaid at this moment (sent as Beijing `time_expire`).
    pub time_expire: DateTime<Utc>,
    /// Where Alipay posts the async notifications of this trade and of its refunds.
    pub notify_url: &'a str,
}

/// `alipay.trade.create`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeCreated {
    /// Alipay's trade number: the `tradeNO` of `my.tradePay`.
    pub trade_no: String,
    pub out_trade_no: String,
}

/// Where a trade stands (`trade_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    WaitBuyerPay,
    /// Closed unpaid (expired or closed by us), or fully refunded.
    TradeClosed,
    /// Paid and refundable.
    TradeSuccess,
    /// Paid and past its refund window.
    TradeFinished,
}

impl TradeStatus {
    /// Alipay's spelling, e.g. `TRADE_SUCCESS`; `None` for a status we do not know.
    pub fn from_alipay(text: &str) -> Option<Self> {
        match text {
            "WAIT_BUYER_PAY" => Some(Self::WaitBuyerPay),
            "TRADE_CLOSED" => Some(Self::TradeClosed),
            "TRADE_SUCCESS" => Some(Self::TradeSuccess),
            "TRADE_FINISHED" => Some(Self::TradeFinished),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitBuyerPay => "WAIT_BUYER_PAY",
            Self::TradeClosed => "TRADE_CLOSED",
            Self::TradeSuccess => "TRADE_SUCCESS",
            Self::TradeFinished => "TRADE_FINISHED",
        }
    }

    /// `TRADE_SUCCESS` and `TRADE_FINISHED` both mean the buyer paid.
    pub fn is_paid(self) -> bool {
        matches!(self, Self::TradeSuccess | Self::TradeFinished)
    }
}

/// `alipay.trade.query`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeQuery {
    pub trade_no: String,
    pub out_trade_no: String,
    pub trade_status: TradeStatus,
    pub total_fen: i64,
    /// `buyer_user_id` (user-id mode) and `buyer_open_id` (open-id mode): one or neither.
    pub buyer_user_id: Option<String>,
    pub buyer_open_id: Option<String>,
    /// `send_pay_date`: when the buyer paid, once paid.
    pub paid_at: Option<DateTime<Utc>>,
}

/// `alipay.trade.refund`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub trade_no: String,
    pub out_trade_no: String,
    /// `fund_change` `Y`: this call moved the money. `N` (or absent) happens when the same
    /// `out_request_no` was refunded before, or the refund is still in flight.
    pub fund_change: bool,
    /// `refund_fee`: everything refunded on this trade so far, not just this refund.
    pub refund_fee_fen: i64,
    pub gmt_refund_pay: Option<DateTime<Utc>>,
}

impl RefundOutcome {
    /// Only `fund_change` `Y` proves the money moved; otherwise ask
    /// [`AlipayClient::refund_query`] (a `10000` answer alone does not mean refunded).
    pub fn is_done(&self) -> bool {
        self.fund_change
    }
}

/// `alipay.trade.fastpay.refund.query`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQuery {
    pub out_trade_no: String,
    pub out_request_no: String,
    /// `REFUND_SUCCESS`, or `None` when Alipay has no finished refund under this request number
    /// (then retrying the refund with the same `out_request_no` is safe).
    pub refund_status: Option<String>,
    pub refund_amount_fen: Option<i64>,
    pub total_fen: Option<i64>,
    pub gmt_refund_pay: Option<DateTime<Utc>>,
}

impl RefundQuery {
    pub fn is_done(&self) -> bool {
        self.refund_status.as_deref() == Some("REFUND_SUCCESS")
    }
}

impl AlipayClient {
    /// Creates the trade the mini-program pays with `my.tradePay({ tradeNO })`. Creating the
    /// same `out_trade_no` again with other parameters is refused by Alipay
    /// (`ACQ.CONTEXT_INCONSISTENT`, or `ACQ.TRADE_HAS_SUCCESS` once paid).
    pub async fn trade_create(
        &self,
        order: &TradeCreateRequest<'_>,
    ) -> Result<TradeCreated, AlipayError> {
        const METHOD: &str = "alipay.trade.create";
        let node = self
            .call(
                METHOD,
                Some(trade_create_biz_content(order)?),
                &[("notify_url", order.notify_url)],
            )
            .await?;
        let fields = Fields::new(METHOD, &node);
        fields.expect_echo("out_trade_no", order.out_trade_no)?;
        Ok(TradeCreated {
            trade_no: fields.required("trade_no")?.to_owned(),
            out_trade_no: order.out_trade_no.to_owned(),
        })
    }

    /// The trade's current state. A trade Alipay does not know is [`AlipayError::Business`] with
    /// `sub_code` `ACQ.TRADE_NOT_EXIST`.
    pub async fn trade_query(&self, out_trade_no: &str) -> Result<TradeQuery, AlipayError> {
        const METHOD: &str = "alipay.trade.query";
        let node = self
            .call(METHOD, Some(json!({ "out_trade_no": out_trade_no })), &[])
            .await?;
        let fields = Fields::new(METHOD, &node);
        fields.expect_echo("out_trade_no", out_trade_no)?;
        Ok(TradeQuery {
            trade_no: fields.required("trade_no")?.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            trade_status: fields.trade_status("trade_status")?,
            total_fen: fields.required_amount("total_amount")?,
            buyer_user_id: fields.optional("buyer_user_id").map(str::to_owned),
            buyer_open_id: fields.optional("buyer_open_id").map(str::to_owned),
            paid_at: fields.time("send_pay_date")?,
        })
    }

    /// Closes an unpaid trade so it can no longer be paid. A paid or closed trade is refused
    /// (`ACQ.TRADE_STATUS_ERROR`), an unknown one is `ACQ.TRADE_NOT_EXIST`.
    pub async fn trade_close(&self, out_trade_no: &str) -> Result<(), AlipayError> {
        const METHOD: &str = "alipay.trade.close";
        let node = self
            .call(METHOD, Some(json!({ "out_trade_no": out_trade_no })), &[])
            .await?;
        Fields::new(METHOD, &node).expect_echo("out_trade_no", out_trade_no)
    }

    /// Refunds `refund_fen` of a paid trade. `out_request_no` makes the call idempotent: retry
    /// with the same number and amount, and read [`RefundOutcome::is_done`].
    pub async fn trade_refund(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
        refund_fen: i64,
        reason: Option<&str>,
    ) -> Result<RefundOutcome, AlipayError> {
        const METHOD: &str = "alipay.trade.refund";
        let mut biz = json!({
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "refund_amount": checked_yuan(refund_fen)?,
        });
        if let Some(reason) = reason.filter(|r| !r.is_empty()) {
            biz["refund_reason"] = reason.into();
        }
        let node = self.call(METHOD, Some(biz), &[]).await?;
        let fields = Fields::new(METHOD, &node);
        fields.expect_echo("out_trade_no", out_trade_no)?;
        Ok(RefundOutcome {
            trade_no: fields.required("trade_no")?.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            fund_change: fields.flag("fund_change")?.unwrap_or(false),
            refund_fee_fen: fields.required_amount("refund_fee")?,
            gmt_refund_pay: fields.time("gmt_refund_pay")?,
        })
    }

    /// Whether the refund `out_request_no` of the trade went through.
    pub async fn refund_query(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
    ) -> Result<RefundQuery, AlipayError> {
        const METHOD: &str = "alipay.trade.fastpay.refund.query";
        let biz = json!({
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "query_options": ["gmt_refund_pay"],
        });
        let node = self.call(METHOD, Some(biz), &[]).await?;
        let fields = Fields::new(METHOD, &node);
        fields.expect_echo("out_trade_no", out_trade_no)?;
        fields.expect_echo("out_request_no", out_request_no)?;
        Ok(RefundQuery {
            out_trade_no: out_trade_no.to_owned(),
            out_request_no: out_request_no.to_owned(),
            refund_status: fields.optional("refund_status").map(str::to_owned),
            refund_amount_fen: fields.amount("refund_amount")?,
            total_fen: fields.amount("total_amount")?,
            gmt_refund_pay: fields.time("gmt_refund_pay")?,
        })
    }
}

/// `alipay.trade.create`'s `biz_content`; `notify_url` is a top-level parameter, not in here.
fn trade_create_biz_content(
    order: &TradeCreateRequest<'_>,
) -> Result<serde_json::Value, AlipayError> {
    let mut biz = json!({
        "out_trade_no": order.out_trade_no,
        "total_amount": checked_yuan(order.total_fen)?,
        "subject": order.subject,
        "product_code": MINI_PROGRAM_PRODUCT,
        "time_expire": beijing_timestamp(order.time_expire),
    });
    let (key, id) = match order.buyer {
        AlipayBuyer::OpenId(id) => ("buyer_open_id", id),
        AlipayBuyer::UserId(id) => ("buyer_id", id),
    };
    biz[key] = id.into();
    Ok(biz)
}

fn checked_yuan(fen: i64) -> Result<String, AlipayError> {
    if AMOUNT_RANGE_FEN.contains(&fen) {
        Ok(fen_to_yuan(fen))
    } else {
        Err(AlipayError::InvalidAmount { fen })
    }
}

#[cfg(test)]
mod tests;
