//! SQLite's event inserts: a connection of the writer's own, one prepared
//! single-row statement bound and stepped per event, on a thread at idle priority
//! while that thread keeps up.
//!
//! Why not diesel here: its query builder walked a 64-row statement's 2,048 bind
//! values on every execution, and cost the writer more CPU than SQLite's own work.
//!
//! Why idle priority (`db::idle`): the writer then never holds a core that a call's
//! next step, the client or the provider is waiting for. A batch the idle thread has
//! not started within `starved_after` (every core is busy), or the rest of one whose
//! last 64 rows took longer, is written on the blocking pool at normal priority, and
//! the writer stays there for `BEHIND_FOR`. What the idle thread wrote is committed
//! first: a retried row is ignored by id, so the rest may follow in a transaction of
//! its own.

use std::{
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use rusqlite::{params, Connection};

use super::sql::to_i64;
use crate::{
    db::idle::IdleThread,
    events::{failed_attempts_to_text, Batch, IdText, RequestEvent},
};

/// 64 rows take well under a millisecond on a free core.
const STARVED_AFTER: Duration = Duration::from_millis(20);
/// After a starved batch, the writer stays at normal priority this long before it
/// tries the idle thread again.
const BEHIND_FOR: Duration = Duration::from_secs(30);
/// Rows written between two looks at the clock (and two turns given to other threads).
const ROWS_PER_TURN: usize = 64;

const INSERT: &str = "INSERT INTO request_events (id, request_id, gateway_id, user_id, ts_ms, endpoint, model, \
    upstream_model, provider, streaming, status_code, ok, error_type, error_code, error_message, tokens_prompt, \
    tokens_completion, tokens_cached, cost_nanousd, priced, latency_ms, ttft_ms, attempts, key_hint, \
    failed_attempts, tokens_cache_write, tokens_reasoning, usage_source, cost_input_nanousd, cost_cached_nanousd, \
    cost_cache_write_nanousd, cost_output_nanousd) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, \
    ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32) \
    ON CONFLICT (id) DO NOTHING";

pub struct SqliteWriter {
    conn: Arc<Mutex<Connection>>,
    idle: Option<IdleThread>,
    /// 64 rows that take longer than this on the idle thread are starved.
    starved_after: Duration,
    /// Until then, batches are written at normal priority: the idle thread was starved.
    behind_until: Mutex<Option<Instant>>,
}

impl SqliteWriter {
    /// The writer, on `conn` (to a database migrated already).
    pub fn new(conn: Connection) -> Self {
        let idle = IdleThread::spawn("tollgate-events")
            .inspect_err(|error| tracing::warn!(%error, "no idle-priority thread for the event writer"))
            .ok();
        Self { conn: Arc::new(Mutex::new(conn)), idle, starved_after: STARVED_AFTER, behind_until: Mutex::new(None) }
    }

    /// Counts rows on the idle thread as starved after `after` instead (tests).
    pub fn starved_after(mut self, after: Duration) -> Self {
        self.starved_after = after;
        self
    }

    /// Stores `events` (a retried batch's rows already stored are ignored).
    pub async fn insert(&self, events: Batch) -> anyhow::Result<()> {
        let written = match &self.idle {
            Some(idle) if !self.behind() => {
                let written = self.idle_turn(idle, events.clone()).await?;
                if written < events.len() {
                    tracing::debug!(
                        events = events.len(),
                        "event writer starved at idle priority: writing at normal priority"
                    );
                    *self.behind_until.lock().expect("behind_until lock") = Some(Instant::now() + BEHIND_FOR);
                }
                written
            }
            _ => 0,
        };
        if written == events.len() {
            return Ok(());
        }
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            insert(&mut conn.lock().expect("writer connection"), &events, written, None)
        })
        .await
        .map_err(|_| anyhow::anyhow!("the event writer's insert was canceled"))??;
        Ok(())
    }

    fn behind(&self) -> bool {
        self.behind_until.lock().expect("behind_until lock").is_some_and(|until| Instant::now() < until)
    }

    /// The events the idle thread wrote (and committed): none when it did not start
    /// within `starved_after`, fewer than all when it was starved on the way.
    async fn idle_turn(&self, idle: &IdleThread, events: Batch) -> anyhow::Result<usize> {
        const QUEUED: u8 = 0;
        const TAKEN: u8 = 1;
        const GIVEN_UP: u8 = 2;
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (conn, job_state, starved_after) = (self.conn.clone(), state.clone(), self.starved_after);
        let turn = idle.run(move || -> rusqlite::Result<usize> {
            if job_state.compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire).is_err() {
                return Ok(0);
            }
            insert(&mut conn.lock().expect("writer connection"), &events, 0, Some(starved_after))
        });
        tokio::pin!(turn);
        let written = tokio::select! {
            turn = &mut turn => turn??,
            () = tokio::time::sleep(starved_after) => {
                match state.compare_exchange(QUEUED, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => 0,
                    // Started in time: it watches its own rows.
                    Err(_) => turn.await??,
                }
            }
        };
        Ok(written)
    }
}

/// Inserts `events[from..]` in one transaction and returns the index of the first
/// event not written. Every `ROWS_PER_TURN` rows the thread gives its core back, so a
/// call that needs this core waits for a fraction of a millisecond, never for a whole
/// batch; with `starved_after`, it stops (and commits) after rows that took longer.
fn insert(
    conn: &mut Connection,
    events: &[RequestEvent],
    from: usize,
    starved_after: Option<Duration>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let mut written = from;
    {
        let mut statement = tx.prepare_cached(INSERT)?;
        let mut ids = IdText::new();
        for rows in events[from..].chunks(ROWS_PER_TURN) {
            let began = Instant::now();
            for e in rows {
                let [id, gateway_id, user_id] = ids.of(e);
                statement.execute(params![
                    id,
                    e.request_id,
                    gateway_id,
                    user_id,
                    e.ts_ms(),
                    e.endpoint,
                    e.model,
                    e.upstream_model,
                    e.provider,
                    e.streaming,
                    e.status_code,
                    e.ok,
                    e.error_type,
                    e.error_code,
                    e.error_message,
                    to_i64(e.tokens_prompt),
                    to_i64(e.tokens_completion),
                    to_i64(e.tokens_cached),
                    to_i64(e.cost_nanousd),
                    e.priced,
                    to_i64(e.latency_ms),
                    e.ttft_ms.map(to_i64),
                    e.attempts,
                    e.key_hint,
                    failed_attempts_to_text(&e.failed_attempts),
                    to_i64(e.tokens_cache_write),
                    to_i64(e.tokens_reasoning),
                    e.usage_source.as_str(),
                    to_i64(e.cost_input_nanousd),
                    to_i64(e.cost_cached_nanousd),
                    to_i64(e.cost_cache_write_nanousd),
                    to_i64(e.cost_output_nanousd),
                ])?;
            }
            written += rows.len();
            if starved_after.is_some_and(|after| began.elapsed() > after) {
                break;
            }
            std::thread::yield_now();
        }
    }
    tx.commit()?;
    Ok(written)
}
