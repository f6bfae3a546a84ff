//! Catalog types as the domain sees them: names in both languages, enums instead of strings.

use super::entity::{department, doctor, hospital, schedule, schedule_segment};
use crate::money::Fen;
use crate::rules::{RuleSet, ScheduleFacts, check_bookable};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// The languages catalog text is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    pub fn tag(self) -> &'static str {
        match self {
            Language::Zh => "zh-CN",
            Language::En => "en",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

impl Bilingual {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }
}

/// Declares a closed set of values stored as snake_case text, with its (de)serialization.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }
    };
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{value:?} is not a known {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

text_enum!(
    /// Grade under the national hospital grading scheme (医院等级).
    HospitalLevel {
        TertiaryA => "tertiary_a",
        Tertiary => "tertiary",
        Secondary => "secondary",
        Community => "community",
    }
);

text_enum!(
    /// Professional title (职称); it sets the fee tier.
    DoctorTitle {
        ChiefPhysician => "chief_physician",
        AssociateChiefPhysician => "associate_chief_physician",
        AttendingPhysician => "attending_physician",
        ResidentPhysician => "resident_physician",
    }
);

text_enum!(
    /// Half-day a schedule covers.
    Period {
        Morning => "morning",
        Afternoon => "afternoon",
        Evening => "evening",
    }
);

text_enum!(
    /// `suspended` is 停诊: the hospital cancelled the session.
    ScheduleStatus {
        Open => "open",
        Suspended => "suspended",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hospital {
    pub id: Uuid,
    pub code: String,
    pub name: Bilingual,
    pub level: HospitalLevel,
    pub address: Bilingual,
    pub phone: String,
    pub emergency_24h: bool,
    pub intro: Bilingual,
}

impl TryFrom<hospital::Model> for Hospital {
    type Error = UnknownValue;

    fn try_from(m: hospital::Model) -> Result<Self, UnknownValue> {
        Ok(Self {
            id: m.id,
            code: m.code,
            name: Bilingual::new(m.name_zh, m.name_en),
            level: m.level.parse()?,
            address: Bilingual::new(m.address_zh, m.address_en),
            phone: m.phone,
            emergency_24h: m.emergency_24h,
            intro: Bilingual::new(m.intro_zh, m.intro_en),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub code: String,
    pub name: Bilingual,
    pub intro: Bilingual,
}

impl TryFrom<department::Model> for Department {
    type Error = UnknownValue;

    fn try_from(m: department::Model) -> Result<Self, UnknownValue> {
        Ok(Self {
            id: m.id,
            hospital_id: m.hospital_id,
            code: m.code,
            name: Bilingual::new(m.name_zh, m.name_en),
            intro: Bilingual::new(m.intro_zh, m.intro_en),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doctor {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
    pub code: String,
    pub name: Bilingual,
    pub title: DoctorTitle,
    pub specialty: Bilingual,
}

impl TryFrom<doctor::Model> for Doctor {
    type Error = UnknownValue;

    fn try_from(m: doctor::Model) -> Result<Self, UnknownValue> {
        Ok(Self {
            id: m.id,
            hospital_id: m.hospital_id,
            department_id: m.department_id,
            code: m.code,
            name: Bilingual::new(m.name_zh, m.name_en),
            title: m.title.parse()?,
            specialty: Bilingual::new(m.specialty_zh, m.specialty_en),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: Uuid,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub capacity: u32,
    pub remaining: u32,
    /// Whether a booking attempt for this segment could succeed now: places left and the
    /// booking rules in force allow it (released, inside the window, before the next-day stop,
    /// not started).
    pub bookable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: Uuid,
    pub hospital_id: Uuid,
    pub department_id: Uuid,
    /// `None` for a department's general clinic (普通门诊).
    pub doctor_id: Option<Uuid>,
    pub date: NaiveDate,
    pub period: Period,
    pub fee: Fen,
    pub release_at: DateTime<Utc>,
    pub status: ScheduleStatus,
    pub bookable: bool,
    pub segments: Vec<Segment>,
}

impl Schedule {
    /// `remaining` is what the public may still book: capacity less places taken and places
    /// reserved for referrals. A segment is `bookable` when it has places left and `rules` (the
    /// set in force for this schedule) allow booking it at `now`; the schedule is `bookable`
    /// when one of its segments is, so the list never offers what a booking would refuse.
    pub(crate) fn from_rows(
        row: schedule::Model,
        segments: Vec<schedule_segment::Model>,
        rules: &RuleSet,
        now: DateTime<Utc>,
    ) -> Result<Self, UnknownValue> {
        let status: ScheduleStatus = row.status.parse()?;
        let segments: Vec<Segment> = segments
            .into_iter()
            .map(|s| {
                let remaining = (s.capacity - s.booked - s.reserved).max(0) as u32;
                let facts = ScheduleFacts {
                    visit_date: row.visit_date,
                    status,
                    release_at: row.release_at,
                    segment_start: s.start_time,
                };
                Segment {
                    id: s.id,
                    start_time: s.start_time,
                    end_time: s.end_time,
                    capacity: s.capacity.max(0) as u32,
                    remaining,
                    bookable: remaining > 0 && check_bookable(rules, now, &facts).is_ok(),
                }
            })
            .collect();
        Ok(Self {
            id: row.id,
            hospital_id: row.hospital_id,
            department_id: row.department_id,
            doctor_id: row.doctor_id,
            date: row.visit_date,
            period: row.period.parse()?,
            fee: Fen(row.fee_fen),
            release_at: row.release_at,
            status,
            bookable: segments.iter().any(|s| s.bookable),
            segments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(status: &str, release_at: DateTime<Utc>) -> schedule::Model {
        let now = Utc::now();
        schedule::Model {
            id: Uuid::now_v7(),
            hospital_id: Uuid::now_v7(),
            department_id: Uuid::now_v7(),
            doctor_id: None,
            visit_date: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            period: "morning".into(),
            fee_fen: 5000,
            release_at,
            status: status.into(),
            status_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn segment(capacity: i32, booked: i32, reserved: i32) -> schedule_segment::Model {
        schedule_segment::Model {
            id: Uuid::now_v7(),
            schedule_id: Uuid::nil(),
            start_time: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            capacity,
            booked,
            reserved,
        }
    }

    #[test]
    fn bookable_needs_release_room_open_status_and_the_rules() {
        let rules = RuleSet::default();
        let release = Utc.with_ymd_and_hms(2026, 11, 18, 0, 0, 0).unwrap(); // 08:00 Shanghai
        let before_release = release - chrono::Duration::seconds(1);
        // The visit (2026-11-25, 08:00–09:00) is tomorrow from 2026-11-24; booking for tomorrow
        // stops at 17:00 Shanghai (09:00 UTC).
        let next_day_stop = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        let schedule = |status, segments, now| {
            Schedule::from_rows(row(status, release), segments, &rules, now).unwrap()
        };

        let ok = schedule("open", vec![segment(5, 2, 1)], release);
        assert!(ok.bookable && ok.segments[0].bookable);
        assert_eq!(ok.segments[0].remaining, 2);

        assert!(!schedule("open", vec![segment(5, 2, 0)], before_release).bookable);
        assert!(!schedule("suspended", vec![segment(5, 0, 0)], release).bookable);
        let full = schedule("open", vec![segment(5, 4, 1)], release);
        assert!(!full.bookable && !full.segments[0].bookable);
        let second = next_day_stop - chrono::Duration::seconds(1);
        assert!(schedule("open", vec![segment(5, 0, 0)], second).bookable);
        let closed = schedule("open", vec![segment(5, 0, 0)], next_day_stop);
        assert!(!closed.bookable && !closed.segments[0].bookable);
    }

    #[test]
    fn text_enums_round_trip_and_refuse_strangers() {
        for level in HospitalLevel::ALL {
            assert_eq!(level.as_str().parse::<HospitalLevel>(), Ok(*level));
        }
        assert!("grade_z".parse::<HospitalLevel>().is_err());
    }
}
