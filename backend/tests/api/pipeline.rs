//! The event writer between the request path and a store: a batch whose answer was
//! lost is retried as the very same batch (so it is counted once wherever the store
//! can tell), and a shutdown whose store does not answer leaves every event in the
//! spool, delivered at the next start.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use tollgate::{
    db::Db,
    events::{
        spool::Spool,
        stores::SqlEventStore,
        writer::{EventPipeline, WriterConfig},
        Batch, Cursor, EventFilter, EventStore, GatewaySpend, Order, RequestEvent, Summary,
    },
    ids::{EventId, GatewayId, UserId},
    metrics::Metrics,
};

use crate::analytics::event;

/// A store whose first insert is written but whose answer is lost (a timeout or a
/// reset connection after the commit); it records the ids of every insert.
pub struct LostAnswer {
    inner: Arc<dyn EventStore>,
    inserts: Mutex<Vec<Vec<EventId>>>,
}

impl LostAnswer {
    pub fn new(inner: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self { inner, inserts: Mutex::new(Vec::new()) })
    }

    /// The event ids of each insert, in order.
    pub fn inserts(&self) -> Vec<Vec<EventId>> {
        self.inserts.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventStore for LostAnswer {
    fn name(&self) -> &'static str {
        "lost-answer"
    }

    async fn insert(&self, events: Batch) -> anyhow::Result<()> {
        self.inner.insert(events.clone()).await?;
        let mut inserts = self.inserts.lock().unwrap();
        inserts.push(events.iter().map(|e| e.id).collect());
        anyhow::ensure!(inserts.len() > 1, "connection reset before the answer");
        Ok(())
    }

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary> {
        self.inner.summary(filter).await
    }

    async fn page(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Vec<RequestEvent>> {
        self.inner.page(filter, order, after, limit).await
    }

    async fn spend(&self, month_ms: i64, day_ms: i64, before_ms: i64) -> anyhow::Result<Vec<GatewaySpend>> {
        self.inner.spend(month_ms, day_ms, before_ms).await
    }

    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()> {
        self.inner.delete_before(cutoff_ms).await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        self.inner.ping().await
    }
}

/// A store that never answers an insert.
struct Hanging;

#[async_trait]
impl EventStore for Hanging {
    fn name(&self) -> &'static str {
        "hanging"
    }

    async fn insert(&self, _: Batch) -> anyhow::Result<()> {
        std::future::pending().await
    }

    async fn summary(&self, _: &EventFilter) -> anyhow::Result<Summary> {
        std::future::pending().await
    }

    async fn page(&self, _: &EventFilter, _: Order, _: Option<Cursor>, _: usize) -> anyhow::Result<Vec<RequestEvent>> {
        std::future::pending().await
    }

    async fn spend(&self, _: i64, _: i64, _: i64) -> anyhow::Result<Vec<GatewaySpend>> {
        std::future::pending().await
    }

    async fn delete_before(&self, _: i64) -> anyhow::Result<()> {
        std::future::pending().await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        std::future::pending().await
    }
}

fn start(store: Arc<dyn EventStore>, spool_dir: &std::path::Path) -> (EventPipeline, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let spool = Arc::new(Spool::open(spool_dir).unwrap());
    let config = WriterConfig { batch_rows: 100, flush_interval: Duration::from_millis(50), queue_capacity: 10_000 };
    (EventPipeline::start(store, spool, metrics.clone(), config), metrics)
}

/// Hands `events` to a writer in front of `store` and stops it once all are written.
pub async fn write_through_the_writer(store: Arc<dyn EventStore>, events: &[RequestEvent]) {
    let spool_dir = tempfile::TempDir::new().unwrap();
    let (pipeline, metrics) = start(store, spool_dir.path());
    for event in events {
        pipeline.sink.emit(event.clone());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while metrics.events_inserted.get() < events.len() as u64 {
        assert!(Instant::now() < deadline, "only {} of {} events written", metrics.events_inserted.get(), events.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pipeline.shutdown(Duration::from_secs(5)).await;
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<SqlEventStore> {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Arc::new(
        SqlEventStore::new(tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap()).unwrap(),
    )
}

fn today(gateway: GatewayId) -> EventFilter {
    let now = Utc::now().timestamp_millis();
    EventFilter { gateway_id: gateway, from_ms: now - 86_400_000, to_ms: now + 1000, model: None, status: None }
}

#[tokio::test]
async fn a_batch_whose_answer_was_lost_is_retried_as_the_same_batch_and_counted_once() {
    let dir = tempfile::TempDir::new().unwrap();
    let sql = sqlite_store(&dir).await;
    let store = LostAnswer::new(sql.clone());
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let events: Vec<_> = (1..=250u64).map(|ms| event(gateway, user, 0, ms, true, "gpt-4o")).collect();

    write_through_the_writer(store.clone(), &events).await;

    let inserts = store.inserts();
    assert!(inserts.len() >= 2);
    assert_eq!(inserts[1], inserts[0], "the retry is the same batch: the same events in the same order");
    assert_eq!(sql.summary(&today(gateway)).await.unwrap().totals.requests, 250, "each call counted once");
}

#[tokio::test]
async fn events_unwritten_at_the_drain_deadline_go_to_the_spool_and_arrive_at_the_next_start() {
    let spool_dir = tempfile::TempDir::new().unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let events: Vec<_> = (1..=345u64).map(|ms| event(gateway, user, 0, ms, ms % 9 != 0, "gpt-4o")).collect();

    // The store takes the first batch and never answers: the rest waits in the queue.
    let (pipeline, _) = start(Arc::new(Hanging), spool_dir.path());
    for event in &events {
        pipeline.sink.emit(event.clone());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = Instant::now();
    pipeline.shutdown(Duration::from_millis(300)).await;
    assert!(stopping.elapsed() < Duration::from_secs(3), "shutdown keeps to its deadline ({:?})", stopping.elapsed());

    let spool = Spool::open(spool_dir.path()).unwrap();
    assert_eq!(spool.pending(), events.len() as u64, "every event is in the spool");
    drop(spool);

    // The next start delivers them, each once.
    let dir = tempfile::TempDir::new().unwrap();
    let sql = sqlite_store(&dir).await;
    let (pipeline, metrics) = start(sql.clone(), spool_dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    while metrics.events_inserted.get() < events.len() as u64 {
        assert!(Instant::now() < deadline, "the spool is replayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pipeline.shutdown(Duration::from_secs(5)).await;
    let stored = sql.page(&today(gateway), Order::OldestFirst, None, 1000).await.unwrap();
    let mut ids: Vec<_> = stored.iter().map(|e| e.id).collect();
    let mut expected: Vec<_> = events.iter().map(|e| e.id).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}
