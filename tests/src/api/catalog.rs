//! Finding something to book in the demo catalog.

use super::Api;
use serde_json::Value;

impl Api {
    /// The hospitals, in the catalog's order.
    pub async fn hospitals(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/v1/hospitals", None).await;
        assert_eq!(status, 200, "{body}");
        items(body)
    }

    /// The id of the `nth` hospital.
    pub async fn hospital_id(&self, nth: usize) -> String {
        id_of(&self.hospitals().await[nth])
    }

    /// The id of the hospital with this code.
    pub async fn hospital_with_code(&self, code: &str) -> String {
        let hospitals = self.hospitals().await;
        let hospital = hospitals
            .iter()
            .find(|h| h["code"] == code)
            .unwrap_or_else(|| panic!("no hospital {code} in the demo data"));
        id_of(hospital)
    }

    /// The id of the hospital's first department.
    pub async fn first_department(&self, hospital: &str) -> String {
        let (status, body) = self
            .get(&format!("/api/v1/hospitals/{hospital}/departments"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        id_of(&body["items"][0])
    }

    /// The first 100 schedules `filter` selects (`department_id=…` or `hospital_id=…`).
    pub async fn schedules(&self, filter: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/schedules?{filter}&limit=100"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        items(body)
    }

    /// Those of [`Api::schedules`] open for booking.
    pub async fn bookable_schedules(&self, filter: &str) -> Vec<Value> {
        let mut schedules = self.schedules(filter).await;
        schedules.retain(|s| s["bookable"] == true);
        schedules
    }

    /// Those of [`Api::bookable_schedules`] that name a doctor.
    pub async fn bookable_doctor_schedules(&self, filter: &str) -> Vec<Value> {
        let mut schedules = self.bookable_schedules(filter).await;
        schedules.retain(|s| s["doctor_id"].is_string());
        schedules
    }
}

/// Where to book on a schedule: `(schedule_id, segment_id)` of its first bookable segment.
pub fn place_of(schedule: &Value) -> (String, String) {
    (id_of(schedule), id_of(bookable_segment_of(schedule)))
}

/// The first segment of `schedule` that the catalog calls bookable now.
pub fn bookable_segment_of(schedule: &Value) -> &Value {
    schedule["segments"]
        .as_array()
        .and_then(|segments| segments.iter().find(|s| s["bookable"] == true))
        .expect("a schedule with a bookable segment")
}

fn items(mut page: Value) -> Vec<Value> {
    match page["items"].take() {
        Value::Array(items) => items,
        other => panic!("a page of items, not {other}"),
    }
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().expect("an item with an id").to_owned()
}
