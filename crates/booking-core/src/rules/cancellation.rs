//! Until when a patient may cancel online (and be refunded).

use super::refusal::{RefusalReason, RuleRefusal, refuse};
use super::rule_set::RuleSet;
use super::shanghai_time::{at_shanghai, sub_days};
use chrono::{DateTime, NaiveDate, Utc};

/// The instant online cancellation closes for a visit on `visit_date`:
/// `cancel_deadline_days_before` days earlier at `cancel_deadline_time`, Shanghai time.
pub fn cancel_deadline(rules: &RuleSet, visit_date: NaiveDate) -> DateTime<Utc> {
    at_shanghai(
        sub_days(visit_date, rules.cancel_deadline_days_before),
        rules.cancel_deadline_time,
    )
}

/// May a booking for `visit_date` still be cancelled at `now`? The deadline itself is too late.
///
/// This is the patient's rule for a booking they hold. Whether an unpaid hold may always be
/// abandoned, and what a hospital-side cancellation (停诊) does, is the booking service's call.
pub fn check_cancellable(
    rules: &RuleSet,
    now: DateTime<Utc>,
    visit_date: NaiveDate,
) -> Result<(), RuleRefusal> {
    let deadline = cancel_deadline(rules, visit_date);
    if now >= deadline {
        return refuse(RefusalReason::CancelDeadlinePassed { deadline });
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
    fn until_15_00_the_day_before() {
        let rules = RuleSet::default();
        let visit = date(2026, 11, 23);
        let deadline = sh(2026, 11, 22, 15, 0, 0);
        assert_eq!(cancel_deadline(&rules, visit), deadline);
        assert_eq!(
            check_cancellable(&rules, sh(2026, 11, 16, 9, 0, 0), visit),
            Ok(())
        );
        assert_eq!(check_cancellable(&rules, deadline - secs(1), visit), Ok(()));
        for now in [
            deadline,
            sh(2026, 11, 23, 8, 0, 0),
            sh(2026, 11, 30, 8, 0, 0),
        ] {
            let refused = check_cancellable(&rules, now, visit).unwrap_err();
            assert_eq!(refused.code, codes::CANCEL_DEADLINE_PASSED);
            assert_eq!(refused.available_at, None);
            assert!(refused.message(Language::Zh).contains("2026-11-22 15:00"));
        }
    }

    #[test]
    fn the_deadline_is_shanghai_time() {
        let rules = RuleSet::default();
        // 15:00 Shanghai is 07:00 UTC.
        let visit = date(2026, 11, 23);
        assert_eq!(
            check_cancellable(
                &rules,
                Utc.with_ymd_and_hms(2026, 11, 22, 6, 59, 59).unwrap(),
                visit
            ),
            Ok(())
        );
        assert!(
            check_cancellable(
                &rules,
                Utc.with_ymd_and_hms(2026, 11, 22, 7, 0, 0).unwrap(),
                visit
            )
            .is_err()
        );
    }

    #[test]
    fn until_midnight_of_the_visit_day() {
        // Jilin TCM: online refund until 00:00 of the visit day.
        let rules = RuleSet {
            cancel_deadline_days_before: 0,
            cancel_deadline_time: time(0, 0),
            ..RuleSet::default()
        };
        let visit = date(2026, 11, 23);
        assert_eq!(
            check_cancellable(&rules, sh(2026, 11, 22, 23, 59, 59), visit),
            Ok(())
        );
        assert_eq!(
            check_cancellable(&rules, sh(2026, 11, 23, 0, 0, 0), visit)
                .unwrap_err()
                .code,
            codes::CANCEL_DEADLINE_PASSED
        );
    }
}
