//! What a gateway's calls cost and how they went: summary, per-model and per-day
//! figures, latency percentiles, logs with cursor paging, and exports.

mod export;
mod logs;
mod range;
mod report;
pub mod routes;

pub use logs::LogEntry;
pub use report::{AnalyticsReport, DailyStat, ModelStats, SummaryStats};
pub use routes::config;
