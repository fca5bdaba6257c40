//! The background writer. Events from the queue gather in a batch, written every
//! `batch_rows` events or `flush_interval`. The writer keeps every event until its
//! batch is written: a failed batch is retried with backoff, then spooled to disk,
//! and while the store is failing new events are spooled too (behind the older
//! ones), to be replayed in order once it answers. A retry always sends the same
//! events in the same order, so a store that recognises a retried batch does.
//! Shutdown drains the queue, and the spool while the store is up; what is still
//! unwritten at the drain deadline goes to the spool, replayed at the next start.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::{
    estimate,
    spool::{Chunk, Spool},
    Batch, EventSink, EventStore, RequestEvent,
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
    /// The drain deadline, once shutdown is asked for.
    shutdown: watch::Sender<Option<Instant>>,
    task: JoinHandle<()>,
}

/// Time the writer gets after the drain deadline to put what it still holds in the spool.
const SPOOL_GRACE: Duration = Duration::from_secs(5);

impl EventPipeline {
    pub fn start(store: Arc<dyn EventStore>, spool: Arc<Spool>, metrics: Arc<Metrics>, config: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let (shutdown, deadline) = watch::channel(None);
        metrics.events_spooled.set(spool.pending() as i64);
        let writer = Writer {
            store,
            spool: spool.clone(),
            metrics: metrics.clone(),
            rows: config.batch_rows,
            period: config.flush_interval,
            batch: Vec::new(),
            opened: Instant::now(),
            held: Vec::new(),
            failed_chunk: None,
            retry_at: Instant::now(),
            backoff: INITIAL_BACKOFF,
            deadline,
        };
        let task = tokio::spawn(writer.run(rx));
        Self { sink: EventSink::new(tx, spool, metrics), shutdown, task }
    }

    /// Drains the queue and, while the store is up, the spool. Store calls still
    /// unanswered at `deadline` are given up, and every event not yet written goes
    /// to the spool for the next start.
    pub async fn shutdown(self, deadline: Duration) {
        let deadline = Instant::now() + deadline;
        let _ = self.shutdown.send(Some(deadline));
        drop(self.sink);
        if tokio::time::timeout_at(deadline + SPOOL_GRACE, self.task).await.is_err() {
            tracing::error!("event writer did not finish spooling in time: its unwritten events are lost");
        }
    }
}

const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the writer takes what the request path queued.
const QUEUE_TICK: Duration = Duration::from_millis(10);
/// Quick retries of one failed batch before it goes to the spool.
const INSERT_RETRIES: u32 = 3;

struct Writer {
    store: Arc<dyn EventStore>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    rows: usize,
    period: Duration,
    /// The open batch: accepted, not yet written.
    batch: Vec<RequestEvent>,
    /// When the open batch took its first event.
    opened: Instant,
    /// Arrived while the store was failing; bound for the spool.
    held: Vec<RequestEvent>,
    /// A spool chunk whose replay failed: retried as it is, never regrouped.
    failed_chunk: Option<Chunk>,
    /// While the store is failing, nothing is written to it before this instant.
    retry_at: Instant,
    backoff: Duration,
    /// The drain deadline once shutdown is asked for.
    deadline: watch::Receiver<Option<Instant>>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<RequestEvent>) {
        let mut received = Vec::with_capacity(self.rows.min(4096));
        // The queue is emptied on a tick instead of waking the writer for each event:
        // handing an event over then costs the request path no wake-up of another
        // thread. Ticks also come often enough that a due batch is written close to
        // its deadline.
        let mut ticker = tokio::time::interval((self.period / 4).clamp(Duration::from_millis(1), QUEUE_TICK));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.deadline.clone();
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    // `recv_many` answers at once while the queue holds events.
                    while !rx.is_empty() {
                        let count = rx.recv_many(&mut received, 4096).await;
                        self.metrics.event_queue_depth.sub(count as i64);
                        for event in received.drain(..) {
                            self.accept(event).await;
                        }
                    }
                    if rx.is_closed() && rx.is_empty() {
                        break;
                    }
                    self.tick().await;
                }
                _ = shutdown.changed() => break,
            }
        }
        // Drain: whatever the request path handed over before the server stopped.
        rx.close();
        while let Some(event) = rx.recv().await {
            self.metrics.event_queue_depth.dec();
            self.accept(event).await;
        }
        self.flush().await;
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
            // Held events may be spooled, which keeps no prompt to count: count it now.
            self.held.extend(estimate::fill_off_thread(vec![event]).await);
            if self.held.len() >= self.rows {
                self.spool_held();
            }
            return;
        }
        if self.batch.is_empty() {
            self.opened = Instant::now();
            // Room for a whole batch at once: grown by doubling, a batch of 10,000
            // events was copied along the way into a block of room for 16,384.
            self.batch.reserve_exact(self.rows);
        }
        self.batch.push(event);
        if self.batch.len() >= self.rows {
            self.flush().await;
        }
    }

    async fn tick(&mut self) {
        if !self.batch.is_empty() && self.opened.elapsed() >= self.period {
            self.flush().await;
        }
        estimate::release_idle_tokenizer();
        self.spool_held();
        self.replay().await;
    }

    /// Writes the open batch: retried a few times, then spooled whole.
    async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        // Prompts a provider answered without reporting usage are counted first.
        let events: Batch = estimate::fill_off_thread(std::mem::take(&mut self.batch)).await.into();
        let mut pause = Duration::from_millis(50);
        for attempt in 0..=INSERT_RETRIES {
            if attempt > 0 && !self.pause(pause).await {
                break;
            }
            match self.bounded(self.store.insert(events.clone())).await {
                Ok(()) => {
                    self.metrics.events_inserted.inc_by(events.len() as u64);
                    self.backoff = INITIAL_BACKOFF;
                    return;
                }
                Err(e) => {
                    self.metrics.event_insert_failures.inc();
                    tracing::warn!(error = %e, attempt, rows = events.len(), store = self.store.name(), "event batch failed");
                }
            }
            pause *= 4;
        }
        self.hold_off();
        // An attempt may have been written although its answer was lost: the batch is
        // spooled as one group, so its replay is the same batch again.
        if let Err(e) = self.spool.append_batch(&events) {
            self.dropped(events.len(), &e);
        }
        self.metrics.events_spooled.set(self.spool.pending() as i64);
    }

    /// Runs a store call, given up at the drain deadline.
    async fn bounded<T>(&self, call: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        tokio::select! {
            biased;
            () = deadline_reached(self.deadline.clone()) => {
                anyhow::bail!("the shutdown drain deadline passed before the store answered")
            }
            result = call => result,
        }
    }

    /// Waits `pause`; false when the drain deadline comes first.
    async fn pause(&self, pause: Duration) -> bool {
        self.bounded(async {
            tokio::time::sleep(pause).await;
            Ok(())
        })
        .await
        .is_ok()
    }

    fn hold_off(&mut self) {
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn spool_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        if let Err(e) = self.spool.append(&held) {
            self.dropped(held.len(), &e);
        }
        self.metrics.events_spooled.set(self.spool.pending() as i64);
    }

    fn dropped(&self, count: usize, error: &std::io::Error) {
        self.metrics.events_dropped.inc_by(count as u64);
        tracing::error!(error = %error, lost = count, "cannot write the event spool: events dropped");
    }

    /// Delivers the spool in order, chunk by chunk, until it is empty or the store fails.
    async fn replay(&mut self) {
        while Instant::now() >= self.retry_at {
            let chunk = match self.failed_chunk.take() {
                Some(chunk) => chunk,
                None => match self.spool.read_chunk(self.rows) {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the event spool");
                        return;
                    }
                },
            };
            if !chunk.events.is_empty() {
                if let Err(e) = self.bounded(self.store.insert(chunk.events.clone())).await {
                    self.metrics.event_insert_failures.inc();
                    tracing::warn!(error = %e, store = self.store.name(), "spool replay failed; will retry");
                    self.failed_chunk = Some(chunk);
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

/// Resolves once a drain deadline is set and has passed; never before shutdown.
async fn deadline_reached(mut deadline: watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        if let Some(at) = current {
            tokio::time::sleep_until(at).await;
            return;
        }
        if deadline.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
