//! Limits kept in this process's memory: a token bucket per rate (full at first
//! use, refilled evenly over the minute, as OpenAI's limits behave), a count of
//! calls in flight, and each budget's spend plus what calls in flight reserved.
//! Each gateway's state sits behind its own lock, held for a few arithmetic steps.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use chrono::{Datelike, TimeZone, Utc};

use super::{Ask, LimitUsage, Limits, RateState, Refused, RefusedBy, Reservation, Window};
use crate::{events::GatewaySpend, fast_hash::FastDashMap, ids::GatewayId};

const MINUTE_MS: f64 = 60_000.0;
const DAY_MS: u64 = 86_400_000;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The UTC day and month `ms` falls in, as period numbers.
pub fn periods(ms: u64) -> (i64, i64) {
    let day = (ms / DAY_MS) as i64;
    let date = Utc.timestamp_millis_opt(ms as i64).single().unwrap_or_default();
    (day, i64::from(date.year()) * 12 + i64::from(date.month0()))
}

/// When the UTC month `ahead` months after `ms`'s begins, in epoch milliseconds.
fn month_start(ms: u64, ahead: u32) -> u64 {
    let date = Utc.timestamp_millis_opt(ms as i64).single().unwrap_or_default();
    let month0 = date.month0() + ahead;
    let (year, month) = (date.year() + (month0 / 12) as i32, month0 % 12 + 1);
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().map_or(ms, |d| d.timestamp_millis() as u64)
}

/// When `ms`'s UTC month and day began, in epoch milliseconds.
pub fn period_starts(ms: u64) -> (i64, i64) {
    (month_start(ms, 0) as i64, (ms / DAY_MS * DAY_MS) as i64)
}

/// How long until the period after `ms`'s day (or month) begins.
pub fn until_next(ms: u64, month: bool) -> Duration {
    let next = if month { month_start(ms, 1) } else { (ms / DAY_MS + 1) * DAY_MS };
    Duration::from_millis(next.saturating_sub(ms))
}

/// A token bucket of `capacity` a minute: how much is left and when that was.
#[derive(Default)]
pub struct Bucket {
    pub level: f64,
    pub at_ms: u64,
    pub started: bool,
}

impl Bucket {
    /// Refilled up to now: `capacity` a minute, never above it.
    pub fn refill(&mut self, capacity: u64, now: u64) {
        let capacity = capacity as f64;
        if !self.started {
            (self.level, self.started) = (capacity, true);
        } else {
            let elapsed = now.saturating_sub(self.at_ms) as f64;
            self.level = (self.level + elapsed * capacity / MINUTE_MS).min(capacity);
        }
        self.at_ms = now;
    }

    /// How long until `amount` is in the bucket.
    fn wait_for(&self, amount: f64, capacity: u64) -> Duration {
        let missing = (amount - self.level).max(0.0);
        Duration::from_millis((missing * MINUTE_MS / capacity as f64).ceil() as u64)
    }

    fn window(&self, capacity: u64) -> Window {
        Window {
            limit: capacity,
            remaining: self.level.max(0.0).floor() as u64,
            reset: self.wait_for(capacity as f64, capacity),
        }
    }

    /// What the last minute took of it.
    pub fn used(&self, capacity: u64) -> u64 {
        (capacity as f64 - self.level).max(0.0).ceil() as u64
    }
}

#[derive(Default)]
struct Spend {
    period: i64,
    spent: u64,
    reserved: u64,
}

impl Spend {
    fn roll(&mut self, period: i64) {
        if self.period != period {
            *self = Spend { period, spent: 0, reserved: 0 };
        }
    }
}

#[derive(Default)]
struct GatewayState {
    requests: Bucket,
    tokens: Bucket,
    concurrent: u64,
    day: Spend,
    month: Spend,
}

impl GatewayState {
    fn rate(&self, limits: &Limits) -> RateState {
        RateState {
            requests: limits.rpm.map(|cap| self.requests.window(cap)),
            tokens: limits.tpm.map(|cap| self.tokens.window(cap)),
        }
    }
}

#[derive(Default)]
pub struct MemoryLimits {
    gateways: FastDashMap<GatewayId, Arc<Mutex<GatewayState>>>,
}

impl MemoryLimits {
    fn state(&self, gateway: GatewayId) -> Arc<Mutex<GatewayState>> {
        if let Some(state) = self.gateways.get(&gateway) {
            return state.clone();
        }
        self.gateways.entry(gateway).or_default().clone()
    }

    /// Adds what the event store says was spent this month and today before this
    /// process started (its own calls are counted as they settle).
    pub fn seed(&self, spend: &[GatewaySpend], periods_then: (i64, i64)) {
        let (day, month) = periods(now_ms());
        for row in spend {
            let Ok(gateway) = row.gateway_id.parse() else { continue };
            let state = self.state(gateway);
            let mut state = state.lock().expect("limits lock");
            state.day.roll(day);
            state.month.roll(month);
            if periods_then.0 == day {
                state.day.spent = state.day.spent.saturating_add(row.day_nanousd);
            }
            if periods_then.1 == month {
                state.month.spent = state.month.spent.saturating_add(row.month_nanousd);
            }
        }
    }

    /// Admits a call within every limit, reserving what it asks, or says which
    /// limit refuses it. Nothing is reserved for a refused call.
    pub fn admit(&self, gateway: GatewayId, limits: &Limits, ask: Ask) -> Result<(Reservation, RateState), Refused> {
        let now = now_ms();
        let (day, month) = periods(now);
        let cost = ask.cost_nanousd.unwrap_or(0);
        let state = self.state(gateway);
        let mut state = state.lock().expect("limits lock");
        state.day.roll(day);
        state.month.roll(month);
        if let Some(cap) = limits.rpm {
            state.requests.refill(cap, now);
        }
        if let Some(cap) = limits.tpm {
            state.tokens.refill(cap, now);
        }
        let refuse = |state: &GatewayState, by, retry_after| Err(Refused { by, rate: state.rate(limits), retry_after });
        if let Some(cap) = limits.rpm.filter(|_| state.requests.level < 1.0) {
            return refuse(&state, RefusedBy::Rpm, state.requests.wait_for(1.0, cap));
        }
        if let Some(cap) = limits.tpm {
            if ask.tokens > cap {
                return refuse(&state, RefusedBy::TooLarge, Duration::from_secs(60));
            }
            if state.tokens.level < ask.tokens as f64 {
                return refuse(&state, RefusedBy::Tpm, state.tokens.wait_for(ask.tokens as f64, cap));
            }
        }
        if limits.max_concurrent.is_some_and(|cap| state.concurrent >= cap) {
            return refuse(&state, RefusedBy::Concurrency, Duration::from_secs(1));
        }
        for (cap, spend, month) in
            [(limits.daily_budget_nanousd, &state.day, false), (limits.monthly_budget_nanousd, &state.month, true)]
        {
            let Some(cap) = cap else { continue };
            if spend.spent.saturating_add(spend.reserved).saturating_add(cost) > cap {
                // Spent: until the next period; held by calls in flight: until they settle.
                let spent = spend.spent.saturating_add(cost) > cap;
                let wait = if spent { until_next(now, month) } else { Duration::from_secs(1) };
                return refuse(&state, RefusedBy::budget(month, spent), wait);
            }
        }
        if limits.rpm.is_some() {
            state.requests.level -= 1.0;
        }
        if limits.tpm.is_some() {
            state.tokens.level -= ask.tokens as f64;
        }
        let concurrent = limits.max_concurrent.is_some();
        if concurrent {
            state.concurrent += 1;
        }
        state.day.reserved += cost;
        state.month.reserved += cost;
        let reservation = Reservation {
            gateway,
            tokens: ask.tokens,
            cost,
            concurrent,
            periods: (day, month),
            tpm: limits.tpm,
            call: 0,
        };
        Ok((reservation, state.rate(limits)))
    }

    pub fn settle(&self, ticket: &Reservation, tokens: u64, cost: u64) {
        let state = self.state(ticket.gateway);
        let mut guard = state.lock().expect("limits lock");
        let state = &mut *guard;
        if state.tokens.started {
            // Tokens reserved but not used go back; more than reserved is owed.
            state.tokens.level += ticket.tokens as f64 - tokens as f64;
        }
        if ticket.concurrent {
            state.concurrent = state.concurrent.saturating_sub(1);
        }
        for (spend, period) in [(&mut state.day, ticket.periods.0), (&mut state.month, ticket.periods.1)] {
            if spend.period == period {
                spend.reserved = spend.reserved.saturating_sub(ticket.cost);
                spend.spent = spend.spent.saturating_add(cost);
            }
        }
    }

    /// The gateway's use now, against `limits`.
    pub fn usage(&self, gateway: GatewayId, limits: &Limits) -> LimitUsage {
        let Some(state) = self.gateways.get(&gateway).map(|s| s.clone()) else { return LimitUsage::default() };
        let now = now_ms();
        let (day, month) = periods(now);
        let mut state = state.lock().expect("limits lock");
        state.day.roll(day);
        state.month.roll(month);
        let mut used = |bucket: fn(&mut GatewayState) -> &mut Bucket, cap: Option<u64>| match cap {
            Some(cap) if bucket(&mut state).started => {
                bucket(&mut state).refill(cap, now);
                bucket(&mut state).used(cap)
            }
            _ => 0,
        };
        let requests_this_minute = used(|s| &mut s.requests, limits.rpm);
        let tokens_this_minute = used(|s| &mut s.tokens, limits.tpm);
        LimitUsage {
            requests_this_minute,
            tokens_this_minute,
            concurrent: state.concurrent,
            spend_today_nanousd: state.day.spent,
            spend_this_month_nanousd: state.month.spent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Denied, LimitKind, Limiter, Refusal};

    fn gateway() -> (Arc<Limiter>, GatewayId) {
        (Arc::new(Limiter::memory()), GatewayId::new())
    }

    async fn refused(limiter: &Arc<Limiter>, id: GatewayId, limits: &Limits, ask: Ask) -> Refusal {
        match limiter.admit(id, limits, ask).await {
            Err(Denied::Limit(refusal)) => refusal,
            _ => panic!("expected a refusal"),
        }
    }

    #[tokio::test]
    async fn a_request_budget_admits_exactly_its_size_then_says_when_to_come_back() {
        let (limiter, id) = gateway();
        let limits = Limits { rpm: Some(5), ..Limits::default() };
        let mut tickets = Vec::new();
        for _ in 0..5 {
            tickets.push(limiter.admit(id, &limits, Ask::default()).await.ok().unwrap());
        }
        let refusal = refused(&limiter, id, &limits, Ask::default()).await;
        assert_eq!(refusal.kind, LimitKind::Rpm);
        assert!(refusal.retry_after > Duration::from_secs(10) && refusal.retry_after <= Duration::from_secs(12));
        assert_eq!(refusal.rate.requests.unwrap().remaining, 0);
        assert_eq!(limiter.usage(id, &limits).await.requests_this_minute, 5);
    }

    #[tokio::test]
    async fn tokens_are_reserved_then_settled_to_what_was_used() {
        let (limiter, id) = gateway();
        let limits = Limits { tpm: Some(1000), ..Limits::default() };
        let ask = Ask { tokens: 600, cost_nanousd: None };
        let ticket = limiter.admit(id, &limits, ask).await.ok().unwrap();
        assert_eq!(ticket.rate.tokens.unwrap().remaining, 400);
        assert_eq!(refused(&limiter, id, &limits, ask).await.kind, LimitKind::Tpm);
        ticket.settle(100, 0);
        assert!(limiter.admit(id, &limits, ask).await.is_ok(), "500 came back");
        let too_big = refused(&limiter, id, &limits, Ask { tokens: 5000, cost_nanousd: None }).await;
        assert!(too_big.message.contains("Request too large"));
    }

    #[tokio::test]
    async fn a_budget_counts_reservations_and_spend_and_a_dropped_ticket_keeps_its_reservation_as_spent() {
        let (limiter, id) = gateway();
        let limits = Limits { daily_budget_nanousd: Some(1000), ..Limits::default() };
        let ask = |cost| Ask { tokens: 0, cost_nanousd: Some(cost) };
        let a = limiter.admit(id, &limits, ask(400)).await.ok().unwrap();
        let b = limiter.admit(id, &limits, ask(400)).await.ok().unwrap();
        let held = refused(&limiter, id, &limits, ask(400)).await;
        assert_eq!(held.kind, LimitKind::DailyBudget);
        assert!(held.message.contains("in flight"));
        a.settle(0, 100);
        drop(b);
        assert_eq!(limiter.usage(id, &limits).await.spend_today_nanousd, 500);
        let last = limiter.admit(id, &limits, ask(500)).await.ok().unwrap();
        let held = refused(&limiter, id, &limits, ask(1)).await;
        assert!(held.message.contains("in flight"), "the last 500 are reserved, not spent yet");
        last.settle(0, 500);
        let spent = refused(&limiter, id, &limits, ask(1)).await;
        assert!(spent.message.contains("daily budget of $0.00 is spent"), "{}", spent.message);
    }

    #[tokio::test]
    async fn concurrency_is_released_when_a_call_ends() {
        let (limiter, id) = gateway();
        let limits = Limits { max_concurrent: Some(1), ..Limits::default() };
        let first = limiter.admit(id, &limits, Ask::default()).await.ok().unwrap();
        assert_eq!(refused(&limiter, id, &limits, Ask::default()).await.kind, LimitKind::MaxConcurrent);
        drop(first);
        assert!(limiter.admit(id, &limits, Ask::default()).await.is_ok());
    }

    #[test]
    fn periods_roll_at_utc_midnight_and_the_first_of_the_month() {
        let ms = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap().timestamp_millis() as u64;
        assert_eq!(until_next(ms, false), Duration::from_secs(3600));
        assert_eq!(until_next(ms, true), Duration::from_secs(3600));
        let (day, month) = periods(ms);
        assert_eq!(periods(ms + 3_600_000), (day + 1, month + 1));
        let starts = period_starts(ms);
        assert_eq!(starts.0, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap().timestamp_millis());
        assert_eq!(starts.1, Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap().timestamp_millis());
    }
}
