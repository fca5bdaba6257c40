//! Relaying the provider's answer to the client while metering it: whole bodies
//! are read once for `usage`; streams are passed on event by event as they
//! arrive, reading the usage chunk on the way (and removing it again when the
//! client did not ask for it).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    http::{header::HeaderValue, StatusCode},
    HttpResponse, ResponseError,
};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem;
use serde::{de::IgnoredAny, Deserialize};
use serde_json::Value;
use tokio::time::Sleep;

use super::{
    record::{CallRecord, Failure},
    timing::ServerTiming,
    upstream::{BodyStream, Reply},
};
use crate::{catalog::Usage, error::OpenAiError};

/// Largest non-streamed answer read from a provider.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest single SSE event relayed; a provider's events are a few kilobytes.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// How long a stream may go without a byte, and how long it may last in all.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    pub idle: Duration,
    pub total: Duration,
}

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
    let code = field("code");
    let kind = field("type").unwrap_or_else(|| "api_error".into());
    Failure { kind, code: code.or_else(|| Some("upstream_error".into())), message }
}

/// Reads a whole answer by the deadline: the error, if any, for `provider`.
async fn read_all(mut body: BodyStream, deadline: Instant, provider: &str) -> Result<Bytes, OpenAiError> {
    let read = async {
        let mut out = BytesMut::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk.map_err(|_| OpenAiError::upstream_failed(provider, 502))?);
            if out.len() > MAX_BODY {
                return Err(OpenAiError::upstream_too_large(provider, MAX_BODY));
            }
        }
        Ok(out.freeze())
    };
    tokio::time::timeout_at(deadline.into(), read)
        .await
        .unwrap_or_else(|_| Err(OpenAiError::upstream_timeout(provider)))
}

/// A whole (non-streamed, or failed) answer.
pub async fn relay_whole(
    reply: Reply,
    record: CallRecord,
    deadline: Instant,
    timing: &mut ServerTiming,
) -> HttpResponse {
    let status = reply.status;
    let content_type = reply.content_type.unwrap_or(HeaderValue::from_static("application/json"));
    let read = read_all(reply.body, deadline, record.provider).await;
    timing.upstream_ends();
    let body = match read {
        Ok(body) => body,
        Err(error) => {
            record.fail(&error);
            return error.error_response();
        }
    };
    if status.is_success() {
        let usage =
            serde_json::from_slice::<Peek>(&body).ok().and_then(|p| p.usage).map(Usage::from).unwrap_or_default();
        record.finish(status.as_u16(), usage, None);
        return HttpResponse::build(status).content_type(content_type).body(body);
    }
    let error = serde_json::from_slice::<Peek>(&body).ok().and_then(|p| p.error);
    let provider = record.provider;
    record.finish(status.as_u16(), Usage::default(), Some(describe_error(error.as_ref(), status)));
    if error.is_some() {
        // The provider's own error, as its SDK would have seen it.
        HttpResponse::build(status).content_type(content_type).body(body)
    } else {
        OpenAiError::upstream_failed(provider, status.as_u16()).error_response()
    }
}

/// A streamed answer: relayed event by event.
pub fn relay_stream(reply: Reply, record: CallRecord, strip_usage: bool, limits: StreamLimits) -> HttpResponse {
    let relay = SseRelay {
        upstream: reply.body,
        buffer: BytesMut::new(),
        scanned: 0,
        meter: Some(StreamMeter { record, usage: None, saw_done: false, failure: None }),
        strip_usage,
        idle: Box::pin(tokio::time::sleep(limits.idle)),
        deadline: Box::pin(tokio::time::sleep(limits.total)),
        idle_timeout: limits.idle,
    };
    HttpResponse::build(reply.status)
        .content_type(reply.content_type.unwrap_or(HeaderValue::from_static("text/event-stream")))
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(relay)
}

struct StreamMeter {
    record: CallRecord,
    usage: Option<Usage>,
    saw_done: bool,
    failure: Option<(u16, Failure)>,
}

struct SseRelay {
    upstream: BodyStream,
    buffer: BytesMut,
    /// How far `buffer` is known to hold no event boundary.
    scanned: usize,
    /// `None` once the call is metered.
    meter: Option<StreamMeter>,
    strip_usage: bool,
    idle: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    idle_timeout: Duration,
}

/// The end of the first complete event in `buf` (after its blank line), looking
/// from `from` on; otherwise how far the buffer holds no boundary. Each byte is
/// looked at once however the events arrive, so a stream costs linear time.
fn event_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'\n', &buf[at..]).map(|i| at + i) {
        match &buf[i + 1..] {
            [b'\n', ..] => return Ok(i + 2),
            [b'\r', b'\n', ..] => return Ok(i + 3),
            // Too little after this line end to tell yet.
            [] | [b'\r'] => return Err(i),
            _ => at = i + 1,
        }
    }
    Err(buf.len())
}

impl SseRelay {
    fn provider(&self) -> &'static str {
        self.meter.as_ref().map_or("", |m| m.record.provider)
    }

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
                let failure = Failure::new("api_error", "upstream_stream_error", message);
                meter.failure = Some((502, failure));
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
        loop {
            match event_end(&self.buffer, self.scanned) {
                Ok(end) => {
                    let event = self.buffer.split_to(end);
                    self.scanned = 0;
                    if self.inspect_event(&event) {
                        out.unsplit(event);
                    }
                }
                Err(scanned) => {
                    self.scanned = scanned;
                    return out.freeze();
                }
            }
        }
    }

    /// Meters the end of the stream.
    fn finish(&mut self) {
        let Some(mut meter) = self.meter.take() else { return };
        let (status, failure) = match meter.failure.take() {
            Some((status, failure)) => (status, Some(failure)),
            None if !meter.saw_done => (
                502,
                Some(Failure::new(
                    "api_error",
                    "upstream_stream_incomplete",
                    "the provider ended the stream before [DONE]",
                )),
            ),
            None => (200, None),
        };
        meter.record.finish(status, meter.usage.unwrap_or_default(), failure);
    }

    /// Ends the stream with `error`: metered, and told to the client in-band (the
    /// status line is long gone).
    fn fail(&mut self, error: OpenAiError) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Some(meter) = self.meter.as_mut() {
            meter.failure = Some((error.status.as_u16(), Failure::from(&error)));
        }
        self.finish();
        Poll::Ready(Some(Ok(Bytes::from(format!("data: {}\n\n", error.body())))))
    }
}

impl Stream for SseRelay {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.meter.is_none() {
                return Poll::Ready(None);
            }
            if self.deadline.as_mut().poll(cx).is_ready() || self.idle.as_mut().poll(cx).is_ready() {
                let error = OpenAiError::upstream_timeout(self.provider());
                return self.fail(error);
            }
            match self.upstream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let idle_until = tokio::time::Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(idle_until);
                    self.buffer.extend_from_slice(&chunk);
                    let out = self.drain_events();
                    if self.buffer.len() > MAX_EVENT_BYTES {
                        let error = OpenAiError::upstream_too_large(self.provider(), MAX_EVENT_BYTES);
                        return self.fail(error);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(_))) => {
                    let error = OpenAiError::upstream_failed(self.provider(), 502);
                    return self.fail(error);
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
    /// The stream ended before its end was metered: still metered, with whatever
    /// usage the provider had reported by then.
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            meter.record.abandon(meter.usage.unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_in_any_line_ending() {
        assert_eq!(event_end(b"data: a\n\ndata: b\n\n", 0), Ok(9));
        assert_eq!(event_end(b"data: a\r\n\r\ndata: b", 0), Ok(11));
        assert_eq!(event_end(b"data: a\r\n\ndata: b", 0), Ok(10));
        // Not yet known: the next byte decides.
        assert_eq!(event_end(b"data: a\n", 0), Err(7));
        assert_eq!(event_end(b"data: a\r\n\r", 0), Err(8));
        assert_eq!(event_end(b"data: a", 0), Err(7));
        // Resumes where it stopped.
        assert_eq!(event_end(b"data: a\n\n", 7), Ok(9));
    }

    #[test]
    fn a_long_event_arriving_in_small_pieces_is_scanned_once() {
        // Each byte is looked at about once: resuming from `scanned` never rescans.
        let mut buffer = Vec::new();
        let mut scanned = 0;
        let mut looked_at = 0;
        for _ in 0..100_000 {
            buffer.extend_from_slice(b"x\n");
            looked_at += buffer.len() - scanned;
            scanned = event_end(&buffer, scanned).unwrap_err();
        }
        assert!(looked_at < 3 * buffer.len(), "{looked_at} bytes looked at for {}", buffer.len());
        buffer.push(b'\n');
        assert_eq!(event_end(&buffer, scanned), Ok(buffer.len()));
    }
}
