//! `/readyz` follows the real servers: 503 with a reason while PostgreSQL or Redis is down, 200
//! again once it is back. Uses private server instances; the shared ones are never stopped.

use e2e::{Gateway, GatewayOptions, PrivatePostgres, PrivateRedis, wait_for_status};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn readiness_follows_postgresql_and_redis() {
    let mut postgres = PrivatePostgres::start();
    let mut redis = PrivateRedis::start();
    let gateway = Gateway::start_with(GatewayOptions {
        database_url: Some(postgres.url()),
        redis_url: Some(redis.url()),
        seed_demo: false,
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    let readyz = gateway.url("/readyz");
    wait_for_status(&client, &readyz, 200, Duration::from_secs(10)).await;

    postgres.stop();
    let body: Value = wait_for_status(&client, &readyz, 503, Duration::from_secs(20))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{body}"
    );
    assert_eq!(body["checks"]["redis"], "ok");
    let live = client.get(gateway.url("/healthz")).send().await.unwrap();
    assert_eq!(
        live.status(),
        200,
        "liveness does not depend on the database"
    );

    postgres.resume();
    wait_for_status(&client, &readyz, 200, Duration::from_secs(30)).await;

    redis.stop();
    let body: Value = wait_for_status(&client, &readyz, 503, Duration::from_secs(20))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");

    redis.resume();
    let body: Value = wait_for_status(&client, &readyz, 200, Duration::from_secs(30))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ready");
}
