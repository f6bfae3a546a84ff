//! Short-lived shared state: callback nonce replay cache, JWT revocation, rate-limit counters
//! and idempotency keys.
//!
//! Each use sits behind a small trait with two implementations: Redis, for production and for
//! several gateway replicas sharing one state, and an in-process one, the embedded default when
//! `redis.url` is empty. Both are built through [`Stores`] and pass the same contract tests.
//!
//! # Redis key layout
//!
//! Keys are `{prefix}:{kind}:{key}` with kind `once` ([`ExpiringSet`]), `rate`
//! ([`RateCounter`]) or `idem` ([`IdempotencyStore`]), e.g. `guahao:once:{wxpay-nonce}:abc`.
//! Every command and script here touches exactly one key, so all of them are Redis Cluster
//! safe whatever the key. Callers that want related keys on one node put a `{hash tag}` in
//! the key themselves; the prefix must therefore contain no `{`, or it would become the tag
//! and pile every key onto one node.

mod memory;
pub mod redis_connection;
mod redis_store;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The key prefix [`Stores::from_config`] uses.
pub const DEFAULT_KEY_PREFIX: &str = "guahao";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time: a transient condition the
    /// caller reports as 503 rather than as a bug. After a dropped connection a write may or
    /// may not have been applied.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The store answered, but not as expected (protocol, script or configuration error).
    #[error("key-value store error: {0}")]
    Unexpected(String),
}

/// A set whose members expire: callback nonce replay protection and JWT revocation.
#[async_trait]
pub trait ExpiringSet: Send + Sync {
    /// Adds `key` for `ttl`. Returns true only for the first insert while the key is alive,
    /// atomically, so two replicas racing on the same nonce cannot both accept it.
    async fn insert_new(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    async fn contains(&self, key: &str) -> Result<bool, StoreError>;
}

/// The state of one fixed window after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// Time until the window closes and the count starts again from zero; always > 0, so it
    /// can go straight into a `Retry-After` header.
    pub resets_in: Duration,
}

/// Fixed-window counters for rate limits (SMS sends per phone, logins per IP, ...).
#[async_trait]
pub trait RateCounter: Send + Sync {
    /// Counts one hit on `key`. The first hit opens a window of length `window`; later hits
    /// in it do not extend it.
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, StoreError>;
}

/// A response kept so that a retried request gets the same answer instead of running twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The caller owns the key and must finish with `complete` or `abandon`.
    Started,
    /// The same request is still running elsewhere.
    InProgress,
    /// The same request already finished; replay this response.
    Completed(StoredResponse),
    /// The key was used for a different request (another fingerprint).
    Conflict,
}

/// `Idempotency-Key` bookkeeping for POST requests.
///
/// `fingerprint` identifies the request (e.g. a hash of user, method, path and body), so a
/// reused key with a different request is reported instead of replaying a wrong response.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `ttl`, which bounds how long a crashed request blocks retries.
    async fn begin(&self, key: &str, fingerprint: &str, ttl: Duration)
    -> Result<Begin, StoreError>;

    /// Stores the response and keeps it for `ttl`. Does nothing if the key is no longer held
    /// with this fingerprint (it expired, or belongs to another request).
    async fn complete(
        &self,
        key: &str,
        fingerprint: &str,
        response: &StoredResponse,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Releases an unfinished claim so the client can retry a failed request. A completed
    /// response or another request's claim is left alone.
    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError>;
}

/// Readiness probe.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    async fn ping(&self) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    InProcess,
    Redis,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::InProcess => "in-process",
            Backend::Redis => "redis",
        }
    }
}

/// All stores of one backend, cheap to clone and share between workers.
#[derive(Clone)]
pub struct Stores {
    pub sets: Arc<dyn ExpiringSet>,
    pub counters: Arc<dyn RateCounter>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub health: Arc<dyn StoreHealth>,
    pub backend: Backend,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Stores {
    /// State private to this process: correct for a single gateway, not shared by replicas.
    pub fn in_process() -> Stores {
        let store = Arc::new(memory::InProcess::default());
        Stores {
            sets: store.clone(),
            counters: store.clone(),
            idempotency: store.clone(),
            health: store,
            backend: Backend::InProcess,
        }
    }

    /// Redis at `url` (one server, or comma-separated Redis Cluster seed nodes; see
    /// [`redis_connection`]), keys under `key_prefix`. Does not connect: the first call does,
    /// so a gateway can start while Redis is down and turn ready when it comes back. Fails
    /// only on a malformed URL.
    pub fn redis(url: &str, key_prefix: &str) -> Result<Stores, StoreError> {
        let store = Arc::new(redis_store::RedisStore::new(url, key_prefix)?);
        Ok(Stores {
            sets: store.clone(),
            counters: store.clone(),
            idempotency: store.clone(),
            health: store,
            backend: Backend::Redis,
        })
    }

    /// The configured `redis.url`: empty means in-process.
    pub fn from_config(url: &str) -> Result<Stores, StoreError> {
        if url.trim().is_empty() {
            Ok(Stores::in_process())
        } else {
            Stores::redis(url.trim(), DEFAULT_KEY_PREFIX)
        }
    }
}

/// A TTL in whole milliseconds, the resolution Redis keeps. At least 1 ms, because Redis
/// rejects `PX 0`; both backends round the same way so they expire alike.
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_millis_truncates_to_milliseconds_but_never_reaches_zero() {
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(2500)), 2);
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn from_config_picks_the_backend_by_url() {
        assert_eq!(Stores::from_config("").unwrap().backend, Backend::InProcess);
        assert_eq!(
            Stores::from_config("  ").unwrap().backend,
            Backend::InProcess
        );
        let redis = Stores::from_config("redis://127.0.0.1:1/0").unwrap();
        assert_eq!(redis.backend.as_str(), "redis");
        let cluster = Stores::from_config("redis://127.0.0.1:1,redis://127.0.0.1:2").unwrap();
        assert_eq!(cluster.backend, Backend::Redis);
        assert!(matches!(
            Stores::from_config("no-scheme"),
            Err(StoreError::Unexpected(_))
        ));
    }
}
