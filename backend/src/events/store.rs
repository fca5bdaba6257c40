//! The analytics store behind one trait: the SQL store (embedded default) and
//! ClickHouse answer the same questions with the same numbers.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{stream, stream::BoxStream, StreamExt};

use super::{Cursor, EventFilter, Order, RequestEvent, Summary};

/// A gateway's spend this month and today, in nano-dollars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpend {
    pub gateway_id: String,
    pub month_nanousd: u64,
    pub day_nanousd: u64,
}

/// One batch of events, shared between the writer (which keeps it for a retry or the
/// spool) and the store (which may read it on a thread of its own). A `Vec` behind the
/// `Arc`, not an `Arc<[RequestEvent]>`: making that from the gathered `Vec` copies it,
/// and a ClickHouse batch of 10,000 events is several MiB.
pub type Batch = Arc<Vec<RequestEvent>>;

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Short name for logs, metrics and `/readyz`.
    fn name(&self) -> &'static str;

    /// Writes one batch at once. Retrying the same batch (the same events in the same
    /// order) after an attempt that did write it must not store its events twice,
    /// where the store can tell (see README, ClickHouse). The batch is shared, not
    /// copied: a store may read it on a thread of its own while the writer keeps it for a retry.
    async fn insert(&self, events: Batch) -> anyhow::Result<()>;

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

    /// What each gateway spent from `month_ms` and from `day_ms` (both UTC starts, `day_ms` the
    /// later) up to `before_ms`, in nano-dollars: budgets start from it.
    async fn spend(&self, month_ms: i64, day_ms: i64, before_ms: i64) -> anyhow::Result<Vec<GatewaySpend>>;

    /// Retention: forgets events older than `cutoff_ms` (whole partitions where the store has them).
    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()>;

    async fn ping(&self) -> anyhow::Result<()>;
}
