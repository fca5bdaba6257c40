//! The background writer: batches events from the queue and writes them to the
//! store, every `batch_rows` events or `flush_interval`, whichever comes first. A
//! failed batch is retried, then spooled to disk; the spool is replayed in order
//! once the store answers again. Shutdown drains the queue, and the spool while
//! the store is up.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{spool::Spool, EventSink, EventStore, RequestEvent};
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
        let writer = Writer {
            store,
            spool: spool.clone(),
            metrics: metrics.clone(),
            batch_rows: config.batch_rows,
            flush_interval: config.flush_interval,
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
/// Quick retries of one batch before it goes to the spool.
const INSERT_ATTEMPTS: u32 = 3;

struct Writer {
    store: Arc<dyn EventStore>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    batch_rows: usize,
    flush_interval: Duration,
    /// While the store is failing, no insert is tried before this instant.
    retry_at: Instant,
    backoff: Duration,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<RequestEvent>, mut shutdown: watch::Receiver<bool>) {
        let mut buffer = Vec::with_capacity(self.batch_rows);
        let mut ticker = tokio::time::interval(self.flush_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = rx.recv_many(&mut buffer, self.batch_rows) => {
                    if received == 0 {
                        break;
                    }
                    self.metrics.event_queue_depth.sub(received as i64);
                    if buffer.len() >= self.batch_rows {
                        self.flush(&mut buffer).await;
                    }
                }
                _ = ticker.tick() => {
                    self.flush(&mut buffer).await;
                    self.replay().await;
                }
                _ = shutdown.changed() => break,
            }
        }
        // Drain: whatever the request path handed over before the server stopped.
        rx.close();
        while let Some(event) = rx.recv().await {
            self.metrics.event_queue_depth.dec();
            buffer.push(event);
            if buffer.len() >= self.batch_rows {
                self.flush(&mut buffer).await;
            }
        }
        self.flush(&mut buffer).await;
        self.retry_at = Instant::now();
        self.replay().await;
        let left = self.spool.pending();
        if left > 0 {
            tracing::warn!(spooled = left, store = self.store.name(), "analytics store unavailable at shutdown: events kept in the spool");
        }
    }

    /// Writes the buffered events, or spools them: never both, never neither.
    async fn flush(&mut self, buffer: &mut Vec<RequestEvent>) {
        if buffer.is_empty() {
            return;
        }
        // Older events wait in the spool: keep the order by queueing behind them.
        let delivered = self.spool.pending() == 0 && Instant::now() >= self.retry_at && self.insert_with_retries(buffer).await;
        if !delivered {
            if let Err(e) = self.spool.append(buffer) {
                self.metrics.events_dropped.inc_by(buffer.len() as u64);
                tracing::error!(error = %e, lost = buffer.len(), "cannot write the event spool: events dropped");
            }
            self.metrics.events_spooled.set(self.spool.pending() as i64);
        }
        buffer.clear();
    }

    async fn insert_with_retries(&mut self, events: &[RequestEvent]) -> bool {
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=INSERT_ATTEMPTS {
            if self.insert(events).await {
                return true;
            }
            if attempt < INSERT_ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 4;
            }
        }
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        false
    }

    async fn insert(&mut self, events: &[RequestEvent]) -> bool {
        match self.store.insert(events).await {
            Ok(()) => {
                self.metrics.events_inserted.inc_by(events.len() as u64);
                self.backoff = INITIAL_BACKOFF;
                true
            }
            Err(e) => {
                self.metrics.event_insert_failures.inc();
                tracing::warn!(error = %e, rows = events.len(), store = self.store.name(), "event insert failed");
                false
            }
        }
    }

    /// Delivers the spool in order, chunk by chunk, until it is empty or the store fails.
    async fn replay(&mut self) {
        while Instant::now() >= self.retry_at {
            let chunk = match self.spool.read_chunk(self.batch_rows) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the event spool");
                    return;
                }
            };
            if !chunk.events.is_empty() && !self.insert(&chunk.events).await {
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                return;
            }
            if let Err(e) = self.spool.commit(&chunk) {
                tracing::error!(error = %e, "cannot record spool progress");
                return;
            }
            self.metrics.events_spooled.set(self.spool.pending() as i64);
        }
    }
}
