//! The Redis store.
//!
//! A code is a hash at `{prefix}:sms:{purpose}:{phone}` with fields `d` (the 32-byte digest),
//! `n` (wrong attempts so far), `e` (the code's deadline, milliseconds since the epoch on the
//! Redis server's clock) and `u` (`1` once used, else `0`). The key itself expires
//! [`RECORD_GRACE`](super::RECORD_GRACE) after the code. Every command and script touches that
//! one key, so the store is Redis Cluster safe.
//!
//! Time is the server's `TIME`, read inside the scripts: every replica then judges expiry on
//! the same clock as the key's own expiry, whatever its own clock says. (Scripts that write
//! after `TIME` need effects replication, the default since Redis 5.)
//!
//! Verifying compares in Rust, in constant time, between a read and a conditional write:
//! the write (mark used, or count a failure) happens only if the record still holds the
//! digest, count and deadline that were read, is still unused and the deadline has not
//! passed; otherwise the attempt starts again from a fresh read. That makes each attempt
//! atomic, as if it ran alone, without comparing secrets in Lua.
//!
//! The connection is kv-store's `LazyRedis`, to one server or a Redis Cluster, made on first
//! use and reconnecting in the background; every call is bounded by
//! `kv_store::redis_connection::DEADLINE` and reports a failure as `Unavailable`.

use super::{Attempt, CodeStore, record_millis, ttl_millis};
use crate::code::{CodeDigest, Purpose};
use ::redis::Script;
use async_trait::async_trait;
use kv_store::StoreError;
use kv_store::redis_connection::{LazyRedis, RedisConnection, bounded};
use std::sync::LazyLock;
use std::time::Duration;

/// Reads a conditional write may lose to concurrent writers before the attempt gives up.
/// A code changes state at most `max_attempts` + 1 times (failures, then use) plus
/// once per rate-limited resend, so honest contention never comes near this.
const MAX_ROUNDS: usize = 32;

/// Codes in Redis, shared by every gateway replica.
pub struct RedisCodeStore {
    redis: LazyRedis,
    prefix: String,
}

impl RedisCodeStore {
    /// Redis at `url` (one server, or comma-separated Redis Cluster seed nodes), keys under
    /// `key_prefix` (which must contain no `{`, or it would become the Cluster hash tag). Does
    /// not connect; fails only on a malformed URL.
    pub fn new(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            redis: LazyRedis::open(url)?,
            prefix: key_prefix.to_owned(),
        })
    }

    fn connection(&self) -> Result<RedisConnection, StoreError> {
        self.redis.connection()
    }

    fn key(&self, purpose: Purpose, phone: &str) -> String {
        format!("{}:sms:{}:{phone}", self.prefix, purpose.as_str())
    }
}

impl std::fmt::Debug for RedisCodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisCodeStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The server's clock in whole milliseconds since the epoch, as a Lua number (exact: it is
/// far below 2^53). Prepended to the scripts that need it.
const NOW_MS: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{NOW_MS}{body}"))
}

/// KEYS[1], ARGV[1] digest, ARGV[2] code TTL in ms, ARGV[3] record TTL in ms. Replaces the
/// whole record: new digest, no failures, not used.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local deadline = string.format('%.0f', now_ms() + tonumber(ARGV[2]))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'n', '0', 'e', deadline, 'u', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// KEYS[1] → nil without a record, else {d, n, e, u, now} (now in ms on the server's clock).
static READ: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local cur = redis.call('HMGET', KEYS[1], 'd', 'n', 'e', 'u')
if not cur[1] then
  return false
end
return {cur[1], cur[2], cur[3], cur[4], now_ms()}
",
    )
});

/// True if the record still holds what was read (ARGV[1] digest, ARGV[2] count, ARGV[3]
/// deadline), is unused, and its deadline has not passed. Shared by the conditional writes.
const UNCHANGED_AND_LIVE: &str = r"
local function unchanged_and_live()
  local cur = redis.call('HMGET', KEYS[1], 'd', 'n', 'e', 'u')
  return cur[1] == ARGV[1] and cur[2] == ARGV[2] and cur[3] == ARGV[3] and cur[4] == '0'
    and now_ms() < tonumber(ARGV[3])
end
";

/// KEYS[1], ARGV as [`UNCHANGED_AND_LIVE`] → 1 marked used, 0 the record changed or expired.
/// HSET keeps the key's TTL, so a used record goes when an unused one would have.
static USE: LazyLock<Script> = LazyLock::new(|| {
    script(&format!(
        r"{UNCHANGED_AND_LIVE}
if unchanged_and_live() then
  redis.call('HSET', KEYS[1], 'u', '1')
  return 1
end
return 0
"
    ))
});

/// KEYS[1], ARGV as [`UNCHANGED_AND_LIVE`] → new count, or -1 the record changed or expired.
/// HINCRBY keeps the key's TTL, so failing does not prolong a code.
static FAIL: LazyLock<Script> = LazyLock::new(|| {
    script(&format!(
        r"{UNCHANGED_AND_LIVE}
if unchanged_and_live() then
  return redis.call('HINCRBY', KEYS[1], 'n', 1)
end
return -1
"
    ))
});

/// KEYS[1], ARGV[1] digest → deletes the record only if it still holds that digest.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'd') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// What [`READ`] returns for a record: digest, failures, deadline, used flag, server time.
/// A record missing a field was not written by [`PUT`] and counts as no record.
type Snapshot = (Option<Vec<u8>>, Option<u32>, Option<u64>, Option<u32>, u64);

#[async_trait]
impl CodeStore for RedisCodeStore {
    async fn put(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        let ttl_ms = ttl_millis(ttl);
        bounded(
            PUT.key(self.key(purpose, phone))
                .arg(digest.as_bytes())
                .arg(ttl_ms)
                .arg(record_millis(ttl_ms))
                .invoke_async::<()>(&mut con),
        )
        .await
    }

    async fn attempt(
        &self,
        purpose: Purpose,
        phone: &str,
        candidate: &CodeDigest,
        max_attempts: u32,
    ) -> Result<Attempt, StoreError> {
        let mut con = self.connection()?;
        let key = self.key(purpose, phone);
        for _ in 0..MAX_ROUNDS {
            let read: Option<Snapshot> = bounded(READ.key(&key).invoke_async(&mut con)).await?;
            let Some((Some(stored), Some(failures), Some(deadline), Some(used), now)) = read else {
                return Ok(Attempt::NoCode);
            };
            if used != 0 {
                return Ok(Attempt::Used);
            }
            if deadline <= now {
                return Ok(Attempt::Expired);
            }
            if failures >= max_attempts {
                return Ok(Attempt::Locked);
            }
            let matches = candidate.ct_eq(&stored);
            let write = if matches { &*USE } else { &*FAIL };
            let outcome: i64 = bounded(
                write
                    .key(&key)
                    .arg(&stored)
                    .arg(failures)
                    .arg(deadline)
                    .invoke_async(&mut con),
            )
            .await?;
            if matches {
                if outcome == 1 {
                    return Ok(Attempt::Matched);
                }
            } else if let Ok(now_failed) = u32::try_from(outcome) {
                return Ok(Attempt::Mismatch {
                    attempts_left: max_attempts.saturating_sub(now_failed),
                });
            }
            // Another attempt or a resend changed the record between our read and write, or the
            // code expired in between: read again.
        }
        Err(StoreError::Unavailable(format!(
            "SMS code record still contended after {MAX_ROUNDS} rounds"
        )))
    }

    async fn remove(
        &self,
        purpose: Purpose,
        phone: &str,
        digest: &CodeDigest,
    ) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        bounded(
            REMOVE
                .key(self.key(purpose, phone))
                .arg(digest.as_bytes())
                .invoke_async::<()>(&mut con),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let store = RedisCodeStore::new("redis://127.0.0.1:1/0", "guahao").unwrap();
        assert_eq!(
            store.key(Purpose::BindPhone, "13800138000"),
            "guahao:sms:bind_phone:13800138000"
        );
        assert!(!format!("{store:?}").contains("127.0.0.1"));
    }
}
