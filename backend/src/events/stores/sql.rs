//! The embedded analytics store: a `request_events` table in the relational
//! database (SQLite or PostgreSQL), so a fresh install needs nothing else.

use crate::events::{failed_attempts_from_text, failed_attempts_to_text, GatewaySpend, UsageSource};
use std::time::Duration;

use async_trait::async_trait;
use diesel::{
    backend::Backend,
    pg::Pg,
    prelude::*,
    query_builder::{BoxedSqlQuery, SqlQuery},
    serialize::ToSql,
    sql_types::{BigInt, HasSqlType, Text},
    sqlite::Sqlite,
};

use crate::{
    db::{schema::request_events, Db, DbConn, DbKind},
    events::{
        query::{quantile_index, Group, LatencyStats, PERCENTILES},
        statement::{Bind, Dialect, Statement},
        stores::sqlite_writer::SqliteWriter,
        Batch, Cursor, EventFilter, EventStore, IdText, Order, RequestEvent, Summary, Totals,
    },
};

pub struct SqlEventStore {
    db: Db,
    /// SQLite's inserts, on a connection of their own (`sqlite_writer`).
    sqlite: Option<SqliteWriter>,
}

impl SqlEventStore {
    pub fn new(db: Db) -> anyhow::Result<Self> {
        let sqlite = db.own_sqlite_connection()?.map(SqliteWriter::new);
        Ok(Self { db, sqlite })
    }

    /// SQLite: counts rows on the idle thread as starved after `after` (tests).
    pub fn starved_after(mut self, after: Duration) -> Self {
        self.sqlite = self.sqlite.map(|writer| writer.starved_after(after));
        self
    }
}

/// A stored event as read back.
#[derive(Queryable, QueryableByName, Selectable, Debug)]
#[diesel(table_name = request_events)]
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
    streaming: i16,
    status_code: i32,
    ok: i16,
    error_type: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    tokens_prompt: i64,
    tokens_completion: i64,
    tokens_cached: i64,
    cost_nanousd: i64,
    priced: i16,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    attempts: i32,
    key_hint: Option<String>,
    failed_attempts: Option<String>,
    tokens_cache_write: i64,
    tokens_reasoning: i64,
    usage_source: String,
    cost_input_nanousd: i64,
    cost_cached_nanousd: i64,
    cost_cache_write_nanousd: i64,
    cost_output_nanousd: i64,
}

/// An event as written: its text borrowed from the event, its ids from an `IdText`.
#[derive(Insertable)]
#[diesel(table_name = request_events)]
// None is NULL, not DEFAULT: SQLite takes no DEFAULT in a multi-row insert.
#[diesel(treat_none_as_default_value = false)]
struct NewEventRow<'a> {
    id: &'a str,
    request_id: &'a str,
    gateway_id: &'a str,
    user_id: &'a str,
    ts_ms: i64,
    endpoint: &'a str,
    model: &'a str,
    upstream_model: &'a str,
    provider: &'a str,
    streaming: i16,
    status_code: i32,
    ok: i16,
    error_type: Option<&'a str>,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    tokens_prompt: i64,
    tokens_completion: i64,
    tokens_cached: i64,
    cost_nanousd: i64,
    priced: i16,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    attempts: i32,
    key_hint: Option<&'a str>,
    failed_attempts: Option<String>,
    tokens_cache_write: i64,
    tokens_reasoning: i64,
    usage_source: &'static str,
    cost_input_nanousd: i64,
    cost_cached_nanousd: i64,
    cost_cache_write_nanousd: i64,
    cost_output_nanousd: i64,
}

/// A counter as SQL's BIGINT (saturating).
pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl<'a> NewEventRow<'a> {
    fn new(ids: &'a mut IdText, e: &'a RequestEvent) -> Self {
        let [id, gateway_id, user_id] = ids.of(e);
        NewEventRow {
            id,
            request_id: &e.request_id,
            gateway_id,
            user_id,
            ts_ms: e.ts_ms(),
            endpoint: &e.endpoint,
            model: &e.model,
            upstream_model: &e.upstream_model,
            provider: &e.provider,
            streaming: e.streaming.into(),
            status_code: e.status_code.into(),
            ok: e.ok.into(),
            error_type: e.error_type.as_deref(),
            error_code: e.error_code.as_deref(),
            error_message: e.error_message.as_deref(),
            tokens_prompt: to_i64(e.tokens_prompt),
            tokens_completion: to_i64(e.tokens_completion),
            tokens_cached: to_i64(e.tokens_cached),
            cost_nanousd: to_i64(e.cost_nanousd),
            priced: e.priced.into(),
            latency_ms: to_i64(e.latency_ms),
            ttft_ms: e.ttft_ms.map(to_i64),
            attempts: i32::try_from(e.attempts).unwrap_or(i32::MAX),
            key_hint: e.key_hint.as_deref(),
            failed_attempts: failed_attempts_to_text(&e.failed_attempts),
            tokens_cache_write: to_i64(e.tokens_cache_write),
            tokens_reasoning: to_i64(e.tokens_reasoning),
            usage_source: e.usage_source.as_str(),
            cost_input_nanousd: to_i64(e.cost_input_nanousd),
            cost_cached_nanousd: to_i64(e.cost_cached_nanousd),
            cost_cache_write_nanousd: to_i64(e.cost_cache_write_nanousd),
            cost_output_nanousd: to_i64(e.cost_output_nanousd),
        }
    }
}

impl TryFrom<EventRow> for RequestEvent {
    type Error = anyhow::Error;

    fn try_from(r: EventRow) -> anyhow::Result<Self> {
        Ok(RequestEvent {
            id: r.id.parse()?,
            request_id: r.request_id,
            gateway_id: r.gateway_id.parse()?,
            user_id: r.user_id.parse()?,
            ts: chrono::DateTime::from_timestamp_millis(r.ts_ms).ok_or_else(|| anyhow::anyhow!("bad ts"))?,
            endpoint: r.endpoint.into(),
            model: r.model,
            upstream_model: r.upstream_model,
            provider: r.provider.into(),
            streaming: r.streaming != 0,
            status_code: u16::try_from(r.status_code)?,
            ok: r.ok != 0,
            error_type: r.error_type,
            error_code: r.error_code,
            error_message: r.error_message,
            tokens_prompt: r.tokens_prompt.max(0) as u64,
            tokens_completion: r.tokens_completion.max(0) as u64,
            tokens_cached: r.tokens_cached.max(0) as u64,
            tokens_cache_write: r.tokens_cache_write.max(0) as u64,
            tokens_reasoning: r.tokens_reasoning.max(0) as u64,
            cost_nanousd: r.cost_nanousd.max(0) as u64,
            cost_input_nanousd: r.cost_input_nanousd.max(0) as u64,
            cost_cached_nanousd: r.cost_cached_nanousd.max(0) as u64,
            cost_cache_write_nanousd: r.cost_cache_write_nanousd.max(0) as u64,
            cost_output_nanousd: r.cost_output_nanousd.max(0) as u64,
            usage_source: UsageSource::from_stored(&r.usage_source),
            priced: r.priced != 0,
            latency_ms: r.latency_ms.max(0) as u64,
            ttft_ms: r.ttft_ms.map(|t| t.max(0) as u64),
            attempts: u32::try_from(r.attempts.max(0))?,
            key_hint: r.key_hint,
            failed_attempts: failed_attempts_from_text(r.failed_attempts.as_deref()),
            estimate: None,
        })
    }
}

/// The sums of one (day, model) group.
const GROUP_SQL: &str = "SELECT ts_ms / 86400000 AS day, model, COUNT(*) AS requests, \
    CAST(SUM(1 - ok) AS BIGINT) AS errors, \
    CAST(SUM(tokens_prompt) AS BIGINT) AS tokens_in, \
    CAST(SUM(tokens_completion) AS BIGINT) AS tokens_out, \
    CAST(SUM(cost_nanousd) AS BIGINT) AS cost_nanousd, \
    CAST(SUM(1 - priced) AS BIGINT) AS unpriced, \
    CAST(SUM(latency_ms) AS BIGINT) AS latency_sum_ms, \
    CAST(COALESCE(SUM(ttft_ms), 0) AS BIGINT) AS ttft_sum_ms, \
    COUNT(ttft_ms) AS ttft_count \
    FROM request_events";

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = BigInt)]
    day: i64,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = BigInt)]
    requests: i64,
    #[diesel(sql_type = BigInt)]
    errors: i64,
    #[diesel(sql_type = BigInt)]
    tokens_in: i64,
    #[diesel(sql_type = BigInt)]
    tokens_out: i64,
    #[diesel(sql_type = BigInt)]
    cost_nanousd: i64,
    #[diesel(sql_type = BigInt)]
    unpriced: i64,
    #[diesel(sql_type = BigInt)]
    latency_sum_ms: i64,
    #[diesel(sql_type = BigInt)]
    ttft_sum_ms: i64,
    #[diesel(sql_type = BigInt)]
    ttft_count: i64,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        let u = |v: i64| v.max(0) as u64;
        Group {
            day: r.day,
            model: r.model,
            totals: Totals {
                requests: u(r.requests),
                errors: u(r.errors),
                tokens_in: u(r.tokens_in),
                tokens_out: u(r.tokens_out),
                cost_nanousd: u(r.cost_nanousd),
                unpriced: u(r.unpriced),
                latency_sum_ms: u(r.latency_sum_ms),
                ttft_sum_ms: u(r.ttft_sum_ms),
                ttft_count: u(r.ttft_count),
            },
        }
    }
}

#[derive(QueryableByName)]
struct LatencyRow {
    #[diesel(sql_type = BigInt)]
    latency_ms: i64,
}

#[derive(QueryableByName)]
struct SpendRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    gateway_id: String,
    #[diesel(sql_type = BigInt)]
    month: i64,
    #[diesel(sql_type = BigInt)]
    day: i64,
}

#[derive(QueryableByName)]
struct ExtremesRow {
    #[diesel(sql_type = BigInt)]
    lowest: i64,
    #[diesel(sql_type = BigInt)]
    highest: i64,
}

/// A statement as a diesel query of the connection's backend.
fn boxed<'a, DB>(statement: &Statement) -> BoxedSqlQuery<'a, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    let query = diesel::sql_query(statement.text()).into_boxed::<DB>();
    statement.binds().iter().fold(query, |query, bind| match bind.clone() {
        Bind::Text(s) => query.bind::<Text, _>(s),
        Bind::Int(i) => query.bind::<BigInt, _>(i),
    })
}

fn load<T>(statement: &Statement, conn: &mut DbConn) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        DbConn::Sqlite(c) => boxed::<Sqlite>(statement).load(c),
        DbConn::Postgres(c) => boxed::<Pg>(statement).load(c),
    }
}

fn dialect(kind: DbKind) -> Dialect {
    match kind {
        DbKind::Sqlite => Dialect::Sqlite,
        DbKind::Postgres => Dialect::Postgres,
    }
}

/// Runs `f` in a read transaction, so the totals, breakdowns and percentiles of
/// one summary come from the same snapshot even while the writer inserts.
fn snapshot<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> QueryResult<T>) -> QueryResult<T> {
    conn.transaction(|conn| {
        if let DbConn::Postgres(pg) = conn {
            // SQLite's WAL read transaction is a snapshot already; PostgreSQL needs asking.
            diesel::connection::SimpleConnection::batch_execute(
                pg,
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            )?;
        }
        f(conn)
    })
}

fn summarize(conn: &mut DbConn, kind: DbKind, filter: &EventFilter) -> QueryResult<Summary> {
    let statement = |text: &str| Statement::new(dialect(kind), text);
    let mut groups = statement(GROUP_SQL);
    groups.filter(filter).push(" GROUP BY day, model");
    let groups: Vec<Group> = load::<GroupRow>(&groups, conn)?.into_iter().map(Group::from).collect();
    let count: u64 = groups.iter().map(|g| g.totals.requests).sum();
    // The latency at one position of the sorted latencies.
    let mut at = |index: u64| -> QueryResult<u64> {
        let mut sql = statement("SELECT latency_ms FROM request_events");
        sql.filter(filter).push(" ORDER BY latency_ms LIMIT 1 OFFSET ").bind(index as i64);
        Ok(load::<LatencyRow>(&sql, conn)?.first().map_or(0, |r| r.latency_ms.max(0) as u64))
    };
    let latency = if count == 0 {
        None
    } else {
        let [p50, p95, p99] = PERCENTILES.map(|q| quantile_index(q, count));
        let (p50, p95, p99) = (at(p50)?, at(p95)?, at(p99)?);
        let mut extremes = statement(
            "SELECT CAST(MIN(latency_ms) AS BIGINT) AS lowest, CAST(MAX(latency_ms) AS BIGINT) AS highest \
             FROM request_events",
        );
        extremes.filter(filter);
        let extremes = load::<ExtremesRow>(&extremes, conn)?
            .pop()
            .map_or((0, 0), |r| (r.lowest.max(0) as u64, r.highest.max(0) as u64));
        Some(LatencyStats { min: extremes.0, max: extremes.1, p50, p95, p99 })
    };
    Ok(Summary::from_groups(groups, latency))
}

const EVENT_COLUMNS: &str = "id, request_id, gateway_id, user_id, ts_ms, endpoint, model, upstream_model, provider, \
    streaming, status_code, ok, error_type, error_code, error_message, tokens_prompt, tokens_completion, \
    tokens_cached, cost_nanousd, priced, latency_ms, ttft_ms, attempts, key_hint, failed_attempts, tokens_cache_write, \
    tokens_reasoning, usage_source, cost_input_nanousd, cost_cached_nanousd, cost_cache_write_nanousd, cost_output_nanousd";

fn page(
    conn: &mut DbConn,
    kind: DbKind,
    filter: &EventFilter,
    order: Order,
    after: Option<Cursor>,
    limit: usize,
) -> QueryResult<Vec<EventRow>> {
    let mut sql = Statement::new(dialect(kind), format!("SELECT {EVENT_COLUMNS} FROM request_events"));
    sql.filter(filter).after(order, after).order_by(order).push(" LIMIT ").bind(limit as i64);
    load::<EventRow>(&sql, conn)
}

/// Inserts `events` (PostgreSQL's; SQLite's go through its `SqliteWriter`) with
/// statements of 64, 8 and 1 rows, each statement's rows made (borrowing the events'
/// text) just before it runs. A statement of a fixed number of rows is prepared once
/// per connection and reused (diesel caches it); one of a varying number would be
/// parsed and planned again for every batch. 32 columns x 64 rows stays well under the
/// bind limit. Retried rows are ignored by id.
fn insert_events(conn: &mut DbConn, events: &[RequestEvent]) -> QueryResult<()> {
    let mut rest = events;
    while !rest.is_empty() {
        rest = match rest.len() {
            64.. => insert_array::<64>(conn, rest)?,
            8.. => insert_array::<8>(conn, rest)?,
            _ => insert_array::<1>(conn, rest)?,
        };
    }
    Ok(())
}

/// One statement of the first `N` events; returns the others.
fn insert_array<'e, const N: usize>(conn: &mut DbConn, events: &'e [RequestEvent]) -> QueryResult<&'e [RequestEvent]> {
    let mut ids: [IdText; N] = std::array::from_fn(|_| IdText::new());
    let mut ids = ids.iter_mut();
    let rows: [NewEventRow; N] = std::array::from_fn(|i| NewEventRow::new(ids.next().expect("N ids"), &events[i]));
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(request_events::table)
            .values(&rows)
            .on_conflict(request_events::id)
            .do_nothing()
            .execute(c),
        DbConn::Postgres(c) => diesel::insert_into(request_events::table)
            .values(&rows)
            .on_conflict(request_events::id)
            .do_nothing()
            .execute(c),
    }?;
    Ok(&events[N..])
}

#[async_trait]
impl EventStore for SqlEventStore {
    fn name(&self) -> &'static str {
        match self.db.kind() {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }

    async fn insert(&self, events: Batch) -> anyhow::Result<()> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.insert(events).await;
        }
        self.db.run(move |conn| conn.transaction(|conn| insert_events(conn, &events))).await?;
        Ok(())
    }

    async fn summary(&self, filter: &EventFilter) -> anyhow::Result<Summary> {
        let (kind, filter) = (self.db.kind(), filter.clone());
        Ok(self.db.run(move |conn| snapshot(conn, |conn| summarize(conn, kind, &filter))).await?)
    }

    async fn page(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Vec<RequestEvent>> {
        let (kind, filter) = (self.db.kind(), filter.clone());
        let rows = self.db.run(move |conn| page(conn, kind, &filter, order, after, limit)).await?;
        rows.into_iter().map(RequestEvent::try_from).collect()
    }

    async fn spend(&self, month_ms: i64, day_ms: i64, before_ms: i64) -> anyhow::Result<Vec<GatewaySpend>> {
        let kind = self.db.kind();
        let rows = self
            .db
            .run(move |conn| {
                let mut sql = Statement::new(
                    dialect(kind),
                    "SELECT gateway_id, CAST(SUM(cost_nanousd) AS BIGINT) AS month, \
                     CAST(SUM(CASE WHEN ts_ms >= ",
                );
                sql.bind(day_ms)
                    .push(" THEN cost_nanousd ELSE 0 END) AS BIGINT) AS day FROM request_events WHERE ts_ms >= ");
                sql.bind(month_ms).push(" AND ts_ms < ").bind(before_ms).push(" GROUP BY gateway_id");
                load::<SpendRow>(&sql, conn)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| GatewaySpend {
                gateway_id: r.gateway_id,
                month_nanousd: r.month.max(0) as u64,
                day_nanousd: r.day.max(0) as u64,
            })
            .collect())
    }

    async fn delete_before(&self, cutoff_ms: i64) -> anyhow::Result<()> {
        let deleted = self
            .db
            .run(move |conn| {
                diesel::delete(request_events::table.filter(request_events::ts_ms.lt(cutoff_ms))).execute(conn)
            })
            .await?;
        if deleted > 0 {
            tracing::info!(deleted, "retention: removed old request events");
        }
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(self.db.ping().await?)
    }
}
