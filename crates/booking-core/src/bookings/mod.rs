//! Bookings: holding a place, the state machine with its event log, cancelling, expiring holds.
//! Redis (the `inventory`) is the fast front line; the database is the final word: a booking
//! exists only if its conditional capacity update and its event row committed together.

pub mod entity;
mod lifecycle;
mod out_trade_no;
mod read_cache;
mod record_batch;
pub mod rule_sets;
mod service;
mod status;
pub mod suspensions;
pub mod transitions;

pub(crate) use lifecycle::Confirmation;
pub use lifecycle::{CheckIn, ReconcileReport, ScheduleDrift};
pub use out_trade_no::new_out_trade_no;
pub use service::{Booking, BookingError, BookingService, NewBooking};
pub(crate) use service::{give_back_place, live_duplicate, take_place};
pub use status::BookingStatus;
pub use transitions::Actor;
