//! The embedded backend: every schedule's state behind one mutex, with the same semantics as
//! the Redis scripts. Correct for a single gateway; replicas need Redis to share the state.

use super::{
    HoldOutcome, HoldState, HolderEntry, HolderId, ScheduleStock, SlotInventory, StoreError,
    check_stock, existing_hold,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use uuid::Uuid;

/// The inventory of a single gateway process, the embedded default when `redis.url` is empty.
#[derive(Default)]
pub struct InProcessInventory {
    schedules: Mutex<HashMap<Uuid, Schedule>>,
}

/// Holders keyed by person, so the "one place per schedule" check is one lookup, as it is in
/// the Redis hash.
struct Schedule {
    remaining: BTreeMap<Uuid, u32>,
    holders: BTreeMap<HolderId, HolderEntry>,
}

impl InProcessInventory {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Schedule>> {
        // Every critical section checks before it changes anything and cannot panic half-way,
        // so the data behind a poisoned lock is still sound.
        self.schedules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SlotInventory for InProcessInventory {
    async fn load(&self, schedule_id: Uuid, stock: &ScheduleStock) -> Result<(), StoreError> {
        check_stock(schedule_id, stock)?;
        self.lock().insert(schedule_id, Schedule::from(stock));
        Ok(())
    }

    async fn load_if_absent(
        &self,
        schedule_id: Uuid,
        stock: &ScheduleStock,
    ) -> Result<bool, StoreError> {
        check_stock(schedule_id, stock)?;
        let mut schedules = self.lock();
        if schedules.contains_key(&schedule_id) {
            return Ok(false);
        }
        schedules.insert(schedule_id, Schedule::from(stock));
        Ok(true)
    }

    async fn stock(&self, schedule_id: Uuid) -> Result<Option<ScheduleStock>, StoreError> {
        Ok(self.lock().get(&schedule_id).map(|schedule| ScheduleStock {
            remaining: schedule.remaining.clone(),
            holders: schedule.holders.values().cloned().collect(),
        }))
    }

    async fn hold(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
        holder: &str,
        booking_id: Uuid,
        expires_at_ms: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let mut schedules = self.lock();
        let Some(schedule) = schedules.get_mut(&schedule_id) else {
            return Ok(HoldOutcome::NotLoaded);
        };
        let Some(left) = schedule.remaining.get_mut(&segment_id) else {
            return Ok(HoldOutcome::UnknownSegment);
        };
        if let Some(existing) = schedule.holders.get(holder) {
            return Ok(existing_hold(existing, segment_id, booking_id));
        }
        if *left == 0 {
            return Ok(HoldOutcome::SoldOut);
        }
        *left -= 1;
        schedule.holders.insert(
            holder.to_owned(),
            HolderEntry {
                holder: holder.to_owned(),
                booking_id,
                segment_id,
                state: HoldState::Held { expires_at_ms },
            },
        );
        Ok(HoldOutcome::Held)
    }

    async fn confirm(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut schedules = self.lock();
        let entry = schedules
            .get_mut(&schedule_id)
            .and_then(|schedule| schedule.holders.get_mut(holder));
        match entry {
            Some(entry) if entry.booking_id == booking_id => {
                entry.state = HoldState::Owned;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(
        &self,
        schedule_id: Uuid,
        holder: &str,
        booking_id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut schedules = self.lock();
        let Some(schedule) = schedules.get_mut(&schedule_id) else {
            return Ok(false);
        };
        let segment_id = match schedule.holders.get(holder) {
            Some(entry) if entry.booking_id == booking_id => entry.segment_id,
            _ => return Ok(false),
        };
        schedule.holders.remove(holder);
        // `load` refuses holders in unlisted segments, so the segment is always there.
        if let Some(left) = schedule.remaining.get_mut(&segment_id) {
            *left += 1;
        }
        Ok(true)
    }

    async fn remaining(
        &self,
        schedule_id: Uuid,
        segment_id: Uuid,
    ) -> Result<Option<u32>, StoreError> {
        Ok(self
            .lock()
            .get(&schedule_id)
            .and_then(|schedule| schedule.remaining.get(&segment_id).copied()))
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl From<&ScheduleStock> for Schedule {
    fn from(stock: &ScheduleStock) -> Self {
        Self {
            remaining: stock.remaining.clone(),
            holders: stock
                .holders
                .iter()
                .map(|entry| (entry.holder.clone(), entry.clone()))
                .collect(),
        }
    }
}
