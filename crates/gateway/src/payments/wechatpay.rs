//! WeChat Pay behind the booking domain's [`PaymentProvider`], and its notifications turned
//! into [`PaymentNotice`]s.

use async_trait::async_trait;
use booking_core::payments::{
    OpenedOrder, OrderRequest, OrderState, PaidOrder, PaymentNotice, PaymentProvider,
    ProviderError, RefundRequest, RefundState,
};
use payment_adapter::wechatpay::{
    EventType, JsapiOrder, NotificationResource, Refund, RefundStatus, TradeState, Transaction,
    WechatPayClient, WechatPayError, WechatPayNotification,
};

pub const PROVIDER: &str = "wechatpay";

pub struct WechatPay {
    client: WechatPayClient,
    /// Where WeChat posts payment and refund notifications: `…/callbacks/wechatpay`.
    notify_url: String,
}

impl WechatPay {
    pub fn new(client: WechatPayClient, public_base_url: &str) -> Self {
        Self {
            client,
            notify_url: format!(
                "{}/callbacks/wechatpay",
                public_base_url.trim_end_matches('/')
            ),
        }
    }

    pub fn client(&self) -> &WechatPayClient {
        &self.client
    }
}

/// Why a verified notification is still not ours to apply; `None` when it is. The reason is
/// what `callback_log` records.
pub fn foreign(
    notification: &WechatPayNotification,
    mchid: &str,
    appid: &str,
) -> Option<&'static str> {
    match &notification.resource {
        NotificationResource::Transaction(t) if t.mchid != mchid => Some("wrong_mchid"),
        NotificationResource::Transaction(t) if t.appid != appid => Some("wrong_appid"),
        NotificationResource::Refund(r) if r.mchid.as_deref().is_some_and(|m| m != mchid) => {
            Some("wrong_mchid")
        }
        _ => None,
    }
}

/// The notice a verified notification carries; `None` for a transaction that is not a
/// success (nothing to apply).
pub fn notice(notification: &WechatPayNotification) -> Option<PaymentNotice> {
    match (&notification.event_type, &notification.resource) {
        (EventType::TransactionSuccess, NotificationResource::Transaction(t)) => {
            paid(t).map(PaymentNotice::Paid)
        }
        (_, NotificationResource::Refund(refund)) => Some(refund_notice(refund)),
        _ => None,
    }
}

fn paid(transaction: &Transaction) -> Option<PaidOrder> {
    if transaction.trade_state != TradeState::Success {
        return None;
    }
    Some(PaidOrder {
        out_trade_no: transaction.out_trade_no.clone(),
        provider_txn_id: transaction.transaction_id.clone()?,
        amount_fen: transaction.total_fen?,
        merchant_id: transaction.mchid.clone(),
    })
}

fn refund_notice(refund: &Refund) -> PaymentNotice {
    let out_trade_no = refund.out_trade_no.clone().unwrap_or_default();
    match refund_state(refund) {
        RefundState::Succeeded { provider_refund_id } => PaymentNotice::RefundSucceeded {
            out_trade_no,
            out_refund_no: refund.out_refund_no.clone(),
            provider_refund_id,
        },
        _ => PaymentNotice::RefundFailed {
            out_trade_no,
            out_refund_no: refund.out_refund_no.clone(),
            reason: refund.status.as_str().to_owned(),
        },
    }
}

fn refund_state(refund: &Refund) -> RefundState {
    match &refund.status {
        RefundStatus::Success => RefundState::Succeeded {
            provider_refund_id: Some(refund.refund_id.clone()),
        },
        RefundStatus::Processing => RefundState::Processing,
        other => RefundState::Failed {
            reason: other.as_str().to_owned(),
        },
    }
}

/// WeChat's verified 404 (`ORDER_NOT_EXIST`, `RESOURCE_NOT_EXISTS`): it has no such thing.
fn not_found(error: &WechatPayError) -> bool {
    matches!(
        error,
        WechatPayError::Api {
            status: 404,
            authenticated: true,
            ..
        }
    )
}

fn provider_error(error: WechatPayError) -> ProviderError {
    match error {
        WechatPayError::Api {
            code,
            message,
            authenticated: true,
            status,
        } if status < 500 => ProviderError::Refused { code, message },
        other => ProviderError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl PaymentProvider for WechatPay {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn merchant_id(&self) -> &str {
        &self.client.config().mchid
    }

    async fn open_order(&self, order: &OrderRequest) -> Result<OpenedOrder, ProviderError> {
        let prepay_id = self
            .client
            .jsapi_prepay(&JsapiOrder {
                out_trade_no: order.out_trade_no.clone(),
                description: order.description.clone(),
                amount_fen: order.amount_fen,
                payer_openid: order.payer.clone(),
                notify_url: self.notify_url.clone(),
                time_expire: order.expires_at,
            })
            .await
            .map_err(provider_error)?;
        let payment = self
            .client
            .request_payment(&prepay_id)
            .map_err(provider_error)?;
        Ok(OpenedOrder {
            provider_order_ref: prepay_id,
            client_payload: serde_json::to_value(payment)
                .map_err(|e| ProviderError::Unavailable(e.to_string()))?,
        })
    }

    async fn query_order(&self, out_trade_no: &str) -> Result<OrderState, ProviderError> {
        match self.client.query_order(out_trade_no).await {
            Ok(transaction) => Ok(match transaction.trade_state {
                TradeState::Success | TradeState::Refund => match paid(&Transaction {
                    trade_state: TradeState::Success,
                    ..transaction
                }) {
                    Some(paid) => OrderState::Paid(paid),
                    None => OrderState::Open,
                },
                TradeState::Closed | TradeState::Revoked | TradeState::PayError => {
                    OrderState::Closed
                }
                _ => OrderState::Open,
            }),
            Err(error) if not_found(&error) => Ok(OrderState::Closed),
            Err(error) => Err(provider_error(error)),
        }
    }

    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        self.client
            .close_order(out_trade_no)
            .await
            .map_err(provider_error)
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<RefundState, ProviderError> {
        let answer = self
            .client
            .refund(&payment_adapter::wechatpay::RefundRequest {
                out_trade_no: refund.out_trade_no.clone(),
                out_refund_no: refund.out_refund_no.clone(),
                reason: Some(refund.reason.clone()).filter(|r| !r.is_empty()),
                refund_fen: refund.refund_fen,
                total_fen: refund.total_fen,
                notify_url: Some(self.notify_url.clone()),
            })
            .await
            .map_err(provider_error)?;
        Ok(refund_state(&answer))
    }

    async fn query_refund(
        &self,
        _out_trade_no: &str,
        out_refund_no: &str,
    ) -> Result<RefundState, ProviderError> {
        match self.client.query_refund(out_refund_no).await {
            Ok(refund) => Ok(refund_state(&refund)),
            Err(error) if not_found(&error) => Ok(RefundState::Unknown),
            Err(error) => Err(provider_error(error)),
        }
    }
}
