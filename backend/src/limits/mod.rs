//! Per-gateway limits: requests and tokens per minute, concurrent calls, and daily
//! and monthly budgets. A call is admitted before it goes upstream, reserving one
//! request, its tokens (estimated prompt plus the most it may answer) and its
//! worst-case cost; it settles to what it really used when it is metered. So
//! concurrent calls can never push spend past a cap.
//!
//! The state lives in this process's memory, or, with `REDIS_URL`, in Redis, shared
//! by every process: admitting a call is one atomic script, one round trip; settling
//! is another, after the answer, off the call's path.

pub mod http;
pub mod memory;
pub mod redis;

pub use memory::period_starts;

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};

use self::{memory::MemoryLimits, redis::RedisLimits};
use crate::{events::GatewaySpend, ids::GatewayId};

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

/// Which limit refused a call, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedBy {
    Rpm,
    Tpm,
    /// The call alone asks more tokens than the minute holds.
    TooLarge,
    Concurrency,
    DaySpent,
    /// The day's budget is held by calls in flight.
    DayHeld,
    MonthSpent,
    MonthHeld,
}

impl RefusedBy {
    pub fn budget(month: bool, spent: bool) -> Self {
        match (month, spent) {
            (false, true) => RefusedBy::DaySpent,
            (false, false) => RefusedBy::DayHeld,
            (true, true) => RefusedBy::MonthSpent,
            (true, false) => RefusedBy::MonthHeld,
        }
    }

    fn refusal(self, limits: &Limits, ask: &Ask, rate: RateState, retry_after: Duration) -> Refusal {
        let cap = |limit: Option<u64>| limit.unwrap_or_default();
        let (kind, message) = match self {
            RefusedBy::Rpm => (
                LimitKind::Rpm,
                format!("Rate limit reached: this gateway allows {} requests per minute", cap(limits.rpm)),
            ),
            RefusedBy::Tpm => (
                LimitKind::Tpm,
                format!(
                    "Rate limit reached: this gateway allows {} tokens per minute, and this request may use {}",
                    cap(limits.tpm),
                    ask.tokens
                ),
            ),
            RefusedBy::TooLarge => (
                LimitKind::Tpm,
                format!(
                    "Request too large: it may use {} tokens, more than this gateway's limit of {} tokens per minute; \
                     send a smaller max_tokens",
                    ask.tokens,
                    cap(limits.tpm)
                ),
            ),
            RefusedBy::Concurrency => (
                LimitKind::MaxConcurrent,
                format!("Concurrency limit reached: this gateway allows {} calls at once", cap(limits.max_concurrent)),
            ),
            RefusedBy::DaySpent | RefusedBy::MonthSpent | RefusedBy::DayHeld | RefusedBy::MonthHeld => {
                let month = matches!(self, RefusedBy::MonthSpent | RefusedBy::MonthHeld);
                let (kind, name, amount) = match month {
                    false => (LimitKind::DailyBudget, "daily", cap(limits.daily_budget_nanousd)),
                    true => (LimitKind::MonthlyBudget, "monthly", cap(limits.monthly_budget_nanousd)),
                };
                let message = match self {
                    RefusedBy::DaySpent | RefusedBy::MonthSpent => {
                        format!("This gateway's {name} budget of {} is spent", dollars(amount))
                    }
                    _ => format!(
                        "This gateway's {name} budget of {} is held by calls in flight; retry shortly",
                        dollars(amount)
                    ),
                };
                (kind, message)
            }
        };
        Refusal { kind, message, retry_after, rate }
    }
}

/// A refusal as a store reports it.
pub struct Refused {
    pub by: RefusedBy,
    pub rate: RateState,
    pub retry_after: Duration,
}

/// What an admitted call holds, to give back or turn into use when it settles.
#[derive(Clone, Debug)]
pub struct Reservation {
    pub gateway: GatewayId,
    pub tokens: u64,
    pub cost: u64,
    pub concurrent: bool,
    /// The day and month it was reserved in.
    pub periods: (i64, i64),
    pub tpm: Option<u64>,
    /// Its place among the calls in flight (Redis).
    pub call: u64,
}

/// Why a call may not go ahead.
pub enum Denied {
    Limit(Refusal),
    /// The shared limits cannot be reached, and `LIMITS_ON_REDIS_DOWN=closed`.
    Unavailable,
}

/// An admitted call's reservation: settled to what the call used when it is
/// metered, or, if it never is, kept as used (the safe side of a budget).
pub struct Ticket {
    limiter: Arc<Limiter>,
    reservation: Option<Reservation>,
    /// The rate windows after this call was admitted, for the answer's headers.
    pub rate: RateState,
}

impl Ticket {
    /// Replaces the reservation with what the call used.
    pub fn settle(mut self, tokens: u64, cost_nanousd: u64) {
        if let Some(reservation) = self.reservation.take() {
            self.limiter.settle(reservation, tokens, cost_nanousd);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            let (tokens, cost) = (reservation.tokens, reservation.cost);
            self.limiter.settle(reservation, tokens, cost);
        }
    }
}

/// What happens to calls when Redis cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisDown {
    /// Served without limits (counted in `/metrics`).
    Open,
    /// Refused with 503.
    Closed,
}

enum Store {
    Memory(MemoryLimits),
    Redis(RedisLimits),
}

/// The limits of every gateway, in this process or shared through Redis.
pub struct Limiter {
    store: Store,
}

impl Limiter {
    pub fn memory() -> Self {
        Limiter { store: Store::Memory(MemoryLimits::default()) }
    }

    pub fn redis(limits: RedisLimits) -> Self {
        Limiter { store: Store::Redis(limits) }
    }

    /// Admits a call within every limit of its gateway, reserving what it asks.
    pub async fn admit(self: &Arc<Self>, gateway: GatewayId, limits: &Limits, ask: Ask) -> Result<Ticket, Denied> {
        let admitted = match &self.store {
            Store::Memory(memory) => memory.admit(gateway, limits, ask).map(|(r, rate)| (Some(r), rate)),
            Store::Redis(redis) => match redis.admit(gateway, limits, ask).await {
                Ok(admitted) => admitted.map(|(r, rate)| (Some(r), rate)),
                Err(()) if redis.on_down == RedisDown::Open => Ok((None, RateState::default())),
                Err(()) => return Err(Denied::Unavailable),
            },
        };
        match admitted {
            Ok((reservation, rate)) => Ok(Ticket { limiter: self.clone(), reservation, rate }),
            Err(refused) => Err(Denied::Limit(refused.by.refusal(limits, &ask, refused.rate, refused.retry_after))),
        }
    }

    fn settle(&self, reservation: Reservation, tokens: u64, cost: u64) {
        match &self.store {
            Store::Memory(memory) => memory.settle(&reservation, tokens, cost),
            Store::Redis(redis) => redis.settle(reservation, tokens, cost),
        }
    }

    /// The gateway's use now, against `limits`.
    pub async fn usage(&self, gateway: GatewayId, limits: &Limits) -> LimitUsage {
        match &self.store {
            Store::Memory(memory) => memory.usage(gateway, limits),
            Store::Redis(redis) => redis.usage(gateway, limits).await.unwrap_or_default(),
        }
    }

    async fn seed(&self, spend: &[GatewaySpend], periods: (i64, i64)) -> anyhow::Result<()> {
        match &self.store {
            Store::Memory(memory) => {
                memory.seed(spend, periods);
                Ok(())
            }
            Store::Redis(redis) => redis.seed(spend, periods).await,
        }
    }

    /// Whether the shared store answers: `None` when the limits live in this process.
    pub async fn redis_up(&self) -> Option<bool> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Redis(redis) => Some(redis.ping().await),
        }
    }
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

/// Budgets start from what the event store says was spent this month and today
/// before this process started. When the store does not answer within a few
/// seconds, the server starts anyway and keeps asking in the background.
pub async fn seed_spend(
    store: Arc<dyn crate::events::EventStore>,
    limiter: Arc<Limiter>,
) -> Option<tokio::task::JoinHandle<()>> {
    let before_ms = memory::now_ms();
    let (month_ms, day_ms) = memory::period_starts(before_ms);
    let periods = memory::periods(before_ms);
    let seed = move || {
        let (store, limiter) = (store.clone(), limiter.clone());
        async move {
            let rows = store.spend(month_ms, day_ms, before_ms as i64).await?;
            limiter.seed(&rows, periods).await
        }
    };
    if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), seed()).await {
        return None;
    }
    tracing::warn!("the event store did not say what was spent this month: budgets count from now until it does");
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if seed().await.is_ok() {
                tracing::info!("budgets now include what was spent before this process started");
                return;
            }
        }
    }))
}

/// US dollars to the cent, for messages.
fn dollars(nanousd: u64) -> String {
    format!("${:.2}", crate::catalog::price::usd(nanousd))
}
