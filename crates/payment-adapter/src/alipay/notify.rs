//! Alipay's async notification (`notify_url`): a form POST signed RSA2 with Alipay's key over
//! the decoded parameters, sorted, without `sign`, `sign_type` and empty values (the "V1" rule of
//! payment notifications). The body is decoded once and business fields are read only after the
//! signature verified, from the same decoded parameters.

mod error;
mod form;

pub use error::AlipayNotifyError;

use super::amount::yuan_to_fen;
use super::{TradeStatus, beijing_time, verify_params};
use crate::keys::RsaPublicKey;
use chrono::{DateTime, Utc};
use form::Form;
use std::borrow::Cow;

/// A verified notification, borrowing from the body where no decoding was needed.
///
/// Verification proves Alipay sent it for our app, nothing more. The caller must still check that
/// `out_trade_no` is one of ours and that `total_fen` equals that booking's amount (only it knows
/// the booking), treat only [`TradeStatus::is_paid`] as paid, and apply it idempotently: Alipay
/// repeats a notification until it gets `success`, and sends one per status change and refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayNotification<'a> {
    /// The same across retries of one notification.
    pub notify_id: Cow<'a, str>,
    pub notify_time: DateTime<Utc>,
    pub trade_no: Cow<'a, str>,
    pub out_trade_no: Cow<'a, str>,
    pub trade_status: TradeStatus,
    pub total_fen: i64,
    /// `receipt_amount`: what the merchant actually received.
    pub receipt_amount_fen: Option<i64>,
    /// `buyer_id` (user-id mode) and `buyer_open_id` (open-id mode).
    pub buyer_id: Option<Cow<'a, str>>,
    pub buyer_open_id: Option<Cow<'a, str>>,
    /// The merchant's `2088…` partner id, for callers that check it.
    pub seller_id: Option<Cow<'a, str>>,
    pub gmt_payment: Option<DateTime<Utc>>,
    /// Refund notices: `refund_fee` is the total refunded on the trade so far.
    pub refund_fee_fen: Option<i64>,
    pub gmt_refund: Option<DateTime<Utc>>,
    /// Refund notices: the refund's `out_request_no`.
    pub out_biz_no: Option<Cow<'a, str>>,
    pub fund_change: Option<bool>,
}

impl AlipayNotification<'_> {
    /// Detaches the notification from the body, e.g. to hand it to another task.
    pub fn into_owned(self) -> AlipayNotification<'static> {
        let own = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        AlipayNotification {
            notify_id: own(self.notify_id),
            notify_time: self.notify_time,
            trade_no: own(self.trade_no),
            out_trade_no: own(self.out_trade_no),
            trade_status: self.trade_status,
            total_fen: self.total_fen,
            receipt_amount_fen: self.receipt_amount_fen,
            buyer_id: self.buyer_id.map(own),
            buyer_open_id: self.buyer_open_id.map(own),
            seller_id: self.seller_id.map(own),
            gmt_payment: self.gmt_payment,
            refund_fee_fen: self.refund_fee_fen,
            gmt_refund: self.gmt_refund,
            out_biz_no: self.out_biz_no.map(own),
            fund_change: self.fund_change,
        }
    }
}

/// Verifies the raw POST body of an Alipay notification for the app `expected_app_id` with
/// Alipay's public key (not the app's own) and reads it.
pub fn verify_notification<'a>(
    raw_body: &'a [u8],
    alipay_public_key: &RsaPublicKey,
    expected_app_id: &str,
) -> Result<AlipayNotification<'a>, AlipayNotifyError> {
    let mut form = Form::parse(raw_body)?;
    let sign_type = present(&form, "sign_type")?;
    if sign_type != "RSA2" {
        return Err(AlipayNotifyError::BadSignType(clip(sign_type)));
    }
    let app_id = present(&form, "app_id")?;
    if app_id != expected_app_id {
        return Err(AlipayNotifyError::WrongAppId(clip(app_id)));
    }
    let sign = present(&form, "sign")?;
    verify_params(&form.signed_params(), sign, alipay_public_key)
        .map_err(AlipayNotifyError::BadSignature)?;
    read_fields(&mut form)
}

fn present<'f>(form: &'f Form<'_>, name: &'static str) -> Result<&'f str, AlipayNotifyError> {
    form.get(name).ok_or(AlipayNotifyError::MissingField(name))
}

fn read_fields<'a>(form: &mut Form<'a>) -> Result<AlipayNotification<'a>, AlipayNotifyError> {
    let required = |form: &mut Form<'a>, name: &'static str| {
        form.take(name).ok_or(AlipayNotifyError::MissingField(name))
    };
    let amount = |form: &Form<'a>, field: &'static str| {
        form.get(field)
            .map(|yuan| {
                yuan_to_fen(yuan).map_err(|source| AlipayNotifyError::BadAmount { field, source })
            })
            .transpose()
    };
    let time = |form: &Form<'a>, field: &'static str| {
        form.get(field)
            .map(|text| beijing_time::parse(text).ok_or(AlipayNotifyError::InvalidField(field)))
            .transpose()
    };
    let trade_status = present(form, "trade_status")?;
    let trade_status = TradeStatus::from_alipay(trade_status)
        .ok_or_else(|| AlipayNotifyError::UnknownTradeStatus(clip(trade_status)))?;
    let fund_change = match form.get("fund_change") {
        None => None,
        Some("Y") => Some(true),
        Some("N") => Some(false),
        Some(_) => return Err(AlipayNotifyError::InvalidField("fund_change")),
    };
    Ok(AlipayNotification {
        notify_time: time(form, "notify_time")?
            .ok_or(AlipayNotifyError::MissingField("notify_time"))?,
        total_fen: amount(form, "total_amount")?
            .ok_or(AlipayNotifyError::MissingField("total_amount"))?,
        receipt_amount_fen: amount(form, "receipt_amount")?,
        gmt_payment: time(form, "gmt_payment")?,
        refund_fee_fen: amount(form, "refund_fee")?,
        gmt_refund: time(form, "gmt_refund")?,
        trade_status,
        fund_change,
        notify_id: required(form, "notify_id")?,
        trade_no: required(form, "trade_no")?,
        out_trade_no: required(form, "out_trade_no")?,
        buyer_id: form.take("buyer_id"),
        buyer_open_id: form.take("buyer_open_id"),
        seller_id: form.take("seller_id"),
        out_biz_no: form.take("out_biz_no"),
    })
}

/// At most 64 characters of a value quoted in an error.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests;
