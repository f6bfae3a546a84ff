//! `SmsVerifier` end to end on the in-process stores, with a sender that records what it
//! would have sent. The clock is paused wherever windows or expiry matter. The outcomes of a
//! verification (used, expired, never sent, concurrent use) are checked on Redis too.

use async_trait::async_trait;
use kv_store::Stores;
use sms_verify::{
    CodePolicy, CodeStore, InMemoryCodeStore, LimitScope, Purpose, RECORD_GRACE, RedisCodeStore,
    SendError, SmsError, SmsLimits, SmsSender, SmsVerifier, VerifyError,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PHONE: &str = "13800138000";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Records every message; fails while `failing` is set.
#[derive(Default)]
struct Outbox {
    sent: Mutex<Vec<(String, String)>>,
    failing: AtomicBool,
}

impl Outbox {
    fn last_code(&self, phone: &str) -> String {
        let sent = self.sent.lock().unwrap();
        let (_, code) = sent
            .iter()
            .rev()
            .find(|(to, _)| to == phone)
            .expect("a message to that phone");
        code.clone()
    }

    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

#[async_trait]
impl SmsSender for Outbox {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SendError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SendError::Rejected {
                code: "isv.AMOUNT_NOT_ENOUGH".into(),
                message: "account balance is insufficient".into(),
            });
        }
        self.sent
            .lock()
            .unwrap()
            .push((phone.to_owned(), code.to_owned()));
        Ok(())
    }
}

fn verifier_on(
    store: Arc<dyn CodeStore>,
    limits: SmsLimits,
    policy: CodePolicy,
) -> (SmsVerifier, Arc<Outbox>) {
    let outbox = Arc::new(Outbox::default());
    let verifier = SmsVerifier::new(
        store,
        Stores::in_process().counters,
        outbox.clone(),
        limits,
        policy,
        b"verifier test key, 32 bytes long".to_vec(),
    );
    (verifier, outbox)
}

fn verifier_with(limits: SmsLimits) -> (SmsVerifier, Arc<Outbox>) {
    verifier_on(
        Arc::new(InMemoryCodeStore::default()),
        limits,
        CodePolicy::default(),
    )
}

fn verifier() -> (SmsVerifier, Arc<Outbox>) {
    verifier_with(SmsLimits::default())
}

/// Some code other than `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "000001" } else { "000000" }.to_owned()
}

fn limited(result: Result<impl std::fmt::Debug, SmsError>) -> (Duration, LimitScope) {
    match result {
        Err(SmsError::RateLimited { retry_after, scope }) => (retry_after, scope),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_sent_code_verifies_once() {
    let (verifier, outbox) = verifier();
    let receipt = verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    assert_eq!(receipt.cooldown, MINUTE);
    assert_eq!(receipt.expires_in, Duration::from_secs(300));
    let code = outbox.last_code(PHONE);
    assert_eq!(code.len(), 6);

    assert_eq!(
        verifier.verify(Purpose::BindPhone, PHONE, &code).await,
        Err(VerifyError::NoCode),
        "a login code does not bind a phone"
    );
    assert_eq!(verifier.verify(Purpose::Login, PHONE, &code).await, Ok(()));
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::Used),
        "reused"
    );
    assert_eq!(
        verifier
            .verify(Purpose::Login, PHONE, &other_than(&code))
            .await,
        Err(VerifyError::Used),
        "any code, once it was used"
    );
    // Still used, not expired, once its five minutes are over; and nothing after the grace.
    tokio::time::advance(Duration::from_secs(300)).await;
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::Used)
    );
    tokio::time::advance(RECORD_GRACE).await;
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::NoCode)
    );
}

#[tokio::test(start_paused = true)]
async fn no_code_before_one_is_sent() {
    let (verifier, _) = verifier();
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, "123456").await,
        Err(VerifyError::NoCode)
    );
}

#[tokio::test(start_paused = true)]
async fn five_wrong_codes_kill_the_code() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::BindPhone, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    let wrong = other_than(&code);
    for attempts_left in (0..5).rev() {
        assert_eq!(
            verifier.verify(Purpose::BindPhone, PHONE, &wrong).await,
            Err(VerifyError::Wrong { attempts_left })
        );
    }
    assert_eq!(
        verifier.verify(Purpose::BindPhone, PHONE, &code).await,
        Err(VerifyError::Locked),
        "even the right code"
    );
    assert_eq!(
        verifier.verify(Purpose::BindPhone, PHONE, &wrong).await,
        Err(VerifyError::Locked)
    );

    // A new code (after the cooldown) works again.
    tokio::time::advance(MINUTE).await;
    verifier.send(Purpose::BindPhone, PHONE, IP).await.unwrap();
    let fresh = outbox.last_code(PHONE);
    assert_eq!(
        verifier.verify(Purpose::BindPhone, PHONE, &fresh).await,
        Ok(())
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_codes_are_refused_without_counting() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    for bad in ["", "12345", "1234567", "12345a", " 123456", "１２３４５６"] {
        for _ in 0..3 {
            assert_eq!(
                verifier.verify(Purpose::Login, PHONE, bad).await,
                Err(VerifyError::Malformed),
                "{bad:?}"
            );
        }
    }
    assert_eq!(
        verifier
            .verify(Purpose::Login, "+8613800138000", &code)
            .await,
        Err(VerifyError::Malformed)
    );
    assert_eq!(verifier.verify(Purpose::Login, PHONE, &code).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_code_expires_after_five_minutes() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    tokio::time::advance(Duration::from_millis(299_999)).await;
    let wrong = other_than(&code);
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &wrong).await,
        Err(VerifyError::Wrong { attempts_left: 4 })
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::Expired)
    );
    // Guesses at an expired code are not counted: it never turns to Locked.
    for _ in 0..10 {
        assert_eq!(
            verifier.verify(Purpose::Login, PHONE, &wrong).await,
            Err(VerifyError::Expired)
        );
    }
    // The record is kept an hour past the expiry, then nothing is on record.
    tokio::time::advance(RECORD_GRACE - Duration::from_millis(1)).await;
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::Expired)
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::NoCode)
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_code_after_expiry_or_use_works() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    tokio::time::advance(Duration::from_secs(300)).await;
    let expired = outbox.last_code(PHONE);
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &expired).await,
        Err(VerifyError::Expired)
    );
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let fresh = outbox.last_code(PHONE);
    assert_eq!(verifier.verify(Purpose::Login, PHONE, &fresh).await, Ok(()));

    tokio::time::advance(MINUTE).await;
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let next = outbox.last_code(PHONE);
    assert_eq!(verifier.verify(Purpose::Login, PHONE, &next).await, Ok(()));
}

/// 20 verifications of the right code at once: one succeeds, the others find it used.
async fn concurrent_right_codes_verify_once(store: Arc<dyn CodeStore>) {
    let (verifier, outbox) = verifier_on(store, SmsLimits::default(), CodePolicy::default());
    let verifier = Arc::new(verifier);
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (verifier, code) = (verifier.clone(), code.clone());
        tasks.spawn(async move { verifier.verify(Purpose::Login, PHONE, &code).await });
    }
    let outcomes = tasks.join_all().await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Err(VerifyError::Used))
            .count(),
        19,
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_verify_once_in_process() {
    concurrent_right_codes_verify_once(Arc::new(InMemoryCodeStore::default())).await;
}

async fn redis_code_store() -> Option<Arc<dyn CodeStore>> {
    let url = test_support::shared_redis().await?;
    let prefix = format!("sms-verifier-test-{}", uuid::Uuid::now_v7().simple());
    Some(Arc::new(RedisCodeStore::new(&url, &prefix).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_verify_once_on_redis() {
    let Some(store) = redis_code_store().await else {
        return;
    };
    concurrent_right_codes_verify_once(store).await;
}

#[tokio::test]
async fn used_expired_and_never_sent_on_redis() {
    let Some(store) = redis_code_store().await else {
        return;
    };
    let (verifier, outbox) =
        verifier_on(store.clone(), SmsLimits::default(), CodePolicy::default());
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, "123456").await,
        Err(VerifyError::NoCode)
    );
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    assert_eq!(verifier.verify(Purpose::Login, PHONE, &code).await, Ok(()));
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &code).await,
        Err(VerifyError::Used)
    );

    // A policy with no life at all hands out codes that are expired on arrival.
    let born_expired = CodePolicy {
        ttl: Duration::ZERO,
        ..CodePolicy::default()
    };
    let (verifier, outbox) = verifier_on(store, SmsLimits::default(), born_expired);
    verifier.send(Purpose::BindPhone, PHONE, IP).await.unwrap();
    let code = outbox.last_code(PHONE);
    assert_eq!(
        verifier.verify(Purpose::BindPhone, PHONE, &code).await,
        Err(VerifyError::Expired)
    );
}

#[test]
fn verify_errors_say_what_happened() {
    assert_eq!(
        VerifyError::NoCode.to_string(),
        "no code was sent to this phone; request one"
    );
    assert_eq!(
        VerifyError::Expired.to_string(),
        "the code has expired; request a new one"
    );
    assert_eq!(
        VerifyError::Used.to_string(),
        "the code was already used; request a new one"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_code_replaces_the_previous_one() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let first = outbox.last_code(PHONE);
    tokio::time::advance(MINUTE).await;
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let second = outbox.last_code(PHONE);
    if first != second {
        assert!(matches!(
            verifier.verify(Purpose::Login, PHONE, &first).await,
            Err(VerifyError::Wrong { .. })
        ));
    }
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &second).await,
        Ok(())
    );
}

#[tokio::test(start_paused = true)]
async fn one_send_per_phone_per_interval() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(
        limited(verifier.send(Purpose::Login, PHONE, IP).await),
        (Duration::from_secs(40), LimitScope::PhoneInterval)
    );
    // Other purposes share the phone's limits; other phones do not.
    assert_eq!(
        limited(verifier.send(Purpose::BindPhone, PHONE, IP).await).1,
        LimitScope::PhoneInterval
    );
    verifier
        .send(Purpose::Login, "13900139000", IP)
        .await
        .unwrap();
    assert_eq!(outbox.count(), 2);

    tokio::time::advance(Duration::from_secs(40)).await;
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn five_sends_per_phone_per_hour() {
    let (verifier, _) = verifier();
    for _ in 0..5 {
        verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
        tokio::time::advance(MINUTE).await;
    }
    // Five minutes into the hour that the first send opened.
    let (retry_after, scope) = limited(verifier.send(Purpose::Login, PHONE, IP).await);
    assert_eq!(scope, LimitScope::PhoneHour);
    assert_eq!(retry_after, HOUR - 5 * MINUTE);

    tokio::time::advance(retry_after).await;
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn ten_sends_per_phone_per_day() {
    let (verifier, _) = verifier();
    for hour in 0..2 {
        for _ in 0..5 {
            verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
            tokio::time::advance(MINUTE).await;
        }
        if hour == 0 {
            tokio::time::advance(HOUR - 5 * MINUTE).await;
        }
    }
    // 1 h 5 min into the day: the hour window (opened at 1 h) is full too, but the day's
    // wait is the longer one and is what the client must be told.
    let (retry_after, scope) = limited(verifier.send(Purpose::Login, PHONE, IP).await);
    assert_eq!(scope, LimitScope::PhoneDay);
    assert_eq!(retry_after, DAY - HOUR - 5 * MINUTE);
}

#[tokio::test(start_paused = true)]
async fn fifty_sends_per_ip_per_hour_whatever_the_phones() {
    let (verifier, outbox) = verifier();
    for i in 0..50 {
        let phone = format!("139{i:08}");
        verifier.send(Purpose::Login, &phone, IP).await.unwrap();
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    let fresh_phone = "13700137000";
    assert_eq!(
        limited(verifier.send(Purpose::Login, fresh_phone, IP).await),
        (HOUR - Duration::from_secs(10), LimitScope::IpHour)
    );
    assert_eq!(outbox.count(), 50);

    // Another address is not affected, and the refused request did not touch the phone's
    // own windows, so it goes out at once from there.
    let other_ip: IpAddr = "198.51.100.1".parse().unwrap();
    verifier
        .send(Purpose::Login, fresh_phone, other_ip)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn refused_sends_still_count() {
    let (verifier, _) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    // Four taps during the cooldown use up the rest of the hour's five.
    for _ in 0..4 {
        limited(verifier.send(Purpose::Login, PHONE, IP).await);
    }
    tokio::time::advance(MINUTE).await;
    assert_eq!(
        limited(verifier.send(Purpose::Login, PHONE, IP).await).1,
        LimitScope::PhoneHour
    );
}

#[tokio::test(start_paused = true)]
async fn limits_are_configurable() {
    let (verifier, _) = verifier_with(SmsLimits {
        phone_interval_s: 0,
        phone_per_hour: 2,
        phone_per_day: 10,
        ip_per_hour: 50,
    });
    let first = verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    assert_eq!(first.cooldown, Duration::ZERO, "no cooldown configured");
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    assert_eq!(
        limited(verifier.send(Purpose::Login, PHONE, IP).await),
        (HOUR, LimitScope::PhoneHour)
    );
}

#[tokio::test(start_paused = true)]
async fn a_provider_failure_leaves_no_usable_code() {
    let (verifier, outbox) = verifier();
    verifier.send(Purpose::Login, PHONE, IP).await.unwrap();
    let delivered = outbox.last_code(PHONE);

    tokio::time::advance(MINUTE).await;
    outbox.failing.store(true, Ordering::SeqCst);
    match verifier.send(Purpose::Login, PHONE, IP).await {
        Err(SmsError::Provider(SendError::Rejected { code, .. })) => {
            assert_eq!(code, "isv.AMOUNT_NOT_ENOUGH")
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    // The failed send replaced the delivered code and was then removed: nothing verifies.
    assert_eq!(
        verifier.verify(Purpose::Login, PHONE, &delivered).await,
        Err(VerifyError::NoCode)
    );
}

#[tokio::test(start_paused = true)]
async fn phones_must_be_plain_digits() {
    let (verifier, outbox) = verifier();
    for phone in ["+8613800138000", "1380013800", "138 0013 8000"] {
        assert_eq!(
            verifier.send(Purpose::Login, phone, IP).await.unwrap_err(),
            SmsError::InvalidPhone
        );
    }
    assert_eq!(outbox.count(), 0);
}
