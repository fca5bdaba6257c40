//! Named locks shared by every process that uses the same relational database,
//! for work that must not run twice at once (ClickHouse migrations: ClickHouse has
//! no locks of its own). PostgreSQL: a session advisory lock on a connection of the
//! lock's own. SQLite: an exclusive `flock` on a file beside the database. Either
//! is released when the guard drops, and by the server or the kernel when the
//! process dies, so a crash never leaves a lock behind.

use std::{fs::File, path::PathBuf};

use anyhow::Context;
use diesel::{pg::PgConnection, sql_types::BigInt, Connection, RunQueryDsl};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub enum Locks {
    /// Advisory locks of the PostgreSQL database at this URL.
    Postgres(String),
    /// Lock files named `<prefix>.<lock>.lock`.
    Files(PathBuf),
}

/// A held lock; dropping it releases it.
pub enum LockGuard {
    Postgres(PgConnection),
    File(File),
}

impl Locks {
    /// Lock files beside `path` (for processes sharing that SQLite file, or that directory).
    pub fn files(path: impl Into<PathBuf>) -> Self {
        Locks::Files(path.into())
    }

    /// Waits until the lock `name` is free, then holds it.
    pub async fn acquire(&self, name: &str) -> anyhow::Result<LockGuard> {
        let (locks, name) = (self.clone(), name.to_string());
        tokio::task::spawn_blocking(move || locks.acquire_blocking(&name)).await?
    }

    fn acquire_blocking(&self, name: &str) -> anyhow::Result<LockGuard> {
        let digest = Sha256::digest(name.as_bytes());
        match self {
            Locks::Postgres(url) => {
                let key = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
                let mut conn = PgConnection::establish(url).context("cannot connect to PostgreSQL for a lock")?;
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(key)
                    .execute(&mut conn)
                    .with_context(|| format!("cannot take the lock {name:?}"))?;
                Ok(LockGuard::Postgres(conn))
            }
            Locks::Files(prefix) => {
                let mut path = prefix.clone().into_os_string();
                path.push(format!(".{}.lock", hex::encode(&digest[..8])));
                let file = File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open the lock file {}", PathBuf::from(&path).display()))?;
                file.lock().with_context(|| format!("cannot take the lock {name:?}"))?;
                Ok(LockGuard::File(file))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            atomic::{AtomicU32, Ordering},
            Arc,
        },
        time::Duration,
    };

    use super::*;

    #[tokio::test]
    async fn a_file_lock_is_held_by_one_holder_at_a_time() {
        let dir = tempfile::TempDir::new().unwrap();
        let inside = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                // Each holder opens the file itself, as separate processes would.
                let (locks, inside) = (Locks::files(dir.path().join("db")), inside.clone());
                tokio::spawn(async move {
                    let _guard = locks.acquire("migrations").await.unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "nobody else holds it");
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let locks = Locks::files(dir.path().join("db"));
        let _held = locks.acquire("migrations").await.unwrap();
        let other = Locks::files(dir.path().join("db"));
        tokio::time::timeout(Duration::from_secs(1), other.acquire("another lock"))
            .await
            .expect("a lock of another name does not wait")
            .unwrap();
    }
}
