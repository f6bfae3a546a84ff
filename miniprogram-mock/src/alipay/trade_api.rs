//! The `alipay.trade.*` methods of the gateway: read `biz_content` as Alipay does, apply the
//! [`TradeBook`] rules and answer with Alipay's fields. A business parameter that is missing or
//! malformed is `40004` `ACQ.INVALID_PARAMETER`; refusals keep Alipay's `sub_code`s.

use super::notification::{self, Event};
use super::trades::{Buyer, NewTrade, Refusal, Trade, TradeBook};
use super::{Reply, State, alipay_time, param};
use crate::notify::Outgoing;
use chrono::NaiveDateTime;
use payment_adapter::alipay::{fen_to_yuan, yuan_to_fen};
use serde_json::{Map, Value, json};

/// Alipay takes 0.01 to 100000000.00 yuan per trade and per refund.
const AMOUNT_RANGE_FEN: std::ops::RangeInclusive<i64> = 1..=10_000_000_000;
const MINI_PROGRAM_PRODUCT: &str = "JSAPI_PAY";

/// One method call's `biz_content`.
struct Call {
    method: &'static str,
    biz: Map<String, Value>,
}

impl Call {
    fn new(method: &'static str, params: &[(String, String)]) -> Result<Self, Reply> {
        let biz = param(params, "biz_content")
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .and_then(|value| match value {
                Value::Object(biz) => Some(biz),
                _ => None,
            });
        match biz {
            Some(biz) => Ok(Self { method, biz }),
            None => Err(Reply::business(
                method,
                "ACQ.INVALID_PARAMETER",
                "参数无效: biz_content",
            )),
        }
    }

    /// A non-empty string field.
    fn text(&self, name: &str) -> Option<&str> {
        self.biz
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    }

    fn invalid(&self, name: &str) -> Reply {
        Reply::business(
            self.method,
            "ACQ.INVALID_PARAMETER",
            &format!("参数无效: {name}"),
        )
    }

    fn required(&self, name: &str) -> Result<&str, Reply> {
        self.text(name).ok_or_else(|| self.invalid(name))
    }

    fn amount(&self, name: &str) -> Result<i64, Reply> {
        yuan_to_fen(self.required(name)?)
            .ok()
            .filter(|fen| AMOUNT_RANGE_FEN.contains(fen))
            .ok_or_else(|| self.invalid(name))
    }

    fn refused(&self, refusal: Refusal) -> Reply {
        Reply::business(self.method, refusal.sub_code(), refusal.sub_msg())
    }

    /// The trade named by `trade_no` (which wins, as at Alipay) or `out_trade_no`.
    fn out_trade_no(&self, book: &mut TradeBook, now: NaiveDateTime) -> Result<String, Reply> {
        let trade = match (self.text("trade_no"), self.text("out_trade_no")) {
            (Some(trade_no), _) => book.find_by_trade_no_mut(trade_no, now),
            (None, Some(out_trade_no)) => book.find_mut(out_trade_no, now),
            (None, None) => return Err(self.invalid("out_trade_no")),
        };
        trade
            .map(|trade| trade.terms.out_trade_no.clone())
            .map_err(|refusal| self.refused(refusal))
    }

    fn success(&self, fields: Value) -> Reply {
        Reply::method(
            self.method,
            with(json!({"code": "10000", "msg": "Success"}), fields),
        )
    }
}

/// An answer either way: `Err` is a refusal, already in Alipay's shape.
pub(super) type Answer = Result<Reply, Reply>;

fn valid_out_trade_no(text: &str) -> bool {
    text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn valid_user_id(text: &str) -> bool {
    text.len() == 16 && text.starts_with("2088") && text.bytes().all(|b| b.is_ascii_digit())
}

/// `buyer_user_id` / `buyer_open_id` as the query and refund answers name them.
fn buyer_fields(trade: &Trade) -> Value {
    match &trade.terms.buyer {
        Buyer::UserId(id) => json!({ "buyer_user_id": id }),
        Buyer::OpenId(id) => json!({ "buyer_open_id": id }),
    }
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

pub(super) fn create(state: &State, params: &[(String, String)], now: NaiveDateTime) -> Answer {
    let call = Call::new("alipay.trade.create", params)?;
    let new = new_trade(&call, params)?;
    let trade_no = state.new_trade_no(now).ok_or_else(Reply::unavailable)?;
    let mut book = state.trades();
    let trade = book
        .create(new, trade_no, now)
        .map_err(|refusal| call.refused(refusal))?;
    Ok(call.success(json!({
        "out_trade_no": trade.terms.out_trade_no,
        "trade_no": trade.trade_no,
    })))
}

/// `alipay.trade.create`'s checks: the order, the amount, the product and who pays.
fn new_trade(call: &Call, params: &[(String, String)]) -> Result<NewTrade, Reply> {
    let out_trade_no = call.required("out_trade_no")?;
    if !valid_out_trade_no(out_trade_no) {
        return Err(call.invalid("out_trade_no"));
    }
    let total_fen = call.amount("total_amount")?;
    let subject = call.required("subject")?;
    if subject.chars().count() > 256 {
        return Err(call.invalid("subject"));
    }
    if call.text("product_code") != Some(MINI_PROGRAM_PRODUCT) {
        return Err(Reply::business(
            call.method,
            "ACQ.ACCESS_FORBIDDEN",
            "商户未签约该产品，请使用 JSAPI_PAY",
        ));
    }
    let buyer = match (call.text("buyer_id"), call.text("buyer_open_id")) {
        (Some(id), None) if valid_user_id(id) => Buyer::UserId(id.to_owned()),
        (None, Some(id)) => Buyer::OpenId(id.to_owned()),
        (Some(_), Some(_)) => return Err(call.invalid("buyer_id")),
        _ => {
            return Err(Reply::business(
                call.method,
                "ACQ.BUYER_NOT_EXIST",
                "买家不存在",
            ));
        }
    };
    let time_expire = call
        .text("time_expire")
        .map(|text| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .map_err(|_| call.invalid("time_expire"))
        })
        .transpose()?;
    Ok(NewTrade {
        out_trade_no: out_trade_no.to_owned(),
        total_fen,
        subject: subject.to_owned(),
        buyer,
        time_expire,
        notify_url: param(params, "notify_url").map(str::to_owned),
    })
}

pub(super) fn query(state: &State, params: &[(String, String)], now: NaiveDateTime) -> Answer {
    let call = Call::new("alipay.trade.query", params)?;
    let mut book = state.trades();
    let out_trade_no = call.out_trade_no(&mut book, now)?;
    let trade = book
        .find_mut(&out_trade_no, now)
        .map_err(|refusal| call.refused(refusal))?;
    let total = fen_to_yuan(trade.terms.total_fen);
    let mut fields = json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.terms.out_trade_no,
        "trade_status": trade.status.as_str(),
        "total_amount": total,
    });
    if let Some(paid_at) = trade.paid_at {
        fields = with(
            fields,
            json!({
                "receipt_amount": total,
                "buyer_pay_amount": total,
                "send_pay_date": alipay_time(paid_at),
            }),
        );
    }
    Ok(call.success(with(fields, buyer_fields(trade))))
}

pub(super) fn close(state: &State, params: &[(String, String)], now: NaiveDateTime) -> Answer {
    let call = Call::new("alipay.trade.close", params)?;
    let mut book = state.trades();
    let out_trade_no = call.out_trade_no(&mut book, now)?;
    let trade = book
        .close(&out_trade_no, now)
        .map_err(|refusal| call.refused(refusal))?;
    Ok(call.success(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.terms.out_trade_no,
    })))
}

/// Synchronous, as Alipay's: `fund_change` `Y` when this call moved money. Returning the last fen
/// closes the trade and notifies the merchant.
pub(super) fn refund(
    state: &State,
    params: &[(String, String)],
    now: NaiveDateTime,
    outbox: &mut Vec<Outgoing>,
) -> Answer {
    let call = Call::new("alipay.trade.refund", params)?;
    let refund_fen = call.amount("refund_amount")?;
    let mut book = state.trades();
    let out_trade_no = call.out_trade_no(&mut book, now)?;
    // Without a request number the refund is the whole trade's, numbered by the trade.
    let out_request_no = call
        .text("out_request_no")
        .unwrap_or(&out_trade_no)
        .to_owned();
    let refunded = book
        .refund(&out_trade_no, &out_request_no, refund_fen, now)
        .map_err(|refusal| call.refused(refusal))?;
    let (trade, refund) = (refunded.trade, refunded.refund);
    if refunded.closed_now {
        match notification::build(state, trade, Event::Refunded(refund), now) {
            Ok(notification) => outbox.extend(notification),
            Err(error) => tracing::error!(%error, "refund notification not built"),
        }
    }
    let fields = json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.terms.out_trade_no,
        "fund_change": if refunded.fund_change { "Y" } else { "N" },
        "refund_fee": fen_to_yuan(trade.refunded_fen()),
        "gmt_refund_pay": alipay_time(refund.at),
    });
    Ok(call.success(with(fields, buyer_fields(trade))))
}

pub(super) fn refund_query(
    state: &State,
    params: &[(String, String)],
    now: NaiveDateTime,
) -> Answer {
    let call = Call::new("alipay.trade.fastpay.refund.query", params)?;
    let out_request_no = call.required("out_request_no")?;
    let wants_refund_time = call
        .biz
        .get("query_options")
        .and_then(Value::as_array)
        .is_some_and(|options| options.iter().any(|o| o == "gmt_refund_pay"));
    let mut book = state.trades();
    let out_trade_no = call.out_trade_no(&mut book, now)?;
    let trade = book
        .find_mut(&out_trade_no, now)
        .map_err(|refusal| call.refused(refusal))?;
    let mut fields = json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.terms.out_trade_no,
        "out_request_no": out_request_no,
    });
    // An unknown request number is a success without refund fields: nothing was refunded.
    if let Some(refund) = trade.find_refund(out_request_no) {
        fields = with(
            fields,
            json!({
                "total_amount": fen_to_yuan(trade.terms.total_fen),
                "refund_amount": fen_to_yuan(refund.fen),
                "refund_status": "REFUND_SUCCESS",
            }),
        );
        if wants_refund_time {
            fields = with(fields, json!({ "gmt_refund_pay": alipay_time(refund.at) }));
        }
    }
    Ok(call.success(fields))
}
