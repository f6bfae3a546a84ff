//! The operator behind a request, as the domain writes it into the audit trail: who, for which
//! hospital, from which address, in which request.

use super::client_ip::client_ip;
use super::context;
use crate::auth::operator::OperatorCaller;
use crate::state::AppState;
use actix_web::HttpRequest;
use booking_core::operators::ActingOperator;

pub fn acting_operator(
    state: &AppState,
    req: &HttpRequest,
    caller: &OperatorCaller,
) -> ActingOperator {
    ActingOperator {
        operator_id: caller.operator_id,
        hospital_id: caller.hospital_id,
        ip: Some(client_ip(req, &state.trusted_proxies).to_string()),
        request_id: Some(context::current().request_id),
    }
}
