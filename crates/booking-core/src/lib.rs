//! The booking domain: catalog, schedules, slot inventory, bookings, rules, state machine and
//! referrals, with the database repositories behind them. Nothing here knows about HTTP or a
//! specific payment provider.

pub mod accounts;
pub mod bookings;
pub mod catalog;
pub mod checkin;
pub mod clock;
pub mod db;
mod group_commit;
pub mod identity;
pub mod inventory;
pub mod money;
pub mod operators;
pub mod paging;
pub mod payments;
pub mod pii;
pub mod rules;
