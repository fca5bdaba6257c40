//! The metering of one call: filled in as the call goes, turned into its
//! RequestEvent when the call ends, however it ends. A record dropped before it
//! was finished (the client hung up, or shutdown cut the call short) still
//! becomes an event, so every call is metered exactly once.

use std::{
    borrow::Cow,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;

use crate::{
    catalog::{Price, Usage},
    error::OpenAiError,
    events::{
        estimate::{is_openai_model, PromptEstimate, Sample},
        truncate_message, EventSink, FailedAttempt, RequestEvent, UsageSource,
    },
    gateways::GatewayAuth,
    ids::EventId,
    limits::Ticket,
};

/// Set once the server begins to shut down: calls cut short after that are the
/// server's doing, not the client's.
#[derive(Clone, Default)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub struct CallRecord {
    started: Instant,
    ts: DateTime<Utc>,
    pub event_id: EventId,
    pub request_id: String,
    gateway: GatewayAuth,
    /// The surface called: `/chat/completions` or `/messages`.
    pub endpoint: &'static str,
    pub model: String,
    pub upstream_model: String,
    pub provider: &'static str,
    pub streaming: bool,
    pub price: Option<Price>,
    pub attempts: u32,
    pub key_hint: Option<String>,
    /// Each attempt that failed before the one that answered (or failed last).
    pub failed_attempts: Vec<FailedAttempt>,
    /// The request, shared (not copied), to count its prompt if the provider answers
    /// without reporting usage; and its share of the request memory, held as long.
    pub prompt_sample: Option<Sample>,
    pub sample_memory: Option<OwnedSemaphorePermit>,
    /// A provider accepted the call (a 2xx head).
    pub answered: bool,
    /// What the call reserved of its gateway's limits, settled when it is metered.
    pub ticket: Option<Ticket>,
    pub ttft: Option<Duration>,
    sink: EventSink,
    shutdown: ShutdownFlag,
    /// Set when the event was emitted; a record is metered once.
    done: bool,
}

/// Why a call failed, as kept in its event: the error's type (OpenAI's
/// `invalid_request_error`, `api_error`, ..., or the provider's own), its machine
/// code where it has one, and the message.
pub struct Failure {
    pub kind: String,
    pub code: Option<String>,
    pub message: String,
}

impl Failure {
    pub fn new(kind: &str, code: &str, message: impl Into<String>) -> Self {
        Self { kind: kind.to_string(), code: Some(code.to_string()), message: message.into() }
    }
}

impl From<&OpenAiError> for Failure {
    fn from(error: &OpenAiError) -> Self {
        Self { kind: error.kind.to_string(), code: error.code.map(String::from), message: error.message.clone() }
    }
}

impl CallRecord {
    pub fn start(
        started: Instant,
        request_id: String,
        event_id: EventId,
        gateway: GatewayAuth,
        sink: EventSink,
        shutdown: ShutdownFlag,
    ) -> Self {
        Self {
            started,
            ts: Utc::now() - started.elapsed(),
            event_id,
            request_id,
            gateway,
            endpoint: "/chat/completions",
            model: String::new(),
            upstream_model: String::new(),
            provider: "",
            streaming: false,
            price: None,
            attempts: 0,
            key_hint: None,
            failed_attempts: Vec::new(),
            prompt_sample: None,
            sample_memory: None,
            answered: false,
            ticket: None,
            ttft: None,
            sink,
            shutdown,
            done: false,
        }
    }

    pub fn gateway_id(&self) -> crate::ids::GatewayId {
        self.gateway.gateway_id
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes a failed attempt at the current provider and model.
    pub fn note_failure(&mut self, error: String) {
        let (provider, model) = (self.provider.to_string(), self.upstream_model.clone());
        self.failed_attempts.push(FailedAttempt { provider, model, error });
    }

    pub fn note_failures(&mut self, errors: &[String]) {
        for error in errors {
            self.note_failure(error.clone());
        }
    }

    /// Meters the call as ended with this status, and the usage the provider
    /// reported, if it did.
    pub fn finish(mut self, status_code: u16, usage: Option<Usage>, failure: Option<Failure>) {
        self.emit(status_code, usage, failure);
    }

    /// Meters a call that failed with a gateway error.
    pub fn fail(self, error: &OpenAiError) {
        self.finish(error.status.as_u16(), None, Some(error.into()));
    }

    fn emit(&mut self, status_code: u16, reported: Option<Usage>, failure: Option<Failure>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        drop(self.sample_memory.take());
        // Without the provider's usage, a prompt it answered is counted by the event
        // writer; one it never answered cost nothing.
        let (usage, usage_source, estimate) = match (reported, self.prompt_sample.take()) {
            (Some(usage), _) => (usage, UsageSource::Provider, None),
            (None, Some(request)) if self.answered => {
                let openai = is_openai_model(self.provider, &self.upstream_model);
                let estimate = PromptEstimate { request, openai, price: self.price };
                (Usage::default(), UsageSource::Estimated, Some(Box::new(estimate)))
            }
            (None, _) => (Usage::default(), UsageSource::None, None),
        };
        let ok = status_code < 400 && failure.is_none();
        let parts = self.price.map(|p| p.cost_parts(&usage)).unwrap_or_default();
        // An estimate is made later, off the call's path: the reservation stands for it.
        match self.ticket.take() {
            Some(ticket) if estimate.is_none() => ticket.settle(usage.prompt + usage.completion, parts.total()),
            reserved => drop(reserved),
        }
        // A failed call that used no tokens cost nothing, price or not; an answered
        // call of an unpriced model is unpriced even when it reports no usage.
        let priced = self.price.is_some() || (!ok && usage == Usage::default() && estimate.is_none());
        let (error_type, error_code, error_message) = match failure {
            Some(f) => (Some(f.kind), f.code, Some(truncate_message(&f.message))),
            None => (None, None, None),
        };
        self.sink.emit(RequestEvent {
            id: self.event_id,
            request_id: std::mem::take(&mut self.request_id),
            gateway_id: self.gateway.gateway_id,
            user_id: self.gateway.user_id,
            ts: DateTime::from_timestamp_millis(self.ts.timestamp_millis()).unwrap_or(self.ts),
            endpoint: Cow::Borrowed(self.endpoint),
            model: std::mem::take(&mut self.model),
            upstream_model: std::mem::take(&mut self.upstream_model),
            provider: Cow::Borrowed(self.provider),
            streaming: self.streaming,
            status_code,
            ok,
            error_type,
            error_code,
            error_message,
            tokens_prompt: usage.prompt,
            tokens_completion: usage.completion,
            tokens_cached: usage.cached,
            tokens_cache_write: usage.cache_write,
            tokens_reasoning: usage.reasoning,
            cost_nanousd: parts.total(),
            cost_input_nanousd: parts.input,
            cost_cached_nanousd: parts.cached_input,
            cost_cache_write_nanousd: parts.cache_write,
            cost_output_nanousd: parts.output,
            usage_source,
            estimate,
            priced,
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft.map(|t| t.as_millis() as u64),
            attempts: self.attempts,
            key_hint: self.key_hint.take(),
            failed_attempts: std::mem::take(&mut self.failed_attempts),
        });
    }

    /// Meters a call that ended without its answer being delivered: the client
    /// went away (499, as nginx logs it), or shutdown cut it short (503).
    pub fn abandon(mut self, usage: Option<Usage>) {
        self.emit_abandoned(usage);
    }

    fn emit_abandoned(&mut self, usage: Option<Usage>) {
        let (status, failure) = if self.shutdown.is_raised() {
            (503, Failure::new("api_error", "server_shutdown", "the gateway shut down before the call completed"))
        } else {
            (
                499,
                Failure::new(
                    "client_error",
                    "client_closed_request",
                    "the client disconnected before the answer completed",
                ),
            )
        };
        self.emit(status, usage, Some(failure));
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.done {
            self.emit_abandoned(None);
        }
    }
}
