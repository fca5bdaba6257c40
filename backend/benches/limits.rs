//! `make bench` (its last table): what the limiter adds to a call. In memory, the
//! time to admit and settle one call (goal: under 5 µs); on Redis, the round trips
//! and the time to admit one (goal: one round trip, as long as a PING).
//!
//! Environment: BENCH_REDIS_URL (the Redis part; skipped without it),
//! BENCH_CALLS (default 200000 in memory; a fortieth of it on Redis).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tollgate::{
    ids::GatewayId,
    limits::{redis::RedisLimits, Ask, Limiter, Limits, RedisDown},
    metrics::Metrics,
};

fn every_limit() -> Limits {
    Limits {
        rpm: Some(1_000_000_000),
        tpm: Some(1_000_000_000_000),
        max_concurrent: Some(1_000_000),
        daily_budget_nanousd: Some(u64::MAX / 4),
        monthly_budget_nanousd: Some(u64::MAX / 4),
    }
}

const ASK: Ask = Ask { tokens: 500, cost_nanousd: Some(12_345) };

struct Timings(Vec<Duration>);

impl Timings {
    fn percentile(&mut self, p: f64) -> Duration {
        self.0.sort_unstable();
        self.0[((self.0.len() - 1) as f64 * p) as usize]
    }
    fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

async fn admit_and_settle(limiter: &Arc<Limiter>, limits: &Limits, calls: usize) -> Timings {
    let gateway = GatewayId::new();
    let mut timings = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let ticket = limiter.admit(gateway, limits, ASK).await.ok().expect("admitted");
        ticket.settle(400, 10_000);
        timings.push(started.elapsed());
    }
    Timings(timings)
}

async fn redis_info(url: &str, section: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("INFO").arg(section).query_async(&mut conn).await.unwrap()
}

fn evalsha_calls(info: &str) -> u64 {
    info.lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .and_then(|l| l.split("calls=").nth(1)?.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::var("BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    println!("\nThe limiter: what it adds to a call (admit before, settle after)\n");
    println!("| store | limits | calls | mean | p50 | p99 | round trips per call |");
    println!("|---|---|---|---|---|---|---|");

    let memory = Arc::new(Limiter::memory());
    for (name, limits) in [("none", Limits::default()), ("all five", every_limit())] {
        admit_and_settle(&memory, &limits, calls / 10).await; // warm up
        let mut t = admit_and_settle(&memory, &limits, calls).await;
        let (mean, p50, p99) = (t.mean(), t.percentile(0.5), t.percentile(0.99));
        println!("| memory | {name} | {calls} | {} | {} | {} | 0 |", us(mean), us(p50), us(p99));
        if name == "all five" && mean > Duration::from_micros(5) {
            println!("\nGOAL MISSED: admitting and settling a call in memory takes over 5 µs");
        }
    }

    let Ok(url) = std::env::var("BENCH_REDIS_URL") else {
        println!("\n(BENCH_REDIS_URL not set: the Redis rows are skipped)");
        return;
    };
    let metrics = Metrics::new();
    let on_redis = RedisLimits::connect(
        &url,
        RedisDown::Closed,
        Duration::from_secs(60),
        metrics.limits_redis_errors.clone(),
        metrics.limits_redis_down.clone(),
    )
    .await
    .expect("Redis at BENCH_REDIS_URL");
    let redis = Arc::new(Limiter::redis(on_redis));
    let n = (calls / 40).max(100);
    // A PING over the same kind of connection: one round trip, the floor.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut pings = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        pings.push(started.elapsed());
    }
    let mut pings = Timings(pings);
    println!(
        "| redis | PING (one round trip) | {n} | {} | {} | {} | 1 |",
        us(pings.mean()),
        us(pings.percentile(0.5)),
        us(pings.percentile(0.99))
    );
    let limits = every_limit();
    let gateway = GatewayId::new();
    let mut admits = Vec::with_capacity(n);
    let mut tickets = Vec::with_capacity(n);
    let scripts = || async { evalsha_calls(&redis_info(&url, "commandstats").await) };
    // One call first, so both scripts are in Redis's cache: on a Redis that has not
    // seen them, every settlement sent before the first one's answer pays a second
    // round trip to load the script, which is not what a call costs from then on.
    redis.admit(gateway, &limits, ASK).await.ok().expect("admitted").settle(400, 10_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = scripts().await;
    for _ in 0..n {
        let started = Instant::now();
        tickets.push(redis.admit(gateway, &limits, ASK).await.ok().expect("admitted"));
        admits.push(started.elapsed());
    }
    let admitted = scripts().await;
    // Settled in the background, as after a real call; not timed.
    for ticket in tickets {
        ticket.settle(400, 10_000);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = scripts().await;
    let mut admits = Timings(admits);
    println!(
        "| redis | all five: admit | {n} | {} | {} | {} | {:.2} (and {:.2} to settle, after the answer) |",
        us(admits.mean()),
        us(admits.percentile(0.5)),
        us(admits.percentile(0.99)),
        (admitted - before) as f64 / n as f64,
        (settled - admitted) as f64 / n as f64,
    );
}
