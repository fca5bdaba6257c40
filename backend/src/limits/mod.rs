//! Per-gateway limits: requests and tokens per minute, concurrent calls, and daily
//! and monthly budgets. A call is admitted before it goes upstream, reserving one
//! request, its tokens (estimated prompt plus the most it may answer) and its
//! worst-case cost; it settles to what it really used when it is metered. So
//! concurrent calls can never push spend past a cap.

pub mod http;
pub mod memory;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use memory::{Limiter, Ticket};

/// A gateway's limits; `None` is no limit. Stored as JSON in `gateways.limits`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_budget_nanousd: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_budget_nanousd: Option<u64>,
}

impl Limits {
    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_default()
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("limits serialize")
    }

    /// Each limit at most the ceiling's, and the ceiling where none is set.
    pub fn within(&self, ceiling: &Limits) -> Limits {
        let min = |set: Option<u64>, max: Option<u64>| match (set, max) {
            (Some(set), Some(max)) => Some(set.min(max)),
            (set, max) => set.or(max),
        };
        Limits {
            rpm: min(self.rpm, ceiling.rpm),
            tpm: min(self.tpm, ceiling.tpm),
            max_concurrent: min(self.max_concurrent, ceiling.max_concurrent),
            daily_budget_nanousd: min(self.daily_budget_nanousd, ceiling.daily_budget_nanousd),
            monthly_budget_nanousd: min(self.monthly_budget_nanousd, ceiling.monthly_budget_nanousd),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// Which limit refused a call: the `param` of its 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Rpm,
    Tpm,
    MaxConcurrent,
    DailyBudget,
    MonthlyBudget,
}

impl LimitKind {
    pub fn param(self) -> &'static str {
        match self {
            LimitKind::Rpm => "rpm",
            LimitKind::Tpm => "tpm",
            LimitKind::MaxConcurrent => "max_concurrent",
            LimitKind::DailyBudget => "daily_budget_usd",
            LimitKind::MonthlyBudget => "monthly_budget_usd",
        }
    }
}

/// One rate window as OpenAI's headers report it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    pub limit: u64,
    pub remaining: u64,
    /// Until the window is whole again.
    pub reset: Duration,
}

/// The rate windows a gateway has, for `x-ratelimit-*`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateState {
    pub requests: Option<Window>,
    pub tokens: Option<Window>,
}

/// What a call asks of its gateway's limits.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ask {
    /// Its prompt as estimated plus the most it may answer.
    pub tokens: u64,
    /// Its worst-case cost; `None` when unpriced (then no budget can hold it back).
    pub cost_nanousd: Option<u64>,
}

/// Why a call was refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub kind: LimitKind,
    pub message: String,
    pub retry_after: Duration,
    pub rate: RateState,
}

/// A gateway's use, for `GET /gateways/{id}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitUsage {
    pub requests_this_minute: u64,
    pub tokens_this_minute: u64,
    pub concurrent: u64,
    pub spend_today_nanousd: u64,
    pub spend_this_month_nanousd: u64,
}

/// When this UTC month and this UTC day began, in epoch milliseconds.
pub fn period_starts() -> (i64, i64) {
    use chrono::{Datelike, TimeZone, Utc};
    let now = Utc::now();
    let day = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let month = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(day);
    (month.timestamp_millis(), day.timestamp_millis())
}

/// Budgets start from what the event store says was spent this month and today
/// before this process started. When the store does not answer within a few
/// seconds, the server starts anyway and keeps asking in the background.
pub async fn seed_spend(
    store: std::sync::Arc<dyn crate::events::EventStore>,
    limiter: std::sync::Arc<Limiter>,
) -> Option<tokio::task::JoinHandle<()>> {
    let before_ms = chrono::Utc::now().timestamp_millis();
    let (month_ms, day_ms) = period_starts();
    let periods = Limiter::periods_now();
    let first = tokio::time::timeout(Duration::from_secs(5), store.spend(month_ms, day_ms, before_ms)).await;
    if let Ok(Ok(rows)) = first {
        limiter.seed(&rows, periods);
        return None;
    }
    tracing::warn!("the event store did not say what was spent this month: budgets count from now until it does");
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if let Ok(rows) = store.spend(month_ms, day_ms, before_ms).await {
                limiter.seed(&rows, periods);
                tracing::info!("budgets now include what was spent before this process started");
                return;
            }
        }
    }))
}

/// USD, for messages.
pub fn usd(nanousd: u64) -> String {
    format!("${:.2}", nanousd as f64 / 1e9)
}
