//! Whether a schedule's segment can be booked at an instant: status, booking window, release,
//! next-day stop, same-day opening, segment start.

use super::refusal::{RefusalReason, RuleRefusal, refuse};
use super::rule_set::RuleSet;
use super::shanghai_time::{add_days, at_shanghai, shanghai_date, shanghai_time, sub_days};
use crate::catalog::{Schedule, ScheduleStatus, Segment};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// What the booking rules need to know about the segment being booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleFacts {
    /// The visit day (Asia/Shanghai).
    pub visit_date: NaiveDate,
    pub status: ScheduleStatus,
    /// The schedule's own release instant (visible but not bookable before it).
    pub release_at: DateTime<Utc>,
    /// When the chosen time segment starts (Asia/Shanghai).
    pub segment_start: NaiveTime,
}

impl ScheduleFacts {
    pub fn new(schedule: &Schedule, segment: &Segment) -> Self {
        Self {
            visit_date: schedule.date,
            status: schedule.status,
            release_at: schedule.release_at,
            segment_start: segment.start_time,
        }
    }
}

/// Can this segment be booked at `now`? Checked in this order, so the patient hears the reason
/// that matters most: a past date, 停诊, the booking window, the schedule's release, the next-day
/// stop, same-day booking, and the segment having started.
pub fn check_bookable(
    rules: &RuleSet,
    now: DateTime<Utc>,
    schedule: &ScheduleFacts,
) -> Result<(), RuleRefusal> {
    let today = shanghai_date(now);
    let visit_date = schedule.visit_date;
    if visit_date < today {
        return refuse(RefusalReason::VisitDatePassed { visit_date });
    }
    if schedule.status == ScheduleStatus::Suspended {
        return refuse(RefusalReason::ScheduleSuspended);
    }

    let enters_window = at_shanghai(
        sub_days(visit_date, rules.booking_window_days),
        rules.release_time,
    );
    if now < enters_window {
        return refuse(RefusalReason::OutsideBookingWindow {
            window_days: rules.booking_window_days,
            opens_at: enters_window.max(schedule.release_at),
        });
    }
    if now < schedule.release_at {
        return refuse(RefusalReason::NotYetReleased {
            release_at: schedule.release_at,
        });
    }

    let segment_start = at_shanghai(visit_date, schedule.segment_start);
    // When the visit day opens for same-day booking, if that leaves time to book this segment.
    let same_day_opens = rules
        .same_day_booking
        .then(|| at_shanghai(visit_date, rules.same_day_open_time))
        .filter(|opens| *opens < segment_start);

    if visit_date == add_days(today, 1) && shanghai_time(now) >= rules.next_day_stop_time {
        return refuse(RefusalReason::NextDayBookingClosed {
            stopped_at: at_shanghai(today, rules.next_day_stop_time),
            reopens_at: same_day_opens,
        });
    }
    if visit_date == today {
        if !rules.same_day_booking {
            return refuse(RefusalReason::SameDayBookingClosed { opens_at: None });
        }
        if now < at_shanghai(visit_date, rules.same_day_open_time) {
            return refuse(RefusalReason::SameDayBookingClosed {
                opens_at: same_day_opens,
            });
        }
    }
    if now >= segment_start {
        return refuse(RefusalReason::SegmentStarted {
            started_at: segment_start,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;
    use crate::rules::codes;
    use crate::rules::test_support::{date, secs, sh, time};
    use chrono::TimeZone;
    use uuid::Uuid;

    /// Monday 2026-11-23, 09:00 segment, released on the default schedule (7 days before, 08:00).
    fn facts() -> ScheduleFacts {
        ScheduleFacts {
            visit_date: date(2026, 11, 23),
            status: ScheduleStatus::Open,
            release_at: sh(2026, 11, 16, 8, 0, 0),
            segment_start: time(9, 0),
        }
    }

    fn code(rules: &RuleSet, now: DateTime<Utc>, facts: &ScheduleFacts) -> Option<&'static str> {
        check_bookable(rules, now, facts).err().map(|r| r.code)
    }

    fn refusal(rules: &RuleSet, now: DateTime<Utc>, facts: &ScheduleFacts) -> RuleRefusal {
        check_bookable(rules, now, facts).expect_err("expected a refusal")
    }

    #[test]
    fn bookable_from_release_until_the_day_before_the_stop() {
        let rules = RuleSet::default();
        for now in [
            sh(2026, 11, 16, 8, 0, 0),
            sh(2026, 11, 19, 12, 0, 0),
            sh(2026, 11, 22, 16, 59, 59),
        ] {
            assert_eq!(check_bookable(&rules, now, &facts()), Ok(()), "{now}");
        }
    }

    #[test]
    fn outside_the_window_until_it_enters_at_release_time() {
        let rules = RuleSet::default();
        let opens = sh(2026, 11, 16, 8, 0, 0);
        let refused = refusal(&rules, opens - secs(1), &facts());
        assert_eq!(refused.code, codes::OUTSIDE_BOOKING_WINDOW);
        assert_eq!(refused.available_at, Some(opens));
        assert_eq!(
            refusal(&rules, sh(2026, 11, 1, 8, 0, 0), &facts()).available_at,
            Some(opens)
        );
        assert_eq!(check_bookable(&rules, opens, &facts()), Ok(()));

        // The window applies even when the schedule itself was released earlier.
        let early = ScheduleFacts {
            release_at: sh(2026, 11, 1, 0, 0, 0),
            ..facts()
        };
        let refused = refusal(&rules, opens - secs(1), &early);
        assert_eq!(refused.code, codes::OUTSIDE_BOOKING_WINDOW);
        assert_eq!(refused.available_at, Some(opens));
        assert_eq!(check_bookable(&rules, opens, &early), Ok(()));

        // A wider window admits the same day earlier.
        let wide = RuleSet {
            booking_window_days: 14,
            ..RuleSet::default()
        };
        assert_eq!(
            check_bookable(&wide, sh(2026, 11, 9, 8, 0, 0), &early),
            Ok(())
        );
        assert_eq!(
            code(&wide, sh(2026, 11, 9, 7, 59, 59), &early),
            Some(codes::OUTSIDE_BOOKING_WINDOW)
        );
    }

    #[test]
    fn outside_the_window_names_the_later_of_window_and_release() {
        let rules = RuleSet::default();
        let late = ScheduleFacts {
            release_at: sh(2026, 11, 17, 10, 0, 0),
            ..facts()
        };
        let refused = refusal(&rules, sh(2026, 11, 10, 9, 0, 0), &late);
        assert_eq!(refused.code, codes::OUTSIDE_BOOKING_WINDOW);
        assert_eq!(refused.available_at, Some(late.release_at));
    }

    #[test]
    fn visible_but_not_bookable_before_its_release() {
        let rules = RuleSet::default();
        let late = ScheduleFacts {
            release_at: sh(2026, 11, 17, 10, 0, 0),
            ..facts()
        };
        for now in [sh(2026, 11, 16, 8, 0, 0), late.release_at - secs(1)] {
            let refused = refusal(&rules, now, &late);
            assert_eq!(refused.code, codes::NOT_YET_RELEASED);
            assert_eq!(refused.available_at, Some(late.release_at));
            assert!(
                refused
                    .message(crate::rules::Language::Zh)
                    .contains("可于 2026-11-17 10:00 起预约")
            );
        }
        assert_eq!(check_bookable(&rules, late.release_at, &late), Ok(()));
    }

    #[test]
    fn a_suspended_schedule_is_never_bookable() {
        let rules = RuleSet::default();
        let suspended = ScheduleFacts {
            status: ScheduleStatus::Suspended,
            ..facts()
        };
        for now in [
            sh(2026, 11, 1, 8, 0, 0),
            sh(2026, 11, 19, 12, 0, 0),
            sh(2026, 11, 23, 8, 30, 0),
        ] {
            let refused = refusal(&rules, now, &suspended);
            assert_eq!(refused.code, codes::SCHEDULE_SUSPENDED);
            assert_eq!(refused.available_at, None);
        }
    }

    #[test]
    fn next_day_booking_stops_at_the_stop_time() {
        let rules = RuleSet::default();
        let stop = sh(2026, 11, 22, 17, 0, 0);
        assert_eq!(check_bookable(&rules, stop - secs(1), &facts()), Ok(()));
        for now in [stop, sh(2026, 11, 22, 23, 59, 59)] {
            let refused = refusal(&rules, now, &facts());
            assert_eq!(refused.code, codes::NEXT_DAY_BOOKING_CLOSED);
            // Reopens as a same-day booking when the visit day opens.
            assert_eq!(refused.available_at, Some(sh(2026, 11, 23, 8, 0, 0)));
        }
        // Two days ahead is not affected by the stop.
        let later = ScheduleFacts {
            visit_date: date(2026, 11, 24),
            ..facts()
        };
        assert_eq!(check_bookable(&rules, stop, &later), Ok(()));
    }

    #[test]
    fn next_day_closed_says_never_when_it_will_not_reopen() {
        let no_same_day = RuleSet {
            same_day_booking: false,
            ..RuleSet::default()
        };
        let stop = sh(2026, 11, 22, 17, 0, 0);
        let refused = refusal(&no_same_day, stop, &facts());
        assert_eq!(refused.code, codes::NEXT_DAY_BOOKING_CLOSED);
        assert_eq!(refused.available_at, None);

        // Same-day booking opens at 08:00, when an 08:00 segment has already started.
        let first_segment = ScheduleFacts {
            segment_start: time(8, 0),
            ..facts()
        };
        let refused = refusal(&RuleSet::default(), stop, &first_segment);
        assert_eq!(refused.code, codes::NEXT_DAY_BOOKING_CLOSED);
        assert_eq!(refused.available_at, None);
    }

    #[test]
    fn same_day_opens_at_its_time_and_closes_when_the_segment_starts() {
        let rules = RuleSet::default();
        let opens = sh(2026, 11, 23, 8, 0, 0);
        let refused = refusal(&rules, opens - secs(1), &facts());
        assert_eq!(refused.code, codes::SAME_DAY_BOOKING_CLOSED);
        assert_eq!(refused.available_at, Some(opens));
        assert_eq!(check_bookable(&rules, opens, &facts()), Ok(()));

        let start = sh(2026, 11, 23, 9, 0, 0);
        assert_eq!(check_bookable(&rules, start - secs(1), &facts()), Ok(()));
        for now in [start, sh(2026, 11, 23, 23, 59, 59)] {
            let refused = refusal(&rules, now, &facts());
            assert_eq!(refused.code, codes::SEGMENT_STARTED);
            assert_eq!(refused.available_at, None);
        }
    }

    #[test]
    fn same_day_booking_can_be_switched_off() {
        let rules = RuleSet {
            same_day_booking: false,
            ..RuleSet::default()
        };
        for now in [sh(2026, 11, 23, 0, 0, 0), sh(2026, 11, 23, 8, 30, 0)] {
            let refused = refusal(&rules, now, &facts());
            assert_eq!(refused.code, codes::SAME_DAY_BOOKING_CLOSED);
            assert_eq!(refused.available_at, None);
        }
    }

    #[test]
    fn same_day_before_opening_for_a_segment_that_starts_first_never_opens() {
        let rules = RuleSet::default();
        let first_segment = ScheduleFacts {
            segment_start: time(8, 0),
            ..facts()
        };
        let refused = refusal(&rules, sh(2026, 11, 23, 7, 0, 0), &first_segment);
        assert_eq!(refused.code, codes::SAME_DAY_BOOKING_CLOSED);
        assert_eq!(refused.available_at, None);
        assert_eq!(
            code(&rules, sh(2026, 11, 23, 8, 0, 0), &first_segment),
            Some(codes::SEGMENT_STARTED)
        );
    }

    #[test]
    fn past_visit_dates_are_refused_from_midnight_shanghai() {
        let rules = RuleSet::default();
        assert_eq!(
            code(&rules, sh(2026, 11, 23, 23, 59, 59), &facts()),
            Some(codes::SEGMENT_STARTED)
        );
        let refused = refusal(&rules, sh(2026, 11, 24, 0, 0, 0), &facts());
        assert_eq!(refused.code, codes::VISIT_DATE_PASSED);
        assert_eq!(refused.available_at, None);
        // A past date wins over a suspension.
        let suspended = ScheduleFacts {
            status: ScheduleStatus::Suspended,
            ..facts()
        };
        assert_eq!(
            code(&rules, sh(2026, 12, 1, 0, 0, 0), &suspended),
            Some(codes::VISIT_DATE_PASSED)
        );
    }

    #[test]
    fn a_utc_instant_already_on_the_next_day_in_shanghai() {
        let rules = RuleSet::default();
        // 2026-11-22 15:59:59 UTC is 23:59:59 on the 22nd in Shanghai: the 23rd is tomorrow,
        // after the stop.
        let before_midnight = Utc.with_ymd_and_hms(2026, 11, 22, 15, 59, 59).unwrap();
        assert_eq!(
            code(&rules, before_midnight, &facts()),
            Some(codes::NEXT_DAY_BOOKING_CLOSED)
        );
        // 16:00:00 UTC on the 22nd is midnight on the 23rd in Shanghai: the UTC date still says
        // the 22nd, but the visit is today, before same-day booking opens.
        let midnight = Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap();
        let refused = refusal(&rules, midnight, &facts());
        assert_eq!(refused.code, codes::SAME_DAY_BOOKING_CLOSED);
        assert_eq!(
            refused.available_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap())
        );
        // And a visit on the 22nd is already past, though it is still the 22nd in UTC.
        let yesterday = ScheduleFacts {
            visit_date: date(2026, 11, 22),
            ..facts()
        };
        assert_eq!(
            code(&rules, midnight, &yesterday),
            Some(codes::VISIT_DATE_PASSED)
        );
        // The window opens at 08:00 Shanghai = 00:00 UTC.
        assert_eq!(
            code(
                &rules,
                Utc.with_ymd_and_hms(2026, 11, 15, 23, 59, 59).unwrap(),
                &facts()
            ),
            Some(codes::OUTSIDE_BOOKING_WINDOW)
        );
        assert_eq!(
            check_bookable(
                &rules,
                Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap(),
                &facts()
            ),
            Ok(())
        );
    }

    #[test]
    fn same_day_only_hospital() {
        let rules = RuleSet {
            booking_window_days: 0,
            ..RuleSet::default()
        };
        let today_only = ScheduleFacts {
            release_at: sh(2026, 11, 23, 8, 0, 0),
            ..facts()
        };
        let refused = refusal(&rules, sh(2026, 11, 22, 12, 0, 0), &today_only);
        assert_eq!(refused.code, codes::OUTSIDE_BOOKING_WINDOW);
        assert_eq!(refused.available_at, Some(sh(2026, 11, 23, 8, 0, 0)));
        assert_eq!(
            check_bookable(&rules, sh(2026, 11, 23, 8, 0, 0), &today_only),
            Ok(())
        );
    }

    #[test]
    fn facts_come_from_a_catalog_schedule() {
        let segment = Segment {
            id: Uuid::nil(),
            start_time: time(10, 0),
            end_time: time(11, 0),
            capacity: 5,
            remaining: 5,
            bookable: true,
        };
        let schedule = Schedule {
            id: Uuid::nil(),
            hospital_id: Uuid::nil(),
            department_id: Uuid::nil(),
            doctor_id: None,
            date: date(2026, 11, 23),
            period: crate::catalog::Period::Morning,
            fee: Fen(5000),
            release_at: sh(2026, 11, 16, 8, 0, 0),
            status: ScheduleStatus::Suspended,
            bookable: false,
            segments: vec![segment.clone()],
        };
        assert_eq!(
            ScheduleFacts::new(&schedule, &segment),
            ScheduleFacts {
                visit_date: date(2026, 11, 23),
                status: ScheduleStatus::Suspended,
                release_at: sh(2026, 11, 16, 8, 0, 0),
                segment_start: time(10, 0),
            }
        );
    }
}
