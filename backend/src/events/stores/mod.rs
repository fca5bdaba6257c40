pub mod sql;

pub use sql::SqlEventStore;
