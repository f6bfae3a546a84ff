//! The simulated merchant account: orders and refunds and the rules WeChat Pay applies to them.
//! No HTTP here; the handlers translate requests in and [`Refusal`]s out.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

/// WeChat's error answer: HTTP status, `code`, `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn param(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "PARAM_ERROR",
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "INVALID_REQUEST",
            message: message.into(),
        }
    }

    fn order_not_exist() -> Self {
        Self {
            status: 404,
            code: "ORDER_NOT_EXIST",
            message: "订单不存在".into(),
        }
    }
}

/// A JSAPI order as placed; two placements are "the same order" when these are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub appid: String,
    pub mchid: String,
    pub description: String,
    pub out_trade_no: String,
    pub time_expire: Option<DateTime<Utc>>,
    pub notify_url: String,
    pub total_fen: i64,
    pub payer_openid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    NotPay,
    Success,
    Closed,
    Refund,
}

impl TradeState {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotPay => "NOTPAY",
            Self::Success => "SUCCESS",
            Self::Closed => "CLOSED",
            Self::Refund => "REFUND",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::NotPay => "订单未支付",
            Self::Success => "支付成功",
            Self::Closed => "订单已关闭",
            Self::Refund => "订单发生过退款",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub placed: NewOrder,
    pub state: TradeState,
    pub payment: Option<Payment>,
    pub refunded_fen: i64,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub transaction_id: String,
    pub success_time: DateTime<Utc>,
    /// What WeChat reports as paid; a test may make it differ from the order's total.
    pub total_fen: i64,
}

impl Order {
    /// The transaction object of the order query and the payment notification.
    pub fn transaction_json(&self) -> Value {
        let placed = &self.placed;
        let mut transaction = json!({
            "appid": placed.appid,
            "mchid": placed.mchid,
            "out_trade_no": placed.out_trade_no,
            "trade_state": self.state.as_str(),
            "trade_state_desc": self.state.description(),
            "attach": "",
        });
        match &self.payment {
            Some(payment) => {
                let extra = json!({
                    "transaction_id": payment.transaction_id,
                    "trade_type": "JSAPI",
                    "bank_type": "OTHERS",
                    "success_time": beijing(payment.success_time),
                    "payer": {"openid": placed.payer_openid},
                    "amount": {
                        "total": payment.total_fen,
                        "payer_total": payment.total_fen,
                        "currency": "CNY",
                        "payer_currency": "CNY",
                    },
                });
                merge(&mut transaction, extra);
            }
            None => merge(
                &mut transaction,
                json!({
                    "transaction_id": "",
                    "trade_type": "",
                    "bank_type": "",
                    "payer": {"openid": placed.payer_openid},
                    "amount": {"payer_currency": "CNY"},
                }),
            ),
        }
        transaction
    }
}

/// A refund as requested; a repeat with the same `out_refund_no` must carry the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub refund_fen: i64,
    pub total_fen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Processing,
    Success,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub requested: NewRefund,
    pub refund_id: String,
    pub transaction_id: String,
    pub mchid: String,
    pub status: RefundStatus,
    pub create_time: DateTime<Utc>,
    pub success_time: Option<DateTime<Utc>>,
}

impl Refund {
    /// The refund object of the refund answers (`status`).
    pub fn answer_json(&self) -> Value {
        let mut answer = self.common_json();
        merge(
            &mut answer,
            json!({
                "channel": "ORIGINAL",
                "create_time": beijing(self.create_time),
                "status": self.status_text(),
                "funds_account": "AVAILABLE",
                "promotion_detail": [],
            }),
        );
        if let Some(time) = self.success_time {
            answer["success_time"] = json!(beijing(time));
        }
        answer
    }

    /// The resource of a `REFUND.*` notification (`refund_status`, and the `mchid`).
    pub fn notification_json(&self) -> Value {
        let mut resource = self.common_json();
        merge(
            &mut resource,
            json!({"mchid": self.mchid, "refund_status": self.status_text()}),
        );
        if let Some(time) = self.success_time {
            resource["success_time"] = json!(beijing(time));
        }
        resource
    }

    fn common_json(&self) -> Value {
        let requested = &self.requested;
        json!({
            "refund_id": self.refund_id,
            "out_refund_no": requested.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": requested.out_trade_no,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": requested.total_fen,
                "refund": requested.refund_fen,
                "payer_total": requested.total_fen,
                "payer_refund": requested.refund_fen,
                "currency": "CNY",
            },
        })
    }

    fn status_text(&self) -> &'static str {
        match self.status {
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
        }
    }
}

/// Every order and refund of the simulated merchant.
#[derive(Debug, Default)]
pub struct Ledger {
    orders: HashMap<String, Order>,
    /// prepay_id → out_trade_no.
    prepay_ids: HashMap<String, String>,
    refunds: HashMap<String, Refund>,
}

impl Ledger {
    /// Places an order (or, for an identical repeat of an unpaid one, issues another prepay_id
    /// for it, as WeChat does).
    pub fn place(&mut self, order: NewOrder, prepay_id: String) -> Result<String, Refusal> {
        if let Some(existing) = self.orders.get(&order.out_trade_no) {
            if existing.placed != order {
                return Err(Refusal::invalid(
                    "out_trade_no 已使用，且订单参数与原订单不一致",
                ));
            }
            match existing.state {
                TradeState::NotPay => {}
                TradeState::Success | TradeState::Refund => {
                    return Err(Refusal {
                        status: 400,
                        code: "ORDERPAID",
                        message: "该订单已支付".into(),
                    });
                }
                TradeState::Closed => {
                    return Err(Refusal {
                        status: 400,
                        code: "ORDER_CLOSED",
                        message: "该订单已关闭".into(),
                    });
                }
            }
        } else {
            self.orders.insert(
                order.out_trade_no.clone(),
                Order {
                    placed: order.clone(),
                    state: TradeState::NotPay,
                    payment: None,
                    refunded_fen: 0,
                },
            );
        }
        self.prepay_ids
            .insert(prepay_id.clone(), order.out_trade_no);
        Ok(prepay_id)
    }

    pub fn order(&self, out_trade_no: &str) -> Result<&Order, Refusal> {
        self.orders
            .get(out_trade_no)
            .ok_or_else(Refusal::order_not_exist)
    }

    /// Closes an unpaid order; closing a closed one again is harmless.
    pub fn close(&mut self, out_trade_no: &str) -> Result<(), Refusal> {
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or_else(Refusal::order_not_exist)?;
        match order.state {
            TradeState::NotPay | TradeState::Closed => {
                order.state = TradeState::Closed;
                Ok(())
            }
            TradeState::Success | TradeState::Refund => Err(Refusal {
                status: 400,
                code: "ORDERPAID",
                message: "订单已支付，不能关闭".into(),
            }),
        }
    }

    /// The payer pays the order behind `prepay_id`; WeChat reports `total_fen` as paid.
    pub fn pay(
        &mut self,
        prepay_id: &str,
        transaction_id: String,
        total_fen: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<&Order, Refusal> {
        let out_trade_no = self.prepay_ids.get(prepay_id).ok_or_else(|| Refusal {
            status: 404,
            code: "PREPAY_ID_NOT_EXIST",
            message: format!("unknown prepay_id {prepay_id}"),
        })?;
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or_else(Refusal::order_not_exist)?;
        if order.state != TradeState::NotPay {
            return Err(Refusal {
                status: 409,
                code: "ORDER_NOT_PAYABLE",
                message: format!("order is {}", order.state.as_str()),
            });
        }
        if order.placed.time_expire.is_some_and(|expire| now > expire) {
            return Err(Refusal {
                status: 409,
                code: "ORDER_EXPIRED",
                message: "time_expire has passed".into(),
            });
        }
        order.state = TradeState::Success;
        order.payment = Some(Payment {
            transaction_id,
            success_time: now,
            total_fen: total_fen.unwrap_or(order.placed.total_fen),
        });
        Ok(order)
    }

    /// Starts a refund (answered `PROCESSING`); a repeat of the same refund returns it as it is.
    /// The second value says whether the refund is new.
    pub fn refund(
        &mut self,
        requested: NewRefund,
        refund_id: String,
        now: DateTime<Utc>,
    ) -> Result<(Refund, bool), Refusal> {
        if let Some(existing) = self.refunds.get(&requested.out_refund_no) {
            return if existing.requested == requested {
                Ok((existing.clone(), false))
            } else {
                Err(Refusal::invalid(
                    "out_refund_no 已使用，且退款参数与原退款不一致",
                ))
            };
        }
        let order = self
            .orders
            .get_mut(&requested.out_trade_no)
            .ok_or_else(Refusal::order_not_exist)?;
        let Some(payment) = &order.payment else {
            return Err(Refusal::invalid("订单未支付，不能退款"));
        };
        if requested.total_fen != payment.total_fen {
            return Err(Refusal::param("amount.total 与原订单金额不一致"));
        }
        if requested.refund_fen > payment.total_fen - order.refunded_fen {
            return Err(Refusal::invalid("申请退款金额超过订单可退金额"));
        }
        order.state = TradeState::Refund;
        order.refunded_fen += requested.refund_fen;
        let refund = Refund {
            transaction_id: payment.transaction_id.clone(),
            mchid: order.placed.mchid.clone(),
            requested,
            refund_id,
            status: RefundStatus::Processing,
            create_time: now,
            success_time: None,
        };
        self.refunds
            .insert(refund.requested.out_refund_no.clone(), refund.clone());
        Ok((refund, true))
    }

    /// The bank side finishes the refund.
    pub fn complete_refund(&mut self, out_refund_no: &str, now: DateTime<Utc>) -> Option<Refund> {
        let refund = self.refunds.get_mut(out_refund_no)?;
        refund.status = RefundStatus::Success;
        refund.success_time = Some(now);
        Some(refund.clone())
    }

    pub fn refund_of(&self, out_refund_no: &str) -> Result<&Refund, Refusal> {
        self.refunds.get(out_refund_no).ok_or_else(|| Refusal {
            status: 404,
            code: "RESOURCE_NOT_EXISTS",
            message: "退款单不存在".into(),
        })
    }
}

/// RFC 3339 in Beijing time, as WeChat writes its times.
pub fn beijing(time: DateTime<Utc>) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    time.with_timezone(&beijing)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

#[cfg(test)]
mod tests;
