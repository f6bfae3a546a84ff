//! A short-lived in-process cache of what every booking attempt reads but rarely changes: the
//! schedule with its segments and rule sets, and which real-name identity a patient is. During a
//! release-time rush it keeps thousands of attempts from asking the database the same questions.
//!
//! Decisions never rest on it alone: capacity is decided by the conditional update, and the
//! patient is checked again inside the booking transaction. A hospital's 停诊 or a new rule set
//! reaches new attempts within `SCHEDULE_TTL`. A segment Redis reported sold out is answered
//! "sold out" without asking Redis again for `SOLD_OUT_TTL`; a place this process gives back
//! forgets that at once, one given back by another replica shows within `SOLD_OUT_TTL`.

use crate::catalog::entity::{schedule, schedule_segment};
use crate::rules::VersionedRuleSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub(super) const SCHEDULE_TTL: Duration = Duration::from_secs(5);
const IDENTITY_TTL: Duration = Duration::from_secs(60);
/// Short enough that nobody can tell a place came back this much later.
const SOLD_OUT_TTL: Duration = Duration::from_millis(100);
/// Beyond this many entries expired ones are swept, so the maps stay bounded.
const SWEEP_ABOVE: usize = 50_000;

#[derive(Debug)]
pub(super) struct CachedSchedule {
    pub schedule: schedule::Model,
    pub segments: Vec<schedule_segment::Model>,
    pub rule_candidates: Vec<VersionedRuleSet>,
}

#[derive(Debug, Default)]
pub(super) struct ReadCache {
    schedules: Mutex<HashMap<Uuid, (Instant, Arc<CachedSchedule>)>>,
    identities: Mutex<HashMap<(Uuid, Uuid), (Instant, String)>>,
    /// `(schedule, segment)` seen sold out.
    sold_out: Mutex<HashMap<(Uuid, Uuid), (Instant, ())>>,
}

fn fresh<K: std::hash::Hash + Eq + Clone, V: Clone>(
    map: &Mutex<HashMap<K, (Instant, V)>>,
    key: &K,
    ttl: Duration,
) -> Option<V> {
    let map = map.lock().expect("cache lock");
    map.get(key)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, value)| value.clone())
}

fn store<K: std::hash::Hash + Eq, V>(
    map: &Mutex<HashMap<K, (Instant, V)>>,
    key: K,
    value: V,
    ttl: Duration,
) {
    let mut map = map.lock().expect("cache lock");
    if map.len() > SWEEP_ABOVE {
        map.retain(|_, (at, _)| at.elapsed() < ttl);
    }
    map.insert(key, (Instant::now(), value));
}

impl ReadCache {
    pub fn schedule(&self, id: Uuid) -> Option<Arc<CachedSchedule>> {
        fresh(&self.schedules, &id, SCHEDULE_TTL)
    }

    pub fn remember_schedule(&self, value: Arc<CachedSchedule>) {
        store(&self.schedules, value.schedule.id, value, SCHEDULE_TTL);
    }

    /// The identity hash of `(user, patient)`.
    pub fn identity(&self, user_id: Uuid, patient_id: Uuid) -> Option<String> {
        fresh(&self.identities, &(user_id, patient_id), IDENTITY_TTL)
    }

    pub fn remember_identity(&self, user_id: Uuid, patient_id: Uuid, identity: String) {
        store(
            &self.identities,
            (user_id, patient_id),
            identity,
            IDENTITY_TTL,
        );
    }

    pub fn sold_out(&self, schedule_id: Uuid, segment_id: Uuid) -> bool {
        fresh(&self.sold_out, &(schedule_id, segment_id), SOLD_OUT_TTL).is_some()
    }

    pub fn remember_sold_out(&self, schedule_id: Uuid, segment_id: Uuid) {
        store(&self.sold_out, (schedule_id, segment_id), (), SOLD_OUT_TTL);
    }

    pub fn forget_sold_out(&self, schedule_id: Uuid, segment_id: Uuid) {
        let mut map = self.sold_out.lock().expect("cache lock");
        map.remove(&(schedule_id, segment_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sold_out_segment_is_remembered_briefly_and_forgotten_on_demand() {
        let cache = ReadCache::default();
        let (schedule, segment, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(!cache.sold_out(schedule, segment));
        cache.remember_sold_out(schedule, segment);
        assert!(cache.sold_out(schedule, segment));
        assert!(!cache.sold_out(schedule, other));
        cache.forget_sold_out(schedule, segment);
        assert!(!cache.sold_out(schedule, segment));

        cache.remember_sold_out(schedule, segment);
        cache
            .sold_out
            .lock()
            .unwrap()
            .get_mut(&(schedule, segment))
            .unwrap()
            .0 -= SOLD_OUT_TTL;
        assert!(!cache.sold_out(schedule, segment), "expired");
    }
}
