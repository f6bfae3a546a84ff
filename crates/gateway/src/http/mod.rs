//! HTTP plumbing shared by every route: the request context (id and language), the one error
//! type and its JSON shape, and query-parameter parsing that names the bad parameter.

pub mod account_errors;
pub mod acting;
pub mod booking_errors;
pub mod client_ip;
pub mod context;
pub mod error;
pub mod operator_errors;
pub mod ops_rules_errors;
pub mod params;
pub mod payment_errors;
pub mod platform_errors;
pub mod sms_errors;
