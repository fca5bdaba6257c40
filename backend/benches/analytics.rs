//! `make bench-analytics`: ingest rate through the real event writer and latency of
//! the analytics endpoint, on ClickHouse (10 million events, 1,000 gateways) and on
//! the embedded SQL store (1 million events) for comparison.
//!
//! Environment: BENCH_CLICKHOUSE_URL (required for the ClickHouse part),
//! BENCH_EVENTS (default 10000000), BENCH_SQL_EVENTS (default 1000000),
//! BENCH_GATEWAYS (default 1000), BENCH_QUERIES (default 50).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use serde_json::{json, Value};
use tollgate::{
    config::{ClickHouseSettings, Config},
    db::Db,
    events::{
        spool::Spool,
        stores::{ClickHouseEventStore, SqlEventStore},
        writer::{EventPipeline, WriterConfig},
        EventStore, RequestEvent,
    },
    ids::{EventId, GatewayId, UserId},
    metrics::Metrics,
    Tollgate,
};

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Tenant {
    token: String,
    user: UserId,
    gateways: Vec<GatewayId>,
}

/// One user owning every gateway, created through the API.
async fn create_tenant(base: &str, client: &reqwest::Client, gateways: u64) -> Tenant {
    let session: Value = client.post(format!("{base}/auth/join")).send().await.unwrap().json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..gateways {
        let created: Value = client
            .post(format!("{base}/gateways"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("project {i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().parse().unwrap());
    }
    Tenant { token, user: session["id"].as_str().unwrap().parse().unwrap(), gateways: ids }
}

/// The i-th synthetic event: gateway 0 takes a tenth of all traffic, the rest
/// share the remainder; times spread over the last 60 days.
fn synthetic(i: u64, total: u64, tenant: &Tenant, now_ms: i64) -> RequestEvent {
    let n = tenant.gateways.len() as u64;
    let gateway = if i.is_multiple_of(10) { 0 } else { 1 + (i.wrapping_mul(2_654_435_761) % (n - 1)) };
    let models =
        ["gpt-4o", "gpt-4o-mini", "mock/echo", "groq/llama-3.3-70b-versatile", "deepseek-chat", "gemini-2.5-flash"];
    let ok = !i.is_multiple_of(23);
    let latency = 50 + (i.wrapping_mul(7919) % 3000);
    let span_ms = 60 * 86_400_000i64;
    RequestEvent {
        id: EventId::new(),
        request_id: format!("bench-{i}"),
        gateway_id: tenant.gateways[gateway as usize],
        user_id: tenant.user,
        ts: chrono::DateTime::from_timestamp_millis(now_ms - span_ms + (i as i64 * span_ms / total as i64)).unwrap(),
        endpoint: "/chat/completions".into(),
        model: models[(i % 6) as usize].into(),
        upstream_model: models[(i % 6) as usize].into(),
        provider: "openai".into(),
        streaming: i.is_multiple_of(3),
        status_code: if ok { 200 } else { 502 },
        ok,
        error_type: (!ok).then(|| "api_error".into()),
        error_code: (!ok).then(|| "upstream_error".into()),
        error_message: (!ok).then(|| "provider answered with status 502".into()),
        tokens_prompt: 100 + i % 900,
        tokens_completion: 20 + i % 300,
        tokens_cached: if i.is_multiple_of(5) { 64 } else { 0 },
        cost_nanousd: 10_000 + (i * 104_729) % 5_000_000,
        priced: true,
        latency_ms: latency,
        ttft_ms: i.is_multiple_of(3).then_some(latency / 4),
        attempts: 1,
        key_hint: Some("…abcd".into()),
        failed_attempts: Vec::new(),
        tokens_cache_write: 0,
        tokens_reasoning: 0,
        estimate: None,
        usage_source: Default::default(),
        cost_input_nanousd: 0,
        cost_cached_nanousd: 0,
        cost_cache_write_nanousd: 0,
        cost_output_nanousd: 0,
    }
}

/// Feeds `total` events through the real writer and waits until all are stored.
async fn ingest(store: Arc<dyn EventStore>, spool_dir: &std::path::Path, total: u64, tenant: &Tenant) -> f64 {
    let metrics = Arc::new(Metrics::new());
    let spool = Arc::new(Spool::open(spool_dir).unwrap());
    let pipeline = EventPipeline::start(
        store,
        spool,
        metrics.clone(),
        WriterConfig { batch_rows: 100_000, flush_interval: Duration::from_secs(1), queue_capacity: 200_000 },
    );
    let now_ms = Utc::now().timestamp_millis();
    let started = Instant::now();
    for i in 0..total {
        // Backpressure for the benchmark only: the hot path never waits like this.
        while metrics.event_queue_depth.get() > 150_000 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        pipeline.sink.emit(synthetic(i, total, tenant, now_ms));
    }
    while metrics.events_inserted.get() < total {
        assert_eq!(metrics.events_spooled.get(), 0, "the store failed during the benchmark");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    pipeline.shutdown(Duration::from_secs(30)).await;
    total as f64 / elapsed
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

/// p50 and p95 of the analytics endpoint for a 30-day range, in milliseconds.
async fn query_latency(
    base: &str,
    client: &reqwest::Client,
    tenant: &Tenant,
    gateway: GatewayId,
    queries: u64,
) -> (f64, f64, u64) {
    let url = format!("{base}/gateways/{gateway}/analytics?days=30");
    let mut requests = 0;
    for _ in 0..3 {
        let report: Value = client.get(&url).bearer_auth(&tenant.token).send().await.unwrap().json().await.unwrap();
        requests = report["summary"]["total_requests"].as_u64().expect("an analytics report");
    }
    let mut times = Vec::new();
    for _ in 0..queries {
        let started = Instant::now();
        let response = client.get(&url).bearer_auth(&tenant.token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.95), requests)
}

async fn run(label: &str, clickhouse: Option<ClickHouseSettings>, events: u64, gateways: u64, queries: u64) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut overrides = vec![("RUST_LOG", "warn".to_string())];
    if let Some(ch) = &clickhouse {
        overrides.push(("CLICKHOUSE_URL", ch.url.clone()));
        overrides.push(("CLICKHOUSE_DATABASE", ch.database.clone()));
    }
    let config = Config::for_tests(dir.path().to_path_buf(), &overrides).unwrap();
    let db_url = config.database_url.clone();
    let app = Tollgate::start(config, false).await.unwrap();
    let base = app.url();
    let client = reqwest::Client::new();
    let tenant = create_tenant(&base, &client, gateways).await;

    let db = tokio::task::spawn_blocking(move || Db::connect(&db_url, 4)).await.unwrap().unwrap();
    let store: Arc<dyn EventStore> = match &clickhouse {
        Some(settings) => Arc::new(ClickHouseEventStore::connect(settings, db.locks()).await.unwrap()),
        None => Arc::new(SqlEventStore::new(db).unwrap()),
    };
    println!("{label}: ingesting {events} events for {gateways} gateways through the event writer...");
    let rate = ingest(store, &dir.path().join("bench-spool"), events, &tenant).await;
    println!("{label}: ingest {rate:.0} events/s");
    let typical = tenant.gateways[gateways as usize / 2];
    let (p50, p95, requests) = query_latency(&base, &client, &tenant, typical, queries).await;
    println!("{label}: analytics, 30 days, typical gateway ({requests} calls): p50 {p50:.1} ms, p95 {p95:.1} ms");
    let (p50, p95, requests) = query_latency(&base, &client, &tenant, tenant.gateways[0], queries).await;
    println!("{label}: analytics, 30 days, largest gateway ({requests} calls): p50 {p50:.1} ms, p95 {p95:.1} ms");
    app.stop().await.unwrap();
}

#[tokio::main]
async fn main() {
    let gateways = env_or("BENCH_GATEWAYS", 1000);
    let queries = env_or("BENCH_QUERIES", 50);
    println!("machine: {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    match std::env::var("BENCH_CLICKHOUSE_URL") {
        Ok(url) => {
            let settings = ClickHouseSettings {
                url,
                database: format!("bench_{}", std::process::id()),
                user: None,
                password: None,
            };
            run("clickhouse", Some(settings), env_or("BENCH_EVENTS", 10_000_000), gateways, queries).await;
        }
        Err(_) => println!("BENCH_CLICKHOUSE_URL not set: skipping the ClickHouse part"),
    }
    run("sqlite", None, env_or("BENCH_SQL_EVENTS", 1_000_000), gateways, queries).await;
}
