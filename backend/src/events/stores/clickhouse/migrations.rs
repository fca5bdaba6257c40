//! ClickHouse schema migrations: `migrations/clickhouse/NNN_name.sql`, built into
//! the binary, applied in order at start-up, each once. Applied files are recorded
//! with a checksum; a file changed after it was applied stops the start-up.

use anyhow::{bail, Context};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Every migration, in order. `migration_files_are_all_listed` keeps this in step with the folder.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("001_request_events.sql", include_str!("../../../../../migrations/clickhouse/001_request_events.sql")),
    ("002_daily_rollup.sql", include_str!("../../../../../migrations/clickhouse/002_daily_rollup.sql")),
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
fn statements(sql: &str) -> Vec<String> {
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
/// that are not applied yet. Returns how many were applied.
pub async fn migrate(server: &Client, database: &str, upto: Option<usize>) -> anyhow::Result<usize> {
    if !valid_database_name(database) {
        bail!("CLICKHOUSE_DATABASE {database:?} must be letters, digits and underscores");
    }
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
    Ok(count)
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
