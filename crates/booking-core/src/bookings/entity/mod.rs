//! sea-orm entities for bookings, their event log, the booking rule sets and suspension lifts.

pub mod booking;
pub mod booking_event;
pub mod booking_rule;
pub mod suspension_lift;
