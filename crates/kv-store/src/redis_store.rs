//! The Redis backend.
//!
//! The connection is [`LazyRedis`]'s, to one server or a Redis Cluster (see
//! [`crate::redis_connection`]). Each operation is one command or one Lua script on one key, so
//! it is atomic and Cluster safe (see the crate docs).

use crate::redis_connection::{LazyRedis, RedisConnection, bounded};
use crate::{
    Begin, ExpiringSet, IdempotencyStore, RateCounter, StoreError, StoreHealth, StoredResponse,
    WindowCount, ttl_millis,
};
use async_trait::async_trait;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

pub(crate) struct RedisStore {
    redis: LazyRedis,
    prefix: String,
}

impl RedisStore {
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            redis: LazyRedis::open(url)?,
            prefix: prefix.to_owned(),
        })
    }

    fn connection(&self) -> Result<RedisConnection, StoreError> {
        self.redis.connection()
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.prefix)
    }
}

#[async_trait]
impl ExpiringSet for RedisStore {
    async fn insert_new(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let mut set = redis::cmd("SET");
        set.arg(self.key("once", key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl));
        // `SET NX` answers OK when it set the key and nil when the key already existed.
        let reply: Option<String> = bounded(set.query_async(&mut con)).await?;
        Ok(reply.is_some())
    }

    async fn contains(&self, key: &str) -> Result<bool, StoreError> {
        let mut con = self.connection()?;
        let mut exists = redis::cmd("EXISTS");
        exists.arg(self.key("once", key));
        let found: u64 = bounded(exists.query_async(&mut con)).await?;
        Ok(found == 1)
    }
}

/// KEYS[1] counter, ARGV[1] window in ms → {count, ms until the window closes}.
/// A key without a TTL (`PTTL` -1) gets the window too, so a counter can never become
/// permanent, even one written by hand.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
",
    )
});

#[async_trait]
impl RateCounter for RedisStore {
    async fn hit(&self, key: &str, window: Duration) -> Result<WindowCount, StoreError> {
        let mut con = self.connection()?;
        let (count, ttl): (u64, u64) = bounded(
            HIT.key(self.key("rate", key))
                .arg(ttl_millis(window))
                .invoke_async(&mut con),
        )
        .await?;
        Ok(WindowCount {
            count,
            // PTTL can read 0 in the last millisecond of a window; the contract promises > 0.
            resets_in: Duration::from_millis(ttl.max(1)),
        })
    }
}

// An idempotency key is a hash: `fp` (request fingerprint), then `status` and `body` once the
// request completed.

/// KEYS[1], ARGV[1] fingerprint, ARGV[2] claim TTL in ms →
/// {'started'} | {'in_progress'} | {'conflict'} | {'completed', status, body}.
static BEGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local fp = redis.call('HGET', KEYS[1], 'fp')
if not fp then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'started'}
end
if fp ~= ARGV[1] then
  return {'conflict'}
end
local done = redis.call('HMGET', KEYS[1], 'status', 'body')
if not done[1] then
  return {'in_progress'}
end
return {'completed', done[1], done[2]}
",
    )
});

/// KEYS[1], ARGV[1] fingerprint, ARGV[2] status, ARGV[3] body, ARGV[4] TTL in ms.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// KEYS[1], ARGV[1] fingerprint.
static ABANDON: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'fp') == ARGV[1]
   and redis.call('HEXISTS', KEYS[1], 'status') == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

fn parse_begin(reply: Vec<Vec<u8>>) -> Result<Begin, StoreError> {
    let unexpected = |reply: &[Vec<u8>]| {
        let shown: Vec<_> = reply.iter().map(|p| String::from_utf8_lossy(p)).collect();
        StoreError::Unexpected(format!("unexpected idempotency script reply {shown:?}"))
    };
    match reply.as_slice() {
        [state] if state == b"started" => Ok(Begin::Started),
        [state] if state == b"in_progress" => Ok(Begin::InProgress),
        [state] if state == b"conflict" => Ok(Begin::Conflict),
        [state, status, body] if state == b"completed" => {
            let status = std::str::from_utf8(status)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| unexpected(&reply))?;
            Ok(Begin::Completed(StoredResponse {
                status,
                body: body.clone(),
            }))
        }
        _ => Err(unexpected(&reply)),
    }
}

#[async_trait]
impl IdempotencyStore for RedisStore {
    async fn begin(
        &self,
        key: &str,
        fingerprint: &str,
        ttl: Duration,
    ) -> Result<Begin, StoreError> {
        let mut con = self.connection()?;
        let reply: Vec<Vec<u8>> = bounded(
            BEGIN
                .key(self.key("idem", key))
                .arg(fingerprint)
                .arg(ttl_millis(ttl))
                .invoke_async(&mut con),
        )
        .await?;
        parse_begin(reply)
    }

    async fn complete(
        &self,
        key: &str,
        fingerprint: &str,
        response: &StoredResponse,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        bounded(
            COMPLETE
                .key(self.key("idem", key))
                .arg(fingerprint)
                .arg(response.status)
                .arg(response.body.as_slice())
                .arg(ttl_millis(ttl))
                .invoke_async::<()>(&mut con),
        )
        .await
    }

    async fn abandon(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        bounded(
            ABANDON
                .key(self.key("idem", key))
                .arg(fingerprint)
                .invoke_async::<()>(&mut con),
        )
        .await
    }
}

#[async_trait]
impl StoreHealth for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        let ping = redis::cmd("PING");
        let _pong: String = bounded(ping.query_async(&mut con)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn begin_replies_are_decoded() {
        assert_eq!(parse_begin(reply(&[b"started"])), Ok(Begin::Started));
        assert_eq!(parse_begin(reply(&[b"in_progress"])), Ok(Begin::InProgress));
        assert_eq!(parse_begin(reply(&[b"conflict"])), Ok(Begin::Conflict));
        assert_eq!(
            parse_begin(reply(&[b"completed", b"201", b"\x00{}"])),
            Ok(Begin::Completed(StoredResponse {
                status: 201,
                body: b"\x00{}".to_vec()
            }))
        );
    }

    #[test]
    fn malformed_begin_replies_are_errors() {
        for bad in [
            reply(&[]),
            reply(&[b"started", b"x"]),
            reply(&[b"completed", b"two hundred", b""]),
            reply(&[b"completed", b"70000", b""]),
            reply(&[b"done"]),
        ] {
            assert!(matches!(parse_begin(bad), Err(StoreError::Unexpected(_))));
        }
    }

    #[test]
    fn keys_are_prefixed_by_kind() {
        let store = RedisStore::new("redis://127.0.0.1:1/0", "guahao").unwrap();
        assert_eq!(
            store.key("once", "{wxpay-nonce}:abc"),
            "guahao:once:{wxpay-nonce}:abc"
        );
    }
}
