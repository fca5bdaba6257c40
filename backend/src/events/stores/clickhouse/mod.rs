//! The ClickHouse analytics store: RowBinary over HTTP with the official crate,
//! its `Inserter` for the writer's batches, and queries that give the same
//! numbers as the SQL store (aggregates cast explicitly, so ClickHouse 18.16 and
//! current releases agree).

pub mod migrations;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{Datelike, TimeZone, Utc};
use clickhouse::{inserter::Inserter, Client, Row};
use futures_util::{stream, stream::BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::{
    config::ClickHouseSettings,
    events::{
        query::{Group, LatencyStats, MS_PER_DAY},
        store::{BatchLimits, EventBatch},
        Cursor, EventFilter, EventStore, Order, RequestEvent, StatusFilter, Summary, Totals,
    },
};

const TABLE: &str = "request_events";
const ROLLUP_TABLE: &str = "request_events_daily";
/// Longest an analytics read may run on the server.
const MAX_QUERY_SECONDS: u64 = 10;
const EXPORT_CHUNK: usize = 2000;

pub struct ClickHouseEventStore {
    server: Client,
    client: Client,
    database: String,
    schema: tokio::sync::OnceCell<()>,
}

impl ClickHouseEventStore {
    /// Connects and applies pending migrations. A server that does not answer yet
    /// is not an error: events wait in the spool, and the schema is applied on
    /// first contact. A migration that fails on a live server is.
    pub async fn connect(settings: &ClickHouseSettings) -> anyhow::Result<Self> {
        if !migrations::valid_database_name(&settings.database) {
            anyhow::bail!("CLICKHOUSE_DATABASE {:?} must be letters, digits and underscores", settings.database);
        }
        let server = server_client(settings);
        let store = Self {
            client: server.clone().with_database(&settings.database),
            server,
            database: settings.database.clone(),
            schema: tokio::sync::OnceCell::new(),
        };
        match tokio::time::timeout(Duration::from_secs(5), store.server.query("SELECT 1").fetch_one::<u8>()).await {
            Ok(Ok(_)) => store.ensure_schema().await?,
            _ => tracing::warn!(
                url = %crate::config::redact_url(&settings.url),
                "ClickHouse does not answer: events wait in the spool until it does"
            ),
        }
        Ok(store)
    }

    async fn ensure_schema(&self) -> anyhow::Result<()> {
        self.schema
            .get_or_try_init(|| async { migrations::migrate(&self.server, &self.database, None).await.map(drop) })
            .await?;
        Ok(())
    }

    fn query(&self, sql: &str) -> clickhouse::query::Query {
        self.client.query(sql).with_setting("max_execution_time", MAX_QUERY_SECONDS.to_string())
    }
}

/// A client for the server, not yet bound to a database.
pub fn server_client(settings: &ClickHouseSettings) -> Client {
    let mut client = Client::default()
        .with_url(settings.url.trim_end_matches('/'))
        // Debian's ClickHouse (18.16) knows RowBinary but not RowBinaryWithNamesAndTypes.
        .with_validation(false)
        .with_compression(clickhouse::Compression::Lz4);
    if let Some(user) = &settings.user {
        client = client.with_user(user);
    }
    if let Some(password) = &settings.password {
        client = client.with_password(password);
    }
    client
}

/// A request event as one insert row; strings borrowed from the event.
#[derive(Row, Serialize)]
struct InsertRow<'a> {
    id: &'a str,
    request_id: &'a str,
    gateway_id: &'a str,
    user_id: &'a str,
    ts: u32,
    ts_ms: i64,
    endpoint: &'a str,
    model: &'a str,
    upstream_model: &'a str,
    provider: &'a str,
    streaming: u8,
    status_code: u16,
    ok: u8,
    error_type: Option<&'a str>,
    error_message: Option<&'a str>,
    tokens_prompt: u64,
    tokens_completion: u64,
    tokens_cached: u64,
    cost_nanousd: u64,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    attempts: u32,
    key_hint: Option<&'a str>,
}

/// Uuids rendered into stack buffers, so a row borrows instead of allocating.
struct IdText([u8; 36], [u8; 36], [u8; 36]);

impl IdText {
    fn new() -> Self {
        Self([0; 36], [0; 36], [0; 36])
    }

    fn row<'a>(&'a mut self, e: &'a RequestEvent) -> InsertRow<'a> {
        let (a, b, c) = (&mut self.0, &mut self.1, &mut self.2);
        InsertRow {
            id: e.id.0.hyphenated().encode_lower(a),
            request_id: &e.request_id,
            gateway_id: e.gateway_id.0.hyphenated().encode_lower(b),
            user_id: e.user_id.0.hyphenated().encode_lower(c),
            ts: u32::try_from(e.ts.timestamp()).unwrap_or(0),
            ts_ms: e.ts_ms(),
            endpoint: &e.endpoint,
            model: &e.model,
            upstream_model: &e.upstream_model,
            provider: &e.provider,
            streaming: e.streaming.into(),
            status_code: e.status_code,
            ok: e.ok.into(),
            error_type: e.error_type.as_deref(),
            error_message: e.error_message.as_deref(),
            tokens_prompt: e.tokens_prompt,
            tokens_completion: e.tokens_completion,
            tokens_cached: e.tokens_cached,
            cost_nanousd: e.cost_nanousd,
            latency_ms: e.latency_ms,
            ttft_ms: e.ttft_ms,
            attempts: e.attempts,
            key_hint: e.key_hint.as_deref(),
        }
    }
}

/// A stored event as read back.
#[derive(Row, Deserialize)]
struct EventRow {
    id: String,
    request_id: String,
    gateway_id: String,
    user_id: String,
    ts_ms: i64,
    endpoint: String,
    model: String,
    upstream_model: String,
    provider: String,
    streaming: u8,
    status_code: u16,
    ok: u8,
    error_type: Option<String>,
    error_message: Option<String>,
    tokens_prompt: u64,
    tokens_completion: u64,
    tokens_cached: u64,
    cost_nanousd: u64,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    attempts: u32,
    key_hint: Option<String>,
}

impl TryFrom<EventRow> for RequestEvent {
    type Error = anyhow::Error;

    fn try_from(r: EventRow) -> anyhow::Result<Self> {
        Ok(RequestEvent {
            id: r.id.parse()?,
            request_id: r.request_id,
            gateway_id: r.gateway_id.parse()?,
            user_id: r.user_id.parse()?,
            ts: chrono::DateTime::from_timestamp_millis(r.ts_ms).context("bad ts")?,
            endpoint: r.endpoint,
            model: r.model,
            upstream_model: r.upstream_model,
            provider: r.provider,
            streaming: r.streaming != 0,
            status_code: r.status_code,
            ok: r.ok != 0,
            error_type: r.error_type,
            error_message: r.error_message,
            tokens_prompt: r.tokens_prompt,
            tokens_completion: r.tokens_completion,
            tokens_cached: r.tokens_cached,
            cost_nanousd: r.cost_nanousd,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            attempts: r.attempts,
            key_hint: r.key_hint,
        })
    }
}

/// The sums of one (day, model) group, read by position.
#[derive(Row, Deserialize)]
struct GroupRow {
    day: i64,
    model: String,
    requests: u64,
    errors: u64,
    tokens_in: u64,
    tokens_out: u64,
    cost_nanousd: u64,
    latency_sum_ms: u64,
    ttft_sum_ms: u64,
    ttft_count: u64,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Group {
            day: r.day,
            model: r.model,
            totals: Totals {
                requests: r.requests,
                errors: r.errors,
                tokens_in: r.tokens_in,
                tokens_out: r.tokens_out,
                cost_nanousd: r.cost_nanousd,
                latency_sum_ms: r.latency_sum_ms,
                ttft_sum_ms: r.ttft_sum_ms,
                ttft_count: r.ttft_count,
            },
        }
    }
}

#[derive(Row, Deserialize)]
struct LatencyRow {
    count: u64,
    min: u64,
    max: u64,
    quantiles: Vec<u64>,
}

/// `?`-bound values, in order.
enum Bind {
    Text(String),
    Int(i64),
}

struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), binds: Vec::new() }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.text.push('?');
        self.binds.push(value);
        self
    }

    /// ` WHERE ...`: the sort key (`gateway_id`, `ts` in seconds) narrows what is
    /// read; `ts_ms` makes the bounds exact.
    fn filter(&mut self, f: &EventFilter) -> &mut Self {
        self.push(" WHERE gateway_id = ").bind(Bind::Text(f.gateway_id.to_string()));
        self.push(" AND ts >= toDateTime(").bind(Bind::Int(f.from_ms.div_euclid(1000).max(0))).push(")");
        self.push(" AND ts <= toDateTime(")
            .bind(Bind::Int((f.to_ms.div_euclid(1000)).clamp(0, u32::MAX as i64)))
            .push(")");
        self.push(" AND ts_ms >= ").bind(Bind::Int(f.from_ms));
        self.push(" AND ts_ms < ").bind(Bind::Int(f.to_ms));
        if let Some(model) = &f.model {
            self.push(" AND model = ").bind(Bind::Text(model.clone()));
        }
        match f.status {
            Some(StatusFilter::Ok) => self.push(" AND ok = 1"),
            Some(StatusFilter::Error) => self.push(" AND ok = 0"),
            None => self,
        }
    }

    fn into_query(self, store: &ClickHouseEventStore) -> clickhouse::query::Query {
        self.binds.into_iter().fold(store.query(&self.text), |q, b| match b {
            Bind::Text(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        })
    }
}

/// (day, model) groups from the raw events. Keys get aliases of their own: an
/// alias named like a column would shadow that column in the WHERE clause.
const RAW_GROUPS: &str = "SELECT toInt64(intDiv(ts_ms, 86400000)) AS group_day, model AS group_model, \
    toUInt64(count()), toUInt64(sum(1 - ok)), toUInt64(sum(tokens_prompt)), toUInt64(sum(tokens_completion)), \
    toUInt64(sum(cost_nanousd)), toUInt64(sum(latency_ms)), toUInt64(ifNull(sum(ttft_ms), 0)), toUInt64(count(ttft_ms)) \
    FROM request_events";

/// The same groups from the daily rollup (whole days, any status).
const ROLLUP_GROUPS: &str = "SELECT day AS group_day, model AS group_model, \
    toUInt64(sum(requests)), toUInt64(sum(errors)), toUInt64(sum(tokens_in)), toUInt64(sum(tokens_out)), \
    toUInt64(sum(cost_nanousd)), toUInt64(sum(latency_sum_ms)), toUInt64(sum(ttft_sum_ms)), toUInt64(sum(ttft_count)) \
    FROM request_events_daily";

const LATENCY: &str = "SELECT toUInt64(count()), toUInt64(min(latency_ms)), toUInt64(max(latency_ms)), \
    arrayMap(x -> toUInt64(x), quantilesExact(0.5, 0.95, 0.99)(latency_ms)) FROM request_events";

const EVENT_COLUMNS: &str = "id, request_id, gateway_id, user_id, ts_ms, endpoint, model, upstream_model, provider, \
    streaming, status_code, ok, error_type, error_message, tokens_prompt, tokens_completion, tokens_cached, \
    cost_nanousd, latency_ms, ttft_ms, attempts, key_hint";

fn events_query(filter: &EventFilter, order: Order, after: Option<Cursor>, limit: Option<usize>) -> Sql {
    let mut sql = Sql::new(format!("SELECT {EVENT_COLUMNS} FROM {TABLE}"));
    sql.filter(filter);
    let (cmp, direction) = match order {
        Order::NewestFirst => ("<", "DESC"),
        Order::OldestFirst => (">", "ASC"),
    };
    if let Some(cursor) = after {
        sql.push(&format!(" AND (ts_ms {cmp} ")).bind(Bind::Int(cursor.ts_ms));
        sql.push(" OR (ts_ms = ").bind(Bind::Int(cursor.ts_ms));
        sql.push(&format!(" AND id {cmp} ")).bind(Bind::Text(cursor.id.to_string())).push("))");
    }
    sql.push(&format!(" ORDER BY ts_ms {direction}, id {direction}"));
    if let Some(limit) = limit {
        sql.push(" LIMIT ").bind(Bind::Int(limit as i64));
    }
    sql
}

#[async_trait]
impl EventStore for ClickHouseEventStore {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    async fn insert(&self, events: &[RequestEvent]) -> anyhow::Result<()> {
        self.ensure_schema().await?;
        let mut insert = self
            .client
            .insert::<InsertRow<'static>>(TABLE)
            .await?
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)));
        let mut ids = IdText::new();
        for event in events {
            insert.write(&ids.row(event)).await?;
        }
        insert.end().await?;
        Ok(())
    }

    fn open_batch(self: Arc<Self>, limits: BatchLimits) -> Box<dyn EventBatch> {
        // The inserter's first write fails while the schema is missing; the writer
        // then retries through `insert`, which applies it.
        let inserter = self
            .client
            .inserter::<InsertRow<'static>>(TABLE)
            .with_max_rows(limits.rows as u64)
            .with_period(Some(limits.period))
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)));
        Box::new(InserterBatch { inserter, ids: IdText::new() })
    }

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary> {
        self.ensure_schema().await?;
        let whole_days = filter.from_ms % MS_PER_DAY == 0 && filter.to_ms % MS_PER_DAY == 0 && filter.status.is_none();
        let mut groups = if whole_days {
            let mut sql = Sql::new(ROLLUP_GROUPS);
            sql.push(" WHERE gateway_id = ").bind(Bind::Text(filter.gateway_id.to_string()));
            sql.push(" AND day >= ").bind(Bind::Int(filter.from_ms / MS_PER_DAY));
            sql.push(" AND day < ").bind(Bind::Int(filter.to_ms / MS_PER_DAY));
            if let Some(model) = &filter.model {
                sql.push(" AND model = ").bind(Bind::Text(model.clone()));
            }
            sql
        } else {
            let mut sql = Sql::new(RAW_GROUPS);
            sql.filter(filter);
            sql
        };
        groups.push(" GROUP BY group_day, group_model");
        let groups = groups.into_query(self).fetch_all::<GroupRow>();
        let mut latency = Sql::new(LATENCY);
        latency.filter(filter);
        let latency = latency.into_query(self).fetch_one::<LatencyRow>();
        let (groups, latency) = tokio::try_join!(groups, latency)?;
        let latency = match latency.quantiles[..] {
            [p50, p95, p99] if latency.count > 0 => {
                Some(LatencyStats { min: latency.min, max: latency.max, p50, p95, p99 })
            }
            _ => None,
        };
        Ok(Summary::from_groups(groups.into_iter().map(Group::from).collect(), latency))
    }

    async fn page(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Vec<RequestEvent>> {
        self.ensure_schema().await?;
        let rows = events_query(filter, order, after, Some(limit)).into_query(self).fetch_all::<EventRow>().await?;
        rows.into_iter().map(RequestEvent::try_from).collect()
    }

    /// One streaming query, read in chunks: an export never re-scans what it has sent.
    fn export(self: Arc<Self>, filter: EventFilter) -> BoxStream<'static, anyhow::Result<Vec<RequestEvent>>> {
        enum State {
            Start(Arc<ClickHouseEventStore>, EventFilter),
            Reading(clickhouse::query::RowCursor<EventRow>),
        }
        stream::unfold(Some(State::Start(self, filter)), |state| async move {
            let mut cursor = match state? {
                State::Reading(cursor) => cursor,
                State::Start(store, filter) => {
                    let opened = async {
                        store.ensure_schema().await?;
                        let query = events_query(&filter, Order::OldestFirst, None, None).into_query(&store);
                        // Exports may take long; the chunks keep the connection busy.
                        anyhow::Ok(query.with_setting("max_execution_time", "0").fetch::<EventRow>()?)
                    };
                    match opened.await {
                        Ok(cursor) => cursor,
                        Err(e) => return Some((Err(e), None)),
                    }
                }
            };
            let mut chunk = Vec::with_capacity(EXPORT_CHUNK);
            loop {
                match cursor.next().await {
                    Ok(Some(row)) => match RequestEvent::try_from(row) {
                        Ok(event) => chunk.push(event),
                        Err(e) => return Some((Err(e), None)),
                    },
                    Ok(None) => return (!chunk.is_empty()).then_some((Ok(chunk), None)),
                    Err(e) => return Some((Err(e.into()), None)),
                }
                if chunk.len() == EXPORT_CHUNK {
                    return Some((Ok(chunk), Some(State::Reading(cursor))));
                }
            }
        })
        .boxed()
    }

    /// Drops the partitions that end before the cutoff: months of events, 32-day
    /// blocks of the daily rollup.
    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()> {
        self.ensure_schema().await?;
        let cutoff = Utc.timestamp_millis_opt(cutoff_ms).single().context("bad cutoff")?;
        let cutoff_month = i64::from(cutoff.year()) * 100 + i64::from(cutoff.month());
        let cutoff_day = cutoff_ms.div_euclid(MS_PER_DAY);
        for (table, expired) in [
            (TABLE, Box::new(move |month: i64| month < cutoff_month) as Box<dyn Fn(i64) -> bool + Send>),
            (ROLLUP_TABLE, Box::new(move |block: i64| (block + 1) * 32 <= cutoff_day)),
        ] {
            let partitions: Vec<String> = self
                .client
                .query("SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active")
                .bind(&self.database)
                .bind(table)
                .fetch_all()
                .await?;
            for partition in partitions.iter().filter_map(|p| p.trim_matches('\'').parse::<i64>().ok()) {
                if expired(partition) {
                    self.client.query(&format!("ALTER TABLE {table} DROP PARTITION {partition}")).execute().await?;
                    tracing::info!(table, partition, "retention: dropped a partition of old request events");
                }
            }
        }
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        tokio::time::timeout(Duration::from_secs(5), self.client.query("SELECT 1").fetch_one::<u8>())
            .await
            .context("ClickHouse did not answer in time")??;
        Ok(())
    }
}

/// The writer's batch: rows stream into an open `INSERT` as they come, which the
/// inserter ends every `rows` events or `period`.
struct InserterBatch {
    inserter: Inserter<InsertRow<'static>>,
    ids: IdText,
}

#[async_trait]
impl EventBatch for InserterBatch {
    async fn write(&mut self, event: &RequestEvent) -> anyhow::Result<()> {
        let row = self.ids.row(event);
        self.inserter.write(&row).await?;
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<u64> {
        Ok(self.inserter.commit().await?.rows)
    }

    async fn flush(&mut self) -> anyhow::Result<u64> {
        Ok(self.inserter.force_commit().await?.rows)
    }
}
