//! The analytics store behind one trait: the SQL store (embedded default) and
//! ClickHouse answer the same questions with the same numbers.

use async_trait::async_trait;

use super::{Cursor, EventFilter, Order, RequestEvent, Summary};

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Short name for logs, metrics and `/readyz`.
    fn name(&self) -> &'static str;

    /// Writes one batch. Must be safe to retry with the same events.
    async fn insert(&self, events: &[RequestEvent]) -> anyhow::Result<()>;

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary>;

    /// Events matching `filter` in `order`, strictly after `after` in that order.
    async fn page(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Vec<RequestEvent>>;

    /// Retention: forgets events older than `cutoff_ms`.
    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()>;

    async fn ping(&self) -> anyhow::Result<()>;
}
