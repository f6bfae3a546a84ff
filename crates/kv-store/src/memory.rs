//! The embedded backend: maps behind mutexes, with the same semantics as the Redis one.
//!
//! Time comes from `tokio::time::Instant`, so tests can pause the clock and jump over a TTL
//! instead of sleeping through it.

use crate::{
    Begin, ExpiringSet, IdempotencyStore, RateCounter, StoreError, StoreHealth, StoredResponse,
    WindowCount, ttl_millis,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct InProcess {
    sets: Mutex<ExpiringMap<()>>,
    counters: Mutex<ExpiringMap<u64>>,
    idempotency: Mutex<ExpiringMap<Claim>>,
}

struct Claim {
    fingerprint: String,
    response: Option<StoredResponse>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single lookup plus insert or remove, so a panic inside one
    // cannot leave a map half-updated: the data behind a poisoned lock is still sound.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn expiry(now: Instant, ttl: Duration) -> Instant {
    now + Duration::from_millis(ttl_millis(ttl))
}

#[async_trait]
impl ExpiringSet for InProcess {
    async fn insert_new(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut sets = lock(&self.sets);
        if sets.live(key, now).is_some() {
            return Ok(false);
        }
        sets.insert(key, (), expiry(now, ttl), now);
        Ok(true)
    }

    async fn contains(&self, key: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.sets).live(key, Instant::now()).is_some())
    }
}

#[async_trait]
impl RateCounter for InProcess {
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, StoreError> {
        let now = Instant::now();
        let mut counters = lock(&self.counters);
        let (count, closes_at) = match counters.live(key, now) {
            Some(entry) => {
                entry.value += 1;
                (entry.value, entry.expires_at)
            }
            None => {
                let closes_at = expiry(now, window);
                counters.insert(key, 1, closes_at, now);
                (1, closes_at)
            }
        };
        Ok(WindowCount {
            count,
            resets_in: closes_at - now,
        })
    }
}

#[async_trait]
impl IdempotencyStore for InProcess {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        ttl: Duration,
    ) -> Result<Begin, StoreError> {
        let now = Instant::now();
        let mut claims = lock(&self.idempotency);
        let Some(entry) = claims.live(key, now) else {
            let claim = Claim {
                fingerprint: fingerprint.to_owned(),
                response: None,
            };
            claims.insert(key, claim, expiry(now, ttl), now);
            return Ok(Begin::Started);
        };
        let claim = &entry.value;
        Ok(if claim.fingerprint != fingerprint {
            Begin::Conflict
        } else {
            match &claim.response {
                None => Begin::InProgress,
                Some(response) => Begin::Completed(response.clone()),
            }
        })
    }

    async fn complete(
        &self,
        key: &str,
        fingerprint: &str,
        response: &StoredResponse,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut claims = lock(&self.idempotency);
        if let Some(entry) = claims.live(key, now)
            && entry.value.fingerprint == fingerprint
        {
            entry.value.response = Some(response.clone());
            entry.expires_at = expiry(now, ttl);
        }
        Ok(())
    }

    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let mut claims = lock(&self.idempotency);
        let unfinished_own_claim = claims.live(key, Instant::now()).is_some_and(|entry| {
            entry.value.fingerprint == fingerprint && entry.value.response.is_none()
        });
        if unfinished_own_claim {
            claims.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl StoreHealth for InProcess {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Below this many entries a map is never swept.
const MIN_SWEEP_LEN: usize = 1024;

/// A map whose entries vanish at their expiry. Expired entries are dropped when looked up and,
/// for keys never looked up again, by a sweep each time the map doubles in size, which keeps
/// the cost per insert constant on average.
struct ExpiringMap<V> {
    entries: HashMap<String, Entry<V>>,
    sweep_at_len: usize,
}

struct Entry<V> {
    value: V,
    expires_at: Instant,
}

impl<V> Default for ExpiringMap<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            sweep_at_len: MIN_SWEEP_LEN,
        }
    }
}

impl<V> ExpiringMap<V> {
    /// The entry for `key` unless it has expired (like Redis, an entry is gone at its expiry).
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry<V>> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: V, expires_at: Instant, now: Instant) {
        if self.entries.len() >= self.sweep_at_len {
            self.entries.retain(|_, e| e.expires_at > now);
            self.sweep_at_len = (self.entries.len() * 2).max(MIN_SWEEP_LEN);
        }
        self.entries
            .insert(key.to_owned(), Entry { value, expires_at });
    }

    fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserting_past_the_threshold_sweeps_expired_entries() {
        let mut map = ExpiringMap::default();
        let now = Instant::now();
        for i in 0..MIN_SWEEP_LEN {
            map.insert(&format!("old{i}"), (), now, now);
        }
        map.insert("fresh1", (), now + Duration::from_secs(1), now);
        assert_eq!(map.entries.len(), 1);

        let live = now + Duration::from_secs(1);
        for i in 0..MIN_SWEEP_LEN * 3 {
            map.insert(&format!("live{i}"), (), live, now);
        }
        assert_eq!(
            map.entries.len(),
            MIN_SWEEP_LEN * 3 + 1,
            "nothing live is swept"
        );
    }

    #[test]
    fn an_entry_is_gone_at_its_expiry() {
        let mut map = ExpiringMap::default();
        let now = Instant::now();
        map.insert("k", 7, now + Duration::from_millis(5), now);
        assert!(map.live("k", now + Duration::from_millis(4)).is_some());
        assert!(map.live("k", now + Duration::from_millis(5)).is_none());
        assert!(map.entries.is_empty());
    }
}
