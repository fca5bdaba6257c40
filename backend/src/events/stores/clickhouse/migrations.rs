//! ClickHouse schema migrations: `migrations/clickhouse/NNN_name.sql`, built into
//! the binary, applied in order at start-up, each once. Applied files are recorded
//! with a checksum; a file changed after it was applied stops the start-up.
//! ClickHouse has no locks, so the migrations of a database run under a lock of
//! the relational database the processes share: two processes starting together
//! apply each migration (and its backfill) once.

use anyhow::{bail, Context};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::queries;
use crate::db::Locks;

/// Every migration, in order. `migration_files_are_all_listed` keeps this in step with the folder.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("001_request_events.sql", include_str!("../../../../../migrations/clickhouse/001_request_events.sql")),
    ("002_daily_rollup.sql", include_str!("../../../../../migrations/clickhouse/002_daily_rollup.sql")),
    ("003_event_pricing.sql", include_str!("../../../../../migrations/clickhouse/003_event_pricing.sql")),
    ("004_event_attempts.sql", include_str!("../../../../../migrations/clickhouse/004_event_attempts.sql")),
    ("005_event_cost_parts.sql", include_str!("../../../../../migrations/clickhouse/005_event_cost_parts.sql")),
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY name";

#[derive(Row, Serialize, Deserialize)]
struct Applied {
    name: String,
    checksum: String,
}

#[derive(Row, Serialize)]
struct Record {
    name: String,
    checksum: String,
    applied_at: u32,
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// The statements of a file: split at `;` line ends, comments and blanks dropped.
pub fn statements(sql: &str) -> Vec<String> {
    sql.split(';')
        .map(|s| s.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn valid_database_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Creates `database` if missing and applies the first `upto` migrations (all when `None`)
/// that are not applied yet, holding the database's migration lock. With all of them
/// applied, makes the tables recognise retried inserts where the server can (whatever
/// its version was when the migrations ran). Returns how many migrations were applied.
pub async fn migrate(server: &Client, database: &str, upto: Option<usize>, locks: &Locks) -> anyhow::Result<usize> {
    if !valid_database_name(database) {
        bail!("CLICKHOUSE_DATABASE {database:?} must be letters, digits and underscores");
    }
    let _lock = locks.acquire(&format!("clickhouse-migrations/{database}")).await?;
    server
        .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
        .execute()
        .await
        .context("cannot create the ClickHouse database")?;
    let db = server.clone().with_database(database);
    db.query(LEDGER).execute().await?;
    let applied: Vec<Applied> = db.query("SELECT ?fields FROM schema_migrations").fetch_all().await?;
    let mut count = 0;
    for (name, sql) in MIGRATIONS.iter().take(upto.unwrap_or(MIGRATIONS.len())) {
        let sum = checksum(sql);
        match applied.iter().find(|a| a.name == *name) {
            Some(done) if done.checksum == sum => continue,
            Some(_) => {
                bail!("ClickHouse migration {name} was changed after it was applied; add a new migration instead")
            }
            None => {}
        }
        for statement in statements(sql) {
            db.query(&statement).execute().await.with_context(|| format!("ClickHouse migration {name} failed"))?;
        }
        let mut insert = db.insert::<Record>("schema_migrations").await?;
        insert
            .write(&Record { name: name.to_string(), checksum: sum, applied_at: chrono::Utc::now().timestamp() as u32 })
            .await?;
        insert.end().await?;
        tracing::info!(migration = name, "ClickHouse migration applied");
        count += 1;
    }
    if let Some(unknown) = applied.iter().find(|a| !MIGRATIONS.iter().any(|(n, _)| *n == a.name)) {
        tracing::warn!(migration = %unknown.name, "the ClickHouse schema has a migration this build does not know (a newer version ran here)");
    }
    if upto.is_none() && deduplicates_inserts(server).await? {
        for statement in queries::enable_deduplication() {
            queries::query(&db, &statement).execute().await.context("cannot enable insert deduplication")?;
        }
    }
    Ok(count)
}

/// Whether the server can recognise a retried insert (ClickHouse 18.16 cannot; see README).
pub async fn deduplicates_inserts(server: &Client) -> anyhow::Result<bool> {
    let supported: u8 = queries::query(server, &queries::deduplication_support()).fetch_one().await?;
    Ok(supported == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_are_all_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/clickhouse");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, listed);
        for (i, name) in listed.iter().enumerate() {
            assert!(name.starts_with(&format!("{:03}_", i + 1)), "{name} is numbered in sequence");
        }
    }

    #[test]
    fn statements_split_at_semicolons_without_comments() {
        let sql = "-- a comment\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- another\nDROP TABLE b;\n";
        assert_eq!(statements(sql), ["CREATE TABLE a (x UInt8) ENGINE = Memory", "DROP TABLE b"]);
    }
}
