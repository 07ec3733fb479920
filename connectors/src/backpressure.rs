//! What a source does when the pipeline falls behind: wait (`block`), or keep the newest items in a bounded queue that drops the oldest (`drop_oldest`).

use crate::ingest::Ingest;
use crate::mqtt::SourceStats;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tracing::warn;

/// How long a stopping source waits for the pipeline to take what its drop-oldest queue still holds.
/// The pipeline keeps draining during shutdown, so this only matters when it is wedged.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a source does with new input while the pipeline's queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackpressurePolicy {
    /// Wait for room and acknowledge only after the hand-off, so the broker buffers (QoS 1):
    /// nothing is lost, but the readings the model sees fall behind real time.
    #[default]
    Block,
    /// Acknowledge at once and keep the newest items in a bounded queue; when it is full the
    /// oldest item is discarded and counted: the model stays current, at the price of gaps.
    DropOldest,
}

/// A bounded FIFO whose producer never waits: pushing into a full queue discards the oldest item.
/// Meant for one consumer ([`DropOldestQueue::pop`] or [`Forwarder`]) and any number of producers,
/// including synchronous callbacks that must not block (OPC-UA data changes).
#[derive(Debug)]
pub struct DropOldestQueue<T> {
    state: Mutex<QueueState<T>>,
    /// Wakes the consumer; `notify_one` keeps a permit when nobody waits, so no wake-up is lost.
    ready: Notify,
    capacity: usize,
}

#[derive(Debug)]
struct QueueState<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> DropOldestQueue<T> {
    /// An empty queue holding at most `capacity` items.
    ///
    /// # Panics
    /// If `capacity` is 0 (a queue that can hold nothing would drop every item).
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a drop-oldest queue needs a capacity of at least 1");
        DropOldestQueue {
            state: Mutex::new(QueueState { items: VecDeque::new(), closed: false }),
            ready: Notify::new(),
            capacity,
        }
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items waiting now.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// True when no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `item` without waiting. When the queue is full, the oldest item is removed to make
    /// room and returned, so the caller can count it.
    pub fn push(&self, item: T) -> Option<T> {
        let dropped = {
            let mut state = self.lock();
            let dropped = if state.items.len() == self.capacity { state.items.pop_front() } else { None };
            state.items.push_back(item);
            dropped
        };
        self.ready.notify_one();
        dropped
    }

    /// Takes the oldest item, if any, without waiting.
    pub fn try_pop(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// Takes the oldest item, waiting for one; `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Marks the end of input: [`DropOldestQueue::pop`] returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        // Nothing panics while holding the lock, and the deque stays valid if something did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DropOldestQueue<Ingest> {
    /// [`DropOldestQueue::push`], counting a discarded item in `stats.backpressure_dropped` and
    /// warning when the total reaches a power of two (so a long stall logs a handful of lines).
    pub fn push_counted(&self, item: Ingest, stats: &SourceStats, source: &str) {
        if self.push(item).is_some() {
            let total = stats.backpressure_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if total.is_power_of_two() {
                warn!(source, dropped_total = total, "pipeline is behind, dropping the oldest queued input");
            }
        }
    }
}

/// The task that empties a [`DropOldestQueue`] into the pipeline's queue, in order.
pub struct Forwarder<T> {
    queue: Arc<DropOldestQueue<T>>,
    task: JoinHandle<()>,
}

impl<T: Send + 'static> Forwarder<T> {
    /// Spawns the task. It reserves room in `tx` *before* taking an item, so that while the
    /// pipeline stalls every waiting item stays in the queue, where newer items can displace it.
    pub fn spawn(queue: Arc<DropOldestQueue<T>>, tx: mpsc::Sender<T>) -> Self {
        let source = queue.clone();
        let task = tokio::spawn(async move {
            while let Ok(permit) = tx.reserve().await {
                let Some(item) = source.pop().await else { return };
                permit.send(item);
            }
        });
        Forwarder { queue, task }
    }

    /// Closes the queue and lets the task hand on what is left (bounded by `DRAIN_TIMEOUT`).
    pub async fn finish(self) {
        self.queue.close();
        let mut task = self.task;
        if tokio::time::timeout(DRAIN_TIMEOUT, &mut task).await.is_err() {
            warn!(left = self.queue.len(), "pipeline did not take the queued input before shutdown, dropping it");
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{RejectReason, Rejection};
    use proptest::prelude::*;

    /// A distinguishable item; its detail is `n`.
    fn rejection(n: u32) -> Ingest {
        Ingest::Rejected(Rejection::new(RejectReason::Malformed, "test", n.to_string()))
    }

    #[test]
    fn policy_parses_from_snake_case_and_defaults_to_block() {
        assert_eq!(BackpressurePolicy::default(), BackpressurePolicy::Block);
        let p: BackpressurePolicy = serde_json::from_str(r#""drop_oldest""#).unwrap();
        assert_eq!(p, BackpressurePolicy::DropOldest);
        assert!(serde_json::from_str::<BackpressurePolicy>(r#""drop_newest""#).is_err());
    }

    #[test]
    fn a_full_queue_drops_its_oldest_items_first() {
        let q = DropOldestQueue::new(3);
        let dropped: Vec<Option<u32>> = (1..=6).map(|n| q.push(n)).collect();
        assert_eq!(dropped, [None, None, None, Some(1), Some(2), Some(3)]);
        assert_eq!(q.len(), 3);
        assert_eq!([q.try_pop(), q.try_pop(), q.try_pop(), q.try_pop()], [Some(4), Some(5), Some(6), None]);
    }

    #[test]
    #[should_panic(expected = "capacity of at least 1")]
    fn a_zero_capacity_is_refused() {
        DropOldestQueue::<u32>::new(0);
    }

    #[test]
    fn drops_are_counted_in_the_source_stats() {
        let q = DropOldestQueue::new(2);
        let stats = SourceStats::default();
        for n in 0..5 {
            q.push_counted(rejection(n), &stats, "test");
        }
        assert_eq!(stats.backpressure_dropped.load(Ordering::Relaxed), 3);
        assert_eq!((q.try_pop(), q.try_pop()), (Some(rejection(3)), Some(rejection(4))));
    }

    proptest! {
        /// Whatever the interleaving, the queue never holds more than its capacity, gives items
        /// back in push order, and what it holds is exactly the newest pushed items not yet popped.
        #[test]
        fn never_exceeds_capacity_and_keeps_the_newest(capacity in 1usize..8, ops in prop::collection::vec(any::<bool>(), 0..200)) {
            let q = DropOldestQueue::new(capacity);
            let mut model = VecDeque::new();
            let mut next = 0u32;
            for push in ops {
                if push {
                    let dropped = q.push(next);
                    model.push_back(next);
                    let expected = if model.len() > capacity { model.pop_front() } else { None };
                    prop_assert_eq!(dropped, expected);
                    next += 1;
                } else {
                    prop_assert_eq!(q.try_pop(), model.pop_front());
                }
                prop_assert!(q.len() <= capacity);
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_and_ends_after_close() {
        let q = Arc::new(DropOldestQueue::new(4));
        let consumer = tokio::spawn({
            let q = q.clone();
            async move {
                let mut got = Vec::new();
                while let Some(n) = q.pop().await {
                    got.push(n);
                }
                got
            }
        });
        tokio::task::yield_now().await;
        q.push(1);
        q.push(2);
        q.close();
        let got = tokio::time::timeout(Duration::from_secs(5), consumer).await.unwrap().unwrap();
        assert_eq!(got, [1, 2]);
    }

    #[tokio::test]
    async fn the_forwarder_leaves_waiting_items_displaceable_while_the_pipeline_is_full() {
        let q = Arc::new(DropOldestQueue::new(2));
        let (tx, mut rx) = mpsc::channel(1);
        let forwarder = Forwarder::spawn(q.clone(), tx);
        q.push(1);
        // Item 1 fills the pipeline's only slot; from then on the forwarder must not hold an item.
        while !q.is_empty() {
            tokio::task::yield_now().await;
        }
        for n in 2..=5 {
            q.push(n);
            tokio::task::yield_now().await;
        }
        assert_eq!(q.len(), 2, "2 and 3 were displaced by 4 and 5");
        // Finishing drains the queue into the pipeline once it takes items again.
        let finish = tokio::spawn(forwarder.finish());
        let mut got = Vec::new();
        while let Some(n) = rx.recv().await {
            got.push(n);
        }
        finish.await.unwrap();
        assert_eq!(got, [1, 4, 5]);
    }
}
