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
    /// Over priced calls only: an unpriced call adds nothing here.
    pub cost_nanousd: u64,
    /// Calls whose cost is unknown (the model had no price).
    pub unpriced: u64,
    pub latency_sum_ms: u64,
    pub ttft_sum_ms: u64,
    pub ttft_count: u64,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cost_nanousd += other.cost_nanousd;
        self.unpriced += other.unpriced;
        self.latency_sum_ms += other.latency_sum_ms;
        self.ttft_sum_ms += other.ttft_sum_ms;
        self.ttft_count += other.ttft_count;
    }
}

/// The sums of the events of one UTC day and one model: what a store reports,
/// and everything the summary, model breakdown and daily series are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Days since 1970-01-01, UTC.
    pub day: i64,
    pub model: String,
    pub totals: Totals,
}

/// Latency extremes and percentiles; each percentile is the value at position
/// `floor(q * n)` of the sorted latencies (ClickHouse's `quantileExact`), so every
/// store agrees to the millisecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyStats {
    pub min: u64,
    pub max: u64,
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
    /// `None` when there were no events.
    pub latency: Option<LatencyStats>,
    /// Sorted by model.
    pub by_model: Vec<(String, Totals)>,
    /// Sorted by day; days without events are absent.
    pub by_day: Vec<(i64, Totals)>,
}

impl Summary {
    pub fn from_groups(groups: Vec<Group>, latency: Option<LatencyStats>) -> Self {
        let mut totals = Totals::default();
        let mut by_model = std::collections::BTreeMap::<String, Totals>::new();
        let mut by_day = std::collections::BTreeMap::<i64, Totals>::new();
        for group in &groups {
            totals.add(&group.totals);
            by_model.entry(group.model.clone()).or_default().add(&group.totals);
            by_day.entry(group.day).or_default().add(&group.totals);
        }
        let latency = latency.filter(|_| totals.requests > 0);
        Summary { totals, latency, by_model: by_model.into_iter().collect(), by_day: by_day.into_iter().collect() }
    }
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
