//! The metering of one call: filled in as the call goes, turned into its
//! RequestEvent when the call ends, however it ends.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::{
    catalog::{Price, Usage},
    events::{truncate_message, RequestEvent},
    gateways::GatewayAuth,
    ids::EventId,
};

pub struct CallRecord {
    started: Instant,
    ts: DateTime<Utc>,
    pub event_id: EventId,
    pub request_id: String,
    gateway: GatewayAuth,
    pub model: String,
    pub upstream_model: String,
    pub provider: String,
    pub streaming: bool,
    pub price: Option<Price>,
    pub attempts: u32,
    pub key_hint: Option<String>,
    pub ttft: Option<Duration>,
}

/// Why a call failed, as kept in its event.
pub struct Failure {
    pub kind: String,
    pub message: String,
}

impl CallRecord {
    pub fn start(started: Instant, request_id: String, event_id: EventId, gateway: GatewayAuth) -> Self {
        Self {
            started,
            ts: Utc::now() - started.elapsed(),
            event_id,
            request_id,
            gateway,
            model: String::new(),
            upstream_model: String::new(),
            provider: String::new(),
            streaming: false,
            price: None,
            attempts: 0,
            key_hint: None,
            ttft: None,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(self, status_code: u16, usage: Usage, failure: Option<Failure>) -> RequestEvent {
        let ok = status_code < 400 && failure.is_none();
        let cost_nanousd = self.price.map_or(0, |p| p.cost_nanousd(&usage));
        RequestEvent {
            id: self.event_id,
            request_id: self.request_id,
            gateway_id: self.gateway.gateway_id,
            user_id: self.gateway.user_id,
            ts: DateTime::from_timestamp_millis(self.ts.timestamp_millis()).unwrap_or(self.ts),
            endpoint: "/chat/completions".into(),
            model: self.model,
            upstream_model: self.upstream_model,
            provider: self.provider,
            streaming: self.streaming,
            status_code,
            ok,
            error_type: failure.as_ref().map(|f| f.kind.clone()),
            error_message: failure.as_ref().map(|f| truncate_message(&f.message)),
            tokens_prompt: usage.prompt,
            tokens_completion: usage.completion,
            tokens_cached: usage.cached,
            cost_nanousd,
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft.map(|t| t.as_millis() as u64),
            attempts: self.attempts,
            key_hint: self.key_hint,
        }
    }
}
