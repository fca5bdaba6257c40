//! Exports of a filtered set of calls, oldest first, streamed page by page so an
//! export of millions of rows never sits in memory.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};

use super::logs::LogEntry;
use crate::events::{EventFilter, EventStore};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text.unwrap_or("csv") {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "request_id",
    "timestamp",
    "model",
    "upstream_model",
    "provider",
    "streaming",
    "status_code",
    "ok",
    "error_type",
    "error_code",
    "error_message",
    "tokens_prompt",
    "tokens_completion",
    "tokens_cached",
    "tokens_cache_write",
    "tokens_reasoning",
    "cost",
    "cost_nanousd",
    "cost_input",
    "cost_cached_input",
    "cost_cache_write",
    "cost_output",
    "priced",
    "usage_source",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "failed_attempts",
];

/// A CSV field, quoted when it must be (RFC 4180). Cells that a spreadsheet would
/// run as a formula are prefixed with a quote mark.
fn csv_field(out: &mut String, value: &str) {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&guarded.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&guarded);
    }
}

/// What the cost cells of an unpriced call read: its cost is unknown, not zero.
pub const UNPRICED: &str = "unpriced";

pub fn csv_row(entry: &LogEntry) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let cost = |v: Option<String>| v.unwrap_or_else(|| UNPRICED.into());
    // A part is unknown (empty) for calls recorded before the parts were kept.
    let part = |pick: fn(&super::logs::CostBreakdown) -> f64| match (&entry.cost_breakdown, entry.priced) {
        (Some(parts), _) => format!("{:.9}", pick(parts)),
        (None, true) => String::new(),
        (None, false) => UNPRICED.into(),
    };
    let cells = [
        entry.id.to_string(),
        entry.request_id.clone(),
        entry.timestamp.clone(),
        entry.model.clone(),
        entry.upstream_model.clone(),
        entry.provider.clone(),
        entry.streaming.to_string(),
        entry.status_code.to_string(),
        entry.ok.to_string(),
        opt(&entry.error_type),
        opt(&entry.error_code),
        opt(&entry.error_message),
        entry.tokens_prompt.to_string(),
        entry.tokens_completion.to_string(),
        entry.tokens_cached.to_string(),
        entry.tokens_cache_write.to_string(),
        entry.tokens_reasoning.to_string(),
        cost(entry.cost.map(|c| format!("{c:.9}"))),
        cost(entry.cost_nanousd.map(|c| c.to_string())),
        part(|b| b.input),
        part(|b| b.cached_input),
        part(|b| b.cache_write),
        part(|b| b.output),
        entry.priced.to_string(),
        entry.usage_source.as_str().to_string(),
        entry.latency_ms.to_string(),
        entry.ttft_ms.map(|t| t.to_string()).unwrap_or_default(),
        entry.attempts.to_string(),
        // "provider/model: error", one per failed attempt.
        entry
            .failed_attempts
            .iter()
            .map(|a| format!("{}/{}: {}", a.provider, a.model, a.error))
            .collect::<Vec<_>>()
            .join("; "),
    ];
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(&mut line, cell);
    }
    line.push_str("\r\n");
    line
}

fn render(format: Format, events: Vec<crate::events::RequestEvent>) -> Bytes {
    let mut out = String::new();
    for entry in events.into_iter().map(LogEntry::from) {
        match format {
            Format::Csv => out.push_str(&csv_row(&entry)),
            Format::Ndjson => {
                out.push_str(&serde_json::to_string(&entry).expect("a log entry serializes"));
                out.push('\n');
            }
        }
    }
    Bytes::from(out)
}

/// The export body: a CSV header (for CSV), then the store's events as they come.
pub fn stream_export(
    store: Arc<dyn EventStore>,
    filter: EventFilter,
    format: Format,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let header = match format {
        Format::Csv => Some(Ok(Bytes::from(format!("{}\r\n", CSV_COLUMNS.join(","))))),
        Format::Ndjson => None,
    };
    let rows = store.export(filter).map(move |events| {
        events.map(|events| render(format, events)).map_err(|e| {
            // Headers are sent: the only way to signal the failure is to cut the body short.
            tracing::error!(error = %e, "export failed mid-stream");
            std::io::Error::other("export failed")
        })
    });
    stream::iter(header).chain(rows)
}
