//! One log entry per call, as the logs page and the exports show it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::price::usd;
use crate::{
    events::{FailedAttempt, RequestEvent, UsageSource},
    ids::EventId,
};

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct LogEntry {
    pub id: EventId,
    pub request_id: String,
    /// RFC 3339, UTC, milliseconds.
    pub timestamp: String,
    pub model: String,
    pub upstream_model: String,
    pub provider: String,
    pub streaming: bool,
    pub status_code: u16,
    pub ok: bool,
    /// The OpenAI error type of a failed call.
    pub error_type: Option<String>,
    /// The machine code of the failure, where there is one (`model_not_found`, ...).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub tokens_prompt: u64,
    pub tokens_completion: u64,
    pub tokens_cached: u64,
    /// Prompt tokens written to the provider's cache (part of tokens_prompt, priced apart).
    pub tokens_cache_write: u64,
    /// Reasoning tokens (part of tokens_completion).
    pub tokens_reasoning: u64,
    /// USD; null when the call is unpriced (its cost is unknown, not zero).
    pub cost: Option<f64>,
    pub cost_nanousd: Option<u64>,
    /// The cost by part, in USD, adding up to `cost`; null when unpriced, and for
    /// calls recorded before Tollgate kept the parts.
    pub cost_breakdown: Option<CostBreakdown>,
    /// Whether the cost is known: false when the model had no price.
    pub priced: bool,
    /// Where the token counts came from: `provider`, `estimated` (the provider
    /// answered without usage, so Tollgate counted the prompt) or `none`.
    pub usage_source: UsageSource,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub attempts: u32,
    /// Each attempt that failed before the last: retries with another key, and models
    /// fallen back from. `provider` and `upstream_model` name the one that answered.
    pub failed_attempts: Vec<FailedAttempt>,
}

/// A call's cost by part, in USD.
#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct CostBreakdown {
    /// Prompt tokens neither read from nor written to the cache.
    pub input: f64,
    pub cached_input: f64,
    pub cache_write: f64,
    /// Completion tokens, reasoning included.
    pub output: f64,
}

impl CostBreakdown {
    fn of(e: &RequestEvent) -> Option<Self> {
        let parts = [e.cost_input_nanousd, e.cost_cached_nanousd, e.cost_cache_write_nanousd, e.cost_output_nanousd];
        let kept = parts.iter().sum::<u64>() == e.cost_nanousd;
        (e.priced && kept).then(|| CostBreakdown {
            input: usd(parts[0]),
            cached_input: usd(parts[1]),
            cache_write: usd(parts[2]),
            output: usd(parts[3]),
        })
    }
}

pub fn timestamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl From<RequestEvent> for LogEntry {
    fn from(e: RequestEvent) -> Self {
        let cost_breakdown = CostBreakdown::of(&e);
        LogEntry {
            id: e.id,
            request_id: e.request_id,
            timestamp: timestamp(e.ts),
            model: e.model,
            upstream_model: e.upstream_model,
            provider: e.provider.into_owned(),
            streaming: e.streaming,
            status_code: e.status_code,
            ok: e.ok,
            error_type: e.error_type,
            error_code: e.error_code,
            error_message: e.error_message,
            tokens_prompt: e.tokens_prompt,
            tokens_completion: e.tokens_completion,
            tokens_cached: e.tokens_cached,
            tokens_cache_write: e.tokens_cache_write,
            tokens_reasoning: e.tokens_reasoning,
            cost: e.priced.then(|| usd(e.cost_nanousd)),
            cost_nanousd: e.priced.then_some(e.cost_nanousd),
            cost_breakdown,
            priced: e.priced,
            usage_source: e.usage_source,
            latency_ms: e.latency_ms,
            ttft_ms: e.ttft_ms,
            attempts: e.attempts,
            failed_attempts: e.failed_attempts,
        }
    }
}
