//! The async notification the simulated Alipay posts to a trade's `notify_url`: a UTF-8 form,
//! signed with the platform key over the sorted parameters without `sign` and `sign_type` (how
//! Alipay signs payment notifications), delivered and retried by the shared [`Notifier`].
//!
//! [`Notifier`]: crate::notify::Notifier

use super::trades::{Buyer, Refund, Trade};
use super::{SELLER_ID, State, alipay_time};
use crate::notify::Outgoing;
use anyhow::Context as _;
use chrono::NaiveDateTime;
use payment_adapter::alipay::{fen_to_yuan, sign_params};
use serde_json::json;

/// Alipay's schedule after the first attempt: 4m, 10m, 10m, 1h, 2h, 6h, 15h.
const RETRY_DELAYS_S: &[u64] = &[240, 600, 600, 3600, 7200, 21600, 54000];

/// What the notification reports.
pub(super) enum Event<'a> {
    /// The buyer paid. `reported_total` replaces every amount in the notification (the pay hook's
    /// way to simulate a notification that disagrees with the order).
    Paid { reported_total: Option<&'a str> },
    /// `refund` returned the last fen, so the trade is now `TRADE_CLOSED`.
    Refunded(&'a Refund),
}

/// The notification of `event` for `trade` as of `now`; `None` when the trade has no
/// `notify_url`.
pub(super) fn build(
    state: &State,
    trade: &Trade,
    event: Event<'_>,
    now: NaiveDateTime,
) -> anyhow::Result<Option<Outgoing>> {
    let Some(url) = trade.terms.notify_url.clone() else {
        return Ok(None);
    };
    let body = signed_form(state, &parameters(state, trade, &event, now)?)?;
    Ok(Some(Outgoing {
        provider: "alipay",
        url,
        content_type: "application/x-www-form-urlencoded; charset=utf-8",
        headers: Vec::new(),
        sign_each_attempt: None,
        body,
        accepted: accepted_answer,
        retry_delays_s: RETRY_DELAYS_S,
    }))
}

/// Alipay stops retrying only on a 2xx whose body is exactly `success`.
pub(super) fn accepted_answer(status: u16, body: &[u8]) -> bool {
    (200..300).contains(&status) && body == b"success"
}

fn parameters(
    state: &State,
    trade: &Trade,
    event: &Event<'_>,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let notify_id = state
        .random_hex(17)
        .context("no randomness for notify_id")?;
    let amount = match event {
        Event::Paid {
            reported_total: Some(reported),
        } => (*reported).to_owned(),
        _ => fen_to_yuan(trade.terms.total_fen),
    };
    let buyer = match &trade.terms.buyer {
        Buyer::UserId(id) => ("buyer_id", id.clone()),
        Buyer::OpenId(id) => ("buyer_open_id", id.clone()),
    };
    let mut params = vec![
        ("notify_time", alipay_time(now)),
        ("notify_type", "trade_status_sync".to_owned()),
        ("notify_id", notify_id),
        ("app_id", state.app_id.clone()),
        ("auth_app_id", state.app_id.clone()),
        ("charset", "utf-8".to_owned()),
        ("version", "1.0".to_owned()),
        ("sign_type", "RSA2".to_owned()),
        ("trade_no", trade.trade_no.clone()),
        ("out_trade_no", trade.terms.out_trade_no.clone()),
        buyer,
        ("seller_id", SELLER_ID.to_owned()),
        ("trade_status", trade.status.as_str().to_owned()),
        ("total_amount", amount.clone()),
        ("receipt_amount", amount.clone()),
        ("invoice_amount", amount.clone()),
        ("buyer_pay_amount", amount.clone()),
        ("point_amount", "0.00".to_owned()),
        (
            "fund_bill_list",
            json!([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]).to_string(),
        ),
        ("subject", trade.terms.subject.clone()),
        ("gmt_create", alipay_time(trade.created_at)),
    ];
    params.extend(trade.paid_at.map(|at| ("gmt_payment", alipay_time(at))));
    if let Event::Refunded(refund) = event {
        params.extend([
            ("refund_fee", fen_to_yuan(trade.refunded_fen())),
            ("gmt_refund", alipay_time(refund.at)),
            ("out_biz_no", refund.out_request_no.clone()),
        ]);
        params.extend(trade.closed_at.map(|at| ("gmt_close", alipay_time(at))));
    }
    Ok(params)
}

/// The form body with `sign` appended.
fn signed_form(state: &State, params: &[(&'static str, String)]) -> anyhow::Result<Vec<u8>> {
    let unsigned: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, _)| *key != "sign_type")
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let sign = sign_params(&unsigned, &state.platform_private_key)?;
    let mut all: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("sign", &sign));
    Ok(serde_urlencoded::to_string(&all)?.into_bytes())
}
