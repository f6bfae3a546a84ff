//! Fault tests against private servers: Redis flushed or restarted under a running gateway,
//! then `guahao reconcile` (and a restart) rebuild the inventory from the database.

use e2e::{Api, Gateway, GatewayOptions, Mock, PrivatePostgres, PrivateRedis, place_of};
use serde_json::json;
use std::process::Command;

/// A patient logged in as `mock-fault-{n}` with a patient record: `(token, patient id)`.
async fn login_and_patient(api: &Api, n: u32) -> (String, String) {
    let token = api.login("wechat", &format!("mock-fault-{n}")).await;
    let patient = api
        .add_patient(&token, "Fault Test", &format!("E5{n:07}"))
        .await;
    (token, patient)
}

#[tokio::test]
async fn a_flushed_redis_is_rebuilt_by_reconcile() {
    let postgres = PrivatePostgres::start();
    let redis = PrivateRedis::start();
    let mock = Mock::start().await;
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(postgres.url()),
        redis_url: Some(redis.url()),
        seed_demo: true,
        extra_env: mock.env_with(Vec::new()),
    })
    .await;
    let api = Api::new(&gateway);
    let hospital = api.hospital_id(0).await;
    let department = api.first_department(&hospital).await;
    let schedules = api
        .bookable_schedules(&format!("department_id={department}"))
        .await;
    let (schedule_id, segment_id) = place_of(schedules.first().expect("a bookable schedule"));

    for n in 0..2 {
        let (token, patient) = login_and_patient(&api, n).await;
        let (status, _, _) = api
            .book(
                &token,
                Some(&format!("fault-{n}")),
                &json!({"schedule_id": schedule_id, "segment_id": segment_id, "patient_id": patient, "channel": "wechat"}),
            )
            .await;
        assert_eq!(status, 201);
    }

    // Redis loses everything.
    let flushed = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "FLUSHALL"])
        .output()
        .unwrap();
    assert!(flushed.status.success());

    let output = gateway.command(&["reconcile"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("missing"),
        "the report names the lost schedules: {stdout}"
    );
    let again = gateway.command(&["reconcile"]);
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.contains("0 drifted"),
        "a second run finds nothing: {again}"
    );

    // A third patient books against the rebuilt inventory; the two holds are still counted.
    let (token, patient) = login_and_patient(&api, 2).await;
    let (status, _, _) = api
        .book(
            &token,
            Some("fault-2"),
            &json!({"schedule_id": schedule_id, "segment_id": segment_id, "patient_id": patient, "channel": "wechat"}),
        )
        .await;
    assert_eq!(status, 201);
    // Computed rather than scanned for: when the killed gateway's uncommitted holds took every
    // slot, no booking is live, reconcile empties the hash and Redis deletes the key.
    let holders_key = format!("guahao:inv:{{{schedule_id}}}:holders");
    let count = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "HLEN", &holders_key])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        "3",
        "all three holds are in Redis"
    );

    // Redis restarts empty while the gateway is down: the restarted gateway reconciles on start.
    drop(gateway);
    let mut redis = redis;
    redis.stop();
    redis.resume();
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(postgres.url()),
        redis_url: Some(redis.url()),
        seed_demo: false,
        extra_env: mock.env_with(Vec::new()),
    })
    .await;
    assert!(
        gateway.log().contains("inventory drift repaired"),
        "the start-up reconcile reports the drift"
    );
    let count = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "HLEN", &holders_key])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        "3",
        "the holds are back after the restart"
    );
}

#[tokio::test]
async fn bookings_answer_503_while_postgresql_is_down_and_leave_no_hold() {
    let mut postgres = PrivatePostgres::start();
    let redis = PrivateRedis::start();
    let mock = Mock::start().await;
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(postgres.url()),
        redis_url: Some(redis.url()),
        seed_demo: true,
        extra_env: mock.env_with(Vec::new()),
    })
    .await;
    let api = Api::new(&gateway);
    let (token, patient) = login_and_patient(&api, 40).await;
    let hospital = api.hospital_id(1).await;
    let schedules = api
        .bookable_schedules(&format!("hospital_id={hospital}"))
        .await;
    let schedule = schedules.first().expect("a bookable schedule");
    let (schedule_id, segment_id) = place_of(schedule);
    let body = json!({"schedule_id": schedule_id, "segment_id": segment_id, "patient_id": patient, "channel": "wechat"});

    postgres.stop();
    let (status, headers, error) = api.book(&token, Some("pg-down-1"), &body).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(error["error"]["code"], "DATABASE_UNAVAILABLE", "{error}");
    let holders = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "--scan",
            "--pattern",
            "*holders*",
        ])
        .output()
        .unwrap();
    for key in String::from_utf8_lossy(&holders.stdout).lines() {
        let count = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "HLEN", key])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&count.stdout).trim(),
            "0",
            "no hold left in {key}"
        );
    }

    // Back up: the same Idempotency-Key now books (a 503 is not remembered as the answer).
    postgres.resume();
    let mut status = 0;
    for _ in 0..50 {
        (status, _, _) = api.book(&token, Some("pg-down-1"), &body).await;
        if status != 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 201);
}

/// Two gateway processes share PostgreSQL and Redis; patients rush one small segment through
/// both; one gateway is killed with SIGKILL in the middle. No oversell, no duplicate, and after
/// `guahao reconcile` Redis holds exactly the database's bookings.
#[tokio::test]
async fn two_gateways_and_a_sigkill_during_a_rush() {
    use sea_orm::{ConnectionTrait, Database};
    let postgres = PrivatePostgres::start();
    let redis = PrivateRedis::start();
    let mock = Mock::start().await;
    let options = |seed| GatewayOptions {
        database_url: Some(postgres.url()),
        redis_url: Some(redis.url()),
        seed_demo: seed,
        extra_env: mock.env_with(Vec::new()),
    };
    let first = Gateway::start_with(options(true)).await;
    let second = Gateway::start_with(options(false)).await;
    let api = Api::new(&first);
    let base_a = first.base_url.clone();
    let base_b = second.base_url.clone();

    let hospital = api.hospital_id(2).await;
    let schedules = api
        .bookable_schedules(&format!("hospital_id={hospital}"))
        .await;
    let (schedule_id, segment_id) = place_of(schedules.first().expect("a bookable schedule"));
    let db = Database::connect(postgres.url()).await.unwrap();
    db.execute_unprepared(&format!(
        "UPDATE schedule_segments SET capacity = 5 WHERE id = '{segment_id}'"
    ))
    .await
    .unwrap();
    // Both gateways loaded the old capacity at start: bring Redis in line before the rush.
    assert!(first.command(&["reconcile"]).status.success());

    let mut people = Vec::new();
    for n in 0..40 {
        people.push(login_and_patient(&api, 100 + n).await);
    }
    let tasks: Vec<_> = people
        .into_iter()
        .enumerate()
        .map(|(i, (token, patient))| {
            let http = api.http.clone();
            let base = if i % 2 == 0 { base_a.clone() } else { base_b.clone() };
            let body = json!({"schedule_id": schedule_id, "segment_id": segment_id, "patient_id": patient, "channel": "wechat"});
            tokio::spawn(async move {
                http.post(format!("{base}/api/v1/bookings"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("rush-{i}"))
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .ok()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    drop(first); // SIGKILL in the middle of the rush
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap());
    }
    let held_via_http = answered.iter().filter(|s| **s == Some(201)).count();
    assert!(held_via_http <= 5, "{answered:?}");
    assert!(
        answered
            .iter()
            .all(|s| s.is_none() || matches!(s, Some(201 | 409))),
        "only holds, sold-out answers or dropped connections: {answered:?}"
    );

    let live: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT COUNT(*) AS n FROM bookings WHERE segment_id = '{segment_id}' AND status IN ('pending_payment','confirmed','checked_in')"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    let booked: i32 = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT booked FROM schedule_segments WHERE id = '{segment_id}'"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "booked")
        .unwrap();
    assert!(live <= 5, "no oversell: {live}");
    assert_eq!(
        live, booked as i64,
        "the capacity count matches the bookings"
    );
    assert!(live as usize >= held_via_http);

    let output = second.command(&["reconcile"]);
    assert!(output.status.success());
    // Built, not scanned: when the killed gateway had taken every place in Redis before any
    // booking reached the database, `live` is 0 and Redis drops the then-empty hash.
    let holders_key = format!("guahao:inv:{{{schedule_id}}}:holders");
    let count = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "HLEN", &holders_key])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        live.to_string(),
        "no stray holds after reconcile"
    );
    let remaining = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "HGET",
            &format!("guahao:inv:{{{schedule_id}}}:remaining"),
            &segment_id,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&remaining.stdout).trim(),
        (5 - live).to_string(),
        "the places the killed gateway held are given back"
    );
}
