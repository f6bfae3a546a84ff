//! The Redis backend, shared by every gateway replica.
//!
//! # Key layout
//!
//! For schedule `S` (a UUID) under prefix `P`:
//! - `P:inv:{S}:remaining`: hash segment id → places left, plus the field [`LOADED_MARK`] so
//!   that a schedule loaded with no segments still exists;
//! - `P:inv:{S}:holders`: hash holder → `booking_id|segment_id|held|expires_at_ms`, or
//!   `booking_id|segment_id|owned|0` once paid.
//!
//! The `{S}` hash tag puts both keys of a schedule in one Redis Cluster slot, so the scripts,
//! which touch both, run there without CROSSSLOT; different schedules still spread over the
//! nodes. Every script gets all its keys through `KEYS` (never building names in Lua), which
//! is what lets Cluster route it.
//!
//! Every change is a Lua script, run by SHA (`Script::invoke_async` sends `EVALSHA` and loads
//! the script on `NOSCRIPT`, e.g. after a restart or failover; on a Cluster the `EVALSHA` goes
//! to the node owning the schedule's slot, `SCRIPT LOAD` to every node), so each
//! check-and-change is atomic on the server.

use super::{
    HoldOutcome, HoldState, HolderEntry, ScheduleStock, SlotInventory, StoreError, check_stock,
    existing_hold,
};
use async_trait::async_trait;
use kv_store::redis_connection::{LazyRedis, RedisConnection, bounded};
use redis::Script;
use std::sync::LazyLock;
use uuid::Uuid;

/// The field that marks a schedule as loaded; segment fields are UUIDs, so it cannot clash.
const LOADED_MARK: &str = "__loaded";

static LOAD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/load.lua")));
static STOCK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/stock.lua")));
static HOLD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/hold.lua")));
static CONFIRM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/confirm.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/release.lua")));

/// The inventory in Redis, shared by every replica; see the module docs for the key layout.
pub struct RedisInventory {
    redis: LazyRedis,
    prefix: String,
}

/// The two keys of one schedule, which share its hash tag.
struct ScheduleKeys {
    remaining: String,
    holders: String,
}

impl RedisInventory {
    /// Redis at `url` (one server, or comma-separated Redis Cluster seed nodes; see
    /// `kv_store::redis_connection`), keys under `key_prefix`. Does not connect: the first
    /// call does, so a gateway can start while Redis is down and turn ready when it comes
    /// back. Fails on a malformed URL, or on a prefix with a brace, which would become the
    /// hash tag and pile every schedule onto one Cluster node.
    pub fn new(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        if key_prefix.contains(['{', '}']) {
            return Err(StoreError::Unexpected(format!(
                "inventory key prefix {key_prefix:?} must not contain braces"
            )));
        }
        Ok(Self {
            redis: LazyRedis::open(url)?,
            prefix: key_prefix.to_owned(),
        })
    }

    /// The shared connection, to one server or a Redis Cluster; it reconnects in the
    /// background after a failure. A call that timed out may or may not have run, which is
    /// why every script is idempotent by booking id: the caller repeats it (and the cluster
    /// client, after a dropped node connection, may already have).
    fn connection(&self) -> Result<RedisConnection, StoreError> {
        self.redis.connection()
    }

    fn keys(&self, schedule_id: Uuid) -> ScheduleKeys {
        let base = format!("{}:inv:{{{schedule_id}}}", self.prefix);
        ScheduleKeys {
            remaining: format!("{base}:remaining"),
            holders: format!("{base}:holders"),
        }
    }
}

fn malformed(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(format!("malformed inventory {what} {value:?}"))
}

fn encode_entry(booking_id: Uuid, segment_id: Uuid, state: &HoldState) -> String {
    match state {
        HoldState::Held { expires_at_ms } => {
            format!("{booking_id}|{segment_id}|held|{expires_at_ms}")
        }
        HoldState::Owned => format!("{booking_id}|{segment_id}|owned|0"),
    }
}

fn decode_entry(holder: String, value: &str) -> Result<HolderEntry, StoreError> {
    let parts: Vec<&str> = value.split('|').collect();
    let [booking_id, segment_id, state, expires_at_ms] = parts.as_slice() else {
        return Err(malformed("holder entry", value));
    };
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|_| malformed("holder entry", value));
    let state = match *state {
        "held" => HoldState::Held {
            expires_at_ms: expires_at_ms
                .parse()
                .map_err(|_| malformed("holder entry", value))?,
        },
        "owned" => HoldState::Owned,
        _ => return Err(malformed("holder entry", value)),
    };
    Ok(HolderEntry {
        holder,
        booking_id: uuid(booking_id)?,
        segment_id: uuid(segment_id)?,
        state,
    })
}

/// Decodes the STOCK script's two flat `HGETALL` lists; `None` when the schedule has none.
fn decode_stock(
    remaining: Vec<String>,
    holders: Vec<String>,
) -> Result<Option<ScheduleStock>, StoreError> {
    if remaining.is_empty() {
        return Ok(None);
    }
    let mut stock = ScheduleStock::default();
    for pair in remaining.chunks_exact(2) {
        let (field, count) = (&pair[0], &pair[1]);
        if field == LOADED_MARK {
            continue;
        }
        let segment = Uuid::parse_str(field).map_err(|_| malformed("segment", field))?;
        let count = count.parse().map_err(|_| malformed("count", count))?;
        stock.remaining.insert(segment, count);
    }
    for pair in holders.chunks_exact(2) {
        stock.holders.push(decode_entry(pair[0].clone(), &pair[1])?);
    }
    stock.holders.sort_by(|a, b| a.holder.cmp(&b.holder));
    Ok(Some(stock))
}

fn decode_hold(
    reply: Vec<String>,
    holder: &str,
    segment_id: Uuid,
    booking_id: Uuid,
) -> Result<HoldOutcome, StoreError> {
    let parts: Vec<&str> = reply.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["held"] => Ok(HoldOutcome::Held),
        ["sold_out"] => Ok(HoldOutcome::SoldOut),
        ["unknown_segment"] => Ok(HoldOutcome::UnknownSegment),
        ["not_loaded"] => Ok(HoldOutcome::NotLoaded),
        ["holding", entry] => {
            let existing = decode_entry(holder.to_owned(), entry)?;
            Ok(existing_hold(&existing, segment_id, booking_id))
        }
        _ => Err(malformed("hold reply", &parts.join(" "))),
    }
}

#[async_trait]
impl SlotInventory for RedisInventory {
    async fn load(&self, schedule_id: Uuid, stock: &ScheduleStock) -> Result<(), StoreError> {
        self.load_with(schedule_id, stock, "replace")
            .await
            .map(|_| ())
    }

    async fn load_if_absent(
        &self,
        schedule_id: Uuid,
        stock: &ScheduleStock,
    ) -> Result<bool, StoreError> {
        self.load_with(schedule_id, stock, "if_absent").await
    }

    async fn stock(&self, schedule_id: Uuid) -> Result<Option<ScheduleStock>, StoreError> {
        let keys = self.keys(schedule_id);
        let mut con = self.connection()?;
        let (remaining, holders): (Vec<String>, Vec<String>) = bounded(
            STOCK
                .key(&keys.remaining)
                .key(&keys.holders)
                .invoke_async(&mut con),
        )
        .await?;
        decode_stock(remaining, holders)
    }

    async fn hold(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
        holder: &str,
        booking_id: Uuid,
        expires_at_ms: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let keys = self.keys(schedule_id);
        let entry = encode_entry(booking_id, segment_id, &HoldState::Held { expires_at_ms });
        let mut con = self.connection()?;
        let reply: Vec<String> = bounded(
            HOLD.key(&keys.remaining)
                .key(&keys.holders)
                .arg(segment_id.to_string())
                .arg(holder)
                .arg(entry)
                .invoke_async(&mut con),
        )
        .await?;
        decode_hold(reply, holder, segment_id, booking_id)
    }

    async fn confirm(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError> {
        let keys = self.keys(schedule_id);
        let mut con = self.connection()?;
        bounded(
            CONFIRM
                .key(&keys.holders)
                .arg(holder)
                .arg(booking_id.to_string())
                .invoke_async(&mut con),
        )
        .await
    }

    async fn release(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError> {
        let keys = self.keys(schedule_id);
        let mut con = self.connection()?;
        bounded(
            RELEASE
                .key(&keys.remaining)
                .key(&keys.holders)
                .arg(holder)
                .arg(booking_id.to_string())
                .invoke_async(&mut con),
        )
        .await
    }

    async fn remaining(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
    ) -> Result<Option<u32>, StoreError> {
        let keys = self.keys(schedule_id);
        let mut con = self.connection()?;
        let count: Option<i64> = bounded(
            redis::cmd("HGET")
                .arg(&keys.remaining)
                .arg(segment_id.to_string())
                .query_async(&mut con),
        )
        .await?;
        Ok(count.map(|n| u32::try_from(n).unwrap_or(0)))
    }

    async fn health(&self) -> Result<(), StoreError> {
        let mut con = self.connection()?;
        let _pong: String = bounded(redis::cmd("PING").query_async(&mut con)).await?;
        Ok(())
    }
}

impl RedisInventory {
    async fn load_with(
        &self,
        schedule_id: Uuid,
        stock: &ScheduleStock,
        mode: &str,
    ) -> Result<bool, StoreError> {
        check_stock(schedule_id, stock)?;
        let keys = self.keys(schedule_id);
        let mut load = LOAD.prepare_invoke();
        load.key(&keys.remaining)
            .key(&keys.holders)
            .arg(mode)
            .arg(stock.remaining.len() + 1)
            .arg(LOADED_MARK)
            .arg(1);
        for (segment, count) in &stock.remaining {
            load.arg(segment.to_string()).arg(*count);
        }
        for entry in &stock.holders {
            load.arg(&entry.holder).arg(encode_entry(
                entry.booking_id,
                entry.segment_id,
                &entry.state,
            ));
        }
        let mut con = self.connection()?;
        let loaded: i64 = bounded(load.invoke_async(&mut con)).await?;
        Ok(loaded == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC16/XMODEM, the checksum Redis Cluster maps keys to slots with.
    fn crc16(bytes: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &byte in bytes {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    /// The slot Redis Cluster gives a key: the hash of the first non-empty `{...}` if any.
    fn slot(key: &str) -> u16 {
        let tagged = key
            .find('{')
            .and_then(|open| {
                let close = key[open + 1..].find('}')? + open + 1;
                (close > open + 1).then(|| &key[open + 1..close])
            })
            .unwrap_or(key);
        crc16(tagged.as_bytes()) % 16384
    }

    #[test]
    fn crc16_matches_the_cluster_spec_vector() {
        // From the Redis Cluster specification: CRC16("123456789") == 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
    }

    #[test]
    fn keys_of_one_schedule_share_a_slot() {
        let inventory = RedisInventory::new("redis://127.0.0.1:1/0", "guahao").unwrap();
        let schedule = Uuid::now_v7();
        let keys = inventory.keys(schedule);
        assert_eq!(
            keys.remaining,
            format!("guahao:inv:{{{schedule}}}:remaining")
        );
        assert_eq!(keys.holders, format!("guahao:inv:{{{schedule}}}:holders"));
        assert_eq!(slot(&keys.remaining), slot(&keys.holders));
        assert_eq!(slot(&keys.remaining), slot(&schedule.to_string()));
    }

    #[test]
    fn a_prefix_with_braces_is_refused() {
        assert!(RedisInventory::new("redis://127.0.0.1:1/0", "{guahao}").is_err());
        assert!(RedisInventory::new("not a url", "guahao").is_err());
    }

    #[test]
    fn entries_round_trip() {
        let (booking, segment) = (Uuid::now_v7(), Uuid::now_v7());
        for state in [
            HoldState::Held {
                expires_at_ms: 1_750_000_000_000,
            },
            HoldState::Owned,
        ] {
            let value = encode_entry(booking, segment, &state);
            let entry = decode_entry("p".into(), &value).unwrap();
            assert_eq!((entry.booking_id, entry.segment_id), (booking, segment));
            assert_eq!(entry.state, state);
        }
    }

    #[test]
    fn malformed_entries_are_errors() {
        let (booking, segment) = (Uuid::now_v7(), Uuid::now_v7());
        for bad in [
            String::new(),
            format!("{booking}|{segment}|held"),
            format!("{booking}|{segment}|held|soon"),
            format!("{booking}|{segment}|gone|0"),
            format!("x|{segment}|owned|0"),
        ] {
            assert!(decode_entry("p".into(), &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_loaded_mark_is_not_a_segment() {
        let segment = Uuid::now_v7();
        let stock = decode_stock(
            vec![
                LOADED_MARK.into(),
                "1".into(),
                segment.to_string(),
                "7".into(),
            ],
            vec![],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            stock.remaining.into_iter().collect::<Vec<_>>(),
            [(segment, 7)]
        );
        assert_eq!(decode_stock(vec![], vec![]).unwrap(), None);
    }

    #[test]
    fn unknown_hold_replies_are_errors() {
        let (booking, segment) = (Uuid::now_v7(), Uuid::now_v7());
        for bad in [vec![], vec!["held".into(), "x".into()], vec!["ok".into()]] {
            assert!(decode_hold(bad, "p", segment, booking).is_err());
        }
    }
}
