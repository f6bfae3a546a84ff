//! Alipay behind the booking domain's [`PaymentProvider`], and its async notifications turned
//! into [`PaymentNotice`]s.

use async_trait::async_trait;
use booking_core::payments::{
    OpenedOrder, OrderRequest, OrderState, PaidOrder, PaymentNotice, PaymentProvider,
    ProviderError, RefundRequest, RefundState,
};
use payment_adapter::alipay::{
    AlipayBuyer, AlipayClient, AlipayError, AlipayNotification, TradeCreateRequest, TradeStatus,
};
use std::sync::Arc;

pub const PROVIDER: &str = "alipay";

pub struct Alipay {
    client: Arc<AlipayClient>,
    notify_url: String,
}

impl Alipay {
    pub fn new(client: Arc<AlipayClient>, public_base_url: &str) -> Self {
        Self {
            client,
            notify_url: format!("{}/callbacks/alipay", public_base_url.trim_end_matches('/')),
        }
    }
}

/// Alipay `user_id`s are 16 digits starting `2088`; anything else a mini-program login gave us
/// is an `open_id`.
fn buyer(payer: &str) -> AlipayBuyer<'_> {
    if payer.len() == 16 && payer.starts_with("2088") && payer.bytes().all(|b| b.is_ascii_digit()) {
        AlipayBuyer::UserId(payer)
    } else {
        AlipayBuyer::OpenId(payer)
    }
}

/// The notice a verified notification carries; `None` when there is nothing to apply (a trade
/// still waiting for payment). A notification naming a refund (`out_biz_no` with a refund fee)
/// reports that refund; Alipay closes a fully refunded trade, so `TRADE_CLOSED` comes with it.
pub fn notice(notification: &AlipayNotification<'_>, app_id: &str) -> Option<PaymentNotice> {
    let out_trade_no = notification.out_trade_no.to_string();
    if let (Some(out_biz_no), Some(_)) = (&notification.out_biz_no, notification.refund_fee_fen) {
        return Some(PaymentNotice::RefundSucceeded {
            out_trade_no,
            out_refund_no: out_biz_no.to_string(),
            provider_refund_id: None,
        });
    }
    match notification.trade_status {
        status if status.is_paid() => Some(PaymentNotice::Paid(PaidOrder {
            out_trade_no,
            provider_txn_id: notification.trade_no.to_string(),
            amount_fen: notification.total_fen,
            merchant_id: app_id.to_owned(),
        })),
        TradeStatus::TradeClosed => Some(PaymentNotice::Closed { out_trade_no }),
        _ => None,
    }
}

fn provider_error(error: AlipayError) -> ProviderError {
    match error {
        AlipayError::Business {
            code,
            msg,
            sub_code,
            sub_msg,
        } => ProviderError::Refused {
            code: sub_code.unwrap_or(code),
            message: sub_msg.unwrap_or(msg),
        },
        other => ProviderError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl PaymentProvider for Alipay {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn merchant_id(&self) -> &str {
        self.client.app_id()
    }

    async fn open_order(&self, order: &OrderRequest) -> Result<OpenedOrder, ProviderError> {
        let created = self
            .client
            .trade_create(&TradeCreateRequest {
                out_trade_no: &order.out_trade_no,
                total_fen: order.amount_fen,
                subject: &order.description,
                buyer: buyer(&order.payer),
                time_expire: order.expires_at,
                notify_url: &self.notify_url,
            })
            .await
            .map_err(provider_error)?;
        Ok(OpenedOrder {
            client_payload: serde_json::json!({ "tradeNO": created.trade_no }),
            provider_order_ref: created.trade_no,
        })
    }

    async fn query_order(&self, out_trade_no: &str) -> Result<OrderState, ProviderError> {
        match self.client.trade_query(out_trade_no).await {
            Ok(trade) => Ok(match trade.trade_status {
                status if status.is_paid() => OrderState::Paid(PaidOrder {
                    out_trade_no: trade.out_trade_no,
                    provider_txn_id: trade.trade_no,
                    amount_fen: trade.total_fen,
                    merchant_id: self.client.app_id().to_owned(),
                }),
                TradeStatus::TradeClosed => OrderState::Closed,
                _ => OrderState::Open,
            }),
            // Alipay creates the trade record only once the payer opens the cashier.
            Err(error) if error.sub_code() == Some("ACQ.TRADE_NOT_EXIST") => Ok(OrderState::Open),
            Err(error) => Err(provider_error(error)),
        }
    }

    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        match self.client.trade_close(out_trade_no).await {
            Ok(()) => Ok(()),
            // Never opened at the cashier: nothing can be paid, nothing to close.
            Err(error) if error.sub_code() == Some("ACQ.TRADE_NOT_EXIST") => Ok(()),
            Err(error) => Err(provider_error(error)),
        }
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<RefundState, ProviderError> {
        let outcome = self
            .client
            .trade_refund(
                &refund.out_trade_no,
                &refund.out_refund_no,
                refund.refund_fen,
                Some(&refund.reason),
            )
            .await
            .map_err(provider_error)?;
        if outcome.is_done() {
            return Ok(RefundState::Succeeded {
                provider_refund_id: None,
            });
        }
        // `fund_change=N` also answers a repeated request for a refund already made: ask.
        self.query_refund(&refund.out_trade_no, &refund.out_refund_no)
            .await
    }

    async fn query_refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
    ) -> Result<RefundState, ProviderError> {
        let answer = self
            .client
            .refund_query(out_trade_no, out_refund_no)
            .await
            .map_err(provider_error)?;
        Ok(if answer.is_done() {
            RefundState::Succeeded {
                provider_refund_id: None,
            }
        } else if answer.refund_status.is_some() {
            RefundState::Processing
        } else {
            RefundState::Unknown
        })
    }
}
