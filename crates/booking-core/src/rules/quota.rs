//! Per-person quotas, keyed by the patient's real-name identity (not the account or the phone),
//! the per-account cap on unfinished bookings, and the no-show suspension.

use super::refusal::{RefusalReason, RuleRefusal, refuse};
use super::rule_set::RuleSet;
use super::shanghai_time::{add_days, sub_days};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// One unfinished booking (pending payment, confirmed or checked in) of the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveBooking {
    pub visit_date: NaiveDate,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
}

/// The booking being asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingTarget {
    pub visit_date: NaiveDate,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
}

/// What the booking service found about the patient's real-name identity and the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityFacts {
    /// Every unfinished booking of this real-name identity, through any account or channel.
    pub active_bookings: Vec<ActiveBooking>,
    /// Unfinished bookings of the account making the request, for any of its patients.
    pub account_active_bookings: u32,
    /// The end of a no-show suspension of this identity, if one was ever imposed and not lifted.
    pub suspended_until: Option<DateTime<Utc>>,
}

/// May this identity (and account) make one more booking? Checked in this order: suspension,
/// the account's unfinished bookings, then the identity's quotas from the narrowest
/// (hospital + department + day) to the widest (90 days).
///
/// The rolling quotas are measured over visit dates: the new visit on day D is refused when
/// some run of 7 (or 90) consecutive days containing D already holds the limit, which keeps
/// every such run at or under it.
pub fn check_quotas(
    rules: &RuleSet,
    now: DateTime<Utc>,
    target: &BookingTarget,
    facts: &IdentityFacts,
) -> Result<(), RuleRefusal> {
    if let Some(until) = facts.suspended_until.filter(|until| now < *until) {
        return refuse(RefusalReason::BookingSuspended { until });
    }
    if facts.account_active_bookings >= rules.active_per_account {
        return refuse(RefusalReason::AccountActiveLimit {
            limit: rules.active_per_account,
        });
    }

    let visit_date = target.visit_date;
    let same_department_day = facts
        .active_bookings
        .iter()
        .filter(|b| {
            b.visit_date == visit_date
                && b.hospital_id == target.hospital_id
                && b.department_id == target.department_id
        })
        .count();
    if reached(same_department_day, rules.per_department_day) {
        return refuse(RefusalReason::QuotaDepartmentDay {
            limit: rules.per_department_day,
            visit_date,
        });
    }

    let dates: Vec<NaiveDate> = facts.active_bookings.iter().map(|b| b.visit_date).collect();
    if reached(
        count_within(&dates, visit_date, visit_date),
        rules.per_visit_day,
    ) {
        return refuse(RefusalReason::QuotaVisitDay {
            limit: rules.per_visit_day,
            visit_date,
        });
    }
    if let Some((from, to)) = full_run(&dates, visit_date, 7, rules.per_7_days) {
        return refuse(RefusalReason::Quota7Days {
            limit: rules.per_7_days,
            from,
            to,
        });
    }
    if let Some((from, to)) = full_run(&dates, visit_date, 90, rules.per_90_days) {
        return refuse(RefusalReason::Quota90Days {
            limit: rules.per_90_days,
            from,
            to,
        });
    }
    Ok(())
}

fn reached(count: usize, limit: u32) -> bool {
    u32::try_from(count).map_or(true, |count| count >= limit)
}

fn count_within(dates: &[NaiveDate], from: NaiveDate, to: NaiveDate) -> usize {
    dates.iter().filter(|d| (from..=to).contains(*d)).count()
}

/// The earliest run of `days` consecutive days that contains `visit` and already holds `limit`
/// of `dates`.
fn full_run(
    dates: &[NaiveDate],
    visit: NaiveDate,
    days: u32,
    limit: u32,
) -> Option<(NaiveDate, NaiveDate)> {
    let span = days.saturating_sub(1);
    (0..=span).rev().find_map(|back| {
        let from = sub_days(visit, back);
        let to = add_days(from, span);
        reached(count_within(dates, from, to), limit).then_some((from, to))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::codes;
    use crate::rules::test_support::{date, secs, sh};

    fn hospital() -> Uuid {
        Uuid::from_u128(1)
    }
    fn cardiology() -> Uuid {
        Uuid::from_u128(11)
    }
    fn dermatology() -> Uuid {
        Uuid::from_u128(12)
    }
    fn other_hospital() -> Uuid {
        Uuid::from_u128(2)
    }

    fn now() -> DateTime<Utc> {
        sh(2026, 11, 16, 9, 0, 0)
    }

    fn target(visit_date: NaiveDate) -> BookingTarget {
        BookingTarget {
            visit_date,
            hospital_id: hospital(),
            department_id: cardiology(),
        }
    }

    fn booked(visit_date: NaiveDate, hospital_id: Uuid, department_id: Uuid) -> ActiveBooking {
        ActiveBooking {
            visit_date,
            hospital_id,
            department_id,
        }
    }

    /// Bookings elsewhere (another hospital), so only the day and rolling quotas see them.
    fn elsewhere(dates: &[NaiveDate]) -> IdentityFacts {
        IdentityFacts {
            active_bookings: dates
                .iter()
                .map(|d| booked(*d, other_hospital(), dermatology()))
                .collect(),
            ..IdentityFacts::default()
        }
    }

    fn check(visit: NaiveDate, facts: &IdentityFacts) -> Result<(), RuleRefusal> {
        check_quotas(&RuleSet::default(), now(), &target(visit), facts)
    }

    #[test]
    fn a_fresh_identity_may_book() {
        assert_eq!(check(date(2026, 11, 23), &IdentityFacts::default()), Ok(()));
    }

    #[test]
    fn one_booking_per_hospital_department_and_day() {
        let d = date(2026, 11, 23);
        let facts = IdentityFacts {
            active_bookings: vec![booked(d, hospital(), cardiology())],
            ..IdentityFacts::default()
        };
        let refused = check(d, &facts).unwrap_err();
        assert_eq!(refused.code, codes::QUOTA_DEPARTMENT_DAY);
        assert_eq!(refused.available_at, None);
        assert!(
            refused
                .message(crate::rules::Language::Zh)
                .contains("2026-11-23")
        );

        // Another department, another hospital or another day is fine.
        let elsewhere = BookingTarget {
            department_id: dermatology(),
            ..target(d)
        };
        assert_eq!(
            check_quotas(&RuleSet::default(), now(), &elsewhere, &facts),
            Ok(())
        );
        let facts_other_hospital = IdentityFacts {
            active_bookings: vec![booked(d, other_hospital(), cardiology())],
            ..IdentityFacts::default()
        };
        assert_eq!(check(d, &facts_other_hospital), Ok(()));
        assert_eq!(check(date(2026, 11, 24), &facts), Ok(()));
    }

    #[test]
    fn two_bookings_per_visit_day() {
        let d = date(2026, 11, 23);
        assert_eq!(check(d, &elsewhere(&[d])), Ok(()));
        let refused = check(d, &elsewhere(&[d, d])).unwrap_err();
        assert_eq!(refused.code, codes::QUOTA_VISIT_DAY);
        assert_eq!(check(date(2026, 11, 24), &elsewhere(&[d, d])), Ok(()));
    }

    #[test]
    fn three_in_any_seven_consecutive_visit_days() {
        let earlier = elsewhere(&[date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]);
        // 11-17 .. 11-23 would hold four.
        let refused = check(date(2026, 11, 23), &earlier).unwrap_err();
        assert_eq!(refused.code, codes::QUOTA_7_DAYS);
        assert_eq!(
            refused.reason,
            RefusalReason::Quota7Days {
                limit: 3,
                from: date(2026, 11, 17),
                to: date(2026, 11, 23)
            }
        );
        // Seven days after the first, the run 11-18 .. 11-24 holds two.
        assert_eq!(check(date(2026, 11, 24), &earlier), Ok(()));

        // Runs reach forward as well: 11-23 .. 11-29 already holds three.
        let later = elsewhere(&[date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 29)]);
        let refused = check(date(2026, 11, 23), &later).unwrap_err();
        assert_eq!(refused.code, codes::QUOTA_7_DAYS);
        assert_eq!(check(date(2026, 11, 22), &later), Ok(()));

        // Two in the run leave room for a third.
        assert_eq!(
            check(
                date(2026, 11, 23),
                &elsewhere(&[date(2026, 11, 17), date(2026, 11, 29)])
            ),
            Ok(())
        );
    }

    #[test]
    fn five_in_any_ninety_consecutive_visit_days() {
        let spread = elsewhere(&[
            date(2026, 11, 1),
            date(2026, 11, 15),
            date(2026, 12, 1),
            date(2026, 12, 15),
            date(2027, 1, 1),
        ]);
        // 2026-11-01 .. 2027-01-29 is 90 days and would hold six.
        let refused = check(date(2027, 1, 29), &spread).unwrap_err();
        assert_eq!(refused.code, codes::QUOTA_90_DAYS);
        assert_eq!(
            refused.reason,
            RefusalReason::Quota90Days {
                limit: 5,
                from: date(2026, 11, 1),
                to: date(2027, 1, 29)
            }
        );
        // One day later no 90-day run holds both 2026-11-01 and the new visit.
        assert_eq!(check(date(2027, 1, 30), &spread), Ok(()));
    }

    #[test]
    fn ten_unfinished_bookings_per_account() {
        let at_limit = IdentityFacts {
            account_active_bookings: 10,
            ..IdentityFacts::default()
        };
        let refused = check(date(2026, 11, 23), &at_limit).unwrap_err();
        assert_eq!(refused.code, codes::ACCOUNT_ACTIVE_LIMIT);
        assert_eq!(refused.available_at, None);
        let below = IdentityFacts {
            account_active_bookings: 9,
            ..IdentityFacts::default()
        };
        assert_eq!(check(date(2026, 11, 23), &below), Ok(()));
    }

    #[test]
    fn suspended_until_the_instant_it_ends() {
        let until = sh(2026, 12, 16, 9, 0, 0);
        let suspended = IdentityFacts {
            suspended_until: Some(until),
            ..IdentityFacts::default()
        };
        let rules = RuleSet::default();
        let refused = check_quotas(
            &rules,
            until - secs(1),
            &target(date(2026, 12, 20)),
            &suspended,
        )
        .unwrap_err();
        assert_eq!(refused.code, codes::BOOKING_SUSPENDED);
        assert_eq!(refused.available_at, Some(until));
        assert_eq!(
            refused.message(crate::rules::Language::En),
            "Booking is suspended after missed appointments. You can book from 2026-12-16 09:00 \
             (Beijing time)."
        );
        assert_eq!(
            check_quotas(&rules, until, &target(date(2026, 12, 20)), &suspended),
            Ok(())
        );
    }

    #[test]
    fn suspension_is_reported_before_quotas() {
        let d = date(2026, 11, 23);
        let facts = IdentityFacts {
            active_bookings: vec![booked(d, hospital(), cardiology())],
            account_active_bookings: 10,
            suspended_until: Some(sh(2026, 12, 1, 0, 0, 0)),
        };
        assert_eq!(check(d, &facts).unwrap_err().code, codes::BOOKING_SUSPENDED);
        let facts = IdentityFacts {
            suspended_until: None,
            ..facts
        };
        assert_eq!(
            check(d, &facts).unwrap_err().code,
            codes::ACCOUNT_ACTIVE_LIMIT
        );
    }

    #[test]
    fn limits_come_from_the_rule_set() {
        let generous = RuleSet {
            per_department_day: 2,
            per_visit_day: 3,
            per_7_days: 4,
            ..RuleSet::default()
        };
        let d = date(2026, 11, 23);
        let facts = IdentityFacts {
            active_bookings: vec![booked(d, hospital(), cardiology())],
            ..IdentityFacts::default()
        };
        assert_eq!(check_quotas(&generous, now(), &target(d), &facts), Ok(()));
        assert_eq!(
            check_quotas(&generous, now(), &target(d), &elsewhere(&[d, d, d]))
                .unwrap_err()
                .code,
            codes::QUOTA_VISIT_DAY
        );
    }
}
