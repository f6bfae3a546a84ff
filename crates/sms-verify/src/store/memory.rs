//! The embedded store: one map behind a mutex, with the Redis store's semantics.
//!
//! Time comes from `tokio::time::Instant`, so tests can pause the clock and jump over a TTL
//! instead of sleeping through it.

use super::{Attempt, CodeStore, record_millis, ttl_millis};
use crate::code::{CodeDigest, Purpose};
use async_trait::async_trait;
use kv_store::StoreError;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Below this many records the map is never swept.
const MIN_SWEEP_LEN: usize = 1024;

/// Codes private to this process: right for a single gateway, not shared by replicas.
#[derive(Default)]
pub struct InMemoryCodeStore {
    inner: Mutex<Records>,
}

struct Record {
    digest: CodeDigest,
    failures: u32,
    used: bool,
    /// The code's deadline: from here on it is expired.
    expires_at: Instant,
    /// The record's own end, [`super::RECORD_GRACE`] later: from here on it is gone.
    kept_until: Instant,
}

/// Records past their end are dropped when looked up and, for phones never seen again, by a
/// sweep each time the map doubles, which keeps the cost per insert constant on average.
struct Records {
    map: HashMap<(Purpose, String), Record>,
    sweep_at_len: usize,
}

impl Default for Records {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            sweep_at_len: MIN_SWEEP_LEN,
        }
    }
}

impl Records {
    /// The record for the key; like a Redis key, a record is gone at its end.
    fn current(&mut self, key: &(Purpose, String), now: Instant) -> Option<&mut Record> {
        if self.map.get(key).is_some_and(|r| r.kept_until <= now) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }
}

impl InMemoryCodeStore {
    fn records(&self) -> MutexGuard<'_, Records> {
        // Each critical section is a lookup plus one insert, update or remove, so a panic in
        // one cannot leave the map half-changed: the data behind a poisoned lock is sound.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(purpose: Purpose, phone: &str) -> (Purpose, String) {
    (purpose, phone.to_owned())
}

#[async_trait]
impl CodeStore for InMemoryCodeStore {
    async fn put(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let ttl_ms = ttl_millis(ttl);
        let mut records = self.records();
        if records.map.len() >= records.sweep_at_len {
            records.map.retain(|_, r| r.kept_until > now);
            records.sweep_at_len = (records.map.len() * 2).max(MIN_SWEEP_LEN);
        }
        let record = Record {
            digest: *digest,
            failures: 0,
            used: false,
            expires_at: now + Duration::from_millis(ttl_ms),
            kept_until: now + Duration::from_millis(record_millis(ttl_ms)),
        };
        records.map.insert(key(purpose, phone), record);
        Ok(())
    }

    async fn attempt(
        &self,
        purpose: Purpose,
        phone: &str,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<Attempt, StoreError> {
        let now = Instant::now();
        let mut records = self.records();
        let Some(record) = records.current(&key(purpose, phone), now) else {
            return Ok(Attempt::NoCode);
        };
        if record.used {
            return Ok(Attempt::Used);
        }
        if record.expires_at <= now {
            return Ok(Attempt::Expired);
        }
        if record.failures >= max_attempts {
            return Ok(Attempt::Locked);
        }
        if record.digest.ct_eq(candidate.as_bytes()) {
            record.used = true;
            return Ok(Attempt::Matched);
        }
        record.failures += 1;
        Ok(Attempt::Mismatch {
            attempts_left: max_attempts - record.failures,
        })
    }

    async fn remove(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
    ) -> Result<(), StoreError> {
        let key = key(purpose, phone);
        let mut records = self.records();
        if records
            .map
            .get(&key)
            .is_some_and(|r| r.digest.ct_eq(digest.as_bytes()))
        {
            records.map.remove(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::CodeHasher;
    use crate::store::RECORD_GRACE;

    const PHONE: &str = "13800138000";

    async fn filled(ttl: Duration) -> (InMemoryCodeStore, CodeDigest) {
        let store = InMemoryCodeStore::default();
        let digest = CodeHasher::new(b"k").digest(Purpose::Login, PHONE, "123456");
        for i in 0..MIN_SWEEP_LEN {
            let phone = format!("{i:011}");
            store
                .put(Purpose::Login, &phone, &digest, ttl)
                .await
                .unwrap();
        }
        (store, digest)
    }

    #[tokio::test(start_paused = true)]
    async fn putting_past_the_threshold_sweeps_records_past_their_grace() {
        let ttl = Duration::from_secs(1);
        let (store, digest) = filled(ttl).await;
        tokio::time::advance(ttl + RECORD_GRACE).await;
        store
            .put(Purpose::Login, PHONE, &digest, ttl)
            .await
            .unwrap();
        assert_eq!(store.records().map.len(), 1);
        assert_eq!(store.records().sweep_at_len, MIN_SWEEP_LEN);
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_keep_expired_codes_within_their_grace() {
        let ttl = Duration::from_secs(1);
        let (store, digest) = filled(ttl).await;
        tokio::time::advance(ttl + RECORD_GRACE - Duration::from_millis(1)).await;
        store
            .put(Purpose::Login, PHONE, &digest, ttl)
            .await
            .unwrap();
        assert_eq!(store.records().map.len(), MIN_SWEEP_LEN + 1);
        assert_eq!(store.records().sweep_at_len, 2 * MIN_SWEEP_LEN);
    }
}
