//! Why a rule said no: a stable `code`, the instant the patient can try again when there is
//! one, and a message in the patient's language that says when.

use super::Language;
use super::shanghai_time::{format_shanghai, shanghai_time};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// The stable error codes of rule refusals (contract: clients switch on them).
pub mod codes {
    pub const VISIT_DATE_PASSED: &str = "VISIT_DATE_PASSED";
    pub const SCHEDULE_SUSPENDED: &str = "SCHEDULE_SUSPENDED";
    pub const OUTSIDE_BOOKING_WINDOW: &str = "OUTSIDE_BOOKING_WINDOW";
    pub const NOT_YET_RELEASED: &str = "NOT_YET_RELEASED";
    pub const NEXT_DAY_BOOKING_CLOSED: &str = "NEXT_DAY_BOOKING_CLOSED";
    pub const SAME_DAY_BOOKING_CLOSED: &str = "SAME_DAY_BOOKING_CLOSED";
    pub const SEGMENT_STARTED: &str = "SEGMENT_STARTED";
    pub const QUOTA_DEPARTMENT_DAY: &str = "QUOTA_DEPARTMENT_DAY";
    pub const QUOTA_VISIT_DAY: &str = "QUOTA_VISIT_DAY";
    pub const QUOTA_7_DAYS: &str = "QUOTA_7_DAYS";
    pub const QUOTA_90_DAYS: &str = "QUOTA_90_DAYS";
    pub const ACCOUNT_ACTIVE_LIMIT: &str = "ACCOUNT_ACTIVE_LIMIT";
    pub const BOOKING_SUSPENDED: &str = "BOOKING_SUSPENDED";
    pub const CANCEL_DEADLINE_PASSED: &str = "CANCEL_DEADLINE_PASSED";
    pub const CHECK_IN_TOO_EARLY: &str = "CHECK_IN_TOO_EARLY";
    pub const CHECK_IN_TOO_LATE: &str = "CHECK_IN_TOO_LATE";

    /// Every code above, for documentation and exhaustiveness tests.
    pub const ALL: &[&str] = &[
        VISIT_DATE_PASSED,
        SCHEDULE_SUSPENDED,
        OUTSIDE_BOOKING_WINDOW,
        NOT_YET_RELEASED,
        NEXT_DAY_BOOKING_CLOSED,
        SAME_DAY_BOOKING_CLOSED,
        SEGMENT_STARTED,
        QUOTA_DEPARTMENT_DAY,
        QUOTA_VISIT_DAY,
        QUOTA_7_DAYS,
        QUOTA_90_DAYS,
        ACCOUNT_ACTIVE_LIMIT,
        BOOKING_SUSPENDED,
        CANCEL_DEADLINE_PASSED,
        CHECK_IN_TOO_EARLY,
        CHECK_IN_TOO_LATE,
    ];
}

/// What went wrong, with the facts the messages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// The visit date is before today (Shanghai).
    VisitDatePassed { visit_date: NaiveDate },
    /// The hospital suspended the session (停诊).
    ScheduleSuspended,
    /// The visit day is further ahead than the booking window; it enters it at `opens_at`.
    OutsideBookingWindow {
        window_days: u32,
        opens_at: DateTime<Utc>,
    },
    /// The schedule is visible but its slots are released only at `release_at`.
    NotYetReleased { release_at: DateTime<Utc> },
    /// Booking for tomorrow stopped at `stopped_at`; tomorrow opens again as a same-day booking
    /// at `reopens_at`, if ever.
    NextDayBookingClosed {
        stopped_at: DateTime<Utc>,
        reopens_at: Option<DateTime<Utc>>,
    },
    /// Same-day booking is not offered (`opens_at: None`) or not open yet.
    SameDayBookingClosed { opens_at: Option<DateTime<Utc>> },
    /// The chosen time segment has already started.
    SegmentStarted { started_at: DateTime<Utc> },
    /// This identity already holds `limit` bookings at this hospital + department that day.
    QuotaDepartmentDay { limit: u32, visit_date: NaiveDate },
    /// This identity already holds `limit` bookings that visit day.
    QuotaVisitDay { limit: u32, visit_date: NaiveDate },
    /// The visit days `from..=to` (7 of them, containing the new visit) already hold `limit`.
    Quota7Days {
        limit: u32,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// The visit days `from..=to` (90 of them, containing the new visit) already hold `limit`.
    Quota90Days {
        limit: u32,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// The account already has `limit` unfinished bookings.
    AccountActiveLimit { limit: u32 },
    /// Booking is suspended (no-shows) until `until`.
    BookingSuspended { until: DateTime<Utc> },
    /// Cancellation closed at `deadline`.
    CancelDeadlinePassed { deadline: DateTime<Utc> },
    /// Check-in opens at `opens_at`.
    CheckInTooEarly { opens_at: DateTime<Utc> },
    /// Check-in closed at `closed_at`.
    CheckInTooLate { closed_at: DateTime<Utc> },
}

impl RefusalReason {
    pub fn code(&self) -> &'static str {
        use RefusalReason::*;
        match self {
            VisitDatePassed { .. } => codes::VISIT_DATE_PASSED,
            ScheduleSuspended => codes::SCHEDULE_SUSPENDED,
            OutsideBookingWindow { .. } => codes::OUTSIDE_BOOKING_WINDOW,
            NotYetReleased { .. } => codes::NOT_YET_RELEASED,
            NextDayBookingClosed { .. } => codes::NEXT_DAY_BOOKING_CLOSED,
            SameDayBookingClosed { .. } => codes::SAME_DAY_BOOKING_CLOSED,
            SegmentStarted { .. } => codes::SEGMENT_STARTED,
            QuotaDepartmentDay { .. } => codes::QUOTA_DEPARTMENT_DAY,
            QuotaVisitDay { .. } => codes::QUOTA_VISIT_DAY,
            Quota7Days { .. } => codes::QUOTA_7_DAYS,
            Quota90Days { .. } => codes::QUOTA_90_DAYS,
            AccountActiveLimit { .. } => codes::ACCOUNT_ACTIVE_LIMIT,
            BookingSuspended { .. } => codes::BOOKING_SUSPENDED,
            CancelDeadlinePassed { .. } => codes::CANCEL_DEADLINE_PASSED,
            CheckInTooEarly { .. } => codes::CHECK_IN_TOO_EARLY,
            CheckInTooLate { .. } => codes::CHECK_IN_TOO_LATE,
        }
    }

    /// The instant from which the same request can succeed, when time alone will fix it.
    pub fn available_at(&self) -> Option<DateTime<Utc>> {
        use RefusalReason::*;
        match self {
            OutsideBookingWindow { opens_at, .. } => Some(*opens_at),
            NotYetReleased { release_at } => Some(*release_at),
            NextDayBookingClosed { reopens_at, .. } => *reopens_at,
            SameDayBookingClosed { opens_at } => *opens_at,
            BookingSuspended { until } => Some(*until),
            CheckInTooEarly { opens_at } => Some(*opens_at),
            _ => None,
        }
    }

    /// A plain account for logs and operators (UTC, RFC 3339).
    fn detail(&self) -> String {
        use RefusalReason::*;
        let t = |at: &DateTime<Utc>| at.to_rfc3339();
        match self {
            VisitDatePassed { visit_date } => format!("visit date {visit_date} is in the past"),
            ScheduleSuspended => "the schedule is suspended (停诊)".to_owned(),
            OutsideBookingWindow {
                window_days,
                opens_at,
            } => format!(
                "beyond the {window_days}-day booking window until {}",
                t(opens_at)
            ),
            NotYetReleased { release_at } => {
                format!("slots are released at {}", t(release_at))
            }
            NextDayBookingClosed {
                stopped_at,
                reopens_at,
            } => format!(
                "booking for the next day stopped at {}; reopens {}",
                t(stopped_at),
                reopens_at.as_ref().map_or("never".to_owned(), t)
            ),
            SameDayBookingClosed { opens_at } => match opens_at {
                Some(at) => format!("same-day booking opens at {}", t(at)),
                None => "same-day booking is not offered".to_owned(),
            },
            SegmentStarted { started_at } => {
                format!("the segment started at {}", t(started_at))
            }
            QuotaDepartmentDay { limit, visit_date } => format!(
                "identity already holds {limit} booking(s) in this department on {visit_date}"
            ),
            QuotaVisitDay { limit, visit_date } => {
                format!("identity already holds {limit} booking(s) on {visit_date}")
            }
            Quota7Days { limit, from, to } | Quota90Days { limit, from, to } => {
                format!("identity already holds {limit} booking(s) with visits {from}..={to}")
            }
            AccountActiveLimit { limit } => {
                format!("account already has {limit} unfinished booking(s)")
            }
            BookingSuspended { until } => format!("booking suspended until {}", t(until)),
            CancelDeadlinePassed { deadline } => {
                format!("cancellation closed at {}", t(deadline))
            }
            CheckInTooEarly { opens_at } => format!("check-in opens at {}", t(opens_at)),
            CheckInTooLate { closed_at } => format!("check-in closed at {}", t(closed_at)),
        }
    }

    /// What the patient reads: what happened and when they can try again.
    pub fn message(&self, language: Language) -> String {
        use RefusalReason::*;
        let at = format_shanghai;
        let hm = |time: NaiveTime| time.format("%H:%M").to_string();
        match (self, language) {
            (VisitDatePassed { visit_date }, Language::Zh) => {
                format!("就诊日期 {visit_date} 已过，无法预约，请选择其他日期。")
            }
            (VisitDatePassed { visit_date }, Language::En) => {
                format!("The visit date {visit_date} has passed; please choose another date.")
            }
            (ScheduleSuspended, Language::Zh) => {
                "该出诊已停诊，无法预约，请选择其他医生或日期。".to_owned()
            }
            (ScheduleSuspended, Language::En) => "The hospital has suspended this session \
                 (停诊); it cannot be booked. Please choose another doctor or date."
                .to_owned(),
            (
                OutsideBookingWindow {
                    window_days,
                    opens_at,
                },
                Language::Zh,
            ) => format!(
                "仅可预约 {window_days} 天内的号源，可于 {} 起预约。",
                at(*opens_at)
            ),
            (
                OutsideBookingWindow {
                    window_days,
                    opens_at,
                },
                Language::En,
            ) => format!(
                "Bookings open {window_days} days ahead. You can book from {} (Beijing time).",
                at(*opens_at)
            ),
            (NotYetReleased { release_at }, Language::Zh) => {
                format!("号源尚未放出，可于 {} 起预约。", at(*release_at))
            }
            (NotYetReleased { release_at }, Language::En) => format!(
                "These slots are not released yet. You can book from {} (Beijing time).",
                at(*release_at)
            ),
            (
                NextDayBookingClosed {
                    stopped_at,
                    reopens_at,
                },
                Language::Zh,
            ) => match reopens_at {
                Some(reopens) => format!(
                    "次日号源已于 {} 停止预约，可于 {} 起预约当日号。",
                    hm(shanghai_time(*stopped_at)),
                    at(*reopens)
                ),
                None => format!(
                    "次日号源已于 {} 停止预约，该时段不再开放，请选择其他日期。",
                    hm(shanghai_time(*stopped_at))
                ),
            },
            (
                NextDayBookingClosed {
                    stopped_at,
                    reopens_at,
                },
                Language::En,
            ) => match reopens_at {
                Some(reopens) => format!(
                    "Booking for tomorrow stopped at {} (Beijing time). You can book from {} \
                     (Beijing time) as a same-day booking.",
                    hm(shanghai_time(*stopped_at)),
                    at(*reopens)
                ),
                None => format!(
                    "Booking for tomorrow stopped at {} (Beijing time) and this segment will \
                     not open again; please choose another date.",
                    hm(shanghai_time(*stopped_at))
                ),
            },
            (SameDayBookingClosed { opens_at }, Language::Zh) => match opens_at {
                Some(opens) => format!("当日预约尚未开始，可于 {} 起预约。", at(*opens)),
                None => "本院不提供当日预约，请预约其他日期。".to_owned(),
            },
            (SameDayBookingClosed { opens_at }, Language::En) => match opens_at {
                Some(opens) => format!(
                    "Same-day booking has not opened yet. You can book from {} (Beijing time).",
                    at(*opens)
                ),
                None => "Same-day booking is not offered; please book another date.".to_owned(),
            },
            (SegmentStarted { started_at }, Language::Zh) => format!(
                "该时段已于 {} 开始，无法预约，请选择之后的时段或其他日期。",
                at(*started_at)
            ),
            (SegmentStarted { started_at }, Language::En) => format!(
                "This time segment started at {} (Beijing time) and can no longer be booked; \
                 please choose a later segment or another day.",
                at(*started_at)
            ),
            (QuotaDepartmentDay { limit, visit_date }, Language::Zh) => format!(
                "同一就诊人同一天在同一医院同一科室最多预约 {limit} 次，{visit_date} 已约满。\
                 取消已有预约后可再预约，或选择其他日期。"
            ),
            (QuotaDepartmentDay { limit, visit_date }, Language::En) => format!(
                "A patient may hold at most {limit} booking(s) per department per day, and \
                 {visit_date} is taken. You can book again after cancelling that booking, or \
                 choose another date."
            ),
            (QuotaVisitDay { limit, visit_date }, Language::Zh) => format!(
                "同一就诊人同一就诊日最多预约 {limit} 次，{visit_date} 已约满。\
                 取消已有预约后可再预约，或选择其他日期。"
            ),
            (QuotaVisitDay { limit, visit_date }, Language::En) => format!(
                "A patient may hold at most {limit} bookings per visit day, and {visit_date} \
                 is full. You can book again after cancelling one of them, or choose another \
                 date."
            ),
            (Quota7Days { limit, from, to }, Language::Zh) => rolling_zh(7, *limit, *from, *to),
            (Quota7Days { limit, from, to }, Language::En) => rolling_en(7, *limit, *from, *to),
            (Quota90Days { limit, from, to }, Language::Zh) => rolling_zh(90, *limit, *from, *to),
            (Quota90Days { limit, from, to }, Language::En) => rolling_en(90, *limit, *from, *to),
            (AccountActiveLimit { limit }, Language::Zh) => {
                format!("本账号未完成的预约已达 {limit} 个，就诊完成或取消其中一个后可再预约。")
            }
            (AccountActiveLimit { limit }, Language::En) => format!(
                "This account already has {limit} unfinished bookings. You can book again once \
                 one of them is completed or cancelled."
            ),
            (BookingSuspended { until }, Language::Zh) => {
                format!("因爽约，预约功能已暂停，可于 {} 起预约。", at(*until))
            }
            (BookingSuspended { until }, Language::En) => format!(
                "Booking is suspended after missed appointments. You can book from {} \
                 (Beijing time).",
                at(*until)
            ),
            (CancelDeadlinePassed { deadline }, Language::Zh) => format!(
                "已超过取消期限（{}），无法在线取消，请联系医院。",
                at(*deadline)
            ),
            (CancelDeadlinePassed { deadline }, Language::En) => format!(
                "Online cancellation closed at {} (Beijing time); please contact the hospital.",
                at(*deadline)
            ),
            (CheckInTooEarly { opens_at }, Language::Zh) => {
                format!("签到尚未开始，可于 {} 起签到。", at(*opens_at))
            }
            (CheckInTooEarly { opens_at }, Language::En) => format!(
                "Check-in has not opened yet. You can check in from {} (Beijing time).",
                at(*opens_at)
            ),
            (CheckInTooLate { closed_at }, Language::Zh) => format!(
                "签到已于 {} 截止，本次预约无法签到，请到分诊台咨询或重新预约。",
                at(*closed_at)
            ),
            (CheckInTooLate { closed_at }, Language::En) => format!(
                "Check-in closed at {} (Beijing time). Please ask at the triage desk or book \
                 again.",
                at(*closed_at)
            ),
        }
    }
}

fn rolling_zh(days: u32, limit: u32, from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "同一就诊人任意连续 {days} 天内最多预约 {limit} 次，{from} 至 {to} 期间已约满。\
         取消其中一个预约后可再预约，或选择其他日期。"
    )
}

fn rolling_en(days: u32, limit: u32, from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "A patient may hold at most {limit} bookings in any {days} consecutive days, and \
         {from} to {to} is full. You can book again after cancelling one of them, or choose \
         another date."
    )
}

/// A rule's refusal as the booking service and the gateway see it: `code` for the error body,
/// `available_at` when waiting will help, `detail` for logs, `reason` for anything else.
/// Build one from a [`RefusalReason`]; the three summary fields are derived from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct RuleRefusal {
    pub code: &'static str,
    pub available_at: Option<DateTime<Utc>>,
    pub detail: String,
    pub reason: RefusalReason,
}

impl From<RefusalReason> for RuleRefusal {
    fn from(reason: RefusalReason) -> Self {
        Self {
            code: reason.code(),
            available_at: reason.available_at(),
            detail: reason.detail(),
            reason,
        }
    }
}

impl RuleRefusal {
    /// The patient-facing message, in Chinese or English, saying when they can try again.
    pub fn message(&self, language: Language) -> String {
        self.reason.message(language)
    }
}

/// `Err(refusal)` from a reason, so checks read `return refuse(Reason { .. })`.
pub(crate) fn refuse<T>(reason: RefusalReason) -> Result<T, RuleRefusal> {
    Err(reason.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{date, sh};

    fn every_reason() -> Vec<RefusalReason> {
        use RefusalReason::*;
        let at = sh(2026, 11, 23, 8, 0, 0);
        let d = date(2026, 11, 23);
        vec![
            VisitDatePassed { visit_date: d },
            ScheduleSuspended,
            OutsideBookingWindow {
                window_days: 7,
                opens_at: at,
            },
            NotYetReleased { release_at: at },
            NextDayBookingClosed {
                stopped_at: at,
                reopens_at: Some(at),
            },
            NextDayBookingClosed {
                stopped_at: at,
                reopens_at: None,
            },
            SameDayBookingClosed { opens_at: Some(at) },
            SameDayBookingClosed { opens_at: None },
            SegmentStarted { started_at: at },
            QuotaDepartmentDay {
                limit: 1,
                visit_date: d,
            },
            QuotaVisitDay {
                limit: 2,
                visit_date: d,
            },
            Quota7Days {
                limit: 3,
                from: d,
                to: d,
            },
            Quota90Days {
                limit: 5,
                from: d,
                to: d,
            },
            AccountActiveLimit { limit: 10 },
            BookingSuspended { until: at },
            CancelDeadlinePassed { deadline: at },
            CheckInTooEarly { opens_at: at },
            CheckInTooLate { closed_at: at },
        ]
    }

    #[test]
    fn every_code_is_produced_by_some_reason_and_is_unique() {
        let produced: std::collections::BTreeSet<_> =
            every_reason().iter().map(RefusalReason::code).collect();
        let listed: std::collections::BTreeSet<_> = codes::ALL.iter().copied().collect();
        assert_eq!(produced, listed);
        assert_eq!(listed.len(), codes::ALL.len());
    }

    #[test]
    fn messages_exist_in_both_languages_and_name_the_time_when_there_is_one() {
        for reason in every_reason() {
            let refusal = RuleRefusal::from(reason.clone());
            let zh = refusal.message(Language::Zh);
            let en = refusal.message(Language::En);
            assert!(!zh.is_empty() && !en.is_empty());
            assert_ne!(zh, en);
            if let Some(at) = refusal.available_at {
                let shown = format_shanghai(at);
                assert!(zh.contains(&shown), "{zh}");
                assert!(en.contains(&shown), "{en}");
                assert!(en.contains("Beijing time"), "{en}");
            }
        }
    }

    #[test]
    fn times_are_shown_in_beijing_time() {
        // 00:00 UTC on the 23rd is 08:00 in Shanghai.
        let refusal = RuleRefusal::from(RefusalReason::NotYetReleased {
            release_at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 0, 0, 0).unwrap(),
        });
        assert_eq!(refusal.code, "NOT_YET_RELEASED");
        assert_eq!(
            refusal.message(Language::Zh),
            "号源尚未放出，可于 2026-11-23 08:00 起预约。"
        );
        assert_eq!(
            refusal.message(Language::En),
            "These slots are not released yet. You can book from 2026-11-23 08:00 (Beijing time)."
        );
        assert!(refusal.to_string().starts_with("NOT_YET_RELEASED: "));
        assert!(refusal.detail.contains("2026-11-23T00:00:00+00:00"));
    }
}
