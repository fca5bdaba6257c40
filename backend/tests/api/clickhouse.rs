//! ClickHouse as the analytics store: the same answers as the SQL store, schema
//! migrations applied once, and no event lost or repeated when ClickHouse goes
//! away, when Tollgate restarts meanwhile, or when Tollgate is stopped under load.

use std::{
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::{Duration as Span, Utc};
use serde_json::{json, Value};
use tollgate::{
    db::{Db, Locks},
    events::{
        retention,
        stores::{
            clickhouse::{migrations, server_client},
            ClickHouseEventStore, SqlEventStore,
        },
        EventFilter, EventStore, FailedAttempt, Order, RequestEvent, UsageSource,
    },
    ids::{EventId, GatewayId, UserId},
};

use crate::helpers::{
    clickhouse_sql, clickhouse_url, hello, ClickHouseDatabase, ClickHouseServer, Gateway, TestApp, User,
};

/// A varied, reproducible history: several models and days, errors with and without
/// a code, unpriced calls, streamed and not, cached tokens, shared milliseconds.
pub fn history(gateway: GatewayId, user: UserId, count: u64) -> Vec<RequestEvent> {
    let models = ["gpt-4o", "gpt-4o-mini", "mock/echo", "groq/llama-3.3-70b-versatile", "deepseek-chat"];
    let start = Utc::now() - Span::days(9);
    (0..count)
        .map(|i| {
            let ok = i % 11 != 3 && i % 17 != 0;
            let streaming = i % 3 == 0;
            let priced = i % 13 != 5;
            let latency_ms = 20 + (i * 7919) % 2500;
            RequestEvent {
                id: EventId::new(),
                request_id: format!("req-{i}"),
                gateway_id: gateway,
                user_id: user,
                // Spread over ten days; every fifth call shares its millisecond with the previous one.
                ts: start + Span::milliseconds(((i - i % 5 / 4) * 9 * 86_400_000 / count) as i64),
                endpoint: "/chat/completions".into(),
                model: models[(i % 5) as usize].into(),
                upstream_model: models[(i % 5) as usize].into(),
                provider: "openai".into(),
                streaming,
                status_code: if ok {
                    200
                } else if i % 2 == 0 {
                    502
                } else {
                    429
                },
                ok,
                error_type: (!ok).then(|| if i % 2 == 0 { "api_error" } else { "rate_limit_error" }.into()),
                error_code: (!ok && i % 2 == 0).then(|| "upstream_error".into()),
                error_message: (!ok).then(|| format!("upstream said \"no\", call {i}")),
                tokens_prompt: if ok { 50 + i % 400 } else { 0 },
                tokens_completion: if ok { 10 + i % 90 } else { 0 },
                tokens_cached: if ok && i % 4 == 0 { 16 } else { 0 },
                cost_nanousd: if ok && priced { 1_000 + (i * 104_729) % 9_000_000 } else { 0 },
                priced: priced || !ok,
                latency_ms,
                ttft_ms: streaming.then_some(latency_ms / 3),
                attempts: 1 + (i % 7 == 0) as u32,
                key_hint: Some("…k3y1".into()),
                failed_attempts: if i % 7 == 0 {
                    vec![FailedAttempt { provider: "openai".into(), model: "gpt-4o".into(), error: "timeout".into() }]
                } else {
                    Vec::new()
                },
                tokens_cache_write: if ok && i % 4 == 0 { 8 } else { 0 },
                tokens_reasoning: if ok && i % 6 == 0 { 5 } else { 0 },
                estimate: None,
                usage_source: if i % 9 == 4 { UsageSource::Estimated } else { UsageSource::Provider },
                cost_input_nanousd: if ok && priced { 1_000 + (i * 104_729) % 9_000_000 } else { 0 },
                cost_cached_nanousd: 0,
                cost_cache_write_nanousd: 0,
                cost_output_nanousd: 0,
            }
        })
        .collect()
}

/// A control-plane GET, with the gateway's own id masked so two apps' answers compare.
async fn fetch(app: &TestApp, user: &User, gateway: &Gateway, query: &str) -> String {
    let response = app.get(user, &format!("/gateways/{}/{query}", gateway.id)).await;
    assert_eq!(response.status(), 200, "{query}");
    response.text().await.unwrap().replace(&gateway.id, "GATEWAY")
}

/// Migration locks of a process of its own (a lock file in a fresh directory).
fn locks() -> Locks {
    Locks::files(Box::leak(Box::new(tempfile::TempDir::new().unwrap())).path().join("tollgate.db"))
}

async fn sql_store_of(app: &TestApp) -> SqlEventStore {
    let url = format!("sqlite://{}", app.data_dir.path().join("tollgate.db").display());
    SqlEventStore::new(tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap()).unwrap()
}

#[tokio::test]
async fn both_stores_give_the_same_answers() {
    let Some(url) = clickhouse_url() else { return };
    let database = ClickHouseDatabase::new(&url);
    let sql_app = TestApp::spawn().await;
    let ch_app = TestApp::builder().clickhouse(&database).start().await;
    let (sql_user, ch_user) = (sql_app.join().await, ch_app.join().await);
    let (sql_gateway, ch_gateway) =
        (sql_app.create_gateway(&sql_user, "same").await, ch_app.create_gateway(&ch_user, "same").await);

    let events = history(sql_gateway.id.parse().unwrap(), sql_user.id.parse().unwrap(), 3000);
    let mirrored: Vec<_> = events
        .iter()
        .cloned()
        .map(|mut e| {
            e.gateway_id = ch_gateway.id.parse().unwrap();
            e.user_id = ch_user.id.parse().unwrap();
            e
        })
        .collect();
    sql_store_of(&sql_app).await.insert(Arc::new(events.to_vec())).await.unwrap();
    let clickhouse = ClickHouseEventStore::connect(&database.settings(), locks()).await.unwrap();
    for chunk in mirrored.chunks(700) {
        clickhouse.insert(Arc::new(chunk.to_vec())).await.unwrap();
    }

    let today = Utc::now().date_naive();
    let queries = [
        "analytics?days=1".to_string(),
        "analytics?days=7".into(),
        "analytics?days=30".into(),
        "analytics?days=10&model=gpt-4o".into(),
        format!("analytics?from={}&to={}", today - Span::days(6), today - Span::days(2)),
        format!(
            "analytics?from={}&to={}",
            (Utc::now() - Span::hours(100)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            (Utc::now() - Span::hours(30)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        "logs?limit=1".into(),
        "logs?limit=500".into(),
        "logs?limit=37&status=error".into(),
        "logs?limit=200&model=mock/echo&status=ok".into(),
        format!("logs?limit=50&from={}", today - Span::days(3)),
        "logs/export?format=csv".into(),
        "logs/export?format=ndjson".into(),
        "logs/export?format=csv&status=error&model=gpt-4o-mini".into(),
    ];
    for query in &queries {
        let from_sql = fetch(&sql_app, &sql_user, &sql_gateway, query).await;
        let from_clickhouse = fetch(&ch_app, &ch_user, &ch_gateway, query).await;
        assert!(from_sql.len() > 100, "{query} returned something: {from_sql}");
        assert_eq!(from_sql, from_clickhouse, "{query}");
    }

    // Paging all the way through gives the same pages too.
    let mut cursors = (None::<String>, None::<String>);
    let mut pages = 0;
    loop {
        let query = |cursor: &Option<String>| {
            format!("logs?limit=250&status=ok{}", cursor.as_ref().map(|c| format!("&before={c}")).unwrap_or_default())
        };
        let a: Value =
            serde_json::from_str(&fetch(&sql_app, &sql_user, &sql_gateway, &query(&cursors.0)).await).unwrap();
        let b: Value = serde_json::from_str(&fetch(&ch_app, &ch_user, &ch_gateway, &query(&cursors.1)).await).unwrap();
        assert_eq!(a, b, "page {pages}");
        pages += 1;
        match a["next_cursor"].as_str() {
            Some(next) => cursors = (Some(next.into()), b["next_cursor"].as_str().map(String::from)),
            None => break,
        }
    }
    assert!(pages > 5);

    // The spend budgets start from: the same sums, this month and today, up to a moment.
    let (month_ms, day_ms) = tollgate::limits::period_starts(Utc::now().timestamp_millis() as u64);
    let before_ms = Utc::now().timestamp_millis() - 3_600_000;
    let sql_spend = sql_store_of(&sql_app).await.spend(month_ms, day_ms, before_ms).await.unwrap();
    let ch_spend = clickhouse.spend(month_ms, day_ms, before_ms).await.unwrap();
    let sums = |spend: &[tollgate::events::GatewaySpend]| {
        spend.iter().map(|s| (s.month_nanousd, s.day_nanousd)).collect::<Vec<_>>()
    };
    assert!(sql_spend.len() <= 1, "one gateway");
    assert_eq!(sums(&sql_spend), sums(&ch_spend));
    assert!(sql_spend.iter().all(|s| s.month_nanousd >= s.day_nanousd));
}

async fn schema_of(url: &str, database: &str) -> String {
    let tables = clickhouse_sql(url, &format!("SELECT name FROM system.tables WHERE database = '{database}' AND name != 'schema_migrations' ORDER BY name")).await;
    let mut schema = String::new();
    for table in tables.lines() {
        schema += &clickhouse_sql(url, &format!("SHOW CREATE TABLE {database}.{table}")).await.replace(database, "DB");
    }
    schema
}

#[tokio::test]
async fn migrations_apply_once_and_converge() {
    let Some(url) = clickhouse_url() else { return };
    let settings = ClickHouseDatabase::new(&url);
    let server = server_client(&settings.settings());

    assert_eq!(
        migrations::migrate(&server, &settings.name, None, &locks()).await.unwrap(),
        migrations::MIGRATIONS.len()
    );
    let fresh = schema_of(&url, &settings.name).await;
    assert!(fresh.contains("request_events"));
    assert_eq!(
        migrations::migrate(&server, &settings.name, None, &locks()).await.unwrap(),
        0,
        "applying twice changes nothing"
    );
    assert_eq!(schema_of(&url, &settings.name).await, fresh);

    // A database left at the previous migration, with events in it, ends at the same
    // schema, and the daily rollup it gains covers the events it already had.
    let older = ClickHouseDatabase::new(&url);
    migrations::migrate(&server, &older.name, Some(1), &locks()).await.unwrap();
    clickhouse_sql(&url, &format!(
        "INSERT INTO {}.request_events (id, request_id, gateway_id, user_id, ts, ts_ms, endpoint, model, upstream_model, provider, \
         streaming, status_code, ok, tokens_prompt, tokens_completion, tokens_cached, cost_nanousd, latency_ms, attempts) VALUES \
         ('a', 'r1', 'g', 'u', 1700000000, 1700000000000, '/chat/completions', 'm', 'm', 'openai', 0, 200, 1, 10, 5, 0, 1500, 40, 1), \
         ('b', 'r2', 'g', 'u', 1700000001, 1700000001000, '/chat/completions', 'm', 'm', 'openai', 0, 500, 0, 0, 0, 0, 0, 90, 2)",
        older.name
    )).await;
    assert_eq!(
        migrations::migrate(&server, &older.name, None, &locks()).await.unwrap(),
        migrations::MIGRATIONS.len() - 1
    );
    assert_eq!(schema_of(&url, &older.name).await, fresh);
    let rollup = clickhouse_sql(
        &url,
        &format!(
            "SELECT sum(requests), sum(errors), sum(cost_nanousd), sum(latency_sum_ms) FROM {}.request_events_daily",
            older.name
        ),
    )
    .await;
    assert_eq!(rollup.trim(), "2\t1\t1500\t130");
    // The events it had read as priced; the recreated view counts unpriced calls.
    clickhouse_sql(&url, &format!(
        "INSERT INTO {}.request_events (id, request_id, gateway_id, user_id, ts, ts_ms, endpoint, model, upstream_model, provider, \
         streaming, status_code, ok, tokens_prompt, tokens_completion, tokens_cached, cost_nanousd, priced, latency_ms, attempts) VALUES \
         ('c', 'r3', 'g', 'u', 1700000002, 1700000002000, '/chat/completions', 'm', 'm', 'openai', 0, 200, 1, 10, 5, 0, 0, 0, 30, 1)",
        older.name
    )).await;
    let priced =
        format!("SELECT groupArray(priced) FROM (SELECT priced FROM {}.request_events ORDER BY id)", older.name);
    assert_eq!(clickhouse_sql(&url, &priced).await.trim(), "[1,1,0]");
    let rollup = format!("SELECT sum(requests), sum(unpriced) FROM {}.request_events_daily", older.name);
    assert_eq!(clickhouse_sql(&url, &rollup).await.trim(), "3\t1");

    // A migration file changed after it was applied stops the start-up.
    clickhouse_sql(
        &url,
        &format!(
            "INSERT INTO {}.schema_migrations (name, checksum, applied_at) VALUES ('{}', 'edited', now())",
            older.name,
            migrations::MIGRATIONS[0].0
        ),
    )
    .await;
    clickhouse_sql(
        &url,
        &format!(
            "ALTER TABLE {}.schema_migrations DELETE WHERE checksum != 'edited' AND name = '{}'",
            older.name,
            migrations::MIGRATIONS[0].0
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let error = migrations::migrate(&server, &older.name, None, &locks()).await.unwrap_err();
    assert!(error.to_string().contains("was changed after it was applied"), "{error}");
}

#[tokio::test]
async fn retention_drops_whole_months_past_the_limit() {
    let Some(url) = clickhouse_url() else { return };
    let database = ClickHouseDatabase::new(&url);
    let store = ClickHouseEventStore::connect(&database.settings(), locks()).await.unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let mut events = history(gateway, user, 4);
    for (event, days_ago) in events.iter_mut().zip([500, 450, 10, 0]) {
        event.ts = Utc::now() - Span::days(days_ago);
    }
    store.insert(Arc::new(events.to_vec())).await.unwrap();
    store.delete_before(retention::cutoff_ms(400)).await.unwrap();
    let everything = EventFilter { gateway_id: gateway, from_ms: 0, to_ms: i64::MAX / 2, model: None, status: None };
    let left = store.page(&everything, Order::OldestFirst, None, 10).await.unwrap();
    assert_eq!(left.len(), 2, "the two old months are gone, the recent events stay");
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn total_requests(app: &TestApp, user: &User, gateway: &Gateway) -> u64 {
    let report = app.get_json(user, &format!("/gateways/{}/analytics?days=1", gateway.id)).await;
    report["summary"]["total_requests"].as_u64().unwrap()
}

#[tokio::test]
async fn an_outage_loses_and_repeats_nothing() {
    let Some(server) = ClickHouseServer::start() else { return };
    let database = ClickHouseDatabase::new(&server.url);
    let app = TestApp::builder().clickhouse(&database).start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "through an outage").await;
    for _ in 0..20 {
        assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    }
    app.wait_for_logs(&user, &gateway, 20).await;

    server.pause();
    for _ in 0..30 {
        assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200, "calls do not wait on analytics");
    }
    wait_until("the 30 events are spooled", async || metric(&app, "tollgate_events_spooled").await == 30).await;
    let ready = app.client.get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["analytics"]["status"], "unavailable");

    server.resume();
    wait_until("the spool is replayed", async || metric(&app, "tollgate_events_spooled").await == 0).await;
    let logs = app.wait_for_logs(&user, &gateway, 50).await;
    let ids: std::collections::HashSet<_> = logs.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 50, "each event once");
    assert_eq!(total_requests(&app, &user, &gateway).await, 50);
    assert_eq!(metric(&app, "tollgate_events_inserted_total").await, 50);
    assert_eq!(metric(&app, "tollgate_events_dropped_total").await, 0);
    assert!(metric(&app, "tollgate_event_insert_failures_total").await > 0);
}

#[tokio::test]
async fn the_spool_survives_a_restart_while_clickhouse_is_down() {
    let Some(server) = ClickHouseServer::start() else { return };
    let database = ClickHouseDatabase::new(&server.url);
    let app = TestApp::builder().clickhouse(&database).start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "restarted").await;
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    app.wait_for_logs(&user, &gateway, 1).await;

    server.pause();
    for _ in 0..25 {
        assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    }
    let data_dir = app.stop().await;

    // Tollgate starts although ClickHouse is still down, with the spool from before.
    let app = TestApp::builder().clickhouse(&database).data_dir(data_dir).start().await;
    assert_eq!(metric(&app, "tollgate_events_spooled").await, 25);
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);

    server.resume();
    wait_until("the spool is replayed", async || metric(&app, "tollgate_events_spooled").await == 0).await;
    let logs = app.wait_for_logs(&user, &gateway, 27).await;
    let ids: std::collections::HashSet<_> = logs.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 27);
}

#[tokio::test]
async fn sigterm_under_load_keeps_every_answered_call() {
    let Some(url) = clickhouse_url() else { return };
    let database = ClickHouseDatabase::new(&url);
    let helper = TestApp::builder().clickhouse(&database).start().await;
    let user = helper.join().await;
    let gateway = helper.create_gateway(&user, "under load").await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("sqlite://{}", helper.data_dir.path().join("tollgate.db").display()))
        .env("DATA_DIR", helper.data_dir.path().join("second"))
        .env("JWT_SECRET", "test-secret-test-secret-test-secret!")
        .env("CLICKHOUSE_URL", &database.url)
        .env("CLICKHOUSE_DATABASE", &database.name)
        .env("EVENT_FLUSH_MS", "5000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    wait_until("the binary is up", async || client.get(format!("{base}/healthz")).send().await.is_ok()).await;

    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, base, secret, answered, stop) =
                (client.clone(), base.clone(), gateway.secret.clone(), answered.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"model": "mock/echo", "messages": [{"role": "user", "content": "load"}]});
                    match client
                        .post(format!("{base}/v1/chat/completions"))
                        .bearer_auth(&secret)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(response) if response.status() == 200 => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(response) => panic!("unexpected status {}", response.status()),
                        Err(_) => break, // the server stopped accepting
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(status.success(), "clean exit: {status:?}");
    let answered = answered.load(Ordering::Relaxed);
    assert!(answered >= 16, "the load ran ({answered} calls)");
    assert_eq!(total_requests(&helper, &user, &gateway).await, answered, "every answered call is in ClickHouse");
}

/// Two processes sharing the relational database at `database_url` start together
/// against a ClickHouse database whose events predate the daily rollup.
async fn processes_starting_together_migrate_once(database_url: &str) {
    let Some(url) = clickhouse_url() else { return };
    let database = ClickHouseDatabase::new(&url);
    let server = server_client(&database.settings());
    migrations::migrate(&server, &database.name, Some(1), &locks()).await.unwrap();
    clickhouse_sql(&url, &format!(
        "INSERT INTO {}.request_events (id, request_id, gateway_id, user_id, ts, ts_ms, endpoint, model, upstream_model, provider, \
         streaming, status_code, ok, tokens_prompt, tokens_completion, tokens_cached, cost_nanousd, latency_ms, attempts) \
         SELECT toString(number), 'r', 'g', 'u', toDateTime(1700000000 + number), (1700000000 + number) * 1000, \
         '/chat/completions', 'm', 'm', 'openai', 0, 200, 1, 10, 5, 0, 100, 40, 1 FROM system.numbers LIMIT 200",
        database.name
    )).await;

    // Each process has its own pool, and so its own hold on the lock.
    let connect =
        |url: String| async move { tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap() };
    let (first, second) = (connect(database_url.to_string()).await, connect(database_url.to_string()).await);
    let settings = database.settings();
    let (a, b) = tokio::join!(
        ClickHouseEventStore::connect(&settings, first.locks()),
        ClickHouseEventStore::connect(&settings, second.locks())
    );
    a.unwrap();
    b.unwrap();

    let ledger = format!("SELECT name, count() FROM {}.schema_migrations GROUP BY name ORDER BY name", database.name);
    let expected: String = migrations::MIGRATIONS.iter().map(|(name, _)| format!("{name}\t1\n")).collect();
    assert_eq!(clickhouse_sql(&url, &ledger).await, expected, "each migration applied once");
    let rollup = format!("SELECT sum(requests), sum(cost_nanousd) FROM {}.request_events_daily", database.name);
    assert_eq!(clickhouse_sql(&url, &rollup).await.trim(), "200\t20000", "the rollup backfill ran once");
}

#[tokio::test]
async fn processes_sharing_sqlite_starting_together_migrate_clickhouse_once() {
    let dir = tempfile::TempDir::new().unwrap();
    processes_starting_together_migrate_once(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test]
async fn processes_sharing_postgres_starting_together_migrate_clickhouse_once() {
    let Some(base) = crate::helpers::postgres_url() else { return };
    let schema = crate::helpers::PgSchema::create(&base);
    processes_starting_together_migrate_once(&schema.url()).await;
}

/// README, "Analytics in ClickHouse": current releases recognise a retried insert by its
/// token; ClickHouse 18.16 cannot, and stores a batch retried after it was written twice.
#[tokio::test]
async fn a_batch_retried_after_it_was_written_counts_once_where_the_server_can_tell() {
    let Some(url) = clickhouse_url() else { return };
    let database = ClickHouseDatabase::new(&url);
    let store = Arc::new(ClickHouseEventStore::connect(&database.settings(), locks()).await.unwrap());
    let version = clickhouse_sql(&url, "SELECT version()").await;
    let deduplicates = store.deduplicates_inserts().await.unwrap();
    assert_eq!(deduplicates, !version.starts_with("18."), "ClickHouse {}", version.trim());

    let (gateway, user) = (GatewayId::new(), UserId::new());
    let mut events = history(gateway, user, 250);
    events.iter_mut().for_each(|e| e.ts = Utc::now());
    let lossy = crate::pipeline::LostAnswer::new(store.clone());
    crate::pipeline::write_through_the_writer(lossy.clone(), &events).await;
    let inserts = lossy.inserts();
    assert_eq!(inserts[1], inserts[0], "the retry is the same batch");

    let twice = if deduplicates { 0 } else { inserts[0].len() };
    let url = &url;
    let count = |sql: String| async move { clickhouse_sql(url, &sql).await.trim().parse::<usize>().unwrap() };
    let (stored, rolled_up) = (
        count(format!("SELECT count() FROM {}.request_events", database.name)).await,
        count(format!("SELECT sum(requests) FROM {}.request_events_daily", database.name)).await,
    );
    assert_eq!((stored, rolled_up), (events.len() + twice, events.len() + twice));
}
