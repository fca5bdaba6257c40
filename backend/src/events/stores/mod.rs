pub mod clickhouse;
pub mod sql;

pub use self::clickhouse::ClickHouseEventStore;
pub use sql::SqlEventStore;
