//! The catalog tour over real HTTP, on SQLite with in-process stores and on PostgreSQL with Redis.

use e2e::{Gateway, GatewayOptions, shared_servers};
use serde_json::Value;

async fn get(
    client: &reqwest::Client,
    url: &str,
    language: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client
        .get(url)
        .header("Accept-Language", language)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap();
    (status, headers, body)
}

fn first_id(body: &Value) -> String {
    body["items"][0]["id"]
        .as_str()
        .expect("an item with an id")
        .to_owned()
}

/// Hospital → departments → doctors → schedules, in both languages.
async fn catalog_tour(gateway: &Gateway) {
    let client = reqwest::Client::new();
    let (status, headers, zh) =
        get(&client, &gateway.url("/api/v1/hospitals"), "zh-CN,zh;q=0.9").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-language"], "zh-CN");
    assert!(headers.contains_key("x-request-id"));
    let (_, headers, en) = get(&client, &gateway.url("/api/v1/hospitals"), "en-US,en;q=0.9").await;
    assert_eq!(headers["content-language"], "en");
    let items = zh["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(zh["next_cursor"].is_null());
    assert_eq!(zh["items"][0]["id"], en["items"][0]["id"]);
    assert_eq!(zh["items"][0]["name"], "示例市第一人民医院");
    assert_eq!(en["items"][0]["name"], "Demo City First People's Hospital");
    assert_eq!(zh["items"][0]["level_label"], "三级甲等");
    assert_eq!(en["items"][0]["level_label"], "Tertiary Grade A");
    assert!(items.iter().any(|h| h["emergency_24h"] == true));
    assert!(items.iter().any(|h| h["level"] == "community"));

    let hospital = first_id(&zh);
    let (status, _, departments) = get(
        &client,
        &gateway.url(&format!("/api/v1/hospitals/{hospital}/departments?limit=2")),
        "en",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(departments["items"].as_array().unwrap().len(), 2);
    let cursor = departments["next_cursor"]
        .as_str()
        .expect("more departments");
    let (_, _, more) = get(
        &client,
        &gateway.url(&format!(
            "/api/v1/hospitals/{hospital}/departments?limit=2&cursor={cursor}"
        )),
        "en",
    )
    .await;
    assert_ne!(more["items"][0]["id"], departments["items"][0]["id"]);
    let department = first_id(&departments);
    assert_eq!(departments["items"][0]["name"], "Cardiology");

    let (status, _, doctors) = get(
        &client,
        &gateway.url(&format!("/api/v1/departments/{department}/doctors")),
        "zh-CN",
    )
    .await;
    assert_eq!(status, 200);
    let doctor = &doctors["items"][0];
    assert!(doctor["title_label"].as_str().unwrap().ends_with("医师"));
    let doctor_id = doctor["id"].as_str().unwrap();

    let (status, _, schedules) = get(
        &client,
        &gateway.url(&format!("/api/v1/schedules?doctor_id={doctor_id}")),
        "zh-CN",
    )
    .await;
    assert_eq!(status, 200);
    for schedule in schedules["items"].as_array().unwrap() {
        assert_eq!(schedule["doctor_id"], doctor_id);
        for key in [
            "id",
            "hospital_id",
            "department_id",
            "date",
            "period",
            "fee_fen",
            "bookable",
            "segments",
        ] {
            assert!(
                schedule.get(key).is_some(),
                "schedule lacks {key}: {schedule}"
            );
        }
        for segment in schedule["segments"].as_array().unwrap() {
            for key in ["id", "start_time", "end_time", "capacity", "remaining"] {
                assert!(segment.get(key).is_some(), "segment lacks {key}");
            }
        }
    }
    let (status, _, by_department) = get(
        &client,
        &gateway.url(&format!(
            "/api/v1/schedules?department_id={department}&limit=100"
        )),
        "en",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        by_department["items"].as_array().unwrap().len()
            > schedules["items"].as_array().unwrap().len()
    );
}

async fn error_answers(gateway: &Gateway) {
    let client = reqwest::Client::new();
    let unknown = "01900000-0000-7000-8000-000000000000";
    let response = client
        .get(gateway.url(&format!("/api/v1/hospitals/{unknown}/departments")))
        .header("Accept-Language", "en")
        .header("X-Request-Id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "HOSPITAL_NOT_FOUND");
    assert_eq!(body["error"]["message"], "No such hospital");
    assert_eq!(body["error"]["request_id"], "trace-me-123");

    let (status, _, body) = get(
        &client,
        &gateway.url("/api/v1/hospitals/not-a-uuid/departments"),
        "zh-CN",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("HOSPITAL_NOT_FOUND"))
    );
    assert_eq!(body["error"]["message"], "医院不存在");
    let (status, _, body) = get(
        &client,
        &gateway.url(&format!("/api/v1/departments/{unknown}/doctors")),
        "en",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("DEPARTMENT_NOT_FOUND"))
    );

    for (query, parameter) in [
        ("/api/v1/hospitals?limit=0", "limit"),
        ("/api/v1/hospitals?limit=abc", "limit"),
        ("/api/v1/hospitals?cursor=%21%21", "cursor"),
        (
            &format!("/api/v1/schedules?department_id={unknown}&date_from=2026-02-30") as &str,
            "date_from",
        ),
        ("/api/v1/schedules?department_id=42", "department_id"),
        ("/api/v1/schedules?doctor_id=x", "doctor_id"),
        (
            &format!(
                "/api/v1/schedules?hospital_id={unknown}&date_from=2026-11-10&date_to=2026-11-01"
            ),
            "date_to",
        ),
        (
            &format!(
                "/api/v1/schedules?hospital_id={unknown}&date_from=2026-01-01&date_to=2026-03-01"
            ),
            "date_to",
        ),
    ] {
        let (status, _, body) = get(&client, &gateway.url(query), "en").await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER", "{query}");
        assert_eq!(body["error"]["parameter"], parameter, "{query}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(parameter),
            "{query}: {body}"
        );
    }
    let (status, _, body) = get(&client, &gateway.url("/api/v1/schedules"), "en").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("MISSING_PARAMETER"))
    );

    let (status, _, body) = get(&client, &gateway.url("/api/v1/nowhere"), "en").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
}

async fn operations_endpoints(gateway: &Gateway) {
    let client = reqwest::Client::new();
    let (status, _, ready) = get(&client, &gateway.url("/readyz"), "en").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["database"], "ok");

    let (status, _, doc) = get(&client, &gateway.url("/api-docs/openapi.json"), "en").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/hospitals",
        "/api/v1/hospitals/{id}/departments",
        "/api/v1/departments/{id}/doctors",
        "/api/v1/schedules",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs_page = client.get(gateway.url("/docs")).send().await.unwrap();
    assert_eq!(docs_page.status(), 200);
    assert!(
        docs_page
            .text()
            .await
            .unwrap()
            .contains("/api-docs/openapi.json")
    );

    let metrics = client
        .get(gateway.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("guahao_http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("endpoint=\"/api/v1/hospitals\""),
        "route patterns label the metrics"
    );
}

#[tokio::test]
async fn catalog_on_sqlite_with_in_process_stores() {
    let gateway = Gateway::start().await;
    catalog_tour(&gateway).await;
    error_answers(&gateway).await;
    operations_endpoints(&gateway).await;
    assert!(
        gateway.log().contains("request_id"),
        "request logs carry the request id"
    );
}

#[tokio::test]
async fn catalog_on_postgresql_with_redis() {
    let Some((database, redis_url)) = shared_servers().await else {
        return;
    };
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(database.url.clone()),
        redis_url: Some(redis_url),
        ..Default::default()
    })
    .await;
    catalog_tour(&gateway).await;
    error_answers(&gateway).await;
    operations_endpoints(&gateway).await;
    let (_, _, ready) = get(&reqwest::Client::new(), &gateway.url("/readyz"), "en").await;
    assert_eq!(
        ready["checks"]["redis"], "ok",
        "Redis, not the in-process store"
    );
}
