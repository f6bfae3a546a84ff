//! Booking rules: what a hospital allows, when, and how often, as pure functions of a rule set,
//! an instant and facts the booking service gathered. Nothing here touches a database, Redis or
//! HTTP, and nothing reads the system clock: every check takes `now`.
//!
//! # Rule sets and versions
//!
//! A [`RuleSet`] holds every knob (booking window, daily release, next-day stop, hold, cancel
//! deadline, check-in window, quotas, no-show ladder); [`RuleSet::default`] is the set drawn from
//! Chinese hospital practice (`reference/domain.md` §1.6). Hospitals publish
//! [`VersionedRuleSet`]s, effective-dated, for a hospital, a department or a doctor;
//! [`resolve`] picks the most specific scope that has a version in force and returns a stable
//! [`ResolvedRules::version_label`] (`doctor:<uuid>:v3`, `default:v1`) that every booking records
//! so a dispute is judged under the rules the booking was made under.
//!
//! An override is a *whole* rule set, not a patch of some fields: what a booking was made under
//! is then one stored document, readable without replaying a chain of partial overrides, and a
//! change to the hospital's set never silently alters a doctor's. Partial overrides can come
//! later as a way of *writing* a rule set (copy the parent, change a field, publish).
//!
//! # Decisions
//!
//! - **Instants and boundaries.** Clock times are Asia/Shanghai (UTC+8). An opening time is
//!   inclusive (booking opens *at* 08:00:00), a stop or deadline is exclusive (booking for
//!   tomorrow stops *at* 17:00:00, cancellation closes *at* 15:00:00). The check-in window is
//!   inclusive at both ends: 60 minutes before the segment start up to and including 30 minutes
//!   after it ("≤ 30 minutes late may still check in").
//! - **Booking window.** A visit day enters the window `booking_window_days` before it, at
//!   `release_time`: with 7 days and 08:00, 2026-11-23 can be booked from 2026-11-16 08:00 — the
//!   same instant the demo seed writes as a schedule's `release_at`. A schedule's own
//!   `release_at` is checked as well; a booking needs both.
//! - **Same day.** Allowed by default (domain.md §1.6: "allowed until AM 11:00 / PM 16:00"),
//!   opening at `same_day_open_time` (08:00, with the daily release) and closing per segment
//!   when the segment starts; with one-hour segments 08:00–12:00 and 14:00–17:00 that is exactly
//!   11:00 for the morning and 16:00 for the afternoon. Booking for tomorrow stops at
//!   `next_day_stop_time` (17:00) and tomorrow opens again as "today" at `same_day_open_time`.
//! - **Quotas** count the bookings the caller passes (pending payment, confirmed, checked in),
//!   keyed by the patient's real-name identity. The rolling 7- and 90-day quotas are measured
//!   over *visit dates*: a new visit on day D is refused when any run of 7 (90) consecutive
//!   days that contains D already holds the limit, so no such run ever exceeds it.
//! - **No-show ladder.** The n-th no-show of a calendar year (Shanghai) suspends booking for
//!   `no_show_ladder_days[n-1]` days from that no-show; the last rung repeats. The count starts
//!   again on 1 January.
//! - **Parse, don't validate.** A rule set read from storage is checked as it is deserialized
//!   (ranges per field, unknown fields refused); the arithmetic saturates anyway, so no value
//!   built in code can make a check panic.

mod booking_time;
mod cancellation;
mod check_in;
mod hold;
mod no_show;
mod quota;
mod refusal;
mod rule_set;
mod shanghai_time;
mod versioning;

pub use crate::catalog::Language;
pub use booking_time::{ScheduleFacts, check_bookable};
pub use cancellation::{cancel_deadline, check_cancellable};
pub use check_in::{CheckInWindow, check_in_window, check_in_window_bounds};
pub use hold::hold_expires_at;
pub use no_show::{calendar_year_shanghai, suspension_after_no_show, suspension_from_no_shows};
pub use quota::{ActiveBooking, BookingTarget, IdentityFacts, check_quotas};
pub use refusal::{RefusalReason, RuleRefusal, codes};
pub use rule_set::RuleSet;
pub use versioning::{DEFAULT_RULES_VERSION, ResolvedRules, RuleScope, VersionedRuleSet, resolve};

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

    /// An instant given as Shanghai wall-clock time, to keep tests readable.
    pub fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        crate::clock::shanghai()
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid Shanghai time")
            .with_timezone(&Utc)
    }

    pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    pub fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    pub fn secs(n: i64) -> chrono::Duration {
        chrono::Duration::seconds(n)
    }
}
