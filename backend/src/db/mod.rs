//! Relational storage: one diesel codebase over SQLite (default) and PostgreSQL,
//! an r2d2 pool, and `Db::run` which keeps every diesel call off the async workers.

pub mod idle;
pub mod lock;
pub mod schema;

use std::{sync::Arc, time::Duration};

use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    r2d2::{self, R2D2Connection},
    sqlite::SqliteConnection,
    Connection, QueryResult,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use self::lock::{LockGuard, Locks};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    PoolExhausted(#[from] r2d2::PoolError),
    #[error("database task was canceled")]
    Canceled,
}

/// Opens connections of the kind the URL names (rather than trying each in turn),
/// and sets SQLite's per-connection pragmas.
pub struct ConnectionManager {
    url: String,
    kind: DbKind,
}

impl ConnectionManager {
    /// Locks shared with every process using the same database.
    fn locks(&self) -> Locks {
        match self.kind {
            DbKind::Postgres => Locks::Postgres(self.url.clone()),
            // An in-memory database is this process's alone.
            DbKind::Sqlite if self.url.is_empty() || self.url.starts_with(":memory:") => {
                Locks::files(std::env::temp_dir().join(format!("tollgate-{}", std::process::id())))
            }
            DbKind::Sqlite => Locks::files(&self.url),
        }
    }

    pub fn new(url: &str) -> anyhow::Result<Self> {
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbKind::Postgres
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            return Ok(Self { url: path.to_string(), kind: DbKind::Sqlite });
        } else {
            anyhow::bail!("unsupported database URL scheme");
        };
        Ok(Self { url: url.to_string(), kind })
    }
}

/// SQLite's per-connection settings. WAL lets the event writer and readers work side
/// by side; busy_timeout makes writers queue instead of failing with SQLITE_BUSY, and
/// comes first because switching to WAL takes a lock that other new connections may hold.
/// A new database gets 16 KiB pages (the size is fixed once it is in WAL mode, so an
/// older database keeps its own): the event writer spends about a fifth less CPU per
/// event than with 4 KiB pages, fewer pages being split and written to the WAL.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA page_size = 16384; \
    PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// SQLite's process-wide settings, before its first connection opens:
/// - multi-thread mode: a connection is never used by two threads at once (the pool
///   lends each to one task), so SQLite need not lock it around every call;
/// - no memory statistics, which take a global mutex on every allocation SQLite makes.
///
/// The event writer spent about 4 % of its time on those locks under load.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use libsqlite3_sys::{sqlite3_config, SQLITE_CONFIG_MEMSTATUS, SQLITE_CONFIG_MULTITHREAD, SQLITE_OK};
        // SAFETY: called once, before this process opens a connection; SQLite answers
        // SQLITE_MISUSE (and changes nothing) if it is already initialized.
        let results =
            unsafe { [sqlite3_config(SQLITE_CONFIG_MULTITHREAD), sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)] };
        if results.iter().any(|&r| r != SQLITE_OK) {
            tracing::warn!(?results, "SQLite was initialized before its settings could be applied");
        }
    });
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match self.kind {
            DbKind::Sqlite => {
                configure_sqlite();
                let mut conn = SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
            DbKind::Postgres => {
                PgConnection::establish(&self.url).map(DbConn::Postgres).map_err(r2d2::Error::ConnectionError)
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<ConnectionManager>,
    kind: DbKind,
    locks: Locks,
    /// SQLite's database file, for a connection outside the pool (`own_sqlite_connection`).
    sqlite_path: Option<Arc<str>>,
}

impl Db {
    /// Connects and applies pending migrations.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let manager = ConnectionManager::new(url)?;
        let (kind, locks) = (manager.kind, manager.locks());
        let sqlite_path = (kind == DbKind::Sqlite).then(|| Arc::from(manager.url.as_str()));
        if kind == DbKind::Sqlite {
            // One connection first switches a new file to WAL (the mode is kept in the
            // file): the pool opens its connections side by side, and two of them switching
            // at once had one fail with "database is locked" (r2d2 logged it and retried).
            r2d2::ManageConnection::connect(&manager).map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        let db = Db { pool, kind, locks, sqlite_path };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
        }
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        Ok(())
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// A SQLite connection of the caller's own, outside the pool and set up as the
    /// pool's are (the event writer's, through rusqlite); none for PostgreSQL.
    pub fn own_sqlite_connection(&self) -> anyhow::Result<Option<rusqlite::Connection>> {
        let Some(path) = &self.sqlite_path else {
            return Ok(None);
        };
        configure_sqlite();
        let conn = rusqlite::Connection::open(&**path)?;
        conn.execute_batch(SQLITE_PRAGMAS)?;
        Ok(Some(conn))
    }

    pub fn locks(&self) -> Locks {
        self.locks.clone()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            Ok(f(&mut conn)?)
        })
        .await
        .map_err(|_| DbError::Canceled)?
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| conn.ping()).await
    }
}
