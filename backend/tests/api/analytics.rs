//! Analytics, logs and exports: every number checked exactly against what the
//! providers reported, on SQLite and on PostgreSQL.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{Duration as Days, Utc};
use serde_json::{json, Value};
use tollgate::{
    db::Db,
    events::{stores::SqlEventStore, EventStore, FailedAttempt, RequestEvent, UsageSource},
    ids::{EventId, GatewayId, UserId},
};

use crate::helpers::{hello, sse_data, Backend, Gateway, TestApp, User};

/// USD per million tokens (input, output) of the models these tests call.
fn price(model: &str) -> (u64, u64) {
    match model {
        "mock/echo" => (1_000_000, 2_000_000),
        "gpt-4o" => (2_500_000, 10_000_000),
        "groq/llama-3.3-70b-versatile" => (590_000, 790_000),
        other => panic!("no price for {other}"),
    }
}

#[derive(Default, Debug, PartialEq, Clone)]
struct Expected {
    requests: u64,
    errors: u64,
    tokens_in: u64,
    tokens_out: u64,
    cost_nanousd: u64,
}

impl Expected {
    fn add_success(&mut self, model: &str, prompt: u64, completion: u64) {
        let (input, output) = price(model);
        self.requests += 1;
        self.tokens_in += prompt;
        self.tokens_out += completion;
        self.cost_nanousd += (prompt * input + completion * output + 500) / 1000;
    }

    fn add_error(&mut self) {
        self.requests += 1;
        self.errors += 1;
    }
}

/// Makes a call and returns the usage the provider reported (None for a failed call).
async fn call(app: &TestApp, gateway: &Gateway, model: &str, stream: bool) -> Option<(u64, u64)> {
    let mut body =
        json!({"model": model, "messages": [{"role": "user", "content": format!("count my tokens for {model}")}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    let response = app.chat(gateway, body).await;
    if !response.status().is_success() {
        return None;
    }
    let usage = if stream {
        let data = sse_data(&response.text().await.unwrap());
        data.iter().filter_map(|d| serde_json::from_str::<Value>(d).ok()).find(|c| !c["usage"].is_null()).unwrap()
            ["usage"]
            .clone()
    } else {
        response.json::<Value>().await.unwrap()["usage"].clone()
    };
    Some((usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap()))
}

async fn analytics_match_what_providers_reported(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_start().await else { return };
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "metered").await;
    let mut total = Expected::default();
    let mut per_model: BTreeMap<String, Expected> = BTreeMap::new();
    let plan = [
        ("mock/echo", false),
        ("mock/echo", true),
        ("gpt-4o", false),
        ("gpt-4o", true),
        ("gpt-4o", false),
        ("groq/llama-3.3-70b-versatile", true),
        ("openai/fail-503", false),
        ("no-such-model", false),
    ];
    for (model, stream) in plan {
        let entry = per_model.entry(model.to_string()).or_default();
        match call(&app, &gateway, model, stream).await {
            Some((prompt, completion)) => {
                total.add_success(model, prompt, completion);
                entry.add_success(model, prompt, completion);
            }
            None => {
                total.add_error();
                entry.add_error();
            }
        }
    }
    app.wait_for_logs(&user, &gateway, plan.len()).await;

    let report = app.get_json(&user, &format!("/gateways/{}/analytics?days=7", gateway.id)).await;
    let s = &report["summary"];
    assert_eq!(report["gateway_id"], gateway.id.as_str());
    assert_eq!(s["total_requests"], total.requests);
    assert_eq!(s["error_count"], total.errors);
    assert_eq!(s["tokens_in"], total.tokens_in);
    assert_eq!(s["tokens_out"], total.tokens_out);
    assert_eq!(s["total_tokens"], total.tokens_in + total.tokens_out);
    assert_eq!(s["total_cost_nanousd"], total.cost_nanousd);
    assert_eq!(s["total_cost"].as_f64().unwrap(), total.cost_nanousd as f64 / 1e9);
    assert_eq!(s["unpriced_requests"], 0, "every model called has a price; failed calls used no tokens");
    assert_eq!(s["error_rate"].as_f64().unwrap(), 2.0 / 8.0);
    assert_eq!(s["success_rate"].as_f64().unwrap(), 6.0 / 8.0);
    for field in ["p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "min_latency_ms", "max_latency_ms"] {
        assert!(s[field].is_u64(), "{field}");
    }
    assert!(
        s["p50_latency_ms"].as_u64() <= s["p95_latency_ms"].as_u64()
            && s["p95_latency_ms"].as_u64() <= s["p99_latency_ms"].as_u64()
    );
    assert!(s["avg_ttft_ms"].is_f64(), "three calls streamed");

    let breakdown = report["model_breakdown"].as_object().unwrap();
    assert_eq!(breakdown.len(), per_model.len());
    for (model, expected) in &per_model {
        let m = &breakdown[model];
        assert_eq!(m["requests"], expected.requests, "{model}");
        assert_eq!(m["error_count"], expected.errors, "{model}");
        assert_eq!(m["tokens_in"], expected.tokens_in, "{model}");
        assert_eq!(m["tokens_out"], expected.tokens_out, "{model}");
        assert_eq!(m["cost_nanousd"], expected.cost_nanousd, "{model}");
    }

    let days = report["daily_stats"].as_array().unwrap();
    assert_eq!(days.len(), 7, "one entry per day, quiet days included");
    assert_eq!(report["date_range"]["days"], 7);
    let today = Utc::now().date_naive();
    assert_eq!(report["date_range"]["end_date"], today.to_string());
    assert_eq!(days[6]["date"], today.to_string());
    assert_eq!(days[6]["requests"], total.requests);
    assert_eq!(days[6]["cost_nanousd"], total.cost_nanousd);
    assert_eq!(days[6]["errors"], total.errors);
    for quiet in &days[..6] {
        assert_eq!((quiet["requests"].as_u64(), quiet["cost"].as_f64()), (Some(0), Some(0.0)));
    }

    let only_gpt = app.get_json(&user, &format!("/gateways/{}/analytics?days=1&model=gpt-4o", gateway.id)).await;
    assert_eq!(only_gpt["summary"]["total_requests"], 3);
    assert_eq!(only_gpt["summary"]["total_cost_nanousd"], per_model["gpt-4o"].cost_nanousd);
}

#[tokio::test]
async fn analytics_match_what_providers_reported_on_sqlite() {
    analytics_match_what_providers_reported(Backend::Sqlite).await;
}

#[tokio::test]
async fn analytics_match_what_providers_reported_on_postgres() {
    analytics_match_what_providers_reported(Backend::Postgres).await;
}

pub fn event(gateway: GatewayId, user: UserId, days_ago: i64, latency_ms: u64, ok: bool, model: &str) -> RequestEvent {
    RequestEvent {
        id: EventId::new(),
        request_id: format!("req-{}", uuid::Uuid::new_v4().simple()),
        gateway_id: gateway,
        user_id: user,
        ts: Utc::now() - Days::days(days_ago),
        endpoint: "/chat/completions".into(),
        model: model.into(),
        upstream_model: model.into(),
        provider: "openai".into(),
        streaming: latency_ms.is_multiple_of(2),
        status_code: if ok { 200 } else { 500 },
        ok,
        error_type: (!ok).then(|| "api_error".into()),
        error_code: (!ok).then(|| "upstream_error".into()),
        error_message: (!ok).then(|| "boom, \"quoted\"\nsecond line".into()),
        tokens_prompt: 100 + latency_ms,
        tokens_completion: 10,
        tokens_cached: 0,
        cost_nanousd: 1_234_567 + latency_ms,
        priced: true,
        latency_ms,
        ttft_ms: latency_ms.is_multiple_of(2).then_some(latency_ms / 2),
        attempts: if ok { 1 } else { 2 },
        key_hint: Some("…abcd".into()),
        // A failed call tried twice; its first attempt is kept in short.
        failed_attempts: if ok {
            Vec::new()
        } else {
            vec![FailedAttempt { provider: "openai".into(), model: model.into(), error: "key …wxyz: 503".into() }]
        },
        tokens_cache_write: latency_ms % 3,
        tokens_reasoning: latency_ms % 5,
        estimate: None,
        usage_source: if ok { UsageSource::Provider } else { UsageSource::None },
        cost_input_nanousd: 1_000_000 + latency_ms,
        cost_cached_nanousd: 0,
        cost_cache_write_nanousd: 0,
        cost_output_nanousd: 234_567,
    }
}

async fn feed(app: &TestApp, events: &[RequestEvent], database_url: Option<String>) {
    let url = database_url.unwrap_or_else(|| format!("sqlite://{}", app.data_dir.path().join("tollgate.db").display()));
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap();
    SqlEventStore::new(db).unwrap().insert(Arc::new(events.to_vec())).await.unwrap();
}

#[tokio::test]
async fn a_call_to_a_model_without_a_price_is_unpriced_never_free() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "unpriced").await;
    let unlisted = "openai/gpt-unlisted-1";
    let priced_usage = call(&app, &gateway, "gpt-4o", false).await.unwrap();
    call(&app, &gateway, unlisted, false).await.unwrap();
    call(&app, &gateway, unlisted, true).await.unwrap();
    assert!(call(&app, &gateway, "no-such-model", false).await.is_none());
    let logs = app.wait_for_logs(&user, &gateway, 4).await;

    let mut priced = Expected::default();
    priced.add_success("gpt-4o", priced_usage.0, priced_usage.1);
    let report = app.get_json(&user, &format!("/gateways/{}/analytics?days=7", gateway.id)).await;
    assert_eq!(report["summary"]["unpriced_requests"], 2);
    assert_eq!(report["summary"]["total_requests"], 4);
    assert_eq!(report["summary"]["total_cost_nanousd"], priced.cost_nanousd, "the cost of the priced calls only");
    let breakdown = &report["model_breakdown"];
    assert_eq!(
        (breakdown[unlisted]["requests"].as_u64(), breakdown[unlisted]["unpriced_requests"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(breakdown["gpt-4o"]["unpriced_requests"], 0);
    assert_eq!(breakdown["no-such-model"]["unpriced_requests"], 0, "a refused call used nothing: it cost nothing");
    let today = &report["daily_stats"][6];
    assert_eq!((today["requests"].as_u64(), today["unpriced_requests"].as_u64()), (Some(4), Some(2)));
    assert_eq!(report["daily_stats"][0]["unpriced_requests"], 0);

    let by_model = |m: &str| logs.iter().find(|l| l["model"] == m).unwrap().clone();
    let unpriced = by_model(unlisted);
    assert_eq!(unpriced["priced"], false);
    assert!(unpriced["cost"].is_null() && unpriced["cost_nanousd"].is_null(), "unknown, not zero: {unpriced}");
    assert!(unpriced["tokens_prompt"].as_u64().unwrap() > 0);
    let known = by_model("gpt-4o");
    assert_eq!((known["priced"].as_bool(), known["cost_nanousd"].as_u64()), (Some(true), Some(priced.cost_nanousd)));
    let refused = by_model("no-such-model");
    assert_eq!(
        (refused["error_type"].as_str(), refused["error_code"].as_str(), refused["priced"].as_bool()),
        (Some("invalid_request_error"), Some("model_not_found"), Some(true))
    );
    assert_eq!((refused["cost_nanousd"].as_u64(), known["error_code"].is_null()), (Some(0), true));

    let csv = app.get(&user, &format!("/gateways/{}/logs/export?format=csv", gateway.id)).await.text().await.unwrap();
    let rows = csv_rows(&csv);
    let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap_or_else(|| panic!("no {name} column"));
    let (id, cost, cost_nanousd, priced_cell, code) =
        (column("id"), column("cost"), column("cost_nanousd"), column("priced"), column("error_code"));
    let row = |entry: &Value| rows.iter().find(|r| r[id] == entry["id"].as_str().unwrap()).unwrap().clone();
    let unpriced_row = row(&unpriced);
    assert_eq!(
        (unpriced_row[cost].as_str(), unpriced_row[cost_nanousd].as_str(), unpriced_row[priced_cell].as_str()),
        ("unpriced", "unpriced", "false")
    );
    let known_row = row(&known);
    assert_eq!(
        (known_row[cost_nanousd].clone(), known_row[priced_cell].as_str()),
        (priced.cost_nanousd.to_string(), "true")
    );
    assert_eq!(row(&refused)[code], "model_not_found");

    let ndjson =
        app.get(&user, &format!("/gateways/{}/logs/export?format=ndjson", gateway.id)).await.text().await.unwrap();
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let newest_first: Vec<Value> = lines.into_iter().rev().collect();
    assert_eq!(newest_first, logs, "an NDJSON line is the log entry");
}

#[tokio::test]
async fn days_percentiles_and_ranges_over_history() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "history").await;
    let (gid, uid) = (gateway.id.parse().unwrap(), user.id.parse().unwrap());
    // 100 calls with latencies 1..=100 ms over the last four days, every tenth failing.
    let events: Vec<_> = (1..=100u64).map(|ms| event(gid, uid, (ms % 4) as i64, ms, ms % 10 != 0, "gpt-4o")).collect();
    feed(&app, &events, None).await;

    let report = app.get_json(&user, &format!("/gateways/{}/analytics?days=30", gateway.id)).await;
    let s = &report["summary"];
    assert_eq!(s["total_requests"], 100);
    assert_eq!(s["error_count"], 10);
    // The value at position floor(q * n) of the sorted latencies.
    assert_eq!(
        (s["p50_latency_ms"].as_u64(), s["p95_latency_ms"].as_u64(), s["p99_latency_ms"].as_u64()),
        (Some(51), Some(96), Some(100))
    );
    assert_eq!((s["min_latency_ms"].as_u64(), s["max_latency_ms"].as_u64()), (Some(1), Some(100)));
    assert_eq!(s["avg_latency_ms"].as_f64(), Some(50.5));
    assert_eq!(s["avg_ttft_ms"].as_f64(), Some((1..=50).map(|i| i as f64).sum::<f64>() / 50.0));
    assert_eq!(s["total_cost_nanousd"], 100 * 1_234_567 + 5050);
    let days = report["daily_stats"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let per_day: Vec<u64> = days[26..].iter().map(|d| d["requests"].as_u64().unwrap()).collect();
    assert_eq!(per_day, [25, 25, 25, 25], "four days of 25 calls, oldest first");
    assert!(days[..26].iter().all(|d| d["requests"] == 0 && d["success_rate"].is_null()));

    let two_days_ago = (Utc::now() - Days::days(2)).date_naive();
    let window =
        app.get_json(&user, &format!("/gateways/{}/analytics?from={two_days_ago}&to={two_days_ago}", gateway.id)).await;
    assert_eq!(window["summary"]["total_requests"], 25);
    assert_eq!(window["daily_stats"].as_array().unwrap().len(), 1);

    for bad in ["days=0", "days=9999", "from=2026-13-01", "from=tomorrow", "days=7&from=2026-01-01"] {
        let response = app.get(&user, &format!("/gateways/{}/analytics?{bad}", gateway.id)).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    let empty = app.create_gateway(&user, "quiet").await;
    let report = app.get_json(&user, &format!("/gateways/{}/analytics", empty.id)).await;
    assert_eq!(report["summary"]["total_requests"], 0);
    assert!(report["summary"]["p50_latency_ms"].is_null() && report["summary"]["error_rate"].is_null());
    assert_eq!(report["daily_stats"].as_array().unwrap().len(), 7, "seven days by default");
}

async fn page_through(app: &TestApp, user: &User, gateway: &Gateway, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let before = cursor.map(|c| format!("&before={c}")).unwrap_or_default();
        let page = app.get_json(user, &format!("/gateways/{}/logs?{query}{before}", gateway.id)).await;
        all.extend(page["logs"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}

#[tokio::test]
async fn logs_page_newest_first_and_filter() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "logs").await;
    let (gid, uid) = (gateway.id.parse().unwrap(), user.id.parse().unwrap());
    let mut events: Vec<_> = (1..=23u64)
        .map(|ms| event(gid, uid, 0, ms, ms % 5 != 0, if ms % 2 == 0 { "gpt-4o" } else { "mock/echo" }))
        .collect();
    // Several calls in the same millisecond still page without loss or repeats.
    let shared_ts = events[0].ts;
    for e in events.iter_mut().take(6) {
        e.ts = shared_ts;
    }
    feed(&app, &events, None).await;

    let all = page_through(&app, &user, &gateway, "limit=5").await;
    assert_eq!(all.len(), 23);
    let ids: std::collections::HashSet<_> = all.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 23, "no repeats across pages");
    let times: Vec<&str> = all.iter().map(|l| l["timestamp"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let first = &all.iter().find(|l| l["latency_ms"] == 10).unwrap();
    assert_eq!(first["error_message"], "boom, \"quoted\"\nsecond line");
    assert_eq!(first["cost"].as_f64(), Some(0.001234577));
    assert_eq!((first["priced"].as_bool(), first["error_code"].as_str()), (Some(true), Some("upstream_error")));
    assert!(first.get("key_hint").is_none() && first.get("user_id").is_none());

    let errors = page_through(&app, &user, &gateway, "limit=2&status=error").await;
    assert_eq!(errors.len(), 4);
    assert!(errors.iter().all(|l| l["ok"] == false));
    let gpt = page_through(&app, &user, &gateway, "status=ok&model=gpt-4o").await;
    assert_eq!(gpt.len(), 11 - 2);

    let last = app.get_json(&user, &format!("/gateways/{}/logs?limit=500", gateway.id)).await;
    assert!(last["next_cursor"].is_null());
    for bad in ["limit=0", "limit=501", "status=maybe", "before=garbage", "from=soon"] {
        assert_eq!(app.get(&user, &format!("/gateways/{}/logs?{bad}", gateway.id)).await.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn exports_stream_every_matching_call_oldest_first() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "export").await;
    let (gid, uid) = (gateway.id.parse().unwrap(), user.id.parse().unwrap());
    // More rows than one export page holds.
    let events: Vec<_> = (1..=2500u64).map(|i| event(gid, uid, (i % 3) as i64, i, i % 7 != 0, "gpt-4o")).collect();
    feed(&app, &events, None).await;
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    app.wait_for_logs_where(&user, &gateway, "model=mock/echo", 1).await;

    let response = app.get(&user, &format!("/gateways/{}/logs/export?format=csv", gateway.id)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"tollgate-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let csv = response.text().await.unwrap();
    let mut reader = csv_rows(&csv);
    let header = reader.remove(0);
    assert_eq!(header[..4], ["id", "request_id", "timestamp", "model"]);
    assert_eq!(reader.len(), 2501);
    let times: Vec<&String> = reader.iter().map(|r| &r[2]).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let column = |name: &str| header.iter().position(|c| c == name).unwrap();
    let failed = reader.iter().find(|r| r[column("ok")] == "false").unwrap();
    assert_eq!(failed[column("error_message")], "boom, \"quoted\"\nsecond line", "quoted per RFC 4180");
    assert_eq!(failed[column("error_code")], "upstream_error");

    let response = app.get(&user, &format!("/gateways/{}/logs/export?format=ndjson&status=error", gateway.id)).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = response.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2500 / 7);
    assert!(lines.iter().all(|l| l["ok"] == false && l["cost_nanousd"].is_u64()));

    assert_eq!(app.get(&user, &format!("/gateways/{}/logs/export?format=xml", gateway.id)).await.status(), 400);
}

/// A small RFC 4180 reader, enough to check what the export wrote.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}
