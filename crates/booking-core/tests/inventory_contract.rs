//! One contract, two backends: every check below runs against the in-process inventory, the
//! shared Redis (under a random key prefix, so parallel runs never meet, removed at the end)
//! and a private three-node Redis Cluster. Each check uses schedules of its own.

use booking_core::inventory::{
    HoldOutcome, HoldState, HolderEntry, InProcessInventory, RedisInventory, ScheduleStock,
    SlotInventory, StoreError,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use test_support::PrivateRedisCluster;
use tokio::task::JoinSet;
use uuid::Uuid;

const EXPIRES: i64 = 1_750_000_000_000;

async fn contract(inventory: Arc<dyn SlotInventory>) {
    inventory.health().await.unwrap();
    load_and_stock_round_trip(&*inventory).await;
    load_refuses_an_inconsistent_stock(&*inventory).await;
    hold_outcomes(&*inventory).await;
    retried_hold_takes_one_place(&*inventory).await;
    confirm_and_release_are_idempotent(&*inventory).await;
    release_gives_the_place_back(&*inventory).await;
    race_for_the_last_place(inventory.clone()).await;
    race_over_capacity(inventory.clone()).await;
    one_person_from_many_tasks(inventory.clone()).await;
    holds_and_releases_keep_the_count(inventory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_process_inventory_meets_the_contract() {
    contract(Arc::new(InProcessInventory::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_inventory_meets_the_contract() {
    let Some(url) = test_support::shared_redis().await else {
        return;
    };
    let prefix = format!("inv-test-{}", Uuid::now_v7().simple());
    let inventory = Arc::new(RedisInventory::new(&url, &prefix).unwrap());
    // Run apart so the keys are removed even when a check fails.
    let run = tokio::spawn(contract(inventory)).await;
    delete_keys(&url, &prefix).await;
    if let Err(failed) = run {
        std::panic::resume_unwind(failed.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_inventory_meets_the_contract() {
    let Some(cluster) = PrivateRedisCluster::start() else {
        return;
    };
    let inventory = Arc::new(RedisInventory::new(&cluster.url(), "inv-test").unwrap());
    contract(inventory.clone()).await;
    schedules_spread_over_the_nodes_and_reload_their_scripts(&*inventory, &cluster).await;
}

/// Many schedules land on every node, each with both its keys on one node. After every node
/// forgot its scripts (as after a restart) the calls still work: an EVALSHA answered NOSCRIPT
/// loads the script (SCRIPT LOAD goes to every node) and runs again on the schedule's node.
async fn schedules_spread_over_the_nodes_and_reload_their_scripts(
    inventory: &dyn SlotInventory,
    cluster: &PrivateRedisCluster,
) {
    let mut schedules = Vec::new();
    for _ in 0..60 {
        let (schedule, seg) = loaded(inventory, &[2]).await;
        let first = inventory
            .hold(schedule, seg[0], &person(1), Uuid::now_v7(), EXPIRES)
            .await
            .unwrap();
        assert_eq!(first, HoldOutcome::Held);
        schedules.push((schedule, seg[0]));
    }

    let mut nodes = Vec::new();
    for url in cluster.node_urls() {
        let client = redis::Client::open(url).unwrap();
        nodes.push(client.get_multiplexed_async_connection().await.unwrap());
    }
    let mut keys_by_node = Vec::new();
    for node in &mut nodes {
        let keys: BTreeSet<String> = node_keys(node, "inv-test:inv:*")
            .await
            .into_iter()
            .collect();
        keys_by_node.push(keys);
    }
    let mut used_nodes = BTreeSet::new();
    for (schedule, _) in &schedules {
        let keys =
            ["remaining", "holders"].map(|part| format!("inv-test:inv:{{{schedule}}}:{part}"));
        let holding: Vec<usize> = keys_by_node
            .iter()
            .enumerate()
            .filter(|(_, on_node)| keys.iter().any(|key| on_node.contains(key)))
            .map(|(n, _)| n)
            .collect();
        let [home] = holding.as_slice() else {
            panic!("schedule {schedule} has keys on nodes {holding:?}");
        };
        assert!(
            keys.iter().all(|key| keys_by_node[*home].contains(key)),
            "schedule {schedule} has both keys on node {home}"
        );
        used_nodes.insert(*home);
    }
    assert_eq!(
        used_nodes.len(),
        3,
        "60 schedules spread over all three nodes"
    );

    let hold = redis::Script::new(include_str!("../src/inventory/lua/hold.lua"));
    let hold_sha = hold.get_hash();
    assert_eq!(script_on_each_node(&mut nodes, hold_sha).await, [true; 3]);
    for node in &mut nodes {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(node)
            .await
            .unwrap();
    }
    assert_eq!(script_on_each_node(&mut nodes, hold_sha).await, [false; 3]);
    for (schedule, segment) in schedules {
        let second = inventory
            .hold(schedule, segment, &person(2), Uuid::now_v7(), EXPIRES)
            .await
            .unwrap();
        assert_eq!(second, HoldOutcome::Held);
        let after = stock(inventory, schedule).await;
        assert_eq!(after.remaining[&segment], 0);
        assert_eq!(after.holders.len(), 2);
    }
    assert_eq!(script_on_each_node(&mut nodes, hold_sha).await, [true; 3]);
}

/// Whether each node has the script with this SHA.
async fn script_on_each_node(
    nodes: &mut [redis::aio::MultiplexedConnection],
    sha: &str,
) -> Vec<bool> {
    let mut found = Vec::new();
    for node in nodes {
        let [exists]: [bool; 1] = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(sha)
            .query_async(node)
            .await
            .unwrap();
        found.push(exists);
    }
    found
}

/// Every key on one node matching `pattern`.
async fn node_keys(node: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(node)
            .await
            .unwrap();
        found.extend(keys);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

/// A real-name identity hash, 64 hex characters like the real ones.
fn person(n: usize) -> String {
    format!("{n:064x}")
}

fn segments(capacities: &[u32]) -> (Vec<Uuid>, ScheduleStock) {
    let ids: Vec<Uuid> = capacities.iter().map(|_| Uuid::now_v7()).collect();
    let stock = ScheduleStock {
        remaining: ids
            .iter()
            .copied()
            .zip(capacities.iter().copied())
            .collect(),
        holders: vec![],
    };
    (ids, stock)
}

async fn loaded(inventory: &dyn SlotInventory, capacities: &[u32]) -> (Uuid, Vec<Uuid>) {
    let schedule = Uuid::now_v7();
    let (ids, stock) = segments(capacities);
    inventory.load(schedule, &stock).await.unwrap();
    (schedule, ids)
}

async fn stock(inventory: &dyn SlotInventory, schedule: Uuid) -> ScheduleStock {
    inventory.stock(schedule).await.unwrap().expect("loaded")
}

async fn load_and_stock_round_trip(inventory: &dyn SlotInventory) {
    let schedule = Uuid::now_v7();
    assert_eq!(inventory.stock(schedule).await.unwrap(), None);

    // No segments at all is still a loaded schedule.
    inventory
        .load(schedule, &ScheduleStock::default())
        .await
        .unwrap();
    assert_eq!(stock(inventory, schedule).await, ScheduleStock::default());

    let (ids, mut full) = segments(&[3, 0, 12]);
    // Given out of order; read back sorted by holder.
    full.holders = vec![
        HolderEntry {
            holder: person(2),
            booking_id: Uuid::now_v7(),
            segment_id: ids[1],
            state: HoldState::Owned,
        },
        HolderEntry {
            holder: person(1),
            booking_id: Uuid::now_v7(),
            segment_id: ids[0],
            state: HoldState::Held {
                expires_at_ms: EXPIRES,
            },
        },
    ];
    inventory.load(schedule, &full).await.unwrap();
    let mut expected = full.clone();
    expected.holders.reverse();
    assert_eq!(stock(inventory, schedule).await, expected);

    // A load replaces everything, holders included.
    let (_, smaller) = segments(&[5]);
    inventory.load(schedule, &smaller).await.unwrap();
    assert_eq!(stock(inventory, schedule).await, smaller);
}

async fn load_refuses_an_inconsistent_stock(inventory: &dyn SlotInventory) {
    let (schedule, ids) = loaded(inventory, &[4]).await;
    let before = stock(inventory, schedule).await;
    let entry = |segment_id| HolderEntry {
        holder: person(1),
        booking_id: Uuid::now_v7(),
        segment_id,
        state: HoldState::Owned,
    };
    for holders in [
        vec![entry(ids[0]), entry(ids[0])],
        vec![entry(Uuid::now_v7())],
    ] {
        let bad = ScheduleStock {
            remaining: before.remaining.clone(),
            holders,
        };
        assert!(matches!(
            inventory.load(schedule, &bad).await,
            Err(StoreError::Unexpected(_))
        ));
        assert_eq!(stock(inventory, schedule).await, before, "left untouched");
    }
}

async fn hold_outcomes(inventory: &dyn SlotInventory) {
    let (alice, bob, carol) = (person(1), person(2), person(3));
    let booking = Uuid::now_v7();
    assert_eq!(
        inventory
            .hold(Uuid::now_v7(), Uuid::now_v7(), &alice, booking, EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::NotLoaded
    );

    let (empty, _) = loaded(inventory, &[]).await;
    assert_eq!(
        inventory
            .hold(empty, Uuid::now_v7(), &alice, booking, EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::UnknownSegment
    );

    let (schedule, seg) = loaded(inventory, &[1, 5]).await;
    assert_eq!(
        inventory
            .hold(schedule, Uuid::now_v7(), &alice, booking, EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::UnknownSegment
    );
    assert_eq!(
        inventory
            .hold(schedule, seg[0], &alice, booking, EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::Held
    );
    let after = stock(inventory, schedule).await;
    assert_eq!(after.remaining, BTreeMap::from([(seg[0], 0), (seg[1], 5)]));
    assert_eq!(
        after.holders,
        [HolderEntry {
            holder: alice.clone(),
            booking_id: booking,
            segment_id: seg[0],
            state: HoldState::Held {
                expires_at_ms: EXPIRES
            },
        }]
    );

    // One place per person per schedule, in any segment, whatever the new booking.
    let alices = HoldOutcome::AlreadyHolding {
        booking_id: booking,
        segment_id: seg[0],
    };
    for segment in [seg[0], seg[1]] {
        let again = inventory
            .hold(schedule, segment, &alice, Uuid::now_v7(), EXPIRES)
            .await
            .unwrap();
        assert_eq!(again, alices);
    }
    // The same booking asking for another segment is not a retry either.
    assert_eq!(
        inventory
            .hold(schedule, seg[1], &alice, booking, EXPIRES)
            .await
            .unwrap(),
        alices
    );
    // An owned place blocks too.
    assert!(inventory.confirm(schedule, &alice, booking).await.unwrap());
    assert_eq!(
        inventory
            .hold(schedule, seg[1], &alice, Uuid::now_v7(), EXPIRES)
            .await
            .unwrap(),
        alices
    );

    assert_eq!(
        inventory
            .hold(schedule, seg[0], &bob, Uuid::now_v7(), EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::SoldOut
    );
    assert_eq!(
        inventory
            .hold(schedule, seg[1], &carol, Uuid::now_v7(), EXPIRES)
            .await
            .unwrap(),
        HoldOutcome::Held
    );
    let after = stock(inventory, schedule).await;
    assert_eq!(after.remaining, BTreeMap::from([(seg[0], 0), (seg[1], 4)]));
    assert_eq!(after.holders.len(), 2, "bob was refused: {after:?}");
}

async fn retried_hold_takes_one_place(inventory: &dyn SlotInventory) {
    let (schedule, seg) = loaded(inventory, &[3]).await;
    let booking = Uuid::now_v7();
    for _ in 0..3 {
        let outcome = inventory
            .hold(schedule, seg[0], &person(1), booking, EXPIRES)
            .await
            .unwrap();
        assert_eq!(outcome, HoldOutcome::Held);
    }
    let after = stock(inventory, schedule).await;
    assert_eq!(after.remaining[&seg[0]], 2);
    assert_eq!(after.holders.len(), 1);
}

async fn confirm_and_release_are_idempotent(inventory: &dyn SlotInventory) {
    let (schedule, seg) = loaded(inventory, &[2]).await;
    let alice = person(1);
    let booking = Uuid::now_v7();
    assert!(!inventory.confirm(schedule, &alice, booking).await.unwrap());
    inventory
        .hold(schedule, seg[0], &alice, booking, EXPIRES)
        .await
        .unwrap();

    let stranger = Uuid::now_v7();
    assert!(!inventory.confirm(schedule, &alice, stranger).await.unwrap());
    assert!(!inventory.release(schedule, &alice, stranger).await.unwrap());
    assert!(
        !inventory
            .confirm(schedule, &person(2), booking)
            .await
            .unwrap()
    );
    assert!(
        !inventory
            .confirm(Uuid::now_v7(), &alice, booking)
            .await
            .unwrap()
    );
    assert!(
        !inventory
            .release(Uuid::now_v7(), &alice, booking)
            .await
            .unwrap()
    );
    assert_eq!(stock(inventory, schedule).await.remaining[&seg[0]], 1);

    for _ in 0..2 {
        assert!(inventory.confirm(schedule, &alice, booking).await.unwrap());
    }
    let owned = stock(inventory, schedule).await;
    assert_eq!(owned.holders[0].state, HoldState::Owned);
    assert_eq!(owned.holders[0].segment_id, seg[0]);
    assert_eq!(owned.remaining[&seg[0]], 1);

    // An owned place is released too (cancelled or refunded), once.
    assert!(inventory.release(schedule, &alice, booking).await.unwrap());
    assert!(!inventory.release(schedule, &alice, booking).await.unwrap());
    assert!(!inventory.confirm(schedule, &alice, booking).await.unwrap());
    let released = stock(inventory, schedule).await;
    assert_eq!(released.remaining[&seg[0]], 2);
    assert!(released.holders.is_empty());
}

async fn release_gives_the_place_back(inventory: &dyn SlotInventory) {
    let (schedule, seg) = loaded(inventory, &[1]).await;
    let (alice, bob) = (person(1), person(2));
    let (alices, bobs) = (Uuid::now_v7(), Uuid::now_v7());
    let segment = seg[0];
    let hold = |who: String, booking| async move {
        inventory
            .hold(schedule, segment, &who, booking, EXPIRES)
            .await
    };
    assert_eq!(
        hold(alice.clone(), alices).await.unwrap(),
        HoldOutcome::Held
    );
    assert_eq!(hold(bob.clone(), bobs).await.unwrap(), HoldOutcome::SoldOut);
    assert!(inventory.release(schedule, &alice, alices).await.unwrap());
    assert_eq!(hold(bob.clone(), bobs).await.unwrap(), HoldOutcome::Held);
    // Alice's stale release cannot free Bob's place.
    assert!(!inventory.release(schedule, &alice, alices).await.unwrap());
    assert_eq!(
        hold(alice.clone(), alices).await.unwrap(),
        HoldOutcome::SoldOut
    );
    assert_eq!(stock(inventory, schedule).await.holders[0].holder, bob);
}

/// Starts one hold per `(holder, booking)` at once and collects the outcomes.
async fn race(
    inventory: &Arc<dyn SlotInventory>,
    schedule: Uuid,
    segment: Uuid,
    contenders: Vec<(String, Uuid)>,
) -> Vec<(String, Uuid, HoldOutcome)> {
    let mut tasks = JoinSet::new();
    for (holder, booking) in contenders {
        let inventory = inventory.clone();
        tasks.spawn(async move {
            let outcome = inventory
                .hold(schedule, segment, &holder, booking, EXPIRES)
                .await
                .unwrap();
            (holder, booking, outcome)
        });
    }
    tasks.join_all().await
}

fn count(outcomes: &[(String, Uuid, HoldOutcome)], wanted: &HoldOutcome) -> usize {
    outcomes.iter().filter(|(_, _, o)| o == wanted).count()
}

async fn race_for_the_last_place(inventory: Arc<dyn SlotInventory>) {
    let (schedule, seg) = loaded(&*inventory, &[1]).await;
    let contenders = (0..200).map(|n| (person(n), Uuid::now_v7())).collect();
    let outcomes = race(&inventory, schedule, seg[0], contenders).await;
    assert_eq!(count(&outcomes, &HoldOutcome::Held), 1);
    assert_eq!(count(&outcomes, &HoldOutcome::SoldOut), 199);

    let (winner, booking, _) = outcomes
        .iter()
        .find(|(_, _, o)| *o == HoldOutcome::Held)
        .unwrap();
    let after = stock(&*inventory, schedule).await;
    assert_eq!(after.remaining[&seg[0]], 0);
    assert_eq!(after.holders.len(), 1);
    assert_eq!(
        (&after.holders[0].holder, after.holders[0].booking_id),
        (winner, *booking)
    );
}

async fn race_over_capacity(inventory: Arc<dyn SlotInventory>) {
    let (schedule, seg) = loaded(&*inventory, &[100]).await;
    let contenders = (0..1000).map(|n| (person(n), Uuid::now_v7())).collect();
    let outcomes = race(&inventory, schedule, seg[0], contenders).await;
    assert_eq!(count(&outcomes, &HoldOutcome::Held), 100);
    assert_eq!(count(&outcomes, &HoldOutcome::SoldOut), 900);
    let after = stock(&*inventory, schedule).await;
    assert_eq!(after.remaining[&seg[0]], 0);
    assert_eq!(after.holders.len(), 100);
}

async fn one_person_from_many_tasks(inventory: Arc<dyn SlotInventory>) {
    let (schedule, seg) = loaded(&*inventory, &[10]).await;
    let contenders = (0..50).map(|_| (person(7), Uuid::now_v7())).collect();
    let outcomes = race(&inventory, schedule, seg[0], contenders).await;
    assert_eq!(count(&outcomes, &HoldOutcome::Held), 1);
    let (_, winner, _) = outcomes
        .iter()
        .find(|(_, _, o)| *o == HoldOutcome::Held)
        .unwrap();
    let refused = HoldOutcome::AlreadyHolding {
        booking_id: *winner,
        segment_id: seg[0],
    };
    assert_eq!(count(&outcomes, &refused), 49);
    assert_eq!(stock(&*inventory, schedule).await.remaining[&seg[0]], 9);
}

/// Holds, confirms and releases (some twice, some with a wrong booking) interleave while a
/// watcher checks every snapshot: per segment, places left plus live holders stay the
/// capacity.
async fn holds_and_releases_keep_the_count(inventory: Arc<dyn SlotInventory>) {
    let capacities = [3, 4];
    let (schedule, seg) = loaded(&*inventory, &capacities).await;
    let capacity: BTreeMap<Uuid, u32> = seg.iter().copied().zip(capacities).collect();
    let check = |snapshot: &ScheduleStock| {
        for (segment, cap) in &capacity {
            let live = snapshot
                .holders
                .iter()
                .filter(|h| h.segment_id == *segment)
                .count();
            assert_eq!(
                snapshot.remaining[segment] as usize + live,
                *cap as usize,
                "{snapshot:?}"
            );
        }
    };

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (inventory, done) = (inventory.clone(), done.clone());
        tokio::spawn(async move {
            let mut snapshots = Vec::new();
            loop {
                snapshots.push(inventory.stock(schedule).await.unwrap().unwrap());
                if done.load(Ordering::SeqCst) {
                    return snapshots;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let mut tasks = JoinSet::new();
    for n in 0..200 {
        let (inventory, segment) = (inventory.clone(), seg[n % 2]);
        // 20 people, so a person often races themself as well; several rounds each, so the
        // watcher sees many states even when a Redis round trip is slow next to a task.
        tasks.spawn(async move {
            for round in 0..5 {
                hold_then_release(&*inventory, schedule, segment, n + round).await;
            }
        });
    }
    tasks.join_all().await;
    done.store(true, Ordering::SeqCst);
    let snapshots = watcher.await.unwrap();
    snapshots.iter().for_each(check);

    let end = stock(&*inventory, schedule).await;
    assert_eq!(end.remaining, capacity);
    assert!(end.holders.is_empty());
}

/// One booking's life: hold; if that worked, maybe confirm, then release (a stranger's
/// release first, which must do nothing, and sometimes a second release, likewise).
async fn hold_then_release(inventory: &dyn SlotInventory, schedule: Uuid, segment: Uuid, n: usize) {
    let holder = person(n % 20);
    let booking = Uuid::now_v7();
    let outcome = inventory
        .hold(schedule, segment, &holder, booking, EXPIRES)
        .await
        .unwrap();
    if outcome != HoldOutcome::Held {
        return;
    }
    if n.is_multiple_of(3) {
        assert!(inventory.confirm(schedule, &holder, booking).await.unwrap());
    }
    let stranger = Uuid::now_v7();
    assert!(
        !inventory
            .release(schedule, &holder, stranger)
            .await
            .unwrap()
    );
    assert!(inventory.release(schedule, &holder, booking).await.unwrap());
    if n.is_multiple_of(4) {
        assert!(!inventory.release(schedule, &holder, booking).await.unwrap());
    }
}

/// Removes this run's keys from the shared Redis; SCAN, not KEYS, so other users of the
/// server are not blocked.
async fn delete_keys(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: u64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut con)
                .await
                .unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
