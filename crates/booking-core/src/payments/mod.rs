//! Money for bookings: opening the provider order when a place is held, applying the
//! providers' verified notifications exactly once, refunds, closing orders of expired holds, and
//! the poller that asks the provider about orders whose notification never came.
//!
//! Nothing here knows a provider's wire format: the gateway verifies a notification with
//! `payment-adapter`, turns it into a [`PaymentNotice`] and calls [`PaymentService::apply`]; the
//! provider calls go through the [`PaymentProvider`] trait.
//!
//! Exactly once: every effect of a notice is a conditional update plus an event row in one
//! transaction, so copies of one notification racing each other apply once and the others
//! learn that it already happened (and are answered with success all the same). On PostgreSQL
//! concurrent first copies share a transaction (`confirm_batch`), each still conditional.

pub mod callback_log;
mod confirm_batch;
pub mod entity;
mod notice;
mod order_rows;
mod poller;
mod provider;
mod service;

pub use callback_log::{CallbackEntry, CallbackLog};
pub use notice::{Applied, PaymentNotice};
pub use poller::PollReport;
pub use provider::{
    OpenedOrder, OrderRequest, OrderState, PaidOrder, PaymentProvider, ProviderError,
    RefundRequest, RefundState,
};
pub use service::{PaymentError, PaymentService, Providers};
