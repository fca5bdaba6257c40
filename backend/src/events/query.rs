//! What the analytics side asks of an event store, and the integer aggregates it
//! gets back. Ratios and averages are computed from these in one place
//! (analytics), so every store gives the same answers.

use crate::ids::{EventId, GatewayId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Ok,
    Error,
}

#[derive(Clone, Debug)]
pub struct EventFilter {
    pub gateway_id: GatewayId,
    /// Inclusive, epoch milliseconds.
    pub from_ms: i64,
    /// Exclusive, epoch milliseconds.
    pub to_ms: i64,
    pub model: Option<String>,
    pub status: Option<StatusFilter>,
}

/// Sums over a set of events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_nanousd: u64,
    pub latency_sum_ms: u64,
    pub latency_min_ms: Option<u64>,
    pub latency_max_ms: Option<u64>,
    pub ttft_sum_ms: u64,
    pub ttft_count: u64,
}

/// Latency percentiles, each the value at position `floor(q * n)` of the sorted
/// latencies (ClickHouse's `quantileExact`), so every store agrees to the millisecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
}

pub const PERCENTILES: [f64; 3] = [0.50, 0.95, 0.99];

/// Index of quantile `q` among `n` sorted values.
pub fn quantile_index(q: f64, n: u64) -> u64 {
    ((q * n as f64) as u64).min(n.saturating_sub(1))
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub totals: Totals,
    pub percentiles: Option<Percentiles>,
    pub by_model: Vec<(String, Totals)>,
    /// Keyed by UTC day number (days since 1970-01-01); days without events are absent.
    pub by_day: Vec<(i64, Totals)>,
}

pub const MS_PER_DAY: i64 = 86_400_000;

/// A position in the event order `(ts, id)`, for keyset paging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub ts_ms: i64,
    pub id: EventId,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.ts_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (ts, id) = text.split_once('_')?;
        Some(Self { ts_ms: ts.parse().ok()?, id: id.parse().ok()? })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}
