//! Where codes live between sending and verifying: one record per (purpose, phone) holding
//! the code's digest, the count of wrong attempts, the code's own deadline and whether it was
//! used.
//!
//! The record outlives its code by [`RECORD_GRACE`], so that an attempt after the code's life
//! can still say what became of it: expired, already used, or never sent at all.
//!
//! Two implementations pass the same contract tests (`tests/store_contract.rs`): Redis, for
//! production and several gateway replicas, and an in-process map, the embedded default when
//! `redis.url` is empty.

mod memory;
mod redis;

pub use self::memory::InMemoryCodeStore;
pub use self::redis::RedisCodeStore;

use crate::code::{CodeDigest, Purpose};
use async_trait::async_trait;
use kv_store::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// How long a record is kept after its code expires.
///
/// Long enough to tell the patient what happened to a code typed in late (it expired, or it
/// was already used) rather than that none was ever sent, even after a coffee break; short
/// enough that the records of codes nobody comes back for do not pile up in Redis: with one
/// record per (purpose, phone), at most the phones that asked in the last hour and five
/// minutes hold one.
pub const RECORD_GRACE: Duration = Duration::from_secs(60 * 60);

/// Code lifetimes are capped at this (far beyond any sane policy), so deadlines stay exact in
/// Lua's doubles and within Redis's expiry range.
const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// What one verification attempt found. Checked in this order: nothing on record, used,
/// expired, locked, then the code itself; only the last counts as an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing on record: no code was sent, it was removed after a failed delivery, or its
    /// record is older than the code's TTL plus [`RECORD_GRACE`].
    NoCode,
    /// The code was already verified once. Not counted, whatever the candidate.
    Used,
    /// The code's TTL has passed (it was not used). Not counted, whatever the candidate.
    Expired,
    /// The code had already reached its wrong-attempt limit; it stays dead, and refuses even
    /// the right code, until it expires or a new code replaces it.
    Locked,
    /// Wrong code, counted. `attempts_left` is 0 on the attempt that used up the last one.
    Mismatch { attempts_left: u32 },
    /// Right code. The record is now marked used, so the code cannot be used twice.
    Matched,
}

/// Storage for pending codes.
///
/// Every operation is atomic against concurrent callers (other tasks or other replicas):
/// of any number of simultaneous attempts with the right code exactly one gets `Matched`
/// (the others `Used`), and no more than `max_attempts` wrong ones are ever counted.
///
/// Each store keeps time on its own clock: the in-process store on `tokio::time::Instant`
/// (so tests can pause it), Redis on the server's `TIME`, shared by every replica.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a fresh code valid for `ttl` (in whole milliseconds; a zero TTL stores a code
    /// that is already expired), replacing any earlier record entirely: new digest, no wrong
    /// attempts, not used. The record is kept for `ttl` + [`RECORD_GRACE`].
    async fn put(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Checks `candidate` against the code on record, comparing in constant time: marks the
    /// record used on a match and counts a mismatch. Neither extends the expiry. See
    /// [`Attempt`] for the order of the checks.
    async fn attempt(
        &self,
        purpose: Purpose,
        phone: &str,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<Attempt, StoreError>;

    /// Removes the record if it still holds the code with `digest` (used or not), so a code
    /// that was replaced in the meantime survives. Used when the provider failed to deliver
    /// it: the phone then has no code on record.
    async fn remove(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
    ) -> Result<(), StoreError>;
}

/// The store for the configured `redis.url`: empty means in-process. Redis keys go under
/// [`kv_store::DEFAULT_KEY_PREFIX`], beside the other stores'. Does not connect; fails only on
/// a malformed URL.
pub fn code_store_from_config(redis_url: &str) -> Result<Arc<dyn CodeStore>, StoreError> {
    let url = redis_url.trim();
    if url.is_empty() {
        Ok(Arc::new(InMemoryCodeStore::default()))
    } else {
        Ok(Arc::new(RedisCodeStore::new(
            url,
            kv_store::DEFAULT_KEY_PREFIX,
        )?))
    }
}

/// A code's TTL in whole milliseconds (rounded down, at most [`MAX_TTL`]), the resolution
/// both stores keep. Both round alike, so they expire alike.
fn ttl_millis(ttl: Duration) -> u64 {
    // MAX_TTL is far below u64::MAX milliseconds.
    u64::try_from(ttl.min(MAX_TTL).as_millis()).unwrap_or(u64::MAX)
}

/// How long the record of a code with this (rounded) TTL is kept, in milliseconds.
fn record_millis(ttl_ms: u64) -> u64 {
    ttl_ms.saturating_add(u64::try_from(RECORD_GRACE.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_config_accepts_empty_and_redis_urls_only() {
        assert!(code_store_from_config("  ").is_ok());
        assert!(code_store_from_config("redis://127.0.0.1:1/0").is_ok());
        assert!(matches!(
            code_store_from_config("not a url"),
            Err(StoreError::Unexpected(_))
        ));
    }

    #[test]
    fn ttls_round_down_to_milliseconds_and_are_capped() {
        assert_eq!(ttl_millis(Duration::from_secs(300)), 300_000);
        assert_eq!(ttl_millis(Duration::from_micros(1_999)), 1);
        assert_eq!(ttl_millis(Duration::ZERO), 0);
        assert_eq!(ttl_millis(Duration::MAX), 366 * 86_400_000);
        // Exact in a Lua double, with room for a deadline in epoch milliseconds.
        assert!(ttl_millis(Duration::MAX) + 10_000_000_000_000 < 1 << 53);
    }

    #[test]
    fn records_are_kept_an_hour_past_their_code() {
        assert_eq!(record_millis(300_000), 3_900_000);
        assert_eq!(record_millis(0), 3_600_000);
    }
}
