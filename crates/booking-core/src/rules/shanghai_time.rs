//! Conversions between UTC instants and the Asia/Shanghai calendar the rules are written in.
//! They saturate instead of panicking, so an absurd rule value cannot crash a check.

use crate::clock::shanghai;
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, Utc};

/// The instant at which Shanghai's wall clock shows `time` on `date`.
pub(crate) fn at_shanghai(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    date.and_time(time)
        .and_local_timezone(shanghai())
        .single()
        .map_or(
            if date.year() > 0 {
                DateTime::<Utc>::MAX_UTC
            } else {
                DateTime::<Utc>::MIN_UTC
            },
            |local| local.with_timezone(&Utc),
        )
}

/// The Shanghai calendar date of `instant`.
pub(crate) fn shanghai_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&shanghai()).date_naive()
}

/// The Shanghai wall-clock time of `instant`.
pub(crate) fn shanghai_time(instant: DateTime<Utc>) -> NaiveTime {
    instant.with_timezone(&shanghai()).time()
}

pub(crate) fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(days.into()))
        .unwrap_or(NaiveDate::MAX)
}

pub(crate) fn sub_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_sub_days(Days::new(days.into()))
        .unwrap_or(NaiveDate::MIN)
}

pub(crate) fn plus(instant: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    instant
        .checked_add_signed(by)
        .unwrap_or(if by < Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

pub(crate) fn minutes(n: u32) -> Duration {
    Duration::minutes(n.into())
}

pub(crate) fn days(n: u32) -> Duration {
    Duration::days(n.into())
}

/// `2026-11-23 08:00` in Shanghai time, the form every patient-facing message uses.
pub(crate) fn format_shanghai(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&shanghai())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn shanghai_calendar_is_eight_hours_ahead_of_utc() {
        let instant = Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap();
        assert_eq!(
            shanghai_date(instant),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        assert_eq!(shanghai_time(instant), NaiveTime::MIN);
        assert_eq!(
            at_shanghai(
                NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                NaiveTime::MIN
            ),
            instant
        );
        assert_eq!(format_shanghai(instant), "2026-11-23 00:00");
    }

    #[test]
    fn arithmetic_saturates_at_the_ends_of_time() {
        assert_eq!(add_days(NaiveDate::MAX, 1), NaiveDate::MAX);
        assert_eq!(sub_days(NaiveDate::MIN, u32::MAX), NaiveDate::MIN);
        assert_eq!(
            plus(DateTime::<Utc>::MAX_UTC, days(u32::MAX)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            at_shanghai(NaiveDate::MIN, NaiveTime::MIN),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
