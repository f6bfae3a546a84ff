//! `POST /mock/alipay/pay {"trade_no": "…", "total_amount": "…"?}`: the buyer pays in
//! `my.tradePay`. The trade becomes `TRADE_SUCCESS` and its notification goes to the
//! `notify_url`; `total_amount` makes the notification report another amount than the order's.
//! Answers 200 `{"trade_no", "out_trade_no"}`; 404 for an unknown trade, 409 for one that is
//! already paid or closed (expired at `time_expire` included).

use super::notification::{self, Event};
use super::trades::Refusal;
use super::{State, beijing_now};
use crate::notify::Notifier;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    trade_no: String,
    #[serde(default)]
    total_amount: Option<String>,
}

pub(super) async fn pay(
    state: web::Data<State>,
    notifier: web::Data<Notifier>,
    request: web::Json<PayRequest>,
) -> HttpResponse {
    let now = beijing_now();
    let (answer, outgoing) = {
        let mut book = state.trades();
        let trade = match book.pay(&request.trade_no, now) {
            Ok(trade) => trade,
            Err(refusal) => return refused(refusal),
        };
        let event = Event::Paid {
            reported_total: request.total_amount.as_deref(),
        };
        (
            json!({"trade_no": trade.trade_no, "out_trade_no": trade.terms.out_trade_no}),
            notification::build(&state, trade, event, now),
        )
    };
    match outgoing {
        Ok(Some(outgoing)) => notifier.dispatch(outgoing),
        Ok(None) => {
            tracing::info!(trade_no = %request.trade_no, "paid; the trade has no notify_url")
        }
        Err(error) => {
            return HttpResponse::InternalServerError().json(
                json!({"error": {"code": "NOTIFICATION_FAILED", "message": error.to_string()}}),
            );
        }
    }
    HttpResponse::Ok().json(answer)
}

fn refused(refusal: Refusal) -> HttpResponse {
    let body = json!({"error": {"code": refusal.sub_code(), "message": refusal.sub_msg()}});
    match refusal {
        Refusal::TradeNotExist => HttpResponse::NotFound().json(body),
        _ => HttpResponse::Conflict().json(body),
    }
}
