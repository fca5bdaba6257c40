//! Retention: once a day, forget events older than `RETENTION_DAYS`.

use std::{sync::Arc, time::Duration};

use chrono::Utc;

use super::{query::MS_PER_DAY, EventStore};

pub fn spawn(store: Arc<dyn EventStore>, days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut daily = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            daily.tick().await;
            let cutoff = cutoff_ms(days);
            if let Err(e) = store.delete_before(cutoff).await {
                tracing::warn!(error = %e, "retention run failed; will try again tomorrow");
            }
        }
    })
}

/// The start of the oldest UTC day still kept: today and the `days - 1` before it.
pub fn cutoff_ms(days: u32) -> i64 {
    let today = Utc::now().timestamp_millis().div_euclid(MS_PER_DAY);
    (today - i64::from(days) + 1) * MS_PER_DAY
}
