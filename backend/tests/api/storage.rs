//! The storage layer itself, the same tests on SQLite and on PostgreSQL over a
//! real connection: accounts, gateways and the SQL event store.

use std::sync::Arc;

use chrono::Utc;
use tollgate::{
    auth::secrets::SecretHash,
    db::Db,
    events::{stores::SqlEventStore, Cursor, EventFilter, EventStore, Order, StatusFilter},
    gateways::store as gateways,
    ids::{GatewayId, UserId},
    users::store as users,
};

use crate::{
    analytics::event,
    helpers::{postgres_url, PgSchema},
};

async fn connect(url: &str) -> Db {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || Db::connect(&url, 4)).await.unwrap().unwrap()
}

fn sqlite() -> (String, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    (format!("sqlite://{}", dir.path().join("t.db").display()), dir)
}

fn postgres() -> Option<(String, PgSchema)> {
    let schema = PgSchema::create(&postgres_url()?);
    Some((schema.url(), schema))
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { let (url, _dir) = super::sqlite(); super::$name(&url).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { if let Some((url, _schema)) = super::postgres() { super::$name(&url).await; } })*
        }
    };
}

on_both_backends!(
    usernames_are_unique,
    gateways_are_scoped_to_their_owner,
    migrations_apply_once,
    event_store_inserts_are_idempotent_and_summaries_exact,
    an_event_reads_back_as_it_was_written,
    a_batch_of_any_size_is_stored_whole_and_once,
    event_store_pages_by_cursor_in_both_orders,
    retention_deletes_only_old_events,
);

async fn usernames_are_unique(url: &str) {
    let db = connect(url).await;
    let (a, b) = (UserId::new(), UserId::new());
    db.run(move |c| users::insert(c, a, "Brave_Fox")).await.unwrap();
    let clash = db.run(move |c| users::insert(c, b, "Brave_Fox")).await;
    assert!(matches!(
        clash,
        Err(tollgate::db::DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        )))
    ));
    let found = db.run(|c| users::find_by_username(c, "Brave_Fox")).await.unwrap().unwrap();
    assert_eq!(found.id, a.to_string());
    assert!(found.password_hash.is_none());
    let updated = db.run(move |c| users::set_password_hash(c, a, "$argon2id$fake")).await.unwrap();
    assert_eq!(updated.password_hash.as_deref(), Some("$argon2id$fake"));
}

async fn gateways_are_scoped_to_their_owner(url: &str) {
    let db = connect(url).await;
    let (owner, other) = (UserId::new(), UserId::new());
    db.run(move |c| users::insert(c, owner, "Owner_One")).await.unwrap();
    db.run(move |c| users::insert(c, other, "Other_One")).await.unwrap();
    let (id, hash) = (GatewayId::new(), SecretHash::of("tg-secret"));
    let row =
        db.run(move |c| gateways::insert(c, owner, id, "prod", hash, "tg-…cret".into(), "{}".into())).await.unwrap();
    assert_eq!((row.name.as_str(), row.secret_hash.as_str()), ("prod", hash.to_hex().as_str()));

    assert!(db.run(move |c| gateways::get(c, other, id)).await.is_err());
    let rename = |name: &str| gateways::GatewayChanges {
        name: Some(name.to_string()),
        fallbacks: None,
        limits: None,
        allowed_ips: None,
        updated_at: Utc::now().naive_utc(),
    };
    let stolen = rename("stolen");
    assert!(db.run(move |c| gateways::update(c, other, id, stolen)).await.is_err());
    assert!(db.run(move |c| gateways::delete(c, other, id)).await.is_err());
    assert!(db.run(move |c| gateways::list(c, other)).await.unwrap().is_empty());

    let found = db.run(move |c| gateways::find_by_secret_hash(c, hash)).await.unwrap().unwrap();
    assert_eq!(found.id, id.to_string());
    let new_hash = SecretHash::of("tg-new");
    db.run(move |c| gateways::set_secret(c, owner, id, new_hash, "tg-…-new")).await.unwrap();
    assert!(db.run(move |c| gateways::find_by_secret_hash(c, hash)).await.unwrap().is_none());
    let renamed = rename("prod-eu");
    let row = db.run(move |c| gateways::update(c, owner, id, renamed)).await.unwrap();
    assert_eq!((row.name.as_str(), row.fallbacks.as_str()), ("prod-eu", "{}"), "other fields are kept");
    db.run(move |c| gateways::delete(c, owner, id)).await.unwrap();
    assert!(db.run(move |c| gateways::find_by_id(c, id)).await.unwrap().is_none());
}

async fn migrations_apply_once(url: &str) {
    let owner = UserId::new();
    connect(url).await.run(move |c| users::insert(c, owner, "Still_Here")).await.unwrap();
    // Connecting again runs the migrations again: nothing left to do, nothing lost.
    let again = connect(url).await;
    assert_eq!(again.run(move |c| users::find(c, owner)).await.unwrap().username, "Still_Here");
}

fn filter(gateway: GatewayId) -> EventFilter {
    let now = Utc::now().timestamp_millis();
    EventFilter { gateway_id: gateway, from_ms: now - 10 * 86_400_000, to_ms: now + 1000, model: None, status: None }
}

async fn event_store_inserts_are_idempotent_and_summaries_exact(url: &str) {
    let db = connect(url).await;
    let store = SqlEventStore::new(db).unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let mut events: Vec<_> =
        (1..=10u64).map(|ms| event(gateway, user, 0, ms * 10, ms != 3, if ms <= 4 { "a" } else { "b" })).collect();
    for unpriced in [6, 8] {
        events[unpriced].priced = false;
        events[unpriced].cost_nanousd = 0;
    }
    store.insert(Arc::new(events.to_vec())).await.unwrap();
    store.insert(Arc::new(events[..5].to_vec())).await.unwrap(); // a retried batch
    let other = event(GatewayId::new(), user, 0, 5, true, "a");
    store.insert(Arc::new(vec![other.clone()])).await.unwrap();

    let summary = store.summary(&filter(gateway)).await.unwrap();
    assert_eq!(summary.totals.requests, 10, "duplicates are ignored, other gateways excluded");
    assert_eq!(summary.totals.errors, 1);
    assert_eq!(summary.totals.tokens_in, events.iter().map(|e| e.tokens_prompt).sum::<u64>());
    assert_eq!(summary.totals.cost_nanousd, events.iter().map(|e| e.cost_nanousd).sum::<u64>());
    assert_eq!(summary.totals.unpriced, 2);
    let unpriced: Vec<(&str, u64)> = summary.by_model.iter().map(|(m, t)| (m.as_str(), t.unpriced)).collect();
    assert_eq!(unpriced, [("a", 0), ("b", 2)]);
    assert_eq!(summary.totals.latency_sum_ms, 550);
    let latency = summary.latency.unwrap();
    assert_eq!((latency.min, latency.max), (10, 100));
    assert_eq!(summary.totals.ttft_count, 10);
    assert_eq!((latency.p50, latency.p95, latency.p99), (60, 100, 100));
    let models: Vec<(&str, u64)> = summary.by_model.iter().map(|(m, t)| (m.as_str(), t.requests)).collect();
    assert_eq!(models, [("a", 4), ("b", 6)]);
    assert_eq!(summary.by_day.len(), 1);

    let mut only_errors = filter(gateway);
    only_errors.status = Some(StatusFilter::Error);
    assert_eq!(store.summary(&only_errors).await.unwrap().totals.requests, 1);
    let mut only_b = filter(gateway);
    only_b.model = Some("b".into());
    assert_eq!(store.summary(&only_b).await.unwrap().totals.requests, 6);

    let back = store.page(&filter(gateway), Order::OldestFirst, None, 100).await.unwrap();
    let mut expected = events.clone();
    expected.sort_by_key(|e| (e.ts_ms(), e.id));
    let expected: Vec<_> = expected
        .into_iter()
        .map(|mut e| {
            e.ts = chrono::DateTime::from_timestamp_millis(e.ts_ms()).unwrap();
            e
        })
        .collect();
    assert_eq!(back, expected, "events come back as they went in");
}

async fn a_batch_of_any_size_is_stored_whole_and_once(url: &str) {
    // The store writes a batch with statements of a few fixed sizes (64, 8 and 1 rows):
    // sizes on either side of each must store every event, and a retry none twice.
    let store = SqlEventStore::new(connect(url).await).unwrap();
    stores_each_batch_whole_and_once(&store, &[1, 7, 8, 9, 63, 64, 65, 75, 137, 2000]).await;
}

/// Stores a batch of each size, then part of it again (a retry): every event is
/// stored, and none twice.
async fn stores_each_batch_whole_and_once(store: &SqlEventStore, sizes: &[usize]) {
    let user = UserId::new();
    for &size in sizes {
        let gateway = GatewayId::new();
        let events: Vec<_> = (0..size as u64).map(|i| event(gateway, user, 0, i % 50 + 1, true, "m")).collect();
        store.insert(Arc::new(events.to_vec())).await.unwrap();
        store.insert(Arc::new(events[size / 3..].to_vec())).await.unwrap(); // a retried batch, in part
        let totals = store.summary(&filter(gateway)).await.unwrap().totals;
        assert_eq!(totals.requests, size as u64, "a batch of {size}");
        assert_eq!(totals.latency_sum_ms, events.iter().map(|e| e.latency_ms).sum::<u64>(), "a batch of {size}");
        let back = store.page(&filter(gateway), Order::OldestFirst, None, 2000).await.unwrap();
        let mut ids: Vec<_> = back.iter().map(|e| e.id).collect();
        ids.sort();
        let mut expected: Vec<_> = events.iter().map(|e| e.id).collect();
        expected.sort();
        assert_eq!(ids, expected, "a batch of {size}");
    }
}

async fn an_event_reads_back_as_it_was_written(url: &str) {
    let store = SqlEventStore::new(connect(url).await).unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    // One answered call with a time to first token, one failed call with its error
    // and an earlier failed attempt: every column, NULLs included, at millisecond precision.
    let mut events = vec![event(gateway, user, 0, 42, true, "gpt-4o"), event(gateway, user, 0, 7, false, "claude")];
    for e in &mut events {
        e.ts = chrono::DateTime::from_timestamp_millis(e.ts.timestamp_millis()).unwrap();
    }
    store.insert(Arc::new(events.to_vec())).await.unwrap();
    let mut back = store.page(&filter(gateway), Order::OldestFirst, None, 10).await.unwrap();
    back.sort_by_key(|e| e.latency_ms);
    events.sort_by_key(|e| e.latency_ms);
    assert_eq!(back, events);
}

async fn event_store_pages_by_cursor_in_both_orders(url: &str) {
    let db = connect(url).await;
    let store = SqlEventStore::new(db).unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let mut events: Vec<_> = (1..=9u64).map(|ms| event(gateway, user, 0, ms, true, "m")).collect();
    let ts = events[0].ts;
    events.iter_mut().for_each(|e| e.ts = ts);
    store.insert(Arc::new(events.to_vec())).await.unwrap();
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let mut seen = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = store.page(&filter(gateway), order, after, 4).await.unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|e| Cursor { ts_ms: e.ts_ms(), id: e.id });
            seen.extend(page.into_iter().map(|e| e.id));
        }
        let mut expected: Vec<_> = events.iter().map(|e| e.id).collect();
        expected.sort();
        if order == Order::NewestFirst {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order:?}");
    }
}

async fn retention_deletes_only_old_events(url: &str) {
    let db = connect(url).await;
    let store = SqlEventStore::new(db).unwrap();
    let (gateway, user) = (GatewayId::new(), UserId::new());
    let events: Vec<_> = [0, 1, 5, 9].iter().map(|days| event(gateway, user, *days, 10, true, "m")).collect();
    store.insert(Arc::new(events.to_vec())).await.unwrap();
    store.delete_before(tollgate::events::retention::cutoff_ms(3)).await.unwrap();
    let left = store.page(&filter(gateway), Order::OldestFirst, None, 10).await.unwrap();
    assert_eq!(left.len(), 2, "today and yesterday are within three days");
}

/// A new SQLite database keeps its rows in 16 KiB pages (cheaper event inserts), on
/// the pool's connections and the event writer's alike.
#[tokio::test]
async fn a_new_sqlite_database_has_16_kib_pages() {
    let (url, dir) = sqlite();
    let db = connect(&url).await;
    let writer = db.own_sqlite_connection().unwrap().expect("a SQLite database");
    let page_size: i64 = writer.query_row("PRAGMA page_size", [], |row| row.get(0)).unwrap();
    assert_eq!(page_size, 16384);
    let file = std::fs::read(dir.path().join("t.db")).unwrap();
    // The header's page size (bytes 16-17, big-endian) is what the file was made with.
    assert_eq!(u16::from_be_bytes([file[16], file[17]]), 16384);
}

/// SQLite's inserts run on a thread of their own at idle priority (`SCHED_IDLE`):
/// the kernel gives it only a core nothing else wants, so writing events never
/// delays a call. When that thread is starved, a batch is finished at normal priority.
mod idle_priority {
    use std::time::Duration;

    use super::*;

    /// The scheduling policy of this process's threads of that name (Linux's
    /// `/proc/self/task/*/stat`, field 41).
    fn policies_of(name: &str) -> Vec<u32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
            .filter_map(|stat| {
                let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
                (comm == name).then(|| rest.split(' ').nth(38)?.parse().ok())?
            })
            .collect()
    }

    #[tokio::test]
    async fn sqlite_events_are_written_by_a_thread_at_idle_priority() {
        let (url, _dir) = sqlite();
        let store = SqlEventStore::new(connect(&url).await).unwrap();
        let gateway = GatewayId::new();
        let events: Vec<_> = (0..100).map(|_| event(gateway, UserId::new(), 0, 10, true, "m")).collect();
        store.insert(Arc::new(events.to_vec())).await.unwrap();
        assert_eq!(store.summary(&filter(gateway)).await.unwrap().totals.requests, 100);
        assert_eq!(policies_of("tollgate-events"), [libc::SCHED_IDLE as u32]);
    }

    #[tokio::test]
    async fn a_batch_starved_at_idle_priority_is_stored_whole_and_once() {
        let (url, _dir) = sqlite();
        // Every 64 rows count as starved, and so does any wait for the thread: a batch
        // is written on the blocking pool, whole or after the idle thread's first 64
        // rows (committed), and a retried batch's stored rows are ignored.
        let store = SqlEventStore::new(connect(&url).await).unwrap().starved_after(Duration::ZERO);
        stores_each_batch_whole_and_once(&store, &[1, 65, 200, 2000]).await;
    }
}
