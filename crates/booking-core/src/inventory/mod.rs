//! Slot inventory: per schedule and time segment, the places left and who holds or owns one.
//!
//! This is the fast front line that keeps a release-time rush away from the database; the
//! database stays the final word (confirming a booking is a conditional update there) and
//! rebuilds this state with [`SlotInventory::load`] on start and on `guahao reconcile`.
//!
//! Every change is one atomic step that checks and changes together, so two racing patients
//! can never both take the last place. Every step is also idempotent by `booking_id`: after a
//! dropped connection the caller cannot know whether its Redis call ran, so it simply repeats
//! it, and a repeated hold, confirm or release changes nothing the second time.
//!
//! Expiry is recorded, not enforced here: a hold past `expires_at_ms` keeps its place until
//! the hold sweeper, which moves the booking row out of `pending_payment` in the database,
//! calls [`SlotInventory::release`]. Freeing it silently here would let Redis and the
//! database disagree about who has the place while a late payment is being applied.

mod memory;
mod redis;

pub use self::memory::InProcessInventory;
pub use self::redis::RedisInventory;
pub use kv_store::StoreError;

use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// The patient's real-name identity hash (64 hex characters). Quotas and "one slot per
/// schedule" follow the person, not the account, so one person booked from two accounts
/// still counts once.
pub type HolderId = String;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldState {
    /// Waiting for payment until `expires_at_ms` (Unix milliseconds).
    Held { expires_at_ms: i64 },
    /// Paid: the place is the holder's until it is released (cancellation, refund).
    Owned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderEntry {
    pub holder: HolderId,
    pub booking_id: Uuid,
    pub segment_id: Uuid,
    pub state: HoldState,
}

/// A schedule's whole inventory state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleStock {
    /// Places left per time segment.
    pub remaining: BTreeMap<Uuid, u32>,
    /// One entry per person; [`SlotInventory::stock`] returns them sorted by holder so that
    /// reconcile can compare two states with `==`.
    pub holders: Vec<HolderEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The place is this booking's now (or already was: a retried hold answers `Held` too).
    Held,
    SoldOut,
    /// The person already holds or owns a place in this schedule under another booking, or
    /// under this booking in another segment.
    AlreadyHolding {
        booking_id: Uuid,
        segment_id: Uuid,
    },
    /// The schedule is loaded but has no such segment.
    UnknownSegment,
    /// The schedule has no inventory state: load it from the database first.
    NotLoaded,
}

#[async_trait]
pub trait SlotInventory: Send + Sync {
    /// Replaces the schedule's whole state (counts and holders), atomically — used on start
    /// and by reconcile. A schedule loaded with no segments still counts as loaded. Refuses a
    /// stock that names one holder twice or a holder in a segment it does not list, since
    /// either would silently lose a place.
    async fn load(&self, schedule_id: Uuid, stock: &ScheduleStock) -> Result<(), StoreError>;

    /// The schedule's state as one consistent snapshot; `None` when it was never loaded.
    /// Loads the schedule only if the inventory has no state for it yet; true when it loaded.
    /// Lazy loads use this, so two racing loaders cannot wipe a hold taken in between.
    async fn load_if_absent(
        &self,
        schedule_id: Uuid,
        stock: &ScheduleStock,
    ) -> Result<bool, StoreError>;
    async fn stock(&self, schedule_id: Uuid) -> Result<Option<ScheduleStock>, StoreError>;

    /// Atomically: [`HoldOutcome::NotLoaded`] if the schedule has no state;
    /// [`HoldOutcome::UnknownSegment`]; [`HoldOutcome::AlreadyHolding`] if this holder holds
    /// or owns any place of this schedule — unless it is this very booking in this segment,
    /// which answers `Held` without taking a second place, so retries are safe;
    /// [`HoldOutcome::SoldOut`] if no place is left; else takes one and records the hold
    /// with `expires_at_ms`.
    async fn hold(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
        holder: &str,
        booking_id: Uuid,
        expires_at_ms: i64,
    ) -> Result<HoldOutcome, StoreError>;

    /// Turns the hold into an owned place (payment confirmed), with no expiry. Idempotent;
    /// false if this holder has no hold for `booking_id`.
    async fn confirm(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError>;

    /// Gives the place back (hold expired, cancelled, refunded, the database refused): the
    /// segment gets one more place and the holder entry goes, but only if it belongs to
    /// `booking_id`, so a stale release cannot free a newer booking's place. Idempotent: a
    /// second release does nothing and returns false.
    async fn release(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError>;

    /// Places left in one segment, `None` when the schedule or segment is not loaded. A single
    /// read, so a sold-out segment can be answered before any other work is done.
    async fn remaining(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
    ) -> Result<Option<u32>, StoreError>;

    /// Readiness probe.
    async fn health(&self) -> Result<(), StoreError>;
}

/// The configured `redis.url`: empty means in-process (one gateway, state lost on restart and
/// rebuilt from the database). Does not connect; fails only on a malformed URL or prefix.
pub fn inventory_from_config(
    redis_url: &str,
    key_prefix: &str,
) -> Result<Arc<dyn SlotInventory>, StoreError> {
    let url = redis_url.trim();
    if url.is_empty() {
        Ok(Arc::new(InProcessInventory::default()))
    } else {
        Ok(Arc::new(RedisInventory::new(url, key_prefix)?))
    }
}

/// The checks [`SlotInventory::load`] promises, shared by both backends.
fn check_stock(schedule_id: Uuid, stock: &ScheduleStock) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for entry in &stock.holders {
        if !seen.insert(entry.holder.as_str()) {
            return Err(StoreError::Unexpected(format!(
                "schedule {schedule_id}: holder {} appears twice",
                entry.holder
            )));
        }
        if !stock.remaining.contains_key(&entry.segment_id) {
            return Err(StoreError::Unexpected(format!(
                "schedule {schedule_id}: booking {} is in segment {}, which the schedule lacks",
                entry.booking_id, entry.segment_id
            )));
        }
    }
    Ok(())
}

/// What a hold answers when the person already has an entry in the schedule: a retry of the
/// same booking in the same segment is `Held` (nothing taken twice); anything else names the
/// booking that already has the place, so the caller can point the patient to it.
fn existing_hold(existing: &HolderEntry, segment_id: Uuid, booking_id: Uuid) -> HoldOutcome {
    if existing.booking_id == booking_id && existing.segment_id == segment_id {
        HoldOutcome::Held
    } else {
        HoldOutcome::AlreadyHolding {
            booking_id: existing.booking_id,
            segment_id: existing.segment_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(holder: &str, segment_id: Uuid) -> HolderEntry {
        HolderEntry {
            holder: holder.to_owned(),
            booking_id: Uuid::now_v7(),
            segment_id,
            state: HoldState::Owned,
        }
    }

    #[test]
    fn a_stock_naming_one_holder_twice_is_refused() {
        let segment = Uuid::now_v7();
        let stock = ScheduleStock {
            remaining: BTreeMap::from([(segment, 3)]),
            holders: vec![entry("a", segment), entry("a", segment)],
        };
        assert!(matches!(
            check_stock(Uuid::now_v7(), &stock),
            Err(StoreError::Unexpected(m)) if m.contains("twice")
        ));
    }

    #[test]
    fn a_holder_in_an_unlisted_segment_is_refused() {
        let stock = ScheduleStock {
            remaining: BTreeMap::from([(Uuid::now_v7(), 3)]),
            holders: vec![entry("a", Uuid::now_v7())],
        };
        assert!(check_stock(Uuid::now_v7(), &stock).is_err());
        assert!(check_stock(Uuid::now_v7(), &ScheduleStock::default()).is_ok());
    }

    #[test]
    fn an_empty_url_means_in_process() {
        assert!(inventory_from_config(" ", "guahao").is_ok());
        assert!(inventory_from_config("redis://127.0.0.1:1/0", "guahao").is_ok());
        assert!(inventory_from_config("redis://127.0.0.1:1,redis://127.0.0.1:2", "guahao").is_ok());
        assert!(inventory_from_config("no-scheme", "guahao").is_err());
    }
}
