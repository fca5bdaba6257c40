//! Request events: one per proxied call, handed to a bounded queue on the hot path
//! and written in batches by a background writer to the analytics store.

pub mod estimate;
pub mod query;
pub mod retention;
pub mod sink;
pub mod spool;
pub mod statement;
pub mod store;
pub mod stores;
pub mod writer;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, GatewayId, UserId};

pub use query::{Cursor, EventFilter, Group, LatencyStats, Order, StatusFilter, Summary, Totals};
pub use sink::EventSink;
pub use store::{Batch, EventStore, GatewaySpend};

/// Longest error message kept in an event.
pub const ERROR_MESSAGE_MAX: usize = 1000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEvent {
    pub id: EventId,
    pub request_id: String,
    pub gateway_id: GatewayId,
    pub user_id: UserId,
    /// Millisecond precision, UTC.
    pub ts: DateTime<Utc>,
    /// The data-plane route, e.g. `/chat/completions`.
    pub endpoint: Cow<'static, str>,
    /// As the client asked for it.
    pub model: String,
    pub upstream_model: String,
    pub provider: Cow<'static, str>,
    pub streaming: bool,
    pub status_code: u16,
    pub ok: bool,
    /// The OpenAI error type of a failed call (`invalid_request_error`, `rate_limit_error`,
    /// `api_error`, ... or the provider's own type).
    pub error_type: Option<String>,
    /// The machine code of the failure where there is one (`model_not_found`,
    /// `invalid_api_key`, `upstream_timeout`, `client_closed_request`, ...).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub tokens_prompt: u64,
    pub tokens_completion: u64,
    pub tokens_cached: u64,
    /// Prompt tokens written to the provider's cache (part of `tokens_prompt`).
    #[serde(default)]
    pub tokens_cache_write: u64,
    /// Reasoning tokens (part of `tokens_completion`).
    #[serde(default)]
    pub tokens_reasoning: u64,
    /// Zero when the call is unpriced (see `priced`); the sum of the parts below.
    pub cost_nanousd: u64,
    /// Uncached prompt tokens' share of the cost.
    #[serde(default)]
    pub cost_input_nanousd: u64,
    #[serde(default)]
    pub cost_cached_nanousd: u64,
    #[serde(default)]
    pub cost_cache_write_nanousd: u64,
    /// Completion tokens' share, reasoning included.
    #[serde(default)]
    pub cost_output_nanousd: u64,
    #[serde(default)]
    pub usage_source: UsageSource,
    /// Whether `cost_nanousd` is known: false when the model had no price, so an
    /// unknown cost is never taken for a free call. Events spooled by an older
    /// version lack the field and were all priced.
    #[serde(default = "priced_by_default")]
    pub priced: bool,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub attempts: u32,
    pub key_hint: Option<String>,
    /// Each attempt that failed before the last, oldest first: retries with another
    /// key, and models fallen back from. `provider` and `upstream_model` name the
    /// last attempt, `model` what the client asked for.
    #[serde(default)]
    pub failed_attempts: Vec<FailedAttempt>,
    /// A prompt the writer still has to count (`usage_source` estimated): never stored.
    #[serde(skip)]
    pub estimate: Option<Box<estimate::PromptEstimate>>,
}

/// Where a call's token counts came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageSource {
    /// The provider reported them.
    #[default]
    Provider,
    /// The provider answered without reporting usage (a stream cut short, a server
    /// that sends none): the prompt was counted by Tollgate.
    Estimated,
    /// No provider answered (the gateway refused the call, or every attempt failed).
    None,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Provider => "provider",
            UsageSource::Estimated => "estimated",
            UsageSource::None => "none",
        }
    }

    /// As stored; anything unknown reads as `provider`, what every older event was.
    pub fn from_stored(text: &str) -> Self {
        match text {
            "estimated" => UsageSource::Estimated,
            "none" => UsageSource::None,
            _ => UsageSource::Provider,
        }
    }
}

/// One failed attempt of a call, in short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedAttempt {
    pub provider: String,
    pub model: String,
    /// Like `429 rate_limit_error: Rate limit reached`, `key …abcd: 503` or `timeout`.
    pub error: String,
}

/// Failed attempts as stored: a JSON array, or nothing when there were none.
pub fn failed_attempts_to_text(attempts: &[FailedAttempt]) -> Option<String> {
    (!attempts.is_empty()).then(|| serde_json::to_string(attempts).expect("strings serialize"))
}

/// Stored failed attempts read back; text that does not read is none.
pub fn failed_attempts_from_text(text: Option<&str>) -> Vec<FailedAttempt> {
    text.filter(|t| !t.is_empty()).and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

fn priced_by_default() -> bool {
    true
}

impl RequestEvent {
    pub fn ts_ms(&self) -> i64 {
        self.ts.timestamp_millis()
    }
}

/// An event's ids rendered as text into buffers of its own, so a row written to a
/// store borrows them instead of allocating three strings.
pub struct IdText([u8; 36], [u8; 36], [u8; 36]);

impl IdText {
    pub fn new() -> Self {
        Self([0; 36], [0; 36], [0; 36])
    }

    /// The event's id, gateway id and user id, hyphenated.
    pub fn of(&mut self, e: &RequestEvent) -> [&str; 3] {
        [
            e.id.0.hyphenated().encode_lower(&mut self.0),
            e.gateway_id.0.hyphenated().encode_lower(&mut self.1),
            e.user_id.0.hyphenated().encode_lower(&mut self.2),
        ]
    }
}

impl Default for IdText {
    fn default() -> Self {
        Self::new()
    }
}

/// Cuts an error message to `ERROR_MESSAGE_MAX` characters on a char boundary.
pub fn truncate_message(message: &str) -> String {
    match message.char_indices().nth(ERROR_MESSAGE_MAX) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}
