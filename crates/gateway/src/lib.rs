//! The `guahao` gateway: routing, authentication, provider callbacks, the operator API and
//! console, OpenAPI and metrics. It wires the domain crates together and is the only place that
//! knows about HTTP.

pub mod auth;
pub mod background;
pub mod http;
pub mod operator_cli;
pub mod payments;
pub mod reconcile;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
