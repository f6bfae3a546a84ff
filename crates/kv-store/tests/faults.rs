//! Redis going away and coming back, on a private `redis-server` (the shared one is never
//! stopped). Calls must fail fast with `Unavailable` and work again without a restart.

use kv_store::{StoreError, Stores};
use std::fmt::Debug;
use std::time::Duration;
use test_support::PrivateRedis;
use tokio::time::timeout;

const TTL: Duration = Duration::from_secs(60);

fn assert_unavailable<T: Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

/// Each call gives up within 3 s, reconnect attempts included.
async fn assert_down(stores: &Stores) {
    let fast = Duration::from_secs(3);
    let ping = timeout(fast, stores.health.ping()).await;
    assert_unavailable(ping.expect("ping answers within 3 s"));
    let insert = timeout(fast, stores.sets.insert_new("nonce", TTL)).await;
    assert_unavailable(insert.expect("insert_new answers within 3 s"));
    let hit = timeout(fast, stores.counters.hit("ip", TTL)).await;
    assert_unavailable(hit.expect("hit answers within 3 s"));
    let begin = timeout(fast, stores.idempotency.begin("k", "fp", TTL)).await;
    assert_unavailable(begin.expect("begin answers within 3 s"));
}

/// The connection manager reconnects on its own; callers only keep calling.
async fn assert_heals(stores: &Stores) {
    timeout(Duration::from_secs(10), async {
        while stores.health.ping().await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("ping works again within 10 s of Redis coming back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_work_once_it_returns() {
    let mut redis = PrivateRedis::start();
    let stores = Stores::redis(&redis.url(), "guahao-fault").unwrap();
    stores.health.ping().await.unwrap();
    assert!(stores.sets.insert_new("nonce", TTL).await.unwrap());

    redis.stop();
    assert_down(&stores).await;

    redis.resume();
    assert_heals(&stores).await;
    // The restarted server kept nothing (no persistence), so the nonce is new again.
    assert!(stores.sets.insert_new("nonce", TTL).await.unwrap());
    assert_eq!(stores.counters.hit("ip", TTL).await.unwrap().count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_built_while_redis_is_down_connect_when_it_comes_up() {
    let mut redis = PrivateRedis::start();
    redis.stop();
    let stores = Stores::redis(&redis.url(), "guahao-fault").expect("building does not connect");
    assert_down(&stores).await;

    redis.resume();
    assert_heals(&stores).await;
    assert!(stores.sets.insert_new("nonce", TTL).await.unwrap());
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let url = format!("redis://127.0.0.1:{}/0", test_support::free_port());
    let stores = Stores::redis(&url, "guahao-fault").expect("building does not connect");
    assert_down(&stores).await;
}

#[tokio::test]
async fn no_cluster_seed_listening_is_unavailable() {
    let seeds: Vec<String> = (0..3)
        .map(|_| format!("redis://127.0.0.1:{}", test_support::free_port()))
        .collect();
    let stores =
        Stores::redis(&seeds.join(","), "guahao-fault").expect("building does not connect");
    assert_down(&stores).await;
}
