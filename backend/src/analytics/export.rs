//! Exports of a filtered set of calls, oldest first, streamed page by page so an
//! export of millions of rows never sits in memory.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, Stream};

use super::logs::LogEntry;
use crate::events::{Cursor, EventFilter, EventStore, Order};

const PAGE: usize = 2000;

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
    "id", "request_id", "timestamp", "model", "upstream_model", "provider", "streaming", "status_code", "ok",
    "error_type", "error_message", "tokens_prompt", "tokens_completion", "tokens_cached", "cost", "cost_nanousd",
    "latency_ms", "ttft_ms", "attempts",
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

pub fn csv_row(entry: &LogEntry) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
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
        opt(&entry.error_message),
        entry.tokens_prompt.to_string(),
        entry.tokens_completion.to_string(),
        entry.tokens_cached.to_string(),
        format!("{:.9}", entry.cost),
        entry.cost_nanousd.to_string(),
        entry.latency_ms.to_string(),
        entry.ttft_ms.map(|t| t.to_string()).unwrap_or_default(),
        entry.attempts.to_string(),
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

fn render(format: Format, entries: Vec<LogEntry>) -> Bytes {
    let mut out = String::new();
    for entry in &entries {
        match format {
            Format::Csv => out.push_str(&csv_row(entry)),
            Format::Ndjson => {
                out.push_str(&serde_json::to_string(entry).expect("a log entry serializes"));
                out.push('\n');
            }
        }
    }
    Bytes::from(out)
}

enum State {
    Start,
    After(Option<Cursor>),
    Done,
}

pub fn stream_export(
    store: Arc<dyn EventStore>,
    filter: EventFilter,
    format: Format,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    stream::unfold(State::Start, move |state| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let after = match state {
                State::Done => return None,
                State::Start if format == Format::Csv => {
                    return Some((Ok(Bytes::from(format!("{}\r\n", CSV_COLUMNS.join(",")))), State::After(None)))
                }
                State::Start => None,
                State::After(cursor) => cursor,
            };
            match store.page(&filter, Order::OldestFirst, after, PAGE).await {
                Ok(events) => {
                    let next = match events.last() {
                        Some(last) if events.len() == PAGE => State::After(Some(Cursor { ts_ms: last.ts_ms(), id: last.id })),
                        _ => State::Done,
                    };
                    let entries = events.into_iter().map(LogEntry::from).collect();
                    Some((Ok(render(format, entries)), next))
                }
                Err(e) => {
                    // Headers are sent: the only way to signal the failure is to cut the body short.
                    tracing::error!(error = %e, "export failed mid-stream");
                    Some((Err(std::io::Error::other("export failed")), State::Done))
                }
            }
        }
    })
}
