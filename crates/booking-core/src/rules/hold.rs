//! How long a held slot waits for payment.

use super::rule_set::RuleSet;
use super::shanghai_time::{minutes, plus};
use chrono::{DateTime, Utc};

/// When a hold taken at `now` lapses if unpaid.
pub fn hold_expires_at(rules: &RuleSet, now: DateTime<Utc>) -> DateTime<Utc> {
    plus(now, minutes(rules.hold_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ten_minutes_by_default_and_configurable() {
        let now = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
        assert_eq!(
            hold_expires_at(&RuleSet::default(), now),
            Utc.with_ymd_and_hms(2026, 11, 16, 0, 10, 0).unwrap()
        );
        let long = RuleSet {
            hold_minutes: 30,
            ..RuleSet::default()
        };
        assert_eq!(
            hold_expires_at(&long, now),
            Utc.with_ymd_and_hms(2026, 11, 16, 0, 30, 0).unwrap()
        );
    }
}
