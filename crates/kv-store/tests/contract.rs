//! One contract, two backends: every check below runs against the in-process stores, the
//! shared Redis (under a random key prefix, so parallel runs never meet) and a private
//! three-node Redis Cluster.

use kv_store::{Backend, Begin, StoredResponse, Stores};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::task::JoinSet;

const MINUTE: Duration = Duration::from_secs(60);

async fn contract(stores: &Stores) {
    expiring_set(stores).await;
    rate_counter(stores).await;
    idempotency(stores).await;
    abandon_allows_a_retry(stores).await;
    concurrent_insert_new(stores).await;
    concurrent_hits(stores).await;
    concurrent_begin(stores).await;
    stores.health.ping().await.unwrap();
}

async fn expiring_set(stores: &Stores) {
    let sets = &stores.sets;
    assert!(!sets.contains("{wxpay-nonce}:abc").await.unwrap());
    assert!(sets.insert_new("{wxpay-nonce}:abc", MINUTE).await.unwrap());
    assert!(!sets.insert_new("{wxpay-nonce}:abc", MINUTE).await.unwrap());
    assert!(sets.contains("{wxpay-nonce}:abc").await.unwrap());

    assert!(sets.insert_new("{wxpay-nonce}:abd", MINUTE).await.unwrap());
    assert!(sets.insert_new("{alipay-nonce}:abc", MINUTE).await.unwrap());
    assert!(!sets.contains("{wxpay-nonce}:abe").await.unwrap());
}

async fn rate_counter(stores: &Stores) {
    for expected in 1..=3 {
        let hit = stores
            .counters
            .hit("sms:13800138000", MINUTE)
            .await
            .unwrap();
        assert_eq!(hit.count, expected);
        assert!(
            hit.resets_in > Duration::ZERO && hit.resets_in <= MINUTE,
            "{hit:?}"
        );
    }
    let other = stores
        .counters
        .hit("sms:13900139000", MINUTE)
        .await
        .unwrap();
    assert_eq!(other.count, 1, "counters are per key");
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        body: b"{\"booking_id\":\"0192\"}\x00\xff".to_vec(),
    }
}

async fn idempotency(stores: &Stores) {
    let store = &stores.idempotency;
    let (key, fp) = ("user-1:key-1", "fp-a");
    assert_eq!(store.begin(key, fp, MINUTE).await.unwrap(), Begin::Started);
    assert_eq!(
        store.begin(key, fp, MINUTE).await.unwrap(),
        Begin::InProgress
    );
    assert_eq!(
        store.begin(key, "fp-b", MINUTE).await.unwrap(),
        Begin::Conflict
    );

    // Another request's fingerprint neither completes nor releases the claim.
    store
        .complete(key, "fp-b", &response(), MINUTE)
        .await
        .unwrap();
    store.abandon(key, "fp-b").await.unwrap();
    assert_eq!(
        store.begin(key, fp, MINUTE).await.unwrap(),
        Begin::InProgress
    );

    store.complete(key, fp, &response(), MINUTE).await.unwrap();
    let replay = Begin::Completed(response());
    assert_eq!(store.begin(key, fp, MINUTE).await.unwrap(), replay);
    assert_eq!(
        store.begin(key, "fp-b", MINUTE).await.unwrap(),
        Begin::Conflict
    );

    store.abandon(key, fp).await.unwrap();
    assert_eq!(
        store.begin(key, fp, MINUTE).await.unwrap(),
        replay,
        "a completed response survives abandon"
    );

    // Completing a key nobody holds stores nothing.
    store
        .complete("user-1:never-begun", fp, &response(), MINUTE)
        .await
        .unwrap();
    assert_eq!(
        store.begin("user-1:never-begun", fp, MINUTE).await.unwrap(),
        Begin::Started
    );
}

async fn abandon_allows_a_retry(stores: &Stores) {
    let store = &stores.idempotency;
    let (key, fp) = ("user-2:key-1", "fp-a");
    assert_eq!(store.begin(key, fp, MINUTE).await.unwrap(), Begin::Started);
    store.abandon(key, fp).await.unwrap();
    assert_eq!(
        store.begin(key, "fp-b", MINUTE).await.unwrap(),
        Begin::Started
    );
}

async fn concurrent_insert_new(stores: &Stores) {
    let mut tasks = JoinSet::new();
    for _ in 0..64 {
        let sets = stores.sets.clone();
        tasks.spawn(async move { sets.insert_new("{race}:nonce", MINUTE).await.unwrap() });
    }
    let firsts = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|&new| new)
        .count();
    assert_eq!(firsts, 1);
}

async fn concurrent_hits(stores: &Stores) {
    let mut tasks = JoinSet::new();
    for _ in 0..200 {
        let counters = stores.counters.clone();
        tasks.spawn(async move { counters.hit("{race}:login", MINUTE).await.unwrap().count });
    }
    let counts: Vec<u64> = tasks.join_all().await;
    let distinct: BTreeSet<u64> = counts.iter().copied().collect();
    assert_eq!(counts.len(), 200);
    assert_eq!(distinct, (1..=200).collect(), "each count handed out once");
}

async fn concurrent_begin(stores: &Stores) {
    let mut tasks = JoinSet::new();
    for _ in 0..32 {
        let store = stores.idempotency.clone();
        tasks.spawn(async move { store.begin("{race}:idem", "fp", MINUTE).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let started = outcomes.iter().filter(|b| **b == Begin::Started).count();
    let waiting = outcomes.iter().filter(|b| **b == Begin::InProgress).count();
    assert_eq!((started, waiting), (1, 31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_store_keeps_the_contract() {
    let stores = Stores::in_process();
    assert_eq!(stores.backend, Backend::InProcess);
    contract(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_keeps_the_contract() {
    let Some(url) = test_support::shared_redis().await else {
        return;
    };
    let prefix = format!("guahao-test-{}", uuid::Uuid::now_v7().simple());
    let stores = Stores::redis(&url, &prefix).unwrap();
    assert_eq!(stores.backend, Backend::Redis);
    contract(&stores).await;
    redis_keys_carry_their_ttl(&stores, &url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_store_keeps_the_contract() {
    let Some(cluster) = test_support::PrivateRedisCluster::start() else {
        return;
    };
    let stores = Stores::redis(&cluster.url(), "guahao-test").unwrap();
    contract(&stores).await;
}

/// Expiry itself is Redis's job; what can go wrong here is a key written without its TTL (or
/// with the wrong one), which would then live forever.
async fn redis_keys_carry_their_ttl(stores: &Stores, url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let mut pttl = async |key: String| -> i64 {
        redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut raw)
            .await
            .unwrap()
    };
    let ttl = Duration::from_secs(30);
    let in_ttl = |ms: i64| ms > 0 && ms <= 30_000;

    stores.sets.insert_new("{ttl}:nonce", ttl).await.unwrap();
    let ms = pttl(format!("{prefix}:once:{{ttl}}:nonce")).await;
    assert!(in_ttl(ms), "set member PTTL {ms}");

    stores.counters.hit("{ttl}:sms", ttl).await.unwrap();
    let ms = pttl(format!("{prefix}:rate:{{ttl}}:sms")).await;
    assert!(in_ttl(ms), "counter PTTL {ms}");

    let key = format!("{prefix}:idem:{{ttl}}:idem");
    let short = Duration::from_secs(5);
    let store = &stores.idempotency;
    store.begin("{ttl}:idem", "fp", short).await.unwrap();
    let ms = pttl(key.clone()).await;
    assert!(ms > 0 && ms <= 5_000, "claim PTTL {ms}");
    store
        .complete("{ttl}:idem", "fp", &response(), ttl)
        .await
        .unwrap();
    let ms = pttl(key).await;
    assert!(ms > 5_000 && in_ttl(ms), "completed PTTL {ms}");
}

// Expiry of the in-process stores, on a paused clock. The Redis side is checked above by
// reading the TTLs it was given.

#[tokio::test(start_paused = true)]
async fn in_process_set_members_expire() {
    let sets = Stores::in_process().sets;
    let ttl = Duration::from_secs(300);
    assert!(sets.insert_new("jti-1", ttl).await.unwrap());
    tokio::time::advance(ttl - Duration::from_millis(1)).await;
    assert!(sets.contains("jti-1").await.unwrap());
    assert!(!sets.insert_new("jti-1", ttl).await.unwrap());

    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(!sets.contains("jti-1").await.unwrap());
    assert!(sets.insert_new("jti-1", ttl).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn in_process_counter_window_is_fixed() {
    let counters = Stores::in_process().counters;
    let first = counters.hit("ip:10.0.0.1", MINUTE).await.unwrap();
    assert_eq!((first.count, first.resets_in), (1, MINUTE));

    tokio::time::advance(Duration::from_secs(45)).await;
    let second = counters.hit("ip:10.0.0.1", MINUTE).await.unwrap();
    let left = Duration::from_secs(15);
    assert_eq!(
        (second.count, second.resets_in),
        (2, left),
        "hits do not extend it"
    );

    tokio::time::advance(left).await;
    let next = counters.hit("ip:10.0.0.1", MINUTE).await.unwrap();
    assert_eq!((next.count, next.resets_in), (1, MINUTE));
}

#[tokio::test(start_paused = true)]
async fn in_process_idempotency_keys_expire() {
    let store = Stores::in_process().idempotency;
    let claim = Duration::from_secs(10);
    assert_eq!(
        store.begin("k1", "fp", claim).await.unwrap(),
        Begin::Started
    );
    tokio::time::advance(claim).await;
    assert_eq!(
        store.begin("k1", "other", claim).await.unwrap(),
        Begin::Started,
        "a crashed request's claim runs out"
    );

    // Completing replaces the claim's TTL with the retention TTL.
    store
        .complete("k1", "other", &response(), MINUTE)
        .await
        .unwrap();
    tokio::time::advance(MINUTE - Duration::from_millis(1)).await;
    assert_eq!(
        store.begin("k1", "other", claim).await.unwrap(),
        Begin::Completed(response())
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        store.begin("k1", "fp", claim).await.unwrap(),
        Begin::Started
    );
}
