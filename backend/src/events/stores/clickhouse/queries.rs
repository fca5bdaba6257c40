//! Every statement the ClickHouse store sends, built here and nowhere else, so a
//! test can run the very same SQL on another ClickHouse engine (a current release,
//! in process, through chDB) as well as on the server the store talks to.

use clickhouse::{query::Query, Client};
use sha2::{Digest, Sha256};

use crate::events::{
    query::MS_PER_DAY,
    statement::{Bind, Dialect, Statement},
    Cursor, EventFilter, Order, RequestEvent,
};

pub const TABLE: &str = "request_events";
pub const ROLLUP_TABLE: &str = "request_events_daily";

/// How many recent insert blocks a table remembers to recognise a retried one
/// (servers that have `non_replicated_deduplication_window`).
pub const DEDUPLICATION_WINDOW: u32 = 10_000;

/// The columns a stored event is read back from, in `EventRow`'s order.
pub const EVENT_COLUMNS: &str = "id, request_id, gateway_id, user_id, ts_ms, endpoint, model, upstream_model, \
    provider, streaming, status_code, ok, error_type, error_message, tokens_prompt, tokens_completion, tokens_cached, \
    cost_nanousd, latency_ms, ttft_ms, attempts, key_hint, error_code, priced, failed_attempts, tokens_cache_write, \
    tokens_reasoning, usage_source, cost_input_nanousd, cost_cached_nanousd, cost_cache_write_nanousd, cost_output_nanousd";

/// (day, model) groups from the raw events, in `GroupRow`'s order. Keys get aliases
/// of their own: an alias named like a column would shadow that column in WHERE.
const RAW_GROUPS: &str = "SELECT toInt64(intDiv(ts_ms, 86400000)) AS group_day, model AS group_model, \
    toUInt64(count()), toUInt64(sum(1 - ok)), toUInt64(sum(tokens_prompt)), toUInt64(sum(tokens_completion)), \
    toUInt64(sum(cost_nanousd)), toUInt64(sum(1 - priced)), toUInt64(sum(latency_ms)), \
    toUInt64(ifNull(sum(ttft_ms), 0)), toUInt64(count(ttft_ms)) \
    FROM request_events";

/// The same groups from the daily rollup.
const ROLLUP_GROUPS: &str = "SELECT day AS group_day, model AS group_model, \
    toUInt64(sum(requests)), toUInt64(sum(errors)), toUInt64(sum(tokens_in)), toUInt64(sum(tokens_out)), \
    toUInt64(sum(cost_nanousd)), toUInt64(sum(unpriced)), toUInt64(sum(latency_sum_ms)), \
    toUInt64(sum(ttft_sum_ms)), toUInt64(sum(ttft_count)) \
    FROM request_events_daily";

const LATENCY: &str = "SELECT toUInt64(count()), toUInt64(min(latency_ms)), toUInt64(max(latency_ms)), \
    arrayMap(x -> toUInt64(x), quantilesExact(0.5, 0.95, 0.99)(latency_ms)) FROM request_events";

fn statement(text: impl Into<String>) -> Statement {
    Statement::new(Dialect::ClickHouse, text)
}

/// The (day, model) sums of the events `filter` selects: from the daily rollup when
/// the filter covers whole days of any status, from the raw events otherwise.
pub fn groups(filter: &EventFilter) -> Statement {
    let whole_days = filter.from_ms % MS_PER_DAY == 0 && filter.to_ms % MS_PER_DAY == 0 && filter.status.is_none();
    let mut sql = if whole_days {
        let mut sql = statement(ROLLUP_GROUPS);
        sql.push(" WHERE gateway_id = ").bind(filter.gateway_id.to_string());
        sql.push(" AND day >= ").bind(filter.from_ms / MS_PER_DAY);
        sql.push(" AND day < ").bind(filter.to_ms / MS_PER_DAY);
        if let Some(model) = &filter.model {
            sql.push(" AND model = ").bind(model.clone());
        }
        sql
    } else {
        let mut sql = statement(RAW_GROUPS);
        sql.filter(filter);
        sql
    };
    sql.push(" GROUP BY group_day, group_model");
    sql
}

/// Count, extremes and quantiles of the latencies `filter` selects.
pub fn latency(filter: &EventFilter) -> Statement {
    let mut sql = statement(LATENCY);
    sql.filter(filter);
    sql
}

/// Each gateway's spend from `month_ms`, and from `day_ms`, up to `before_ms`.
pub fn spend(month_ms: i64, day_ms: i64, before_ms: i64) -> Statement {
    let mut sql = statement("SELECT gateway_id, toUInt64(sum(cost_nanousd)), toUInt64(sumIf(cost_nanousd, ts_ms >= ");
    sql.bind(day_ms)
        .push(")) FROM request_events WHERE ts_ms >= ")
        .bind(month_ms)
        .push(" AND ts_ms < ")
        .bind(before_ms);
    sql.push(" GROUP BY gateway_id");
    sql
}

/// The events `filter` selects in `order`, after `after`, at most `limit` (all when `None`).
pub fn events(filter: &EventFilter, order: Order, after: Option<Cursor>, limit: Option<usize>) -> Statement {
    let mut sql = statement(format!("SELECT {EVENT_COLUMNS} FROM {TABLE}"));
    sql.filter(filter).after(order, after).order_by(order);
    if let Some(limit) = limit {
        sql.push(" LIMIT ").bind(limit as i64);
    }
    sql
}

/// The active partitions of a table (retention drops the expired ones).
pub fn partitions(database: &str, table: &str) -> Statement {
    let mut sql = statement("SELECT DISTINCT partition FROM system.parts WHERE database = ");
    sql.bind(database.to_string()).push(" AND table = ").bind(table.to_string()).push(" AND active");
    sql
}

pub fn drop_partition(table: &str, partition: i64) -> Statement {
    statement(format!("ALTER TABLE {table} DROP PARTITION {partition}"))
}

/// Makes both tables remember recent insert blocks, so a retried insert is
/// recognised (servers that have `non_replicated_deduplication_window`). Metadata
/// only, and idempotent.
pub fn enable_deduplication() -> Vec<Statement> {
    [TABLE, ROLLUP_TABLE]
        .map(|table| {
            statement(format!(
                "ALTER TABLE {table} MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
            ))
        })
        .into()
}

/// Whether the server can recognise a retried insert: the table setting, the insert token,
/// and deduplication of the rollup's blocks derived from a retried insert.
pub fn deduplication_support() -> Statement {
    statement(
        "SELECT toUInt8((SELECT count() FROM system.merge_tree_settings \
         WHERE name = 'non_replicated_deduplication_window') = 1 AND (SELECT count() FROM system.settings \
         WHERE name IN ('insert_deduplication_token', 'deduplicate_blocks_in_dependent_materialized_views')) = 2)",
    )
}

/// The identity of a batch: the same events in the same order always give the same
/// token, so a retry of a batch that was written is recognised by the server.
pub fn batch_token(events: &[RequestEvent]) -> String {
    let mut digest = Sha256::new();
    for event in events {
        digest.update(event.id.0.as_bytes());
    }
    hex::encode(digest.finalize())
}

/// The settings an insert of `events` carries where the server deduplicates inserts:
/// its token, also for the blocks the materialized view derives from it.
pub fn insert_settings(events: &[RequestEvent]) -> [(&'static str, String); 2] {
    [
        ("insert_deduplication_token", batch_token(events)),
        ("deduplicate_blocks_in_dependent_materialized_views", "1".into()),
    ]
}

/// The statement as a query of `client`, its values bound (and quoted) by the client.
pub fn query(client: &Client, statement: &Statement) -> Query {
    statement.binds().iter().fold(client.query(statement.text()), |query, bind| match bind {
        Bind::Text(s) => query.bind(s),
        Bind::Int(i) => query.bind(i),
    })
}

/// The exact SQL text the store sends for `statement` (before the client adds `FORMAT ...`).
pub fn render(statement: &Statement) -> String {
    query(&Client::default(), statement).sql_display().to_string()
}
