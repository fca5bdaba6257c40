//! Relaying the provider's answer to the client while metering it: whole bodies
//! are read once for `usage`; streams are passed on event by event as they
//! arrive, reading the usage chunk on the way (and removing it again when the
//! client did not ask for it).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem;
use serde::{de::IgnoredAny, Deserialize};
use serde_json::Value;

use super::{
    record::{CallRecord, Failure},
    upstream::{BodyStream, Reply},
};
use crate::{catalog::Usage, error::OpenAiError, events::EventSink};

/// Largest non-streamed answer read from a provider.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
struct UsageJson {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    prompt_tokens_details: Option<PromptDetails>,
    /// DeepSeek's name for cached prompt tokens.
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

impl From<UsageJson> for Usage {
    fn from(u: UsageJson) -> Self {
        let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens).or(u.prompt_cache_hit_tokens).unwrap_or(0);
        Usage { prompt: u.prompt_tokens, completion: u.completion_tokens, cached }
    }
}

/// The parts of a completion or chunk that metering reads.
#[derive(Deserialize)]
struct Peek {
    usage: Option<UsageJson>,
    choices: Option<Vec<IgnoredAny>>,
    error: Option<Value>,
}

/// The provider's own description of an error body, when it has one.
fn describe_error(error: Option<&Value>, status: StatusCode) -> Failure {
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str).map(String::from);
    let message = field("message")
        .or_else(|| error.and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| format!("provider answered with status {}", status.as_u16()));
    let kind = field("type").or_else(|| field("code")).unwrap_or_else(|| "upstream_error".into());
    Failure { kind, message }
}

async fn read_all(mut body: BodyStream) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
        if out.len() > MAX_BODY {
            return Err(format!("provider answer is larger than {MAX_BODY} bytes"));
        }
    }
    Ok(out.freeze())
}

/// A whole (non-streamed, or failed) answer.
pub async fn relay_whole(reply: Reply, record: CallRecord, sink: &EventSink) -> HttpResponse {
    let status = reply.status;
    let provider = record.provider.clone();
    let content_type = reply.content_type.clone().unwrap_or_else(|| "application/json".into());
    let body = match read_all(reply.body).await {
        Ok(body) => body,
        Err(message) => {
            let error = OpenAiError::upstream_failed(&provider, status.as_u16());
            sink.emit(record.finish(
                error.status.as_u16(),
                Usage::default(),
                Some(Failure { kind: "upstream_error".into(), message }),
            ));
            return error.error_response();
        }
    };
    if status.is_success() {
        let usage =
            serde_json::from_slice::<Peek>(&body).ok().and_then(|p| p.usage).map(Usage::from).unwrap_or_default();
        sink.emit(record.finish(status.as_u16(), usage, None));
        return HttpResponse::build(status).content_type(content_type).body(body);
    }
    let error = serde_json::from_slice::<Peek>(&body).ok().and_then(|p| p.error);
    sink.emit(record.finish(status.as_u16(), Usage::default(), Some(describe_error(error.as_ref(), status))));
    if error.is_some() {
        // The provider's own error, as its SDK would have seen it.
        HttpResponse::build(status).content_type(content_type).body(body)
    } else {
        OpenAiError::upstream_failed(&provider, status.as_u16()).error_response()
    }
}

/// A streamed answer: relayed event by event.
pub fn relay_stream(reply: Reply, record: CallRecord, sink: EventSink, strip_usage: bool) -> HttpResponse {
    let relay = SseRelay {
        upstream: reply.body,
        buffer: BytesMut::new(),
        meter: Some(StreamMeter { record, sink, usage: None, saw_done: false, failure: None }),
        strip_usage,
    };
    HttpResponse::build(reply.status)
        .content_type(reply.content_type.unwrap_or_else(|| "text/event-stream".into()))
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(relay)
}

struct StreamMeter {
    record: CallRecord,
    sink: EventSink,
    usage: Option<Usage>,
    saw_done: bool,
    failure: Option<Failure>,
}

impl StreamMeter {
    fn emit(self, status_code: u16, failure: Option<Failure>) {
        let event = self.record.finish(status_code, self.usage.unwrap_or_default(), failure);
        self.sink.emit(event);
    }
}

struct SseRelay {
    upstream: BodyStream,
    buffer: BytesMut,
    /// `None` once the call is metered.
    meter: Option<StreamMeter>,
    strip_usage: bool,
}

/// The end of the first complete event in `buf` (after its blank line).
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = memmem::find(buf, b"\n\n").map(|i| i + 2);
    let crlf = memmem::find(buf, b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl SseRelay {
    /// Looks at one event; false when it is the usage chunk the client did not ask for.
    fn inspect_event(&mut self, event: &[u8]) -> bool {
        let Some(meter) = self.meter.as_mut() else { return true };
        for line in event.split(|b| *b == b'\n') {
            let Some(data) = line.strip_prefix(b"data:") else { continue };
            let data = data.strip_prefix(b" ").unwrap_or(data).trim_ascii_end();
            if data == b"[DONE]" {
                meter.saw_done = true;
                continue;
            }
            if data.is_empty() {
                continue;
            }
            if meter.record.ttft.is_none() {
                meter.record.ttft = Some(meter.record.elapsed());
            }
            if memmem::find(data, b"\"usage\"").is_none() && memmem::find(data, b"\"error\"").is_none() {
                continue;
            }
            let Ok(peek) = serde_json::from_slice::<Peek>(data) else { continue };
            if let Some(error) = peek.error {
                let message =
                    error.get("message").and_then(Value::as_str).unwrap_or("provider reported an error mid-stream");
                meter.failure = Some(Failure { kind: "upstream_stream_error".into(), message: message.to_string() });
            }
            if let Some(usage) = peek.usage {
                meter.usage = Some(usage.into());
                if self.strip_usage && peek.choices.is_none_or(|c| c.is_empty()) {
                    return false;
                }
            }
        }
        true
    }

    /// Takes the complete events from the buffer: the bytes to pass on.
    fn drain_events(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        while let Some(end) = event_end(&self.buffer) {
            let event = self.buffer.split_to(end);
            if self.inspect_event(&event) {
                out.unsplit(event);
            }
        }
        out.freeze()
    }

    fn finish(&mut self) {
        let Some(mut meter) = self.meter.take() else { return };
        let failure = match meter.failure.take() {
            Some(failure) => Some(failure),
            None if !meter.saw_done => Some(Failure {
                kind: "upstream_stream_incomplete".into(),
                message: "the provider ended the stream before [DONE]".into(),
            }),
            None => None,
        };
        let status = if failure.is_some() { 502 } else { 200 };
        meter.emit(status, failure);
    }
}

impl Stream for SseRelay {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.meter.is_none() {
                return Poll::Ready(None);
            }
            match self.upstream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    self.buffer.extend_from_slice(&chunk);
                    let out = self.drain_events();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(message))) => {
                    // Tell the client in-band (the status line is long gone), and meter the failure.
                    if let Some(meter) = self.meter.as_mut() {
                        meter.failure =
                            Some(Failure { kind: "upstream_stream_error".into(), message: message.clone() });
                    }
                    self.finish();
                    let error = OpenAiError::upstream_failed("upstream", 502).body();
                    return Poll::Ready(Some(Ok(Bytes::from(format!("data: {error}\n\n")))));
                }
                Poll::Ready(None) => {
                    // An event without its closing blank line is still an event.
                    let rest = self.buffer.split();
                    let keep = rest.is_empty() || self.inspect_event(&rest);
                    self.finish();
                    return Poll::Ready((keep && !rest.is_empty()).then(|| Ok(rest.freeze())));
                }
            }
        }
    }
}

impl Drop for SseRelay {
    /// The client went away before the end: the call is still metered, as 499.
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            let failure =
                Failure { kind: "client_closed_request".into(), message: "the client disconnected mid-stream".into() };
            meter.emit(499, Some(failure));
        }
    }
}
