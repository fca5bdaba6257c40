//! The background writer. Events from the queue go into the store's open batch,
//! which is written every `batch_rows` events or `flush_interval`. The writer
//! keeps every event until its batch is written: a failed batch is retried with
//! backoff, then spooled to disk, and while the store is failing new events are
//! spooled too (behind the older ones), to be replayed in order once it answers.
//! Shutdown drains the queue, and the spool while the store is up.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{
    spool::Spool,
    store::{BatchLimits, EventBatch},
    EventSink, EventStore, RequestEvent,
};
use crate::metrics::Metrics;

pub struct WriterConfig {
    pub batch_rows: usize,
    pub flush_interval: Duration,
    pub queue_capacity: usize,
}

/// The running pipeline: the sink for the hot path, and the handle to stop the writer.
pub struct EventPipeline {
    pub sink: EventSink,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl EventPipeline {
    pub fn start(store: Arc<dyn EventStore>, spool: Arc<Spool>, metrics: Arc<Metrics>, config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (shutdown, shutdown_rx) = watch::channel(false);
        metrics.events_spooled.set(spool.pending() as i64);
        let limits = BatchLimits { rows: config.batch_rows, period: config.flush_interval };
        let writer = Writer {
            batch: store.clone().open_batch(limits),
            store,
            spool: spool.clone(),
            metrics: metrics.clone(),
            limits,
            unwritten: Vec::new(),
            held: Vec::new(),
            retry_at: Instant::now(),
            backoff: INITIAL_BACKOFF,
        };
        let task = tokio::spawn(writer.run(rx, shutdown_rx));
        Self { sink: EventSink::new(tx, spool, metrics), shutdown, task }
    }

    /// Drains the queue and, while the store is up, the spool; gives up after `deadline`
    /// (what is left stays in the spool for the next start).
    pub async fn shutdown(self, deadline: Duration) {
        let _ = self.shutdown.send(true);
        drop(self.sink);
        if tokio::time::timeout(deadline, self.task).await.is_err() {
            tracing::error!("event writer did not finish draining in time");
        }
    }
}

const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Quick retries of one failed batch before it goes to the spool.
const INSERT_ATTEMPTS: u32 = 3;

struct Writer {
    store: Arc<dyn EventStore>,
    batch: Box<dyn EventBatch>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    limits: BatchLimits,
    /// In the open batch, not yet confirmed written.
    unwritten: Vec<RequestEvent>,
    /// Arrived while the store was failing; bound for the spool.
    held: Vec<RequestEvent>,
    /// While the store is failing, nothing is written to it before this instant.
    retry_at: Instant,
    backoff: Duration,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<RequestEvent>, mut shutdown: watch::Receiver<bool>) {
        let mut received = Vec::with_capacity(self.limits.rows.min(4096));
        // Ticks often enough that a due batch is written close to its deadline.
        let mut ticker = tokio::time::interval((self.limits.period / 4).max(Duration::from_millis(5)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                count = rx.recv_many(&mut received, 4096) => {
                    if count == 0 {
                        break;
                    }
                    self.metrics.event_queue_depth.sub(count as i64);
                    for event in received.drain(..) {
                        self.accept(event).await;
                    }
                }
                _ = ticker.tick() => self.tick().await,
                _ = shutdown.changed() => break,
            }
        }
        // Drain: whatever the request path handed over before the server stopped.
        rx.close();
        while let Some(event) = rx.recv().await {
            self.metrics.event_queue_depth.dec();
            self.accept(event).await;
        }
        let result = self.batch.flush().await;
        self.settle(result).await;
        self.spool_held();
        self.retry_at = Instant::now();
        self.replay().await;
        let left = self.spool.pending();
        if left > 0 {
            tracing::warn!(
                spooled = left,
                store = self.store.name(),
                "analytics store unavailable at shutdown: events kept in the spool"
            );
        }
    }

    /// The store is failing, or older events wait in the spool: new ones queue behind them.
    fn degraded(&self) -> bool {
        Instant::now() < self.retry_at || self.spool.pending() > 0
    }

    async fn accept(&mut self, event: RequestEvent) {
        if self.degraded() {
            self.held.push(event);
            if self.held.len() >= self.limits.rows {
                self.spool_held();
            }
            return;
        }
        let result = match self.batch.write(&event).await {
            Ok(()) => {
                self.unwritten.push(event);
                self.batch.commit().await
            }
            Err(e) => {
                self.unwritten.push(event);
                Err(e)
            }
        };
        self.settle(result).await;
    }

    async fn tick(&mut self) {
        if !self.unwritten.is_empty() {
            let result = self.batch.commit().await;
            self.settle(result).await;
        }
        self.spool_held();
        self.replay().await;
    }

    /// Accounts for a batch write: confirmed events are forgotten; a failure
    /// gets retries, then the spool.
    async fn settle(&mut self, result: anyhow::Result<u64>) {
        match result {
            Ok(0) => {}
            Ok(written) => {
                self.metrics.events_inserted.inc_by(written);
                self.unwritten.clear();
                self.backoff = INITIAL_BACKOFF;
            }
            Err(e) => {
                self.metrics.event_insert_failures.inc();
                tracing::warn!(error = %e, rows = self.unwritten.len(), store = self.store.name(), "event batch failed");
                // The failed batch is gone; a fresh one takes the next events.
                self.batch = self.store.clone().open_batch(self.limits);
                let events = std::mem::take(&mut self.unwritten);
                if !self.insert_with_retries(&events).await {
                    self.hold_off();
                    self.held.splice(0..0, events);
                    self.spool_held();
                }
            }
        }
    }

    async fn insert_with_retries(&mut self, events: &[RequestEvent]) -> bool {
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=INSERT_ATTEMPTS {
            tokio::time::sleep(pause).await;
            match self.store.insert(events).await {
                Ok(()) => {
                    self.metrics.events_inserted.inc_by(events.len() as u64);
                    return true;
                }
                Err(e) => {
                    self.metrics.event_insert_failures.inc();
                    tracing::warn!(error = %e, attempt, rows = events.len(), "event batch retry failed");
                }
            }
            pause *= 4;
        }
        false
    }

    fn hold_off(&mut self) {
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn spool_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        if let Err(e) = self.spool.append(&self.held) {
            self.metrics.events_dropped.inc_by(self.held.len() as u64);
            tracing::error!(error = %e, lost = self.held.len(), "cannot write the event spool: events dropped");
        }
        self.held.clear();
        self.metrics.events_spooled.set(self.spool.pending() as i64);
    }

    /// Delivers the spool in order, chunk by chunk, until it is empty or the store fails.
    async fn replay(&mut self) {
        while Instant::now() >= self.retry_at {
            let chunk = match self.spool.read_chunk(self.limits.rows) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the event spool");
                    return;
                }
            };
            if !chunk.events.is_empty() {
                if let Err(e) = self.store.insert(&chunk.events).await {
                    self.metrics.event_insert_failures.inc();
                    tracing::warn!(error = %e, store = self.store.name(), "spool replay failed; will retry");
                    self.hold_off();
                    return;
                }
                self.metrics.events_inserted.inc_by(chunk.events.len() as u64);
                self.backoff = INITIAL_BACKOFF;
            }
            if let Err(e) = self.spool.commit(&chunk) {
                tracing::error!(error = %e, "cannot record spool progress");
                return;
            }
            self.metrics.events_spooled.set(self.spool.pending() as i64);
        }
    }
}
