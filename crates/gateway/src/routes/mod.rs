//! HTTP routes, one module per area. Handlers parse, authorize, call the domain and map the
//! result; nothing else.

pub mod auth;
pub mod bookings;
pub mod callbacks;
pub mod catalog;
pub mod checkin;
pub mod docs;
pub mod health;
pub mod me;
pub mod ops;
pub mod ops_rules;
pub mod ops_suspensions;
pub mod patients;
pub mod sms;
