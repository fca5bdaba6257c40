//! Limits shared by every process through Redis. Each gateway's state is a few
//! keys under one hash tag (`tollgate:{<gateway>}:…`, so a cluster keeps them on one
//! node): a token bucket per rate, a sorted set of the calls in flight (each with
//! its expiry, so a crashed process's calls free their places), and a hash per day
//! and per month of spend and reservations. Admitting a call is one script, one
//! round trip; settling is another, sent after the answer, off the call's path.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use prometheus::IntCounterVec;
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, Script};

use super::{
    memory::{now_ms, periods, until_next, Bucket},
    Ask, LimitUsage, Limits, RateState, RedisDown, Refused, RefusedBy, Reservation, Window,
};
use crate::{events::GatewaySpend, ids::GatewayId};

/// Admits a call, or says what refuses it. Buckets hold `level` and `at` (ms); a
/// bucket not seen yet is full. Returns {admitted, refused_by, retry_ms, then for
/// requests and tokens: limit, remaining, reset_ms (limit -1: no such limit)}.
const ADMIT: &str = r"
local now = tonumber(ARGV[1])
local rpm, tpm, tokens = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_calls, call, expiry = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local cost, day_cap, month_cap = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local function level(key, cap)
  if cap <= 0 then return 0 end
  local v = redis.call('HMGET', key, 'level', 'at')
  if not v[1] then return cap end
  local l = tonumber(v[1]) + (now - tonumber(v[2])) * cap / 60000
  if l > cap then l = cap end
  return l
end
local function wait(l, amount, cap)
  local missing = amount - l
  if missing < 0 then missing = 0 end
  return math.ceil(missing * 60000 / cap)
end
local requests, toks = level(KEYS[1], rpm), level(KEYS[2], tpm)
local function window(l, cap)
  if cap <= 0 then return -1, 0, 0 end
  local r = math.floor(l)
  if r < 0 then r = 0 end
  return cap, r, wait(l, cap, cap)
end
local function answer(admitted, by, retry)
  local rl, rr, rs = window(requests, rpm)
  local tl, tr, ts = window(toks, tpm)
  return {admitted, by, retry, rl, rr, rs, tl, tr, ts}
end
if rpm > 0 and requests < 1 then return answer(0, 1, wait(requests, 1, rpm)) end
if tpm > 0 then
  if tokens > tpm then return answer(0, 3, 60000) end
  if toks < tokens then return answer(0, 2, wait(toks, tokens, tpm)) end
end
if max_calls > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= max_calls then return answer(0, 4, 1000) end
end
local function spend(key)
  local v = redis.call('HMGET', key, 'spent', 'reserved')
  return tonumber(v[1] or '0'), tonumber(v[2] or '0')
end
local day_spent, day_reserved = spend(KEYS[4])
if day_cap > 0 and day_spent + day_reserved + cost > day_cap then
  if day_spent + cost > day_cap then return answer(0, 5, 0) end
  return answer(0, 6, 1000)
end
local month_spent, month_reserved = spend(KEYS[5])
if month_cap > 0 and month_spent + month_reserved + cost > month_cap then
  if month_spent + cost > month_cap then return answer(0, 7, 0) end
  return answer(0, 8, 1000)
end
if rpm > 0 then
  requests = requests - 1
  redis.call('HSET', KEYS[1], 'level', tostring(requests), 'at', now)
  redis.call('PEXPIRE', KEYS[1], 120000)
end
if tpm > 0 then
  toks = toks - tokens
  redis.call('HSET', KEYS[2], 'level', tostring(toks), 'at', now)
  redis.call('PEXPIRE', KEYS[2], 120000)
end
if max_calls > 0 then
  redis.call('ZADD', KEYS[3], expiry, call)
  redis.call('PEXPIREAT', KEYS[3], expiry)
end
redis.call('HINCRBY', KEYS[4], 'reserved', cost)
redis.call('PEXPIRE', KEYS[4], ARGV[11])
redis.call('HINCRBY', KEYS[5], 'reserved', cost)
redis.call('PEXPIRE', KEYS[5], ARGV[12])
return answer(1, 0, 0)
";

/// Turns a call's reservation into its use: unused tokens go back to the bucket,
/// its place among the calls in flight is freed, its reserved cost becomes spend.
const SETTLE: &str = r"
local reserved_tokens, used_tokens, tpm = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reserved_cost, cost = tonumber(ARGV[5]), tonumber(ARGV[6])
if tpm > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  local l = tonumber(redis.call('HGET', KEYS[1], 'level')) + reserved_tokens - used_tokens
  if l > tpm then l = tpm end
  redis.call('HSET', KEYS[1], 'level', tostring(l))
end
redis.call('ZREM', KEYS[2], ARGV[4])
for i = 3, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], 'reserved', -reserved_cost)
    redis.call('HINCRBY', KEYS[i], 'spent', cost)
  end
end
return 1
";

/// Budgets start from the event store only where Redis has no count yet.
const SEED: &str = r"
for i = 1, 2 do
  if redis.call('HSETNX', KEYS[i], 'spent', ARGV[i]) == 1 then
    redis.call('HSETNX', KEYS[i], 'reserved', 0)
    redis.call('PEXPIRE', KEYS[i], ARGV[i + 2])
  end
end
return 1
";

/// How long a day's and a month's spend outlive their period in Redis.
const DAY_SPEND_TTL_MS: u64 = 3 * 86_400_000;
const MONTH_SPEND_TTL_MS: u64 = 40 * 86_400_000;

struct Keys {
    requests: String,
    tokens: String,
    calls: String,
    day: String,
    month: String,
}

fn keys(gateway: GatewayId, (day, month): (i64, i64)) -> Keys {
    let tag = format!("tollgate:{{{gateway}}}");
    Keys {
        requests: format!("{tag}:rpm"),
        tokens: format!("{tag}:tpm"),
        calls: format!("{tag}:calls"),
        day: format!("{tag}:spend:day:{day}"),
        month: format!("{tag}:spend:month:{month}"),
    }
}

pub struct RedisLimits {
    connection: ConnectionManager,
    pub on_down: RedisDown,
    admit: Script,
    settle: Script,
    seed: Script,
    /// How long a call holds its place among the calls in flight at most.
    call_ttl: Duration,
    /// This process's calls in flight are named `<process>:<n>`.
    process: u64,
    next_call: AtomicU64,
    /// Failed round trips, by operation; and calls let through or refused while down.
    errors: IntCounterVec,
    down: IntCounterVec,
}

/// No limit, for a script argument.
fn arg(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |n| n as i64)
}

fn window(limit: i64, remaining: i64, reset_ms: i64) -> Option<Window> {
    (limit > 0).then(|| Window {
        limit: limit as u64,
        remaining: remaining.max(0) as u64,
        reset: Duration::from_millis(reset_ms.max(0) as u64),
    })
}

impl RedisLimits {
    pub async fn connect(
        url: &str,
        on_down: RedisDown,
        call_ttl: Duration,
        errors: IntCounterVec,
        down: IntCounterVec,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(500))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| anyhow::anyhow!("Redis at REDIS_URL cannot be reached: {e}"))?;
        Ok(Self {
            connection,
            on_down,
            admit: Script::new(ADMIT),
            settle: Script::new(SETTLE),
            seed: Script::new(SEED),
            call_ttl,
            process: rand::random(),
            next_call: AtomicU64::new(0),
            errors,
            down,
        })
    }

    fn failed(&self, operation: &str, error: &redis::RedisError) {
        self.errors.with_label_values(&[operation]).inc();
        tracing::warn!(operation, %error, "Redis did not answer for the limits");
    }

    /// `Err(())` when Redis cannot be reached.
    pub async fn admit(
        &self,
        gateway: GatewayId,
        limits: &Limits,
        ask: Ask,
    ) -> Result<Result<(Reservation, RateState), Refused>, ()> {
        let now = now_ms();
        let periods = periods(now);
        let keys = keys(gateway, periods);
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let cost = ask.cost_nanousd.unwrap_or(0);
        let answer: Result<Vec<i64>, _> = self
            .admit
            .key(&keys.requests)
            .key(&keys.tokens)
            .key(&keys.calls)
            .key(&keys.day)
            .key(&keys.month)
            .arg(now)
            .arg(arg(limits.rpm))
            .arg(arg(limits.tpm))
            .arg(ask.tokens)
            .arg(arg(limits.max_concurrent))
            .arg(format!("{}:{call}", self.process))
            .arg(now + self.call_ttl.as_millis() as u64)
            .arg(cost)
            .arg(arg(limits.daily_budget_nanousd))
            .arg(arg(limits.monthly_budget_nanousd))
            .arg(DAY_SPEND_TTL_MS)
            .arg(MONTH_SPEND_TTL_MS)
            .invoke_async(&mut self.connection.clone())
            .await;
        let answer = match answer {
            Ok(answer) if answer.len() == 9 => answer,
            Ok(_) => return Err(()),
            Err(error) => {
                self.failed("admit", &error);
                let decision = if self.on_down == RedisDown::Open { "open" } else { "closed" };
                self.down.with_label_values(&[decision]).inc();
                return Err(());
            }
        };
        let rate = RateState {
            requests: window(answer[3], answer[4], answer[5]),
            tokens: window(answer[6], answer[7], answer[8]),
        };
        let retry = Duration::from_millis(answer[2].max(0) as u64);
        if answer[0] == 1 {
            let reservation = Reservation {
                gateway,
                tokens: ask.tokens,
                cost,
                concurrent: limits.max_concurrent.is_some(),
                periods,
                tpm: limits.tpm,
                call,
            };
            return Ok(Ok((reservation, rate)));
        }
        let by = match answer[1] {
            1 => RefusedBy::Rpm,
            2 => RefusedBy::Tpm,
            3 => RefusedBy::TooLarge,
            4 => RefusedBy::Concurrency,
            5 => RefusedBy::DaySpent,
            6 => RefusedBy::DayHeld,
            7 => RefusedBy::MonthSpent,
            _ => RefusedBy::MonthHeld,
        };
        let retry_after = match by {
            RefusedBy::DaySpent => until_next(now, false),
            RefusedBy::MonthSpent => until_next(now, true),
            _ => retry,
        };
        Ok(Err(Refused { by, rate, retry_after }))
    }

    /// Sent in the background: the call has already answered.
    pub fn settle(&self, reservation: Reservation, tokens: u64, cost: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (script, mut connection, errors) = (self.settle.clone(), self.connection.clone(), self.errors.clone());
        let call = format!("{}:{}", self.process, reservation.call);
        runtime.spawn(async move {
            let keys = keys(reservation.gateway, reservation.periods);
            let settled: Result<i64, _> = script
                .key(keys.tokens)
                .key(keys.calls)
                .key(keys.day)
                .key(keys.month)
                .arg(reservation.tokens)
                .arg(tokens)
                .arg(arg(reservation.tpm))
                .arg(call)
                .arg(reservation.cost)
                .arg(cost)
                .invoke_async(&mut connection)
                .await;
            if let Err(error) = settled {
                errors.with_label_values(&["settle"]).inc();
                tracing::warn!(%error, "Redis did not take a call's settlement: its reservation stays until the period ends");
            }
        });
    }

    pub async fn usage(&self, gateway: GatewayId, limits: &Limits) -> Result<LimitUsage, ()> {
        let now = now_ms();
        let keys = keys(gateway, periods(now));
        let mut pipe = redis::pipe();
        pipe.hget(&keys.requests, &["level", "at"])
            .hget(&keys.tokens, &["level", "at"])
            .zcount(&keys.calls, now, "+inf")
            .hget(&keys.day, "spent")
            .hget(&keys.month, "spent");
        type Answer = ((Option<f64>, Option<u64>), (Option<f64>, Option<u64>), u64, Option<u64>, Option<u64>);
        let answer: Result<Answer, _> = pipe.query_async(&mut self.connection.clone()).await;
        let (requests, tokens, concurrent, day, month) = answer.map_err(|e| self.failed("usage", &e))?;
        let used = |(level, at): (Option<f64>, Option<u64>), cap: Option<u64>| match (level, at, cap) {
            (Some(level), Some(at_ms), Some(cap)) => {
                let mut bucket = Bucket { level, at_ms, started: true };
                bucket.refill(cap, now);
                bucket.used(cap)
            }
            _ => 0,
        };
        Ok(LimitUsage {
            requests_this_minute: used(requests, limits.rpm),
            tokens_this_minute: used(tokens, limits.tpm),
            concurrent,
            spend_today_nanousd: day.unwrap_or(0),
            spend_this_month_nanousd: month.unwrap_or(0),
        })
    }

    pub async fn seed(&self, spend: &[GatewaySpend], periods_then: (i64, i64)) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        for row in spend {
            let Ok(gateway) = row.gateway_id.parse() else { continue };
            let keys = keys(gateway, periods_then);
            let _: i64 = self
                .seed
                .key(&keys.day)
                .key(&keys.month)
                .arg(row.day_nanousd)
                .arg(row.month_nanousd)
                .arg(DAY_SPEND_TTL_MS)
                .arg(MONTH_SPEND_TTL_MS)
                .invoke_async(&mut connection)
                .await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> bool {
        let pong: Result<String, _> = redis::cmd("PING").query_async(&mut self.connection.clone()).await;
        pong.is_ok()
    }
}
