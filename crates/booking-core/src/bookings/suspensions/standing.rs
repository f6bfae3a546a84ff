//! Where a real-name identity stands on the no-show ladder at an instant: each no-show ranked in
//! its Shanghai calendar year and given the suspension its own booking's rules impose, minus
//! what operators lifted. Pure: the facts come in, nothing is read or written.

use crate::rules::{RuleSet, calendar_year_shanghai, suspension_after_no_show};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A booking that ended as `no_show`, with the rules it was made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoShow {
    pub booking_id: Uuid,
    pub hospital_id: Uuid,
    pub visit_date: NaiveDate,
    /// When the booking was marked `no_show`; the suspension counts from here.
    pub at: DateTime<Utc>,
    /// The booking's `rule_version`; `None` for bookings older than rule versions, which are
    /// judged under the built-in defaults.
    pub rule_version: Option<String>,
    pub rules: RuleSet,
}

/// One no-show as the ladder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedNoShow {
    pub no_show: NoShow,
    /// 1 for the first no-show of its Shanghai calendar year, and so on. Lifted no-shows still
    /// count: a lift forgives the suspension, not the missed visit.
    pub nth_in_year: u32,
    /// The end of the suspension this no-show imposed; `None` when its rung is zero days.
    pub suspends_until: Option<DateTime<Utc>>,
    /// An operator lifted the suspension this no-show was part of.
    pub lifted: bool,
}

/// A suspension in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub until: DateTime<Utc>,
    /// The no-show whose suspension ends last: the one this suspension follows.
    pub follows: Uuid,
    /// The latest no-show not yet lifted; a lift of this suspension covers every no-show up to
    /// here, and no later one.
    pub covers_through: DateTime<Utc>,
    /// Hospitals of the no-shows whose suspensions are still running.
    pub hospitals: BTreeSet<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Newest first.
    pub no_shows: Vec<RankedNoShow>,
    pub suspension: Option<Suspension>,
}

/// The identity's standing at `now`. `lifted_through` is the latest `covers_through` of the
/// lifts recorded for the identity: no-shows at or before it are forgiven.
pub fn assess(
    mut no_shows: Vec<NoShow>,
    lifted_through: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Standing {
    no_shows.sort_by_key(|n| (n.at, n.booking_id));
    let mut ranked = Vec::with_capacity(no_shows.len());
    let mut year = None;
    let mut nth = 0u32;
    for no_show in no_shows {
        let this_year = calendar_year_shanghai(no_show.at).start;
        if year != Some(this_year) {
            year = Some(this_year);
            nth = 0;
        }
        nth = nth.saturating_add(1);
        ranked.push(RankedNoShow {
            suspends_until: suspension_after_no_show(&no_show.rules, nth, no_show.at),
            lifted: lifted_through.is_some_and(|through| no_show.at <= through),
            nth_in_year: nth,
            no_show,
        });
    }

    let open: Vec<&RankedNoShow> = ranked.iter().filter(|r| !r.lifted).collect();
    let running: Vec<(&RankedNoShow, DateTime<Utc>)> = open
        .iter()
        .filter_map(|r| {
            r.suspends_until
                .filter(|until| *until > now)
                .map(|until| (*r, until))
        })
        .collect();
    let suspension = running
        .iter()
        .max_by_key(|(r, until)| (*until, r.no_show.at))
        .map(|(longest, until)| Suspension {
            until: *until,
            follows: longest.no_show.booking_id,
            covers_through: open
                .iter()
                .map(|r| r.no_show.at)
                .max()
                .unwrap_or(longest.no_show.at),
            hospitals: running.iter().map(|(r, _)| r.no_show.hospital_id).collect(),
        });
    ranked.reverse();
    Standing {
        no_shows: ranked,
        suspension,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    const HOSPITAL_A: Uuid = Uuid::from_u128(0xa);
    const HOSPITAL_B: Uuid = Uuid::from_u128(0xb);

    /// Shanghai wall-clock time.
    fn sh(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        crate::clock::shanghai()
            .with_ymd_and_hms(y, mo, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn no_show(n: u128, at: DateTime<Utc>, hospital_id: Uuid, ladder: &[u32]) -> NoShow {
        NoShow {
            booking_id: Uuid::from_u128(n),
            hospital_id,
            visit_date: at.date_naive(),
            at,
            rule_version: Some("default:v1".into()),
            rules: RuleSet {
                no_show_ladder_days: ladder.to_vec(),
                ..RuleSet::default()
            },
        }
    }

    #[test]
    fn nobody_is_suspended_without_no_shows() {
        let standing = assess(vec![], None, sh(2026, 5, 1, 9));
        assert_eq!(standing.no_shows, vec![]);
        assert_eq!(standing.suspension, None);
    }

    #[test]
    fn the_ladder_climbs_within_a_year_and_the_longest_suspension_stands() {
        let first = sh(2026, 3, 1, 9);
        let second = sh(2026, 3, 10, 9);
        let history = vec![
            no_show(2, second, HOSPITAL_B, &[30, 60, 90]),
            no_show(1, first, HOSPITAL_A, &[30, 60, 90]),
        ];
        let now = sh(2026, 3, 11, 9);
        let standing = assess(history, None, now);
        let ranks: Vec<_> = standing
            .no_shows
            .iter()
            .map(|r| {
                (
                    r.no_show.booking_id.as_u128(),
                    r.nth_in_year,
                    r.suspends_until,
                )
            })
            .collect();
        assert_eq!(
            ranks,
            vec![
                (2, 2, Some(second + Duration::days(60))),
                (1, 1, Some(first + Duration::days(30))),
            ]
        );
        assert_eq!(
            standing.suspension,
            Some(Suspension {
                until: second + Duration::days(60),
                follows: Uuid::from_u128(2),
                covers_through: second,
                hospitals: [HOSPITAL_A, HOSPITAL_B].into(),
            })
        );
        // Once the first suspension has run out, only the second hospital's is running.
        let later = first + Duration::days(30);
        let suspension = assess(
            vec![
                no_show(1, first, HOSPITAL_A, &[30, 60, 90]),
                no_show(2, second, HOSPITAL_B, &[30, 60, 90]),
            ],
            None,
            later,
        )
        .suspension
        .unwrap();
        assert_eq!(suspension.hospitals, [HOSPITAL_B].into());
        assert_eq!(suspension.until, second + Duration::days(60));
    }

    #[test]
    fn each_no_show_is_judged_under_its_own_booking_rules() {
        // The second no-show was at a hospital whose ladder forgives the first two.
        let first = sh(2026, 3, 1, 9);
        let second = sh(2026, 4, 10, 9);
        let history = vec![
            no_show(1, first, HOSPITAL_A, &[30, 60, 90]),
            no_show(2, second, HOSPITAL_B, &[0, 0, 90]),
        ];
        let standing = assess(history, None, sh(2026, 4, 11, 9));
        assert_eq!(standing.no_shows[0].suspends_until, None);
        assert_eq!(standing.suspension, None, "the first ran out on 31 March");
    }

    #[test]
    fn a_lift_covers_the_suspension_in_force_and_not_the_next_no_show() {
        let first = sh(2026, 3, 1, 9);
        let now = sh(2026, 3, 5, 9);
        let history = vec![no_show(1, first, HOSPITAL_A, &[30, 60, 90])];
        let before = assess(history.clone(), None, now).suspension.unwrap();
        let lifted = assess(history.clone(), Some(before.covers_through), now);
        assert_eq!(lifted.suspension, None);
        assert!(lifted.no_shows[0].lifted);

        // A later no-show is the second of the year: 60 days, which the old lift does not reach.
        let second = sh(2026, 3, 20, 9);
        let mut history = history;
        history.push(no_show(2, second, HOSPITAL_A, &[30, 60, 90]));
        let standing = assess(history, Some(before.covers_through), sh(2026, 3, 21, 9));
        assert_eq!(
            standing.suspension.map(|s| (s.until, s.follows)),
            Some((second + Duration::days(60), Uuid::from_u128(2)))
        );
        assert_eq!(
            standing.no_shows[0].nth_in_year, 2,
            "the lifted one still counts"
        );
        assert!(!standing.no_shows[0].lifted);
        assert!(standing.no_shows[1].lifted);
    }

    #[test]
    fn a_lift_also_covers_a_shorter_suspension_running_beside_the_longest() {
        // The third no-show of 2026 bars until late March 2027; the first of 2027 (30 days) runs
        // beside it. Lifting covers both.
        let history = vec![
            no_show(1, sh(2026, 3, 1, 9), HOSPITAL_A, &[30, 60, 90]),
            no_show(2, sh(2026, 6, 1, 9), HOSPITAL_A, &[30, 60, 90]),
            no_show(3, sh(2026, 12, 27, 9), HOSPITAL_A, &[30, 60, 90]),
            no_show(4, sh(2027, 1, 5, 9), HOSPITAL_B, &[30, 60, 90]),
        ];
        let now = sh(2027, 1, 6, 9);
        let suspension = assess(history.clone(), None, now).suspension.unwrap();
        assert_eq!(suspension.until, sh(2027, 3, 27, 9));
        assert_eq!(suspension.follows, Uuid::from_u128(3));
        assert_eq!(suspension.covers_through, sh(2027, 1, 5, 9));
        assert_eq!(suspension.hospitals, [HOSPITAL_A, HOSPITAL_B].into());
        assert_eq!(
            assess(history, Some(suspension.covers_through), now).suspension,
            None
        );
    }

    #[test]
    fn a_suspension_ends_at_its_instant() {
        let at = sh(2026, 3, 1, 9);
        let history = vec![no_show(1, at, HOSPITAL_A, &[30])];
        let end = at + Duration::days(30);
        assert!(
            assess(history.clone(), None, end - Duration::seconds(1))
                .suspension
                .is_some()
        );
        assert_eq!(assess(history, None, end).suspension, None);
    }
}
