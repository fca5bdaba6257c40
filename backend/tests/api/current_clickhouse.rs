//! The ClickHouse store on a current ClickHouse release. CI's server is Debian's
//! 18.16; here every migration and every statement the store sends (the exact SQL
//! text, as the client renders it) run on a current engine too, in process through
//! chDB, on the same events as the SQL store, and must give the SQL store's numbers.

use std::{path::Path, process::Stdio, sync::Arc};

use chrono::{Datelike, Local, TimeZone, Utc};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tollgate::{
    db::Db,
    events::{
        failed_attempts_from_text, failed_attempts_to_text,
        query::{Group, LatencyStats, Totals, MS_PER_DAY},
        stores::{
            clickhouse::{
                migrations,
                queries::{self, ROLLUP_TABLE, TABLE},
            },
            SqlEventStore,
        },
        Cursor, EventFilter, EventStore, Order, RequestEvent, StatusFilter, Summary, UsageSource,
    },
    ids::{GatewayId, UserId},
};

use crate::{clickhouse::history, helpers::test_python};

const DATABASE: &str = "tollgate";

/// Runs `steps` in one chDB session; the rows of each fetching step.
async fn run_on_chdb(python: &Path, steps: &[Value]) -> Vec<Vec<Vec<Value>>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/chdb_run.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({"database": DATABASE, "steps": steps}).to_string();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn execute(sql: String) -> Value {
    json!({"sql": sql})
}

fn fetch(sql: String) -> Value {
    json!({"sql": sql, "fetch": true})
}

/// An insert as the store sends it (same table, same settings), with the rows as
/// JSON instead of RowBinary.
fn insert(events: &[RequestEvent]) -> String {
    let settings: Vec<String> = queries::insert_settings(events).iter().map(|(k, v)| format!("{k} = '{v}'")).collect();
    let rows: Vec<String> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "request_id": e.request_id, "gateway_id": e.gateway_id, "user_id": e.user_id,
                "ts": e.ts.timestamp(), "ts_ms": e.ts_ms(), "endpoint": e.endpoint, "model": e.model,
                "upstream_model": e.upstream_model, "provider": e.provider, "streaming": u8::from(e.streaming),
                "status_code": e.status_code, "ok": u8::from(e.ok), "error_type": e.error_type,
                "error_code": e.error_code, "error_message": e.error_message, "tokens_prompt": e.tokens_prompt,
                "tokens_completion": e.tokens_completion, "tokens_cached": e.tokens_cached,
                "cost_nanousd": e.cost_nanousd, "priced": u8::from(e.priced), "latency_ms": e.latency_ms,
                "ttft_ms": e.ttft_ms, "attempts": e.attempts, "key_hint": e.key_hint,
                "failed_attempts": failed_attempts_to_text(&e.failed_attempts).unwrap_or_default(),
                "tokens_cache_write": e.tokens_cache_write, "tokens_reasoning": e.tokens_reasoning,
                "usage_source": e.usage_source.as_str(), "cost_input_nanousd": e.cost_input_nanousd,
                "cost_cached_nanousd": e.cost_cached_nanousd, "cost_cache_write_nanousd": e.cost_cache_write_nanousd,
                "cost_output_nanousd": e.cost_output_nanousd,
            })
            .to_string()
        })
        .collect();
    format!("INSERT INTO {TABLE} SETTINGS {} FORMAT JSONEachRow\n{}", settings.join(", "), rows.join("\n"))
}

fn int(value: &Value) -> i64 {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("{value}"))
}

fn uint(value: &Value) -> u64 {
    int(value) as u64
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(String::from)
}

/// A summary from the rows of `queries::groups` and `queries::latency`, as the store reads them.
fn summary(groups: &[Vec<Value>], latency: &[Vec<Value>]) -> Summary {
    let groups = groups
        .iter()
        .map(|r| Group {
            day: int(&r[0]),
            model: text(&r[1]).unwrap(),
            totals: Totals {
                requests: uint(&r[2]),
                errors: uint(&r[3]),
                tokens_in: uint(&r[4]),
                tokens_out: uint(&r[5]),
                cost_nanousd: uint(&r[6]),
                unpriced: uint(&r[7]),
                latency_sum_ms: uint(&r[8]),
                ttft_sum_ms: uint(&r[9]),
                ttft_count: uint(&r[10]),
            },
        })
        .collect();
    let [count, min, max, quantiles] = &latency[0][..] else { panic!("latency row {:?}", latency[0]) };
    let quantiles: Vec<u64> = quantiles.as_array().unwrap().iter().map(uint).collect();
    let latency = (uint(count) > 0).then(|| LatencyStats {
        min: uint(min),
        max: uint(max),
        p50: quantiles[0],
        p95: quantiles[1],
        p99: quantiles[2],
    });
    Summary::from_groups(groups, latency)
}

/// An event from a row of `queries::events` (columns in `queries::EVENT_COLUMNS` order).
fn event(r: &[Value]) -> RequestEvent {
    RequestEvent {
        id: r[0].as_str().unwrap().parse().unwrap(),
        request_id: text(&r[1]).unwrap(),
        gateway_id: r[2].as_str().unwrap().parse().unwrap(),
        user_id: r[3].as_str().unwrap().parse().unwrap(),
        ts: chrono::DateTime::from_timestamp_millis(int(&r[4])).unwrap(),
        endpoint: text(&r[5]).unwrap().into(),
        model: text(&r[6]).unwrap(),
        upstream_model: text(&r[7]).unwrap(),
        provider: text(&r[8]).unwrap().into(),
        streaming: uint(&r[9]) != 0,
        status_code: uint(&r[10]) as u16,
        ok: uint(&r[11]) != 0,
        error_type: text(&r[12]),
        error_message: text(&r[13]),
        tokens_prompt: uint(&r[14]),
        tokens_completion: uint(&r[15]),
        tokens_cached: uint(&r[16]),
        cost_nanousd: uint(&r[17]),
        latency_ms: uint(&r[18]),
        ttft_ms: (!r[19].is_null()).then(|| uint(&r[19])),
        attempts: uint(&r[20]) as u32,
        key_hint: text(&r[21]),
        error_code: text(&r[22]),
        priced: uint(&r[23]) != 0,
        failed_attempts: failed_attempts_from_text(r[24].as_str()),
        tokens_cache_write: uint(&r[25]),
        tokens_reasoning: uint(&r[26]),
        usage_source: UsageSource::from_stored(r[27].as_str().unwrap()),
        cost_input_nanousd: uint(&r[28]),
        cost_cached_nanousd: uint(&r[29]),
        cost_cache_write_nanousd: uint(&r[30]),
        cost_output_nanousd: uint(&r[31]),
        estimate: None,
    }
}

fn partitions(rows: &[Vec<Value>]) -> Vec<i64> {
    let mut partitions: Vec<i64> =
        rows.iter().map(|r| r[0].as_str().unwrap().trim_matches('\'').parse().unwrap()).collect();
    partitions.sort();
    partitions
}

#[tokio::test]
async fn a_current_clickhouse_runs_every_migration_and_query_with_the_sql_stores_numbers() {
    let Some(python) = test_python("chdb") else { return };
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let events = history(gateway, user, 1200);
    let others = history(GatewayId::new(), user, 50);
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let sql =
        SqlEventStore::new(tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap()).unwrap();
    sql.insert(Arc::new(events.to_vec())).await.unwrap();
    sql.insert(Arc::new(others.to_vec())).await.unwrap();

    // The schema as the store applies it, then its inserts: one per batch, the first
    // batch retried after it was written.
    let mut steps: Vec<Value> = migrations::MIGRATIONS
        .iter()
        .flat_map(|(_, file)| migrations::statements(file))
        .chain(queries::enable_deduplication().iter().map(queries::render))
        .map(execute)
        .collect();
    steps.push(fetch(queries::render(&queries::deduplication_support())));
    let batches: Vec<&[RequestEvent]> = events.chunks(300).chain([&others[..]]).collect();
    steps.extend(batches.iter().map(|batch| execute(insert(batch))));
    steps.push(execute(insert(batches[0])));
    steps.push(fetch(format!("SELECT count(), (SELECT sum(requests) FROM {ROLLUP_TABLE}) FROM {TABLE}")));

    // Summaries over the daily rollup and over the raw events.
    let today = Utc::now().timestamp_millis().div_euclid(MS_PER_DAY);
    let whole = EventFilter {
        gateway_id: gateway,
        from_ms: (today - 9) * MS_PER_DAY,
        to_ms: (today + 1) * MS_PER_DAY,
        model: None,
        status: None,
    };
    let now = Utc::now().timestamp_millis();
    let filters = [
        whole.clone(),
        EventFilter { model: Some("gpt-4o".into()), ..whole.clone() },
        EventFilter { from_ms: now - 100 * 3_600_000, to_ms: now - 30 * 3_600_000, ..whole.clone() },
        EventFilter { status: Some(StatusFilter::Error), ..whole.clone() },
        EventFilter { from_ms: (today - 40) * MS_PER_DAY, to_ms: (today - 30) * MS_PER_DAY, ..whole.clone() },
    ];
    let reads_the_rollup: Vec<bool> =
        filters.iter().map(|f| queries::render(&queries::groups(f)).contains(ROLLUP_TABLE)).collect();
    assert_eq!(reads_the_rollup, [true, true, false, false, true]);
    for filter in &filters {
        steps.push(fetch(queries::render(&queries::groups(filter))));
        steps.push(fetch(queries::render(&queries::latency(filter))));
    }

    // Pages with and without a cursor, in both orders, and the export.
    let first_page = sql.page(&whole, Order::NewestFirst, None, 40).await.unwrap();
    let cursor = first_page.last().map(|e| Cursor { ts_ms: e.ts_ms(), id: e.id }).unwrap();
    let ok_gpt = EventFilter { model: Some("gpt-4o".into()), status: Some(StatusFilter::Ok), ..whole.clone() };
    let pages = [
        (whole.clone(), Order::NewestFirst, None, Some(40)),
        (whole.clone(), Order::NewestFirst, Some(cursor), Some(40)),
        (ok_gpt.clone(), Order::OldestFirst, Some(cursor), Some(25)),
        (ok_gpt, Order::NewestFirst, Some(cursor), Some(25)),
        (whole.clone(), Order::OldestFirst, None, None),
    ];
    for (filter, order, after, limit) in &pages {
        steps.push(fetch(queries::render(&queries::events(filter, *order, *after, *limit))));
    }

    // What budgets start from: each gateway's spend this month and today.
    let (month_ms, day_ms) = tollgate::limits::period_starts(Utc::now().timestamp_millis() as u64);
    steps.push(fetch(queries::render(&queries::spend(month_ms, day_ms, now))));

    // Retention: the partitions, then one dropped.
    let oldest = Local.timestamp_millis_opt(events.iter().map(RequestEvent::ts_ms).min().unwrap()).unwrap();
    let oldest_month = i64::from(oldest.year()) * 100 + i64::from(oldest.month());
    steps.push(fetch(queries::render(&queries::partitions(DATABASE, TABLE))));
    steps.push(fetch(queries::render(&queries::partitions(DATABASE, ROLLUP_TABLE))));
    steps.push(execute(queries::render(&queries::drop_partition(TABLE, oldest_month))));
    steps.push(fetch(format!("SELECT count() FROM {TABLE}")));

    let mut results = run_on_chdb(&python, &steps).await.into_iter();
    let mut next = || results.next().expect("a result for every fetch");

    assert_eq!(next(), [[json!(1)]], "a current release recognises a retried insert");
    let all = events.len() + others.len();
    assert_eq!(next(), [[json!(all), json!(all)]], "the retried batch is counted once, in the rollup too");
    for filter in &filters {
        let (groups, latency) = (next(), next());
        let expected = sql.summary(filter).await.unwrap();
        assert_eq!(summary(&groups, &latency), expected, "{filter:?}");
    }
    for (filter, order, after, limit) in &pages {
        let page: Vec<RequestEvent> = next().iter().map(|r| event(r)).collect();
        let expected = sql.page(filter, *order, *after, limit.unwrap_or(10_000)).await.unwrap();
        assert!(!page.is_empty());
        assert_eq!(page, expected, "{filter:?} {order:?} {after:?}");
    }
    let mut spend: Vec<(String, u64, u64)> =
        next().iter().map(|row| (row[0].as_str().unwrap().to_string(), uint(&row[1]), uint(&row[2]))).collect();
    spend.sort();
    let mut expected: Vec<_> = sql
        .spend(month_ms, day_ms, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.gateway_id, s.month_nanousd, s.day_nanousd))
        .collect();
    expected.sort();
    assert_eq!(spend, expected);

    let months = |events: &[RequestEvent]| {
        let mut months: Vec<i64> = events
            .iter()
            .map(|e| Local.timestamp_millis_opt(e.ts_ms()).unwrap())
            .map(|t| i64::from(t.year()) * 100 + i64::from(t.month()))
            .collect();
        months.sort();
        months.dedup();
        months
    };
    let everything: Vec<RequestEvent> = events.iter().chain(&others).cloned().collect();
    assert_eq!(partitions(&next()), months(&everything));
    let mut blocks: Vec<i64> = everything.iter().map(|e| e.ts_ms().div_euclid(MS_PER_DAY) / 32).collect();
    blocks.sort();
    blocks.dedup();
    assert_eq!(partitions(&next()), blocks);
    let kept = everything.iter().filter(|e| months(std::slice::from_ref(e)) != [oldest_month]).count();
    assert_eq!(next(), [[json!(kept)]], "the oldest month is dropped, the rest kept");
}
