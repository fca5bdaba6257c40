//! The ClickHouse analytics store: RowBinary over HTTP with the official crate,
//! one `INSERT` per batch (carrying the batch's identity, so a retried batch is
//! recognised where the server deduplicates inserts), and queries that give the
//! same numbers as the SQL store (aggregates cast explicitly, so ClickHouse 18.16
//! and current releases agree).

pub mod migrations;
pub mod queries;

use crate::events::{failed_attempts_from_text, failed_attempts_to_text, GatewaySpend, UsageSource};
use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{Datelike, TimeZone, Utc};
use clickhouse::{Client, Row};
use futures_util::{stream, stream::BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use self::queries::{ROLLUP_TABLE, TABLE};
use crate::{
    config::ClickHouseSettings,
    db::Locks,
    events::{
        query::{Group, LatencyStats, MS_PER_DAY},
        statement::Statement,
        Batch, Cursor, EventFilter, EventStore, IdText, Order, RequestEvent, Summary, Totals,
    },
};

/// Longest an analytics read may run on the server.
const MAX_QUERY_SECONDS: u64 = 10;
const EXPORT_CHUNK: usize = 2000;

pub struct ClickHouseEventStore {
    server: Client,
    client: Client,
    database: String,
    /// Where migrations take their lock (the relational database every process shares).
    locks: Locks,
    /// Set once the schema is applied: whether the server deduplicates retried inserts.
    schema: tokio::sync::OnceCell<bool>,
}

impl ClickHouseEventStore {
    /// Connects and applies pending migrations (under the lock `locks` gives, so
    /// processes starting together apply each once). A server that does not answer
    /// yet is not an error: events wait in the spool, and the schema is applied on
    /// first contact. A migration that fails on a live server is.
    pub async fn connect(settings: &ClickHouseSettings, locks: Locks) -> anyhow::Result<Self> {
        if !migrations::valid_database_name(&settings.database) {
            anyhow::bail!("CLICKHOUSE_DATABASE {:?} must be letters, digits and underscores", settings.database);
        }
        let server = server_client(settings);
        let store = Self {
            client: server.clone().with_database(&settings.database),
            server,
            database: settings.database.clone(),
            locks,
            schema: tokio::sync::OnceCell::new(),
        };
        match tokio::time::timeout(Duration::from_secs(5), store.server.query("SELECT 1").fetch_one::<u8>()).await {
            Ok(Ok(_)) => {
                store.ensure_schema().await?;
            }
            _ => tracing::warn!(
                url = %crate::config::redact_url(&settings.url),
                "ClickHouse does not answer: events wait in the spool until it does"
            ),
        }
        Ok(store)
    }

    /// Applies pending migrations once; whether the server deduplicates retried inserts.
    async fn ensure_schema(&self) -> anyhow::Result<bool> {
        let deduplicates = self
            .schema
            .get_or_try_init(|| async {
                migrations::migrate(&self.server, &self.database, None, &self.locks).await?;
                migrations::deduplicates_inserts(&self.server).await
            })
            .await?;
        Ok(*deduplicates)
    }

    /// Whether a retried insert of a batch that was written is recognised (and not stored twice).
    pub async fn deduplicates_inserts(&self) -> anyhow::Result<bool> {
        self.ensure_schema().await
    }

    fn query(&self, statement: &Statement) -> clickhouse::query::Query {
        queries::query(&self.client, statement).with_setting("max_execution_time", MAX_QUERY_SECONDS.to_string())
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
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    tokens_prompt: u64,
    tokens_completion: u64,
    tokens_cached: u64,
    cost_nanousd: u64,
    priced: u8,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    attempts: u32,
    key_hint: Option<&'a str>,
    /// JSON, or empty (no allocation) when the first attempt answered.
    failed_attempts: String,
    tokens_cache_write: u64,
    tokens_reasoning: u64,
    usage_source: &'static str,
    cost_input_nanousd: u64,
    cost_cached_nanousd: u64,
    cost_cache_write_nanousd: u64,
    cost_output_nanousd: u64,
}

impl<'a> InsertRow<'a> {
    fn new(ids: &'a mut IdText, e: &'a RequestEvent) -> Self {
        let [id, gateway_id, user_id] = ids.of(e);
        InsertRow {
            id,
            request_id: &e.request_id,
            gateway_id,
            user_id,
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
            error_code: e.error_code.as_deref(),
            error_message: e.error_message.as_deref(),
            tokens_prompt: e.tokens_prompt,
            tokens_completion: e.tokens_completion,
            tokens_cached: e.tokens_cached,
            cost_nanousd: e.cost_nanousd,
            priced: e.priced.into(),
            latency_ms: e.latency_ms,
            ttft_ms: e.ttft_ms,
            attempts: e.attempts,
            key_hint: e.key_hint.as_deref(),
            failed_attempts: failed_attempts_to_text(&e.failed_attempts).unwrap_or_default(),
            tokens_cache_write: e.tokens_cache_write,
            tokens_reasoning: e.tokens_reasoning,
            usage_source: e.usage_source.as_str(),
            cost_input_nanousd: e.cost_input_nanousd,
            cost_cached_nanousd: e.cost_cached_nanousd,
            cost_cache_write_nanousd: e.cost_cache_write_nanousd,
            cost_output_nanousd: e.cost_output_nanousd,
        }
    }
}

/// A stored event as read back, in the order of `queries::EVENT_COLUMNS`.
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
    error_code: Option<String>,
    priced: u8,
    failed_attempts: String,
    tokens_cache_write: u64,
    tokens_reasoning: u64,
    usage_source: String,
    cost_input_nanousd: u64,
    cost_cached_nanousd: u64,
    cost_cache_write_nanousd: u64,
    cost_output_nanousd: u64,
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
            endpoint: r.endpoint.into(),
            model: r.model,
            upstream_model: r.upstream_model,
            provider: r.provider.into(),
            streaming: r.streaming != 0,
            status_code: r.status_code,
            ok: r.ok != 0,
            error_type: r.error_type,
            error_code: r.error_code,
            error_message: r.error_message,
            tokens_prompt: r.tokens_prompt,
            tokens_completion: r.tokens_completion,
            tokens_cached: r.tokens_cached,
            tokens_cache_write: r.tokens_cache_write,
            tokens_reasoning: r.tokens_reasoning,
            cost_nanousd: r.cost_nanousd,
            cost_input_nanousd: r.cost_input_nanousd,
            cost_cached_nanousd: r.cost_cached_nanousd,
            cost_cache_write_nanousd: r.cost_cache_write_nanousd,
            cost_output_nanousd: r.cost_output_nanousd,
            usage_source: UsageSource::from_stored(&r.usage_source),
            priced: r.priced != 0,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            attempts: r.attempts,
            key_hint: r.key_hint,
            failed_attempts: failed_attempts_from_text(Some(&r.failed_attempts)),
            estimate: None,
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
    unpriced: u64,
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
                unpriced: r.unpriced,
                latency_sum_ms: r.latency_sum_ms,
                ttft_sum_ms: r.ttft_sum_ms,
                ttft_count: r.ttft_count,
            },
        }
    }
}

#[derive(Row, Deserialize)]
struct SpendRow {
    gateway_id: String,
    month: u64,
    day: u64,
}

#[derive(Row, Deserialize)]
struct LatencyRow {
    count: u64,
    min: u64,
    max: u64,
    quantiles: Vec<u64>,
}

#[async_trait]
impl EventStore for ClickHouseEventStore {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    async fn insert(&self, events: Batch) -> anyhow::Result<()> {
        let deduplicates = self.ensure_schema().await?;
        let mut insert = self
            .client
            .insert::<InsertRow<'static>>(TABLE)
            .await?
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)));
        if deduplicates {
            for (name, value) in queries::insert_settings(&events) {
                insert = insert.with_setting(name, value);
            }
        }
        let mut ids = IdText::new();
        for event in events.iter() {
            insert.write(&InsertRow::new(&mut ids, event)).await?;
        }
        insert.end().await?;
        Ok(())
    }

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary> {
        self.ensure_schema().await?;
        let groups = self.query(&queries::groups(filter)).fetch_all::<GroupRow>();
        let latency = self.query(&queries::latency(filter)).fetch_one::<LatencyRow>();
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
        let rows = self.query(&queries::events(filter, order, after, Some(limit))).fetch_all::<EventRow>().await?;
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
                        let query = store.query(&queries::events(&filter, Order::OldestFirst, None, None));
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

    async fn spend(&self, month_ms: i64, day_ms: i64, before_ms: i64) -> anyhow::Result<Vec<GatewaySpend>> {
        self.ensure_schema().await?;
        let rows = self.query(&queries::spend(month_ms, day_ms, before_ms)).fetch_all::<SpendRow>().await?;
        Ok(rows
            .into_iter()
            .map(|r| GatewaySpend { gateway_id: r.gateway_id, month_nanousd: r.month, day_nanousd: r.day })
            .collect())
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
            let partitions: Vec<String> =
                queries::query(&self.client, &queries::partitions(&self.database, table)).fetch_all().await?;
            for partition in partitions.iter().filter_map(|p| p.trim_matches('\'').parse::<i64>().ok()) {
                if expired(partition) {
                    queries::query(&self.client, &queries::drop_partition(table, partition)).execute().await?;
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
