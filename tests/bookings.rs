//! Booking over HTTP: hold a place with an Idempotency-Key, read it back, cancel it; on SQLite +
//! in-process stores and on PostgreSQL + Redis.

use e2e::{
    Api, Gateway, GatewayOptions, Mock, bookable_segment_of, own_redis_keys, shared_servers,
};
use serde_json::json;

/// A bookable schedule of the first department of the first hospital, and a segment with room:
/// `(department, schedule, segment, remaining)`.
async fn bookable_segment(api: &Api) -> (String, String, String, u64) {
    let hospital = api.hospital_id(0).await;
    let department = api.first_department(&hospital).await;
    let schedules = api
        .bookable_doctor_schedules(&format!("department_id={department}"))
        .await;
    let schedule = schedules
        .first()
        .expect("a bookable doctor's schedule in the demo data");
    let segment = bookable_segment_of(schedule);
    (
        department,
        schedule["id"].as_str().unwrap().to_owned(),
        segment["id"].as_str().unwrap().to_owned(),
        segment["remaining"].as_u64().unwrap(),
    )
}

async fn places_left(api: &Api, department: &str, schedule_id: &str, segment_id: &str) -> u64 {
    let schedules = api.schedules(&format!("department_id={department}")).await;
    let schedule = schedules.iter().find(|s| s["id"] == schedule_id).unwrap();
    schedule["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == segment_id)
        .unwrap()["remaining"]
        .as_u64()
        .unwrap()
}

async fn journey(api: &Api) {
    let alice = api.login("wechat", "mock-booker-alice").await;
    let bob = api.login("wechat", "mock-booker-bob").await;
    let alice_patient = api.add_patient(&alice, "Test Patient", "E77000001").await;
    let (department, schedule, segment, remaining) = bookable_segment(api).await;
    let body = json!({"schedule_id": schedule, "segment_id": segment, "patient_id": alice_patient, "channel": "wechat"});

    let (status, _, refused) = api.book(&alice, None, &body).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("IDEMPOTENCY_KEY_REQUIRED")),
        "{refused}"
    );

    let (status, _, booking) = api.book(&alice, Some("attempt-1"), &body).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["status"], "pending_payment");
    assert_eq!(booking["out_trade_no"].as_str().unwrap().len(), 32);
    for key in [
        "id",
        "out_trade_no",
        "amount_fen",
        "hold_expires_at",
        "payment",
    ] {
        assert!(booking.get(key).is_some(), "{key} missing: {booking}");
    }
    assert_eq!(
        places_left(api, &department, &schedule, &segment).await,
        remaining - 1,
        "the place is taken"
    );

    // The same key and body: the first answer again, nothing new held.
    let (status, headers, replay) = api.book(&alice, Some("attempt-1"), &body).await;
    assert_eq!(status, 201);
    assert_eq!(replay, booking);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(
        places_left(api, &department, &schedule, &segment).await,
        remaining - 1
    );
    // The same key with another body is refused.
    let other = json!({"schedule_id": schedule, "segment_id": segment, "patient_id": alice_patient, "channel": "alipay"});
    let (status, _, refused) = api.book(&alice, Some("attempt-1"), &other).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{refused}"
    );
    // A new key for the same patient and schedule: already booked.
    let (status, _, refused) = api.book(&alice, Some("attempt-2"), &body).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("ALREADY_BOOKED")),
        "{refused}"
    );
    // Bob cannot book for Alice's patient.
    let (status, _, refused) = api.book(&bob, Some("bob-1"), &body).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (404, Some("PATIENT_NOT_FOUND")),
        "{refused}"
    );

    let id = booking["id"].as_str().unwrap();
    let (status, mine) = api.get("/api/v1/bookings", Some(&alice)).await;
    assert_eq!(status, 200);
    assert_eq!(mine["items"][0]["id"], id);
    let (status, theirs) = api.get(&format!("/api/v1/bookings/{id}"), Some(&bob)).await;
    assert_eq!(
        (status, theirs["error"]["code"].as_str()),
        (404, Some("BOOKING_NOT_FOUND"))
    );
    let (status, _) = api.cancel(&bob, id).await;
    assert_eq!(status, 404, "another account's booking is 404");

    let (status, cancelled) = api.cancel(&alice, id).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        places_left(api, &department, &schedule, &segment).await,
        remaining,
        "the place is back"
    );
    let (status, again) = api.cancel(&alice, id).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("BOOKING_NOT_CANCELLABLE"))
    );
}

async fn start(mock: &Mock, database_url: Option<String>, redis_url: Option<String>) -> Gateway {
    Gateway::start_with(GatewayOptions {
        database_url,
        redis_url,
        seed_demo: true,
        extra_env: mock.env_with(vec![own_redis_keys("guahao-e2e-bk")]),
    })
    .await
}

#[tokio::test]
async fn booking_on_sqlite_with_in_process_stores() {
    let mock = Mock::start().await;
    let gateway = start(&mock, None, None).await;
    journey(&Api::new(&gateway)).await;
}

#[tokio::test]
async fn booking_on_postgresql_with_redis() {
    let Some((database, redis_url)) = shared_servers().await else {
        return;
    };
    let mock = Mock::start().await;
    let gateway = start(&mock, Some(database.url.clone()), Some(redis_url)).await;
    journey(&Api::new(&gateway)).await;
}
