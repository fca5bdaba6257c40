//! The analytics store behind one trait: the SQL store (embedded default) and
//! ClickHouse answer the same questions with the same numbers.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures_util::{stream, stream::BoxStream, StreamExt};

use super::{Cursor, EventFilter, Order, RequestEvent, Summary};

/// When a batch is due: after `rows` events or `period`, whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    pub rows: usize,
    pub period: Duration,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Short name for logs, metrics and `/readyz`.
    fn name(&self) -> &'static str;

    /// Writes one batch at once. Must be safe to retry with the same events.
    async fn insert(&self, events: &[RequestEvent]) -> anyhow::Result<()>;

    /// A batch the writer fills event by event, written when due.
    fn open_batch(self: Arc<Self>, limits: BatchLimits) -> Box<dyn EventBatch>;

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary>;

    /// Events matching `filter` in `order`, strictly after `after` in that order.
    async fn page(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Vec<RequestEvent>>;

    /// Every event matching `filter`, oldest first, as a stream: by default page by page.
    fn export(self: Arc<Self>, filter: EventFilter) -> BoxStream<'static, anyhow::Result<Vec<RequestEvent>>> {
        const PAGE: usize = 2000;
        stream::unfold(Some(None), move |after: Option<Option<Cursor>>| {
            let (store, filter) = (self.clone(), filter.clone());
            async move {
                let after = after?;
                match store.page(&filter, Order::OldestFirst, after, PAGE).await {
                    Ok(events) if events.is_empty() => None,
                    Ok(events) => {
                        let next = (events.len() == PAGE)
                            .then(|| events.last().map(|e| Cursor { ts_ms: e.ts_ms(), id: e.id }));
                        Some((Ok(events), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
        .boxed()
    }

    /// Retention: forgets events older than `cutoff_ms` (whole partitions where the store has them).
    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()>;

    async fn ping(&self) -> anyhow::Result<()>;
}

/// The writer's open batch.
#[async_trait]
pub trait EventBatch: Send {
    async fn write(&mut self, event: &RequestEvent) -> anyhow::Result<()>;

    /// Writes the batch if it is due; how many events were written (0: not due yet).
    async fn commit(&mut self) -> anyhow::Result<u64>;

    /// Writes the batch now.
    async fn flush(&mut self) -> anyhow::Result<u64>;
}

/// A batch kept in memory and written with one `insert`, for stores without a
/// streaming insert of their own.
pub struct BufferedBatch {
    store: Arc<dyn EventStore>,
    limits: BatchLimits,
    events: Vec<RequestEvent>,
    started: Instant,
}

impl BufferedBatch {
    pub fn new(store: Arc<dyn EventStore>, limits: BatchLimits) -> Self {
        Self { store, limits, events: Vec::new(), started: Instant::now() }
    }
}

#[async_trait]
impl EventBatch for BufferedBatch {
    async fn write(&mut self, event: &RequestEvent) -> anyhow::Result<()> {
        if self.events.is_empty() {
            self.started = Instant::now();
        }
        self.events.push(event.clone());
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<u64> {
        let due = self.events.len() >= self.limits.rows || self.started.elapsed() >= self.limits.period;
        if due {
            self.flush().await
        } else {
            Ok(0)
        }
    }

    async fn flush(&mut self) -> anyhow::Result<u64> {
        if self.events.is_empty() {
            return Ok(0);
        }
        let events = std::mem::take(&mut self.events);
        self.store.insert(&events).await?;
        Ok(events.len() as u64)
    }
}
