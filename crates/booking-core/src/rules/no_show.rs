//! The no-show (爽约) ladder: the n-th no-show of a calendar year suspends booking for the n-th
//! rung's days, counted from that no-show. Calendar years are Shanghai years.

use super::rule_set::RuleSet;
use super::shanghai_time::{at_shanghai, days, plus, shanghai_date};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use std::ops::Range;

/// The Shanghai calendar year that contains `at`, as UTC instants `[1 January 00:00, next
/// 1 January 00:00)`: the range to count a patient's no-shows in.
pub fn calendar_year_shanghai(at: DateTime<Utc>) -> Range<DateTime<Utc>> {
    let year = shanghai_date(at).year();
    let new_year = |year| {
        NaiveDate::from_ymd_opt(year, 1, 1).map_or(DateTime::<Utc>::MAX_UTC, |date| {
            at_shanghai(date, NaiveTime::MIN)
        })
    };
    new_year(year)..new_year(year + 1)
}

/// Until when booking is suspended after a no-show at `last_no_show_at` that is the
/// `no_shows_this_calendar_year`-th of its Shanghai calendar year (itself included). `None` when
/// the ladder imposes nothing.
///
/// A suspension already running that ends later still stands: the caller keeps the later of
/// the two. An operator lifting a suspension is recorded by the booking service, not here.
pub fn suspension_after_no_show(
    rules: &RuleSet,
    no_shows_this_calendar_year: u32,
    last_no_show_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match rules.no_show_suspension_days(no_shows_this_calendar_year) {
        0 => None,
        n => Some(plus(last_no_show_at, days(n))),
    }
}

/// The latest suspension end implied by a whole no-show history: each no-show ranked within
/// its own calendar year, the latest end kept. Useful to rebuild or audit a stored suspension.
pub fn suspension_from_no_shows(
    rules: &RuleSet,
    no_shows: &[DateTime<Utc>],
) -> Option<DateTime<Utc>> {
    let mut sorted = no_shows.to_vec();
    sorted.sort_unstable();
    let mut rank = 0u32;
    let mut year = None;
    sorted
        .iter()
        .filter_map(|at| {
            let this_year = shanghai_date(*at).year();
            if year != Some(this_year) {
                year = Some(this_year);
                rank = 0;
            }
            rank = rank.saturating_add(1);
            suspension_after_no_show(rules, rank, *at)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::sh;
    use chrono::{Duration, TimeZone};

    #[test]
    fn thirty_sixty_ninety_then_ninety() {
        let rules = RuleSet::default();
        let at = sh(2026, 5, 10, 10, 0, 0);
        assert_eq!(suspension_after_no_show(&rules, 0, at), None);
        assert_eq!(
            suspension_after_no_show(&rules, 1, at),
            Some(sh(2026, 6, 9, 10, 0, 0))
        );
        assert_eq!(
            suspension_after_no_show(&rules, 2, at),
            Some(at + Duration::days(60))
        );
        assert_eq!(
            suspension_after_no_show(&rules, 3, at),
            Some(at + Duration::days(90))
        );
        assert_eq!(
            suspension_after_no_show(&rules, 7, at),
            Some(at + Duration::days(90))
        );
    }

    #[test]
    fn a_ladder_can_forgive() {
        let at = sh(2026, 5, 10, 10, 0, 0);
        let none = RuleSet {
            no_show_ladder_days: vec![],
            ..RuleSet::default()
        };
        assert_eq!(suspension_after_no_show(&none, 3, at), None);
        // PUMCH-like: the first two are warnings, the third bars for 90 days.
        let warn_first = RuleSet {
            no_show_ladder_days: vec![0, 0, 90],
            ..RuleSet::default()
        };
        assert_eq!(suspension_after_no_show(&warn_first, 2, at), None);
        assert_eq!(
            suspension_after_no_show(&warn_first, 3, at),
            Some(at + Duration::days(90))
        );
    }

    #[test]
    fn the_year_is_the_shanghai_year() {
        // 16:30 UTC on 31 December is 00:30 on 1 January in Shanghai.
        let new_years_night = Utc.with_ymd_and_hms(2026, 12, 31, 16, 30, 0).unwrap();
        assert_eq!(
            calendar_year_shanghai(new_years_night),
            Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap()
                ..Utc.with_ymd_and_hms(2027, 12, 31, 16, 0, 0).unwrap()
        );
        let last_second = Utc.with_ymd_and_hms(2026, 12, 31, 15, 59, 59).unwrap();
        assert!(!calendar_year_shanghai(last_second).contains(&new_years_night));
        assert!(calendar_year_shanghai(last_second).contains(&last_second));
    }

    #[test]
    fn the_count_starts_again_on_new_year_shanghai() {
        let rules = RuleSet::default();
        let earlier = [sh(2026, 3, 1, 9, 0, 0), sh(2026, 6, 1, 9, 0, 0)];

        // 23:59:59 on 31 December in Shanghai: the third of 2026, 90 days.
        let third = Utc.with_ymd_and_hms(2026, 12, 31, 15, 59, 59).unwrap();
        let history = [earlier[0], earlier[1], third];
        assert_eq!(
            suspension_from_no_shows(&rules, &history),
            Some(third + Duration::days(90))
        );

        // One second later it is 2027 in Shanghai (still 2026 in UTC): the first of 2027.
        let first = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap();
        let history = [earlier[0], earlier[1], first];
        assert_eq!(
            suspension_from_no_shows(&rules, &history),
            Some(first + Duration::days(30))
        );
    }

    #[test]
    fn a_longer_suspension_from_last_year_still_stands() {
        let rules = RuleSet::default();
        let history = [
            sh(2026, 12, 27, 9, 0, 0),
            sh(2026, 3, 1, 9, 0, 0),
            sh(2027, 1, 5, 9, 0, 0),
            sh(2026, 6, 1, 9, 0, 0),
        ];
        // The third of 2026 (27 Dec) runs to 27 March 2027; the first of 2027 only to 4 Feb.
        assert_eq!(
            suspension_from_no_shows(&rules, &history),
            Some(sh(2027, 3, 27, 9, 0, 0))
        );
        assert_eq!(suspension_from_no_shows(&rules, &[]), None);
    }
}
