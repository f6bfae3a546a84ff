//! Group commit: work that arrives faster than one database transaction each can commit waits
//! in a queue, and one worker takes whatever has gathered as a batch for one transaction. With
//! nobody else waiting a batch is one job, so a quiet system pays nothing for it.

use chrono::{DateTime, Utc};
use sea_orm::Value;
use sea_orm::sea_query::ArrayType;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub(crate) struct GroupCommit<J> {
    pending: Mutex<Vec<J>>,
    /// One drain at a time: a second one, tried for payment confirmations, halved the batches
    /// and cost more CPU than it saved in waiting.
    draining: AtomicBool,
    max_batch: usize,
}

impl<J: Send + 'static> GroupCommit<J> {
    pub fn new(max_batch: usize) -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            draining: AtomicBool::new(false),
            max_batch,
        }
    }

    /// Queues `job`. If no batch is being drained, draining starts on a task of its own, running
    /// `commit` on each batch, so a caller that goes away cannot stop a batch that others wait
    /// for.
    pub fn submit<C, F>(self: &Arc<Self>, job: J, commit: C)
    where
        C: Fn(Vec<J>) -> F + Send + 'static,
        F: Future<Output = ()> + Send,
    {
        self.pending.lock().expect("queue lock").push(job);
        if !self.draining.swap(true, Ordering::AcqRel) {
            let queue = Arc::clone(self);
            tokio::spawn(async move { queue.drain(commit).await });
        }
    }

    async fn drain<C, F>(self: Arc<Self>, commit: C)
    where
        C: Fn(Vec<J>) -> F,
        F: Future<Output = ()>,
    {
        loop {
            let batch: Vec<J> = {
                let mut pending = self.pending.lock().expect("queue lock");
                let take = pending.len().min(self.max_batch);
                pending.drain(..take).collect()
            };
            if batch.is_empty() {
                self.draining.store(false, Ordering::Release);
                // A job queued after the empty take saw `draining` still set and started no
                // drain of its own: take it up, unless a newer drain already has.
                let left = !self.pending.lock().expect("queue lock").is_empty();
                if left && !self.draining.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            commit(batch).await;
        }
    }
}

/// One array parameter of `cells`, all of type `kind`: batch statements take one array per
/// column, so their text (and prepared statement) is the same whatever the batch's size.
pub(crate) fn array<T: Into<Value>>(kind: ArrayType, cells: impl Iterator<Item = T>) -> Value {
    Value::Array(kind, Some(Box::new(cells.map(Into::into).collect())))
}

/// `array` of `uuid[]`, `text[]`, `int8[]`, `timestamptz[]`.
pub(crate) fn uuids(cells: impl Iterator<Item = Uuid>) -> Value {
    array(ArrayType::Uuid, cells)
}

pub(crate) fn texts<T: Into<Value>>(cells: impl Iterator<Item = T>) -> Value {
    array(ArrayType::String, cells)
}

pub(crate) fn big_ints(cells: impl Iterator<Item = i64>) -> Value {
    array(ArrayType::BigInt, cells)
}

pub(crate) fn instants(cells: impl Iterator<Item = DateTime<Utc>>) -> Value {
    array(ArrayType::ChronoDateTimeUtc, cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn waiting_jobs_go_together_and_every_job_is_committed_once() {
        let queue = Arc::new(GroupCommit::new(4));
        let (batches_tx, mut batches) = mpsc::unbounded_channel();
        let commit = move |batch: Vec<u32>| {
            let batches_tx = batches_tx.clone();
            async move { batches_tx.send(batch).unwrap() }
        };
        // The test's runtime has one thread: the drain starts only once all ten are queued.
        for job in 0..10 {
            queue.submit(job, commit.clone());
        }
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let batch = batches.recv().await.unwrap();
            sizes.push(batch.len());
            seen.extend(batch);
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(sizes, [4, 4, 2], "batches of at most 4, in arrival order");
        queue.submit(10, commit.clone());
        assert_eq!(
            batches.recv().await.unwrap(),
            [10],
            "a drain starts again after going idle"
        );
    }
}
