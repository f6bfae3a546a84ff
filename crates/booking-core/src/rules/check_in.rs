//! When a patient may check in (签到/报到) for a segment: from a while before it starts to a
//! short grace after.

use super::refusal::{RefusalReason, RuleRefusal, refuse};
use super::rule_set::RuleSet;
use super::shanghai_time::{at_shanghai, minutes, plus};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// The check-in window of one segment; both ends are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// The window for a segment starting at `segment_start` on `visit_date`, e.g. for a reminder.
pub fn check_in_window_bounds(
    rules: &RuleSet,
    visit_date: NaiveDate,
    segment_start: NaiveTime,
) -> CheckInWindow {
    let start = at_shanghai(visit_date, segment_start);
    CheckInWindow {
        opens_at: plus(start, -minutes(rules.check_in_open_minutes_before)),
        closes_at: plus(start, minutes(rules.check_in_close_minutes_after)),
    }
}

/// May the patient check in at `now`? From `check_in_open_minutes_before` before the segment
/// starts up to and including `check_in_close_minutes_after` after it.
pub fn check_in_window(
    rules: &RuleSet,
    now: DateTime<Utc>,
    visit_date: NaiveDate,
    segment_start: NaiveTime,
) -> Result<(), RuleRefusal> {
    let window = check_in_window_bounds(rules, visit_date, segment_start);
    if now < window.opens_at {
        return refuse(RefusalReason::CheckInTooEarly {
            opens_at: window.opens_at,
        });
    }
    if now > window.closes_at {
        return refuse(RefusalReason::CheckInTooLate {
            closed_at: window.closes_at,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{date, secs, sh, time};
    use crate::rules::{Language, codes};
    use chrono::TimeZone;

    #[test]
    fn from_an_hour_before_to_half_an_hour_after() {
        let rules = RuleSet::default();
        let visit = date(2026, 11, 23);
        let opens = sh(2026, 11, 23, 8, 0, 0);
        let closes = sh(2026, 11, 23, 9, 30, 0);
        assert_eq!(
            check_in_window_bounds(&rules, visit, time(9, 0)),
            CheckInWindow {
                opens_at: opens,
                closes_at: closes
            }
        );

        let early = check_in_window(&rules, opens - secs(1), visit, time(9, 0)).unwrap_err();
        assert_eq!(early.code, codes::CHECK_IN_TOO_EARLY);
        assert_eq!(early.available_at, Some(opens));
        assert_eq!(
            early.message(Language::Zh),
            "签到尚未开始，可于 2026-11-23 08:00 起签到。"
        );

        for now in [opens, sh(2026, 11, 23, 9, 0, 0), closes] {
            assert_eq!(
                check_in_window(&rules, now, visit, time(9, 0)),
                Ok(()),
                "{now}"
            );
        }

        let late = check_in_window(&rules, closes + secs(1), visit, time(9, 0)).unwrap_err();
        assert_eq!(late.code, codes::CHECK_IN_TOO_LATE);
        assert_eq!(late.available_at, None);
    }

    #[test]
    fn a_window_crossing_midnight_in_utc_terms() {
        // An 08:00 segment opens for check-in at 07:00 Shanghai, which is 23:00 UTC the day
        // before.
        let rules = RuleSet::default();
        let visit = date(2026, 11, 23);
        let opens = Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap();
        assert_eq!(
            check_in_window(&rules, opens - secs(1), visit, time(8, 0))
                .unwrap_err()
                .available_at,
            Some(opens)
        );
        assert_eq!(check_in_window(&rules, opens, visit, time(8, 0)), Ok(()));
    }

    #[test]
    fn a_hospital_without_grace() {
        let strict = RuleSet {
            check_in_open_minutes_before: 15,
            check_in_close_minutes_after: 0,
            ..RuleSet::default()
        };
        let visit = date(2026, 11, 23);
        let start = sh(2026, 11, 23, 14, 0, 0);
        assert_eq!(check_in_window(&strict, start, visit, time(14, 0)), Ok(()));
        assert_eq!(
            check_in_window(&strict, start + secs(1), visit, time(14, 0))
                .unwrap_err()
                .code,
            codes::CHECK_IN_TOO_LATE
        );
        assert_eq!(
            check_in_window(&strict, sh(2026, 11, 23, 13, 44, 59), visit, time(14, 0))
                .unwrap_err()
                .code,
            codes::CHECK_IN_TOO_EARLY
        );
    }
}
