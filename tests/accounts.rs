//! Sessions, SMS verification and real-name patients end to end: the real gateway against the
//! real mock (WeChat, Alipay and the SMS providers), on SQLite + in-process stores and on
//! PostgreSQL + Redis.

use e2e::{Api, Gateway, GatewayOptions, Mock, code_of, own_redis_keys, shared_servers};
use serde_json::{Value, json};

/// A patient login through `channel` (WeChat or Alipay), checked: `(token, user id)`.
async fn login(api: &Api, channel: &str, code: &str) -> (String, String) {
    let body = api.login_body(channel, code).await;
    assert_eq!(body["user"]["channel"], channel);
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    (
        body["token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The code of the last SMS the mock delivered to `phone`.
async fn latest_code(api: &Api, mock: &Mock, phone: &str) -> String {
    let outbox: Value = api
        .http
        .get(format!("{}/mock/sms/outbox?phone={phone}", mock.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    outbox["items"]
        .as_array()
        .unwrap()
        .last()
        .expect("a message in the outbox")["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn start(
    mock: &Mock,
    database_url: Option<String>,
    redis_url: Option<String>,
    provider: &str,
) -> Gateway {
    let sms_endpoint = format!("{}/sms/{provider}", mock.base_url);
    Gateway::start_with(GatewayOptions {
        database_url,
        redis_url,
        seed_demo: false,
        extra_env: mock.env_with(vec![
            ("GUAHAO__SMS__PROVIDER".into(), provider.into()),
            ("GUAHAO__SMS__ENDPOINT".into(), sms_endpoint),
            own_redis_keys("guahao-e2e"),
        ]),
    })
    .await
}

const ALICE_ID: &str = "11010519491231002X";
/// `auth.jwt_secret` of config/default.toml (development only).
const DEV_JWT_SECRET: &str = "dev-only-jwt-secret-change-me-0123456789abcdef";

async fn journey(api: &Api, mock: &Mock, gateway: &Gateway) {
    // The same code always maps to the same user; both channels work.
    let (alice, alice_id) = login(api, "wechat", "mock-alice").await;
    let (_, again_id) = login(api, "wechat", "mock-alice").await;
    assert_eq!(alice_id, again_id);
    let (bob, bob_id) = login(api, "alipay", "mock-bob").await;
    assert_ne!(alice_id, bob_id);
    let (status, body) = api
        .post(
            "/api/v1/auth/wechat/login",
            None,
            json!({"code": "invalid"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "LOGIN_CODE_INVALID"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/v1/auth/alipay/login",
            None,
            json!({"code": "invalid"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "LOGIN_CODE_INVALID"),
        "{body}"
    );

    // SMS: send, a wrong code, the right code binds the phone, a reused code is refused.
    let phone = "13800138000";
    let (status, body) = api
        .post(
            "/api/v1/sms/send",
            Some(&alice),
            json!({"phone": phone, "purpose": "bind_phone"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["cooldown_s"], 60);
    let code = latest_code(api, mock, phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _, body) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/phone",
            Some(&alice),
            Some(json!({"phone": phone, "code": wrong})),
        )
        .await;
    assert_eq!((status, code_of(&body)), (400, "SMS_CODE_WRONG"), "{body}");
    let (status, _, body) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/phone",
            Some(&alice),
            Some(json!({"phone": phone, "code": code})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], "138****8000");
    let (_, _, me) = api
        .call(reqwest::Method::GET, "/api/v1/me", Some(&alice), None)
        .await;
    assert_eq!(me["phone"], "138****8000");
    let (status, _, body) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/phone",
            Some(&alice),
            Some(json!({"phone": phone, "code": code})),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "SMS_CODE_USED"),
        "a used code: {body}"
    );
    let (status, _, body) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/phone",
            Some(&alice),
            Some(json!({"phone": "13900000001", "code": "123456"})),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "SMS_CODE_NOT_SENT"),
        "{body}"
    );
    // A second code within a minute is refused with Retry-After.
    let (status, headers, body) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/sms/send",
            Some(&alice),
            Some(json!({"phone": phone, "purpose": "bind_phone"})),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (429, "SMS_RATE_LIMITED"),
        "{body}"
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    let (status, body) = api
        .post(
            "/api/v1/sms/send",
            Some(&alice),
            json!({"phone": "12345", "purpose": "bind_phone"}),
        )
        .await;
    assert_eq!((status, code_of(&body)), (400, "PHONE_INVALID"), "{body}");

    // Patients.
    let (status, body) = api.post("/api/v1/patients", Some(&alice), json!({"name": "张三", "id_type": "resident_id", "id_number": ALICE_ID, "phone": "13900139000"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id_number"], "110105********002X");
    assert_eq!(body["birth_date"], "1949-12-31");
    assert_eq!(body["sex"], "female");
    assert_eq!(body["phone"], "139****9000");
    let alice_patient = body["id"].as_str().unwrap().to_owned();
    let (status, body) = api
        .post(
            "/api/v1/patients",
            Some(&alice),
            json!({"name": "张三", "id_type": "resident_id", "id_number": ALICE_ID}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (409, "PATIENT_DUPLICATE"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/v1/patients",
            Some(&alice),
            json!({"name": "李四", "id_type": "resident_id", "id_number": "110105194912310021"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "ID_BAD_CHECK_DIGIT"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/api/v1/patients",
            Some(&alice),
            json!({"name": "李四", "id_type": "resident_id", "id_number": "110105199902300012"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "ID_IMPOSSIBLE_BIRTH_DATE"),
        "{body}"
    );
    for (name, passport) in [
        ("Anna Li", "E12345678"),
        ("Ben Li", "E23456789"),
        ("Cai Li", "G34567890"),
        ("Dan Li", "E45678901"),
    ] {
        let (status, body) = api
            .post(
                "/api/v1/patients",
                Some(&alice),
                json!({"name": name, "id_type": "passport", "id_number": passport}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = api
        .post(
            "/api/v1/patients",
            Some(&alice),
            json!({"name": "Sixth", "id_type": "passport", "id_number": "E56789012"}),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (409, "PATIENT_LIMIT_REACHED"),
        "{body}"
    );
    let (_, _, list) = api
        .call(reqwest::Method::GET, "/api/v1/patients", Some(&alice), None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    assert!(list["next_cursor"].is_null());

    // Another account sees none of it: 404, never 403.
    let (status, _, body) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/patients/{alice_patient}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (404, "PATIENT_NOT_FOUND"),
        "{body}"
    );
    let (_, _, bobs) = api
        .call(reqwest::Method::GET, "/api/v1/patients", Some(&bob), None)
        .await;
    assert!(bobs["items"].as_array().unwrap().is_empty());
    let (status, _, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/patients/{alice_patient}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // Tokens: missing, tampered, revoked.
    let (status, headers, body) = api
        .call(reqwest::Method::GET, "/api/v1/patients", None, None)
        .await;
    assert_eq!((status, code_of(&body)), (401, "UNAUTHENTICATED"));
    assert_eq!(headers["www-authenticate"], "Bearer");
    let tampered = format!("{}x", &alice[..alice.len() - 1]);
    let (status, _, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/patients",
            Some(&tampered),
            None,
        )
        .await;
    assert_eq!((status, code_of(&body)), (401, "TOKEN_INVALID"));
    // Tokens minted with the (development) key but the wrong audience, or expired, are refused.
    let mint = |aud: &str, exp_offset: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = json!({"iss": "guahao", "aud": aud, "sub": alice_id, "iat": now, "exp": now + exp_offset,
                            "jti": "01900000-0000-7000-8000-000000000001", "scope": "wechat"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(DEV_JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let (status, _, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/patients",
            Some(&mint("guahao-operator", 600)),
            None,
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (401, "TOKEN_WRONG_AUDIENCE"),
        "{body}"
    );
    let (status, _, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/patients",
            Some(&mint("guahao-patient", -600)),
            None,
        )
        .await;
    assert_eq!((status, code_of(&body)), (401, "TOKEN_EXPIRED"), "{body}");
    let (status, _, _) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/patients",
            Some(&mint("guahao-patient", 600)),
            None,
        )
        .await;
    assert_eq!(
        status, 200,
        "a well-minted token passes, so the refusals above are about aud and exp"
    );

    let (status, _) = api.post("/api/v1/auth/logout", Some(&bob), json!({})).await;
    assert_eq!(status, 204);
    let (status, _, body) = api
        .call(reqwest::Method::GET, "/api/v1/patients", Some(&bob), None)
        .await;
    assert_eq!((status, code_of(&body)), (401, "TOKEN_REVOKED"));

    // Nothing sensitive reached the logs.
    let log = gateway.log();
    for secret in [ALICE_ID, phone, "13900139000", "13700137000", code.as_str()] {
        assert!(!log.contains(secret), "the log contains {secret}");
    }
    assert!(
        log.contains("138****8000"),
        "masked values are logged instead"
    );
}

#[tokio::test]
async fn accounts_on_sqlite_with_in_process_stores_and_aliyun_sms() {
    let mock = Mock::start().await;
    let gateway = start(&mock, None, None, "aliyun").await;
    journey(&Api::new(&gateway), &mock, &gateway).await;
}

#[tokio::test]
async fn accounts_on_postgresql_with_redis_and_tencent_sms() {
    let Some((database, redis_url)) = shared_servers().await else {
        return;
    };
    let mock = Mock::start().await;
    let gateway = start(
        &mock,
        Some(database.url.clone()),
        Some(redis_url),
        "tencent",
    )
    .await;
    journey(&Api::new(&gateway), &mock, &gateway).await;
}
