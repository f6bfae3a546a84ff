//! Time is injected so that rules can be tested at any instant without sleeping.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use std::sync::{Arc, Mutex};

/// Mainland China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact
/// for Asia/Shanghai and spares us a time-zone database.
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in Asia/Shanghai, the calendar schedules are written in.
    fn today_shanghai(&self) -> NaiveDate {
        self.now().with_timezone(&shanghai()).date_naive()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(instant)))
    }

    pub fn set(&self, instant: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = instant;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn today_follows_shanghai_not_utc() {
        // 2026-11-22 17:30 UTC is already 01:30 on the 23rd in Shanghai.
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 22, 17, 30, 0).unwrap());
        assert_eq!(
            clock.today_shanghai(),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        clock.advance(chrono::Duration::hours(-2));
        assert_eq!(
            clock.today_shanghai(),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
        );
    }
}
