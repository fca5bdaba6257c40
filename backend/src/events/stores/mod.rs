pub mod clickhouse;
pub mod sql;
pub mod sqlite_writer;

pub use self::clickhouse::ClickHouseEventStore;
pub use sql::SqlEventStore;
