//! The hot path's side of the event pipeline: hand over and move on.

use std::sync::Arc;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::{spool::Spool, RequestEvent};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<RequestEvent>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
}

impl EventSink {
    pub fn new(tx: mpsc::Sender<RequestEvent>, spool: Arc<Spool>, metrics: Arc<Metrics>) -> Self {
        Self { tx, spool, metrics }
    }

    /// Never waits: a full queue sends the event to the disk spool instead, and
    /// only an unwritable spool loses it (counted in `events_dropped_total`).
    pub fn emit(&self, event: RequestEvent) {
        match self.tx.try_send(event) {
            Ok(()) => self.metrics.event_queue_depth.inc(),
            Err(TrySendError::Full(event)) | Err(TrySendError::Closed(event)) => {
                match self.spool.append(std::slice::from_ref(&event)) {
                    Ok(()) => self.metrics.events_spooled.set(self.spool.pending() as i64),
                    Err(e) => {
                        self.metrics.events_dropped.inc();
                        tracing::error!(error = %e, "event queue full and spool unwritable: event dropped");
                    }
                }
            }
        }
    }
}
