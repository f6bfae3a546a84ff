//! One contract, two stores: every check runs on the in-process store, on the shared Redis
//! (under a random key prefix, so parallel runs never meet) and on a private three-node Redis
//! Cluster. Expired codes come from a zero
//! TTL (born expired, no sleeping); the exact deadline and the record's grace are checked with
//! a paused clock in process and through the key's PTTL in Redis.

use sms_verify::{
    Attempt, CodeDigest, CodeHasher, CodeStore, InMemoryCodeStore, Purpose, RECORD_GRACE,
    RedisCodeStore,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

const TTL: Duration = Duration::from_secs(300);
const MAX: u32 = 5;

fn digest(purpose: Purpose, phone: &str, code: &str) -> CodeDigest {
    CodeHasher::new(b"contract test key").digest(purpose, phone, code)
}

/// Every check, on phones of its own so that they cannot disturb each other.
async fn contract(store: Arc<dyn CodeStore>) {
    right_code_matches_once(store.as_ref()).await;
    no_code_until_one_is_put(store.as_ref()).await;
    wrong_codes_count_down_then_lock(store.as_ref()).await;
    a_new_code_replaces_the_old_one_and_its_failures(store.as_ref()).await;
    codes_are_kept_per_purpose_and_phone(store.as_ref()).await;
    remove_only_takes_the_named_code(store.as_ref()).await;
    used_expired_and_never_sent_are_told_apart(store.as_ref()).await;
    used_and_expired_codes_are_not_counted(store.as_ref()).await;
    an_expired_locked_code_is_expired(store.as_ref()).await;
    a_new_code_revives_a_used_or_expired_record(store.as_ref()).await;
    remove_takes_a_used_or_expired_code(store.as_ref()).await;
    concurrent_right_codes_match_exactly_once(store.clone()).await;
    concurrent_wrong_codes_count_at_most_max(store.clone()).await;
}

async fn right_code_matches_once(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::Login, "13800000001");
    let right = digest(p, phone, "123456");
    store.put(p, phone, &right, TTL).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Matched
    );
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Used,
        "single use"
    );
}

async fn no_code_until_one_is_put(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::Login, "13800000002");
    let code = digest(p, phone, "123456");
    assert_eq!(
        store.attempt(p, phone, &code, MAX).await.unwrap(),
        Attempt::NoCode
    );
    // Removing nothing is fine.
    store.remove(p, phone, &code).await.unwrap();
}

async fn wrong_codes_count_down_then_lock(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::BindPhone, "13800000003");
    let right = digest(p, phone, "123456");
    let wrong = digest(p, phone, "654321");
    store.put(p, phone, &right, TTL).await.unwrap();
    for attempts_left in (0..MAX).rev() {
        assert_eq!(
            store.attempt(p, phone, &wrong, MAX).await.unwrap(),
            Attempt::Mismatch { attempts_left }
        );
    }
    assert_eq!(
        store.attempt(p, phone, &wrong, MAX).await.unwrap(),
        Attempt::Locked
    );
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Locked,
        "a dead code refuses even the right code"
    );
}

async fn a_new_code_replaces_the_old_one_and_its_failures(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::Login, "13800000004");
    let first = digest(p, phone, "111111");
    let second = digest(p, phone, "222222");
    let wrong = digest(p, phone, "999999");
    store.put(p, phone, &first, TTL).await.unwrap();
    for _ in 0..MAX {
        store.attempt(p, phone, &wrong, MAX).await.unwrap();
    }
    assert_eq!(
        store.attempt(p, phone, &first, MAX).await.unwrap(),
        Attempt::Locked
    );

    store.put(p, phone, &second, TTL).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &first, MAX).await.unwrap(),
        Attempt::Mismatch {
            attempts_left: MAX - 1
        },
        "the replaced code no longer works, and the count started again"
    );
    assert_eq!(
        store.attempt(p, phone, &second, MAX).await.unwrap(),
        Attempt::Matched
    );
}

async fn codes_are_kept_per_purpose_and_phone(store: &dyn CodeStore) {
    let phone = "13800000005";
    let login = digest(Purpose::Login, phone, "123456");
    let bind = digest(Purpose::BindPhone, phone, "123456");
    store.put(Purpose::Login, phone, &login, TTL).await.unwrap();
    assert_eq!(
        store
            .attempt(Purpose::BindPhone, phone, &bind, MAX)
            .await
            .unwrap(),
        Attempt::NoCode
    );
    assert_eq!(
        store
            .attempt(Purpose::Login, "13800000006", &login, MAX)
            .await
            .unwrap(),
        Attempt::NoCode
    );
    store
        .put(Purpose::BindPhone, phone, &bind, TTL)
        .await
        .unwrap();
    assert_eq!(
        store
            .attempt(Purpose::Login, phone, &login, MAX)
            .await
            .unwrap(),
        Attempt::Matched
    );
    assert_eq!(
        store
            .attempt(Purpose::BindPhone, phone, &bind, MAX)
            .await
            .unwrap(),
        Attempt::Matched
    );
}

async fn remove_only_takes_the_named_code(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::Login, "13800000007");
    let old = digest(p, phone, "111111");
    let current = digest(p, phone, "222222");
    store.put(p, phone, &current, TTL).await.unwrap();
    store.remove(p, phone, &old).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &current, MAX).await.unwrap(),
        Attempt::Matched
    );

    store.put(p, phone, &current, TTL).await.unwrap();
    store.remove(p, phone, &current).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &current, MAX).await.unwrap(),
        Attempt::NoCode
    );
}

/// A code that is already past its deadline when stored: expiry without waiting.
const EXPIRED: Duration = Duration::ZERO;

async fn used_expired_and_never_sent_are_told_apart(store: &dyn CodeStore) {
    let p = Purpose::Login;
    let (used, expired, never) = ("13800000021", "13800000022", "13800000023");
    let used_code = digest(p, used, "123456");
    let expired_code = digest(p, expired, "123456");
    store.put(p, used, &used_code, TTL).await.unwrap();
    store.put(p, expired, &expired_code, EXPIRED).await.unwrap();
    assert_eq!(
        store.attempt(p, used, &used_code, MAX).await.unwrap(),
        Attempt::Matched
    );

    assert_eq!(
        store.attempt(p, used, &used_code, MAX).await.unwrap(),
        Attempt::Used
    );
    assert_eq!(
        store.attempt(p, expired, &expired_code, MAX).await.unwrap(),
        Attempt::Expired,
        "the right code, too late"
    );
    assert_eq!(
        store
            .attempt(p, never, &digest(p, never, "123456"), MAX)
            .await
            .unwrap(),
        Attempt::NoCode
    );
    // The other purpose of a phone with a used code has nothing on record.
    let bind = Purpose::BindPhone;
    assert_eq!(
        store
            .attempt(bind, used, &digest(bind, used, "123456"), MAX)
            .await
            .unwrap(),
        Attempt::NoCode
    );
}

async fn used_and_expired_codes_are_not_counted(store: &dyn CodeStore) {
    let p = Purpose::BindPhone;
    let (used, expired) = ("13800000024", "13800000025");
    let used_code = digest(p, used, "123456");
    store.put(p, used, &used_code, TTL).await.unwrap();
    store.attempt(p, used, &used_code, MAX).await.unwrap();
    store
        .put(p, expired, &digest(p, expired, "123456"), EXPIRED)
        .await
        .unwrap();
    // Twice the limit of wrong guesses, and neither record ever turns to Locked.
    for guess in 0..2 * MAX {
        let guess = format!("{:06}", 900_000 + guess);
        assert_eq!(
            store
                .attempt(p, used, &digest(p, used, &guess), MAX)
                .await
                .unwrap(),
            Attempt::Used
        );
        assert_eq!(
            store
                .attempt(p, expired, &digest(p, expired, &guess), MAX)
                .await
                .unwrap(),
            Attempt::Expired
        );
    }
}

async fn an_expired_locked_code_is_expired(store: &dyn CodeStore) {
    // A zero limit makes the code locked from the start: what does it say once expired?
    let (p, phone) = (Purpose::Login, "13800000026");
    let right = digest(p, phone, "123456");
    store.put(p, phone, &right, TTL).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &right, 0).await.unwrap(),
        Attempt::Locked
    );
    store.put(p, phone, &right, EXPIRED).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &right, 0).await.unwrap(),
        Attempt::Expired,
        "expiry is what the patient can act on"
    );
}

async fn a_new_code_revives_a_used_or_expired_record(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::Login, "13800000027");
    let first = digest(p, phone, "111111");
    let second = digest(p, phone, "222222");
    let wrong = digest(p, phone, "999999");
    store.put(p, phone, &first, TTL).await.unwrap();
    store.attempt(p, phone, &first, MAX).await.unwrap();
    store.put(p, phone, &second, TTL).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &wrong, MAX).await.unwrap(),
        Attempt::Mismatch {
            attempts_left: MAX - 1
        },
        "not used any more, and counting from zero"
    );
    assert_eq!(
        store.attempt(p, phone, &first, MAX).await.unwrap(),
        Attempt::Mismatch {
            attempts_left: MAX - 2
        },
        "the used code does not come back"
    );
    assert_eq!(
        store.attempt(p, phone, &second, MAX).await.unwrap(),
        Attempt::Matched
    );

    store.put(p, phone, &first, EXPIRED).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &first, MAX).await.unwrap(),
        Attempt::Expired
    );
    store.put(p, phone, &second, TTL).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &second, MAX).await.unwrap(),
        Attempt::Matched
    );
}

async fn remove_takes_a_used_or_expired_code(store: &dyn CodeStore) {
    let (p, phone) = (Purpose::BindPhone, "13800000028");
    let code = digest(p, phone, "123456");
    let other = digest(p, phone, "654321");
    store.put(p, phone, &code, TTL).await.unwrap();
    store.attempt(p, phone, &code, MAX).await.unwrap();
    store.remove(p, phone, &other).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &code, MAX).await.unwrap(),
        Attempt::Used
    );
    store.remove(p, phone, &code).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &code, MAX).await.unwrap(),
        Attempt::NoCode
    );

    store.put(p, phone, &code, EXPIRED).await.unwrap();
    store.remove(p, phone, &code).await.unwrap();
    assert_eq!(
        store.attempt(p, phone, &code, MAX).await.unwrap(),
        Attempt::NoCode
    );
}

async fn concurrent_right_codes_match_exactly_once(store: Arc<dyn CodeStore>) {
    let (p, phone) = (Purpose::Login, "13800000008");
    let right = digest(p, phone, "123456");
    store.put(p, phone, &right, TTL).await.unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.attempt(p, phone, &right, MAX).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let matched = outcomes.iter().filter(|o| **o == Attempt::Matched).count();
    assert_eq!(matched, 1, "{outcomes:?}");
    let used = outcomes.iter().filter(|o| **o == Attempt::Used).count();
    assert_eq!(used, 19, "the rest find it used: {outcomes:?}");
}

async fn concurrent_wrong_codes_count_at_most_max(store: Arc<dyn CodeStore>) {
    let (p, phone) = (Purpose::Login, "13800000009");
    let right = digest(p, phone, "123456");
    store.put(p, phone, &right, TTL).await.unwrap();
    let mut tasks = JoinSet::new();
    for guess in 0..20 {
        let store = store.clone();
        let wrong = digest(p, phone, &format!("{:06}", 900_000 + guess));
        tasks.spawn(async move { store.attempt(p, phone, &wrong, MAX).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let counted: BTreeSet<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            Attempt::Mismatch { attempts_left } => Some(*attempts_left),
            _ => None,
        })
        .collect();
    assert_eq!(counted, (0..MAX).collect(), "each count once: {outcomes:?}");
    let locked = outcomes.iter().filter(|o| **o == Attempt::Locked).count();
    assert_eq!(locked, 20 - MAX as usize, "{outcomes:?}");
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Locked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_keeps_the_contract() {
    contract(Arc::new(InMemoryCodeStore::default())).await;
}

#[tokio::test(start_paused = true)]
async fn in_memory_codes_expire_and_failures_do_not_extend_them() {
    let store = InMemoryCodeStore::default();
    let (p, phone) = (Purpose::Login, "13800000010");
    let right = digest(p, phone, "123456");
    let wrong = digest(p, phone, "654321");
    store.put(p, phone, &right, TTL).await.unwrap();
    tokio::time::advance(TTL - Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &wrong, MAX).await.unwrap(),
        Attempt::Mismatch {
            attempts_left: MAX - 1
        }
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Expired
    );
    // The record is kept for the grace period after the code, then nothing is on record.
    tokio::time::advance(RECORD_GRACE - Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Expired
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::NoCode
    );

    // A locked code expires too, and a new one can be sent at any time: the phone is never
    // stuck.
    store.put(p, phone, &right, TTL).await.unwrap();
    for _ in 0..=MAX {
        store.attempt(p, phone, &wrong, MAX).await.unwrap();
    }
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Locked
    );
    tokio::time::advance(TTL).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Expired
    );
}

#[tokio::test(start_paused = true)]
async fn in_memory_used_codes_are_remembered_for_the_grace_period() {
    let store = InMemoryCodeStore::default();
    let (p, phone) = (Purpose::BindPhone, "13800000012");
    let right = digest(p, phone, "123456");
    store.put(p, phone, &right, TTL).await.unwrap();
    tokio::time::advance(TTL / 2).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Matched
    );
    // Used wins over expired: it is what happened to the code.
    tokio::time::advance(TTL).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Used
    );
    // Using it did not extend the record: it ends with the code's TTL plus the grace.
    tokio::time::advance(RECORD_GRACE - TTL / 2 - Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Used
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::NoCode
    );
}

/// A store under a prefix of its own, with a raw connection to look at its keys.
async fn redis_store() -> Option<(RedisCodeStore, String, redis::aio::MultiplexedConnection)> {
    let url = test_support::shared_redis().await?;
    let prefix = format!("sms-test-{}", uuid::Uuid::now_v7().simple());
    let store = RedisCodeStore::new(&url, &prefix).unwrap();
    let raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Some((store, prefix, raw))
}

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_keeps_the_contract() {
    let Some((store, _, _)) = redis_store().await else {
        return;
    };
    contract(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_store_keeps_the_contract() {
    let Some(cluster) = test_support::PrivateRedisCluster::start() else {
        return;
    };
    let store = RedisCodeStore::new(&cluster.url(), "sms-test").unwrap();
    contract(Arc::new(store)).await;
}

async fn field(raw: &mut redis::aio::MultiplexedConnection, key: &str, name: &str) -> String {
    redis::cmd("HGET")
        .arg(key)
        .arg(name)
        .query_async(raw)
        .await
        .unwrap()
}

async fn redis_now_ms(raw: &mut redis::aio::MultiplexedConnection) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(raw).await.unwrap();
    secs * 1000 + micros / 1000
}

/// The record outlives the code by the grace period, in the key's PTTL.
const RECORD_MS: i64 = (TTL.as_millis() + RECORD_GRACE.as_millis()) as i64;

#[tokio::test]
async fn redis_records_outlive_their_code_and_failures_do_not_extend_them() {
    let Some((store, prefix, mut raw)) = redis_store().await else {
        return;
    };
    let (p, phone) = (Purpose::BindPhone, "13800000011");
    let key = format!("{prefix}:sms:bind_phone:{phone}");
    let right = digest(p, phone, "123456");
    let wrong = digest(p, phone, "654321");

    let before = redis_now_ms(&mut raw).await;
    store.put(p, phone, &right, TTL).await.unwrap();
    let after = redis_now_ms(&mut raw).await;
    let fresh = pttl(&mut raw, &key).await;
    assert!(
        fresh > RECORD_MS - 10_000 && fresh <= RECORD_MS,
        "PTTL {fresh}"
    );
    let stored: Vec<u8> = redis::cmd("HGET")
        .arg(&key)
        .arg("d")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(stored, right.as_bytes(), "only the digest is kept");
    let deadline: u64 = field(&mut raw, &key, "e").await.parse().unwrap();
    let ttl_ms = TTL.as_millis() as u64;
    assert!(
        (before + ttl_ms..=after + ttl_ms).contains(&deadline),
        "deadline {deadline} on the server's clock, put between {before} and {after}"
    );
    assert_eq!(field(&mut raw, &key, "n").await, "0");
    assert_eq!(field(&mut raw, &key, "u").await, "0");

    // Failing keeps the TTL: push it down by hand, then fail, and it must not grow back.
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(10_000)
        .query_async(&mut raw)
        .await
        .unwrap();
    store.attempt(p, phone, &wrong, MAX).await.unwrap();
    let after_failure = pttl(&mut raw, &key).await;
    assert!(
        after_failure > 0 && after_failure <= 10_000,
        "PTTL {after_failure}"
    );
    assert_eq!(field(&mut raw, &key, "n").await, "1");

    // So does using the code; the record is kept, marked used.
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Matched
    );
    let after_use = pttl(&mut raw, &key).await;
    assert!(after_use > 0 && after_use <= 10_000, "PTTL {after_use}");
    assert_eq!(field(&mut raw, &key, "u").await, "1");

    // A resend starts a full record life again, unused and uncounted.
    store.put(p, phone, &right, TTL).await.unwrap();
    assert!(pttl(&mut raw, &key).await > RECORD_MS - 10_000);
    assert_eq!(field(&mut raw, &key, "n").await, "0");
    assert_eq!(field(&mut raw, &key, "u").await, "0");

    // An expired code keeps its record for the grace period, and wrong guesses at it are
    // not counted.
    store.put(p, phone, &right, Duration::ZERO).await.unwrap();
    let grace = pttl(&mut raw, &key).await;
    let grace_ms = RECORD_GRACE.as_millis() as i64;
    assert!(
        grace > grace_ms - 10_000 && grace <= grace_ms,
        "PTTL {grace}"
    );
    assert_eq!(
        store.attempt(p, phone, &wrong, MAX).await.unwrap(),
        Attempt::Expired
    );
    assert_eq!(field(&mut raw, &key, "n").await, "0");
}

#[tokio::test]
async fn redis_codes_expire_on_the_servers_clock() {
    let Some((store, prefix, mut raw)) = redis_store().await else {
        return;
    };
    let (p, phone) = (Purpose::Login, "13800000013");
    let key = format!("{prefix}:sms:login:{phone}");
    let right = digest(p, phone, "123456");

    // Move the deadline of a live code to the server's present: it has just expired.
    store.put(p, phone, &right, TTL).await.unwrap();
    let now = redis_now_ms(&mut raw).await;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("e")
        .arg(now)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::Expired
    );

    // A short TTL really runs out (bounded wait, no fixed sleep).
    store
        .put(p, phone, &right, Duration::from_millis(50))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        match store.attempt(p, phone, &right, 0).await.unwrap() {
            // A zero limit: the live code answers Locked without being used up.
            Attempt::Locked => {}
            Attempt::Expired => break,
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still live after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    // When the record itself goes, nothing is on record.
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(1)
        .query_async(&mut raw)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while pttl(&mut raw, &key).await != -2 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "key still there"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        store.attempt(p, phone, &right, MAX).await.unwrap(),
        Attempt::NoCode
    );
}
