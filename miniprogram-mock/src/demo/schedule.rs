//! Choosing where to book: the first time segment the gateway calls `bookable` (places left and
//! the booking rules allow it now).

use serde_json::Value;

/// A place the demo patient can book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub schedule_id: String,
    pub segment_id: String,
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub date: String,
    /// `morning`, `afternoon` or `evening`.
    pub period: String,
    pub start_time: String,
    pub end_time: String,
    pub fee_fen: i64,
    pub remaining: u64,
}

/// The first bookable place among the `items` of one `GET /api/v1/schedules` page; `None` when
/// the page has none (or is not a schedule list).
pub fn first_bookable(page: &Value) -> Option<Place> {
    page["items"]
        .as_array()?
        .iter()
        .filter(|schedule| schedule["bookable"] == true)
        .find_map(place_in)
}

fn place_in(schedule: &Value) -> Option<Place> {
    let segment = schedule["segments"].as_array()?.iter().find(|segment| {
        segment["bookable"] == true && segment["remaining"].as_u64().is_some_and(|n| n > 0)
    })?;
    let text = |value: &Value| value.as_str().map(str::to_owned);
    Some(Place {
        schedule_id: text(&schedule["id"])?,
        segment_id: text(&segment["id"])?,
        date: text(&schedule["date"])?,
        period: text(&schedule["period"])?,
        start_time: text(&segment["start_time"])?,
        end_time: text(&segment["end_time"])?,
        fee_fen: schedule["fee_fen"].as_i64()?,
        remaining: segment["remaining"].as_u64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Segments as `(remaining, bookable)`.
    fn schedule(id: &str, bookable: bool, segments: &[(u64, bool)]) -> Value {
        let segments: Vec<Value> = segments
            .iter()
            .enumerate()
            .map(|(n, (left, open))| {
                json!({"id": format!("{id}-seg{n}"), "start_time": format!("0{}:00", 8 + n),
                       "end_time": format!("0{}:30", 8 + n), "capacity": 10, "remaining": left,
                       "bookable": open})
            })
            .collect();
        json!({"id": id, "hospital_id": "h", "department_id": "d", "doctor_id": null,
               "date": "2026-05-01", "period": "morning", "fee_fen": 1500, "bookable": bookable,
               "status": "open", "segments": segments})
    }

    #[test]
    fn skips_unbookable_schedules_and_segments() {
        let page = json!({"items": [
            schedule("not-released", false, &[(5, false)]),
            schedule("sold-out", true, &[(0, false), (0, false)]),
            schedule("open", true, &[(4, false), (3, true)]),
            schedule("later", true, &[(9, true)]),
        ], "next_cursor": null});
        assert_eq!(
            first_bookable(&page),
            Some(Place {
                schedule_id: "open".into(),
                segment_id: "open-seg1".into(),
                date: "2026-05-01".into(),
                period: "morning".into(),
                start_time: "09:00".into(),
                end_time: "09:30".into(),
                fee_fen: 1500,
                remaining: 3,
            })
        );
    }

    #[test]
    fn nothing_to_book() {
        let full =
            json!({"items": [schedule("sold-out", true, &[(0, false)])], "next_cursor": null});
        assert_eq!(first_bookable(&full), None);
        assert_eq!(first_bookable(&json!({"items": []})), None);
        assert_eq!(first_bookable(&json!({"error": {"code": "X"}})), None);
    }
}
