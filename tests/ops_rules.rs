//! Operators over HTTP: publishing rule-set versions, and reading and lifting a patient's no-show
//! suspension, with the roles, hospital scoping, refusals and audit rows each needs; on SQLite +
//! in-process stores and on PostgreSQL + Redis.

use e2e::{Api, Gateway, GatewayOptions, Mock, code_of, own_redis_keys, place_of, shared_servers};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const PASSWORD: &str = "rules-and-lifts-Pa55";

/// The demo hospital with this code, and the first of its departments.
async fn hospital(api: &Api, code: &str) -> (String, String) {
    let hospital = api.hospital_with_code(code).await;
    let department = api.first_department(&hospital).await;
    (hospital, department)
}

/// Two bookable doctors' schedules of the department: `(schedule_id, segment_id)` each.
async fn two_bookable(api: &Api, department: &str) -> [(String, String); 2] {
    let schedules = api
        .bookable_doctor_schedules(&format!("department_id={department}"))
        .await;
    let mut bookable = schedules.iter().map(place_of);
    [
        bookable.next().expect("a bookable schedule"),
        bookable.next().expect("a second bookable schedule"),
    ]
}

fn rfc3339_from_now(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

async fn audit_count(db: &DatabaseConnection, action: &str) -> i64 {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_string(
        backend,
        format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

async fn publishing_rule_sets(api: &Api, db: &DatabaseConnection) {
    let admin = api.operator_token("rules-chief", PASSWORD).await;
    let desk = api.operator_token("desk-dcfh", PASSWORD).await;
    let auditor = api.operator_token("auditor-all", PASSWORD).await;
    let (hospital, department) = hospital(api, "DCFH").await;
    let publish = |scope: &str, scope_id: &str, effective_from: String, rules: Value| json!({"scope": scope, "scope_id": scope_id, "effective_from": effective_from, "rules": rules});

    // Refusals, each with its own code.
    let hold_15 = json!({"hold_minutes": 15});
    for (token, body, status, code) in [
        (
            &desk,
            publish(
                "hospital",
                &hospital,
                rfc3339_from_now(3600),
                hold_15.clone(),
            ),
            403,
            "FORBIDDEN_ROLE",
        ),
        (
            &admin,
            publish(
                "hospital",
                &hospital,
                rfc3339_from_now(-60),
                hold_15.clone(),
            ),
            400,
            "EFFECTIVE_FROM_IN_PAST",
        ),
        (
            &admin,
            publish(
                "hospital",
                &hospital,
                rfc3339_from_now(3600),
                json!({"hold_minutes": 0}),
            ),
            400,
            "RULES_INVALID",
        ),
        (
            &admin,
            publish(
                "department",
                &hospital,
                rfc3339_from_now(3600),
                hold_15.clone(),
            ),
            404,
            "DEPARTMENT_NOT_FOUND",
        ),
        (
            &admin,
            publish("clinic", &hospital, rfc3339_from_now(3600), hold_15.clone()),
            400,
            "INVALID_JSON",
        ),
    ] {
        let (got, answer) = api
            .post("/api/v1/ops/rules", Some(token), body.clone())
            .await;
        assert_eq!((got, code_of(&answer)), (status, code), "{body}: {answer}");
    }

    // Two versions appended: the hospital's from in an hour, the department's from in two.
    let (status, v1) = api
        .post(
            "/api/v1/ops/rules",
            Some(&admin),
            publish("hospital", &hospital, rfc3339_from_now(3600), hold_15),
        )
        .await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(v1["version_label"], format!("hospital:{hospital}:v1"));
    assert_eq!(v1["standing"], "scheduled");
    assert_eq!(v1["rules"]["hold_minutes"], 15);
    assert_eq!(v1["rules"]["release_time"], "08:00", "defaults filled in");
    let (status, d1) = api
        .post(
            "/api/v1/ops/rules",
            Some(&admin),
            publish(
                "department",
                &department,
                rfc3339_from_now(7200),
                json!({"no_show_ladder_days": [0, 30]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{d1}");
    assert_eq!(d1["version_label"], format!("department:{department}:v1"));

    // Read back, newest first; an operator of every hospital names the hospital.
    let (status, listed) = api.get("/api/v1/ops/rules", Some(&auditor)).await;
    assert_eq!(
        (status, code_of(&listed)),
        (400, "MISSING_PARAMETER"),
        "{listed}"
    );
    let (status, listed) = api
        .get(
            &format!("/api/v1/ops/rules?hospital_id={hospital}"),
            Some(&auditor),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let labels: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version_label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            d1["version_label"].as_str().unwrap(),
            v1["version_label"].as_str().unwrap()
        ]
    );
    assert_eq!(listed["next_cursor"], Value::Null);
    // A hospital's own operator needs no parameter.
    let (status, own) = api.get("/api/v1/ops/rules", Some(&desk)).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["items"].as_array().unwrap().len(), 2);
    assert_eq!(audit_count(db, "rules.publish").await, 2);
}

async fn lifting_a_suspension(api: &Api, db: &DatabaseConnection) {
    let desk = api.operator_token("desk-dcfh", PASSWORD).await;
    let auditor = api.operator_token("auditor-all", PASSWORD).await;
    let far = api.operator_token("desk-far", PASSWORD).await;
    let (_, department) = hospital(api, "DCFH").await;
    let [first, second] = two_bookable(api, &department).await;

    let erin = api.login("wechat", "mock-suspended-erin").await;
    let patient_id = api.add_patient(&erin, "Erin Test", "E55000001").await;
    let book = |(schedule, segment): &(String, String)| json!({"schedule_id": schedule, "segment_id": segment, "patient_id": patient_id, "channel": "wechat"});
    let (status, _, booking) = api.book(&erin, Some("erin-first"), &book(&first)).await;
    assert_eq!(status, 201, "{booking}");
    let suspension_path = format!("/api/v1/ops/patients/{patient_id}/suspension");
    let lift_path = format!("{suspension_path}/lift");

    // Nothing to lift yet.
    let (status, body) = api.get(&suspension_path, Some(&auditor)).await;
    assert_eq!((status, &body["suspended"]), (200, &json!(false)), "{body}");
    let (status, body) = api
        .post(&lift_path, Some(&desk), json!({"reason": "just in case"}))
        .await;
    assert_eq!((status, code_of(&body)), (409, "NOT_SUSPENDED"), "{body}");

    // The no-show marker waits for the check-in window to close, hours away on the real clock:
    // the test marks the visit missed the way the marker does, by its status.
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "UPDATE bookings SET status = 'no_show' WHERE out_trade_no = $1"
            }
            _ => "UPDATE bookings SET status = 'no_show' WHERE out_trade_no = ?",
        },
        [booking["out_trade_no"].as_str().unwrap().into()],
    ))
    .await
    .unwrap();

    let (status, seen) = api.get(&suspension_path, Some(&auditor)).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["suspended"], true, "{seen}");
    assert_eq!(seen["follows_no_show"], booking["id"]);
    assert_eq!(seen["no_shows"][0]["booking_id"], booking["id"]);
    assert_eq!(seen["no_shows"][0]["nth_in_year"], 1);
    assert_eq!(seen["no_shows"][0]["rule_version"], "default:v1");
    assert_eq!(seen["no_shows"][0]["lifted"], false);
    let until =
        chrono::DateTime::parse_from_rfc3339(seen["suspended_until"].as_str().unwrap()).unwrap();
    let thirty_days = chrono::Utc::now() + chrono::Duration::days(30);
    assert!(
        (thirty_days - until.to_utc()).num_minutes().abs() < 10,
        "30 days from the no-show: {until}"
    );
    let (status, _, refused) = api
        .book(&erin, Some("erin-suspended"), &book(&second))
        .await;
    assert_eq!(
        (status, code_of(&refused)),
        (409, "BOOKING_SUSPENDED"),
        "{refused}"
    );

    // Who may not, and what is refused.
    for (path, token, body, status, code) in [
        (
            &lift_path,
            &auditor,
            json!({"reason": "ok"}),
            403,
            "FORBIDDEN_ROLE",
        ),
        (
            &lift_path,
            &desk,
            json!({"reason": "  "}),
            400,
            "LIFT_REASON_REQUIRED",
        ),
        (
            &lift_path,
            &desk,
            json!({"reason": "x".repeat(501)}),
            400,
            "LIFT_REASON_TOO_LONG",
        ),
        (
            &lift_path,
            &far,
            json!({"reason": "ok"}),
            404,
            "PATIENT_NOT_FOUND",
        ),
        (
            &"/api/v1/ops/patients/not-a-uuid/suspension/lift".to_owned(),
            &desk,
            json!({"reason": "ok"}),
            404,
            "PATIENT_NOT_FOUND",
        ),
    ] {
        let (got, answer) = api.post(path, Some(token), body.clone()).await;
        assert_eq!(
            (got, code_of(&answer)),
            (status, code),
            "{path} {body}: {answer}"
        );
    }
    let (status, body) = api.get(&suspension_path, Some(&far)).await;
    assert_eq!(
        (status, code_of(&body)),
        (404, "PATIENT_NOT_FOUND"),
        "{body}"
    );
    assert_eq!(audit_count(db, "suspension.lift").await, 0);

    // Lifted once, with its reason and an audit row; booking works again.
    let (status, lift) = api
        .post(
            &lift_path,
            Some(&desk),
            json!({"reason": "Admitted to the emergency ward that morning"}),
        )
        .await;
    assert_eq!(status, 200, "{lift}");
    assert_eq!(lift["no_show_booking_id"], booking["id"]);
    assert_eq!(lift["suspended_until"], seen["suspended_until"]);
    assert_eq!(
        lift["reason"],
        "Admitted to the emergency ward that morning"
    );
    let (status, body) = api
        .post(&lift_path, Some(&desk), json!({"reason": "twice"}))
        .await;
    assert_eq!((status, code_of(&body)), (409, "NOT_SUSPENDED"), "{body}");
    assert_eq!(audit_count(db, "suspension.lift").await, 1);
    let (status, seen) = api.get(&suspension_path, Some(&auditor)).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["suspended"], false);
    assert_eq!(seen["no_shows"][0]["lifted"], true);
    assert_eq!(seen["lifts"][0]["id"], lift["id"]);
    let (status, _, rebooked) = api.book(&erin, Some("erin-lifted"), &book(&second)).await;
    assert_eq!(status, 201, "{rebooked}");
}

async fn start(mock: &Mock, database_url: String, redis_url: Option<String>) -> Gateway {
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(database_url),
        redis_url,
        seed_demo: true,
        extra_env: mock.env_with(vec![own_redis_keys("guahao-e2e-rules")]),
    })
    .await;
    gateway.create_operator("rules-chief", "admin", None, PASSWORD);
    gateway.create_operator("auditor-all", "auditor", None, PASSWORD);
    gateway.create_operator("desk-dcfh", "operator", Some("DCFH"), PASSWORD);
    gateway.create_operator("desk-far", "operator", Some("DHCHC"), PASSWORD);
    gateway
}

async fn journey(gateway: &Gateway, database_url: &str) {
    let api = Api::new(gateway);
    let db = Database::connect(database_url).await.unwrap();
    publishing_rule_sets(&api, &db).await;
    lifting_a_suspension(&api, &db).await;
}

#[tokio::test]
async fn rules_and_lifts_on_sqlite_with_in_process_stores() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/guahao.db?mode=rwc", dir.path().display());
    let mock = Mock::start().await;
    let gateway = start(&mock, url.clone(), None).await;
    journey(&gateway, &url).await;
}

#[tokio::test]
async fn rules_and_lifts_on_postgresql_with_redis() {
    let Some((database, redis_url)) = shared_servers().await else {
        return;
    };
    let mock = Mock::start().await;
    let gateway = start(&mock, database.url.clone(), Some(redis_url)).await;
    journey(&gateway, &database.url).await;
}
