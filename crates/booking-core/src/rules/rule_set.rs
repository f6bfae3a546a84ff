//! The knobs every real platform has (domain.md §0.1), with the defaults of §1.6.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

/// One hospital's (or department's, or doctor's) booking rules. Durations are whole minutes
/// or days, clock times are Asia/Shanghai and travel as `"HH:MM"`.
///
/// Deserializing fills missing fields from [`RuleSet::default`], refuses unknown fields and
/// refuses values outside each field's range, so a stored rule set is parsed once and trusted
/// afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSet {
    /// How many days ahead a visit day can be booked; 0 = today only.
    #[serde(deserialize_with = "bounded::within::<0, 365, _>")]
    pub booking_window_days: u32,
    /// When, each day, the day `booking_window_days` ahead opens.
    #[serde(with = "hhmm")]
    pub release_time: NaiveTime,
    /// Whether today's remaining segments can be booked.
    pub same_day_booking: bool,
    /// When booking for today opens (after tomorrow's booking stopped the evening before).
    #[serde(with = "hhmm")]
    pub same_day_open_time: NaiveTime,
    /// From this time on, tomorrow can no longer be booked.
    #[serde(with = "hhmm")]
    pub next_day_stop_time: NaiveTime,
    /// How long a held slot waits for payment.
    #[serde(deserialize_with = "bounded::within::<1, 1440, _>")]
    pub hold_minutes: u32,
    /// Cancellation closes `cancel_deadline_days_before` days before the visit (0 = the visit
    /// day itself) at `cancel_deadline_time`.
    #[serde(deserialize_with = "bounded::within::<0, 30, _>")]
    pub cancel_deadline_days_before: u32,
    #[serde(with = "hhmm")]
    pub cancel_deadline_time: NaiveTime,
    /// Check-in opens this many minutes before the segment starts…
    #[serde(deserialize_with = "bounded::within::<0, 1440, _>")]
    pub check_in_open_minutes_before: u32,
    /// …and closes this many minutes after it started (inclusive).
    #[serde(deserialize_with = "bounded::within::<0, 1440, _>")]
    pub check_in_close_minutes_after: u32,
    /// Bookings per real-name identity at one hospital + department on one visit day.
    #[serde(deserialize_with = "bounded::within::<1, 10000, _>")]
    pub per_department_day: u32,
    /// Bookings per real-name identity on one visit day.
    #[serde(deserialize_with = "bounded::within::<1, 10000, _>")]
    pub per_visit_day: u32,
    /// Bookings per real-name identity in any 7 consecutive visit days.
    #[serde(deserialize_with = "bounded::within::<1, 10000, _>")]
    pub per_7_days: u32,
    /// Bookings per real-name identity in any 90 consecutive visit days.
    #[serde(deserialize_with = "bounded::within::<1, 10000, _>")]
    pub per_90_days: u32,
    /// Unfinished bookings per account, whoever they are for.
    #[serde(deserialize_with = "bounded::within::<1, 10000, _>")]
    pub active_per_account: u32,
    /// Days of suspension for the 1st, 2nd, … no-show of a calendar year; the last rung repeats.
    /// Empty = no-shows never suspend.
    #[serde(deserialize_with = "bounded::ladder")]
    pub no_show_ladder_days: Vec<u32>,
}

impl Default for RuleSet {
    fn default() -> Self {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid clock time");
        Self {
            booking_window_days: 7,
            release_time: at(8, 0),
            same_day_booking: true,
            same_day_open_time: at(8, 0),
            next_day_stop_time: at(17, 0),
            hold_minutes: 10,
            cancel_deadline_days_before: 1,
            cancel_deadline_time: at(15, 0),
            check_in_open_minutes_before: 60,
            check_in_close_minutes_after: 30,
            per_department_day: 1,
            per_visit_day: 2,
            per_7_days: 3,
            per_90_days: 5,
            active_per_account: 10,
            no_show_ladder_days: vec![30, 60, 90],
        }
    }
}

impl RuleSet {
    /// Days of suspension for the `nth` no-show of a calendar year (1-based); 0 when none.
    pub fn no_show_suspension_days(&self, nth: u32) -> u32 {
        if nth == 0 {
            return 0;
        }
        let rung = usize::try_from(nth - 1).unwrap_or(usize::MAX);
        self.no_show_ladder_days
            .get(rung)
            .or(self.no_show_ladder_days.last())
            .copied()
            .unwrap_or(0)
    }
}

/// `"HH:MM"` clock times (`"HH:MM:SS"` is read too and written when the seconds are not zero).
mod hhmm {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        let format = if time.second() == 0 && time.nanosecond() == 0 {
            "%H:%M"
        } else {
            "%H:%M:%S"
        };
        serializer.collect_str(&time.format(format))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"))
            .map_err(|_| D::Error::custom(format!("{text:?} is not a clock time \"HH:MM\"")))
    }
}

mod bounded {
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn within<'de, const MIN: u32, const MAX: u32, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u32, D::Error> {
        let value = u32::deserialize(deserializer)?;
        if (MIN..=MAX).contains(&value) {
            Ok(value)
        } else {
            Err(D::Error::custom(format!(
                "{value} is outside the allowed range {MIN}..={MAX}"
            )))
        }
    }

    pub fn ladder<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u32>, D::Error> {
        let rungs = Vec::<u32>::deserialize(deserializer)?;
        if rungs.len() > 12 {
            return Err(D::Error::custom("a no-show ladder has at most 12 rungs"));
        }
        if let Some(rung) = rungs.iter().find(|days| **days > 3650) {
            return Err(D::Error::custom(format!(
                "a no-show suspension of {rung} days is longer than 10 years"
            )));
        }
        Ok(rungs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_practice() {
        let rules = RuleSet::default();
        assert_eq!(rules.booking_window_days, 7);
        assert_eq!(
            rules.release_time,
            NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        );
        assert!(rules.same_day_booking);
        assert_eq!(
            rules.next_day_stop_time,
            NaiveTime::from_hms_opt(17, 0, 0).unwrap()
        );
        assert_eq!(rules.hold_minutes, 10);
        assert_eq!(rules.cancel_deadline_days_before, 1);
        assert_eq!(
            rules.cancel_deadline_time,
            NaiveTime::from_hms_opt(15, 0, 0).unwrap()
        );
        assert_eq!(
            (
                rules.check_in_open_minutes_before,
                rules.check_in_close_minutes_after
            ),
            (60, 30)
        );
        assert_eq!(
            (
                rules.per_department_day,
                rules.per_visit_day,
                rules.per_7_days,
                rules.per_90_days,
                rules.active_per_account
            ),
            (1, 2, 3, 5, 10)
        );
        assert_eq!(rules.no_show_ladder_days, vec![30, 60, 90]);
    }

    #[test]
    fn serializes_times_as_hh_mm_and_round_trips() {
        let value = serde_json::to_value(RuleSet::default()).unwrap();
        assert_eq!(value["release_time"], "08:00");
        assert_eq!(value["next_day_stop_time"], "17:00");
        assert_eq!(value["cancel_deadline_time"], "15:00");
        assert_eq!(value["hold_minutes"], 10);
        let back: RuleSet = serde_json::from_value(value).unwrap();
        assert_eq!(back, RuleSet::default());
    }

    #[test]
    fn missing_fields_take_the_defaults() {
        let rules: RuleSet = serde_json::from_value(json!({
            "release_time": "09:30",
            "booking_window_days": 14,
            "same_day_booking": false
        }))
        .unwrap();
        assert_eq!(
            rules.release_time,
            NaiveTime::from_hms_opt(9, 30, 0).unwrap()
        );
        assert_eq!(rules.booking_window_days, 14);
        assert!(!rules.same_day_booking);
        assert_eq!(rules.hold_minutes, 10);
        assert_eq!(rules.no_show_ladder_days, vec![30, 60, 90]);
        let empty: RuleSet = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, RuleSet::default());
    }

    #[test]
    fn seconds_survive_a_round_trip() {
        let rules = RuleSet {
            next_day_stop_time: NaiveTime::from_hms_opt(16, 59, 30).unwrap(),
            ..RuleSet::default()
        };
        let value = serde_json::to_value(&rules).unwrap();
        assert_eq!(value["next_day_stop_time"], "16:59:30");
        assert_eq!(serde_json::from_value::<RuleSet>(value).unwrap(), rules);
    }

    #[test]
    fn nonsense_is_refused_when_parsed() {
        for bad in [
            json!({"release_time": "8am"}),
            json!({"release_time": "25:00"}),
            json!({"release_time": 800}),
            json!({"hold_minutes": 0}),
            json!({"hold_minutes": 100000}),
            json!({"booking_window_days": 366}),
            json!({"booking_window_days": -1}),
            json!({"cancel_deadline_days_before": 31}),
            json!({"per_visit_day": 0}),
            json!({"no_show_ladder_days": [30, 60, 99999]}),
            json!({"no_show_ladder_days": vec![1; 13]}),
            json!({"hold_minute": 10}),
        ] {
            assert!(
                serde_json::from_value::<RuleSet>(bad.clone()).is_err(),
                "{bad} was accepted"
            );
        }
        let edges: RuleSet = serde_json::from_value(json!({
            "booking_window_days": 0,
            "hold_minutes": 1440,
            "no_show_ladder_days": [],
            "cancel_deadline_time": "00:00"
        }))
        .unwrap();
        assert_eq!(edges.booking_window_days, 0);
        assert!(edges.no_show_ladder_days.is_empty());
    }

    #[test]
    fn ladder_rungs_repeat_the_last() {
        let rules = RuleSet::default();
        assert_eq!(rules.no_show_suspension_days(0), 0);
        assert_eq!(rules.no_show_suspension_days(1), 30);
        assert_eq!(rules.no_show_suspension_days(2), 60);
        assert_eq!(rules.no_show_suspension_days(3), 90);
        assert_eq!(rules.no_show_suspension_days(4), 90);
        assert_eq!(rules.no_show_suspension_days(u32::MAX), 90);
        let lenient = RuleSet {
            no_show_ladder_days: vec![],
            ..RuleSet::default()
        };
        assert_eq!(lenient.no_show_suspension_days(5), 0);
    }
}
