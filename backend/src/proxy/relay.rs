//! Relaying the provider's answer to the client while metering it: whole bodies
//! are read once for `usage`; streams are passed on event by event as they
//! arrive, reading the usage chunk on the way (and removing it again when the
//! client did not ask for it).

use std::{
    future::Future,
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    http::{header::HeaderValue, StatusCode},
    HttpResponse,
};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt};
use memchr::memmem;
use serde::{de::IgnoredAny, Deserialize};
use serde_json::Value;
use tokio::time::Sleep;

use super::{
    body::Joined,
    peek,
    record::{CallRecord, Failure},
    sse::{data_lines, Events},
    timing::ServerTiming,
    translate::{anthropic_answer, anthropic_stream::stream_failure, openai_answer, openai_stream},
    upstream::{BodyStream, Reply},
    usage::{AnthropicUsage, OpenAiUsage},
};
use crate::{
    busy_poll,
    catalog::{providers::Protocol, Usage},
    error::OpenAiError,
};

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

/// The parts of a chunk (or an error answer) that metering reads.
#[derive(Deserialize)]
struct Peek {
    usage: Option<OpenAiUsage>,
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
        // An answer that came in one piece (most do) is passed on uncopied.
        let mut out = Joined::default();
        while let Some(chunk) = body.next().await {
            out.push(chunk.map_err(|_| OpenAiError::upstream_failed(provider, 502))?);
            if out.len() > MAX_BODY {
                return Err(OpenAiError::upstream_too_large(provider, MAX_BODY));
            }
        }
        Ok(out.into_bytes())
    };
    tokio::time::timeout_at(deadline.into(), read)
        .await
        .unwrap_or_else(|_| Err(OpenAiError::upstream_timeout(provider)))
}

/// An Anthropic message's usage, read without the rest of it.
#[derive(Deserialize)]
struct AnthropicPeek {
    usage: Option<AnthropicUsage>,
}

/// A whole (non-streamed, or failed) answer from a provider speaking `provider`,
/// for a client speaking `surface`.
pub async fn relay_whole(
    reply: Reply,
    record: CallRecord,
    deadline: Instant,
    timing: &mut ServerTiming,
    (surface, provider): (Protocol, Protocol),
) -> HttpResponse {
    let status = reply.status;
    let content_type = reply.content_type.unwrap_or(HeaderValue::from_static("application/json"));
    let read = read_all(reply.body, deadline, record.provider).await;
    timing.upstream_ends();
    let body = match read {
        Ok(body) => body,
        Err(error) => {
            record.fail(&error);
            return error.response_for(surface);
        }
    };
    let provider_name = record.provider;
    let unreadable = |record: CallRecord| {
        let error = OpenAiError::upstream_unreadable(provider_name);
        record.fail(&error);
        error.response_for(surface)
    };
    if status.is_success() {
        let (body, usage) = match (surface, provider) {
            (Protocol::OpenAi, Protocol::OpenAi) => {
                let usage = peek::read::<OpenAiUsage>(&body, "usage");
                (body, usage.map(Usage::from))
            }
            (Protocol::Anthropic, Protocol::Anthropic) => {
                let usage = peek::read::<AnthropicUsage>(&body, "usage");
                (body, usage.map(Usage::from))
            }
            (Protocol::OpenAi, Protocol::Anthropic) => match anthropic_answer::completion(&body) {
                Some((completion, usage)) => (Bytes::from(completion.to_string()), usage),
                None => return unreadable(record),
            },
            (Protocol::Anthropic, Protocol::OpenAi) => match openai_answer::message(&body) {
                Some((message, usage)) => (Bytes::from(message.to_string()), usage),
                None => return unreadable(record),
            },
        };
        record.finish(status.as_u16(), usage, None);
        return HttpResponse::build(status).content_type(content_type).body(body);
    }
    let (failure, described) = provider_failure(&body, status, provider);
    let response = if !described {
        OpenAiError::upstream_failed(provider_name, status.as_u16()).response_for(surface)
    } else if surface == provider {
        // The provider's own error, as its SDK would have seen it.
        HttpResponse::build(status).content_type(content_type).body(body)
    } else if surface == Protocol::OpenAi {
        HttpResponse::build(status).json(anthropic_answer::openai_error_body(&failure.kind, &failure.message))
    } else {
        HttpResponse::build(status).json(openai_answer::anthropic_error_body(status.as_u16(), &failure.message))
    };
    record.finish(status.as_u16(), None, Some(failure));
    response
}

/// A provider's error answer, read in the protocol it speaks: the failure, and
/// whether the body described one (else only its status does).
fn provider_failure(body: &[u8], status: StatusCode, provider: Protocol) -> (Failure, bool) {
    match provider {
        Protocol::OpenAi => {
            let error = serde_json::from_slice::<Peek>(body).ok().and_then(|p| p.error);
            (describe_error(error.as_ref(), status), error.is_some())
        }
        Protocol::Anthropic => match anthropic_answer::error(body) {
            Some((kind, message)) => (Failure { code: Some(kind.clone()), kind, message }, true),
            None => (describe_error(None, status), false),
        },
    }
}

/// A short account of a provider's refusal that Tollgate moves on from (to a
/// fallback model): its status and what it said, in at most 200 characters.
pub async fn failure_summary(reply: Reply, deadline: Instant, provider: Protocol) -> String {
    let status = reply.status;
    let read = async {
        let mut body = reply.body;
        let mut out = BytesMut::new();
        while let Some(Ok(chunk)) = body.next().await {
            out.extend_from_slice(&chunk);
            if out.len() > 64 * 1024 {
                break;
            }
        }
        out
    };
    let soon = deadline.min(Instant::now() + Duration::from_secs(2));
    let body = tokio::time::timeout_at(soon.into(), read).await.unwrap_or_default();
    let (failure, _) = provider_failure(&body, status, provider);
    let summary = format!("{} {}: {}", status.as_u16(), failure.kind, failure.message);
    match summary.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &summary[..cut]),
        None => summary,
    }
}

/// An answer relayed whole and not metered (Anthropic's token counts).
pub async fn relay_unmetered(reply: Reply, deadline: Instant, provider: &str) -> Result<HttpResponse, OpenAiError> {
    let body = read_all(reply.body, deadline, provider).await?;
    let content_type = reply.content_type.unwrap_or(HeaderValue::from_static("application/json"));
    Ok(HttpResponse::build(reply.status).content_type(content_type).body(body))
}

/// A streamed answer: relayed event by event, each read by `dialect`.
pub async fn relay_stream<D: StreamDialect>(
    mut reply: Reply,
    record: CallRecord,
    dialect: D,
    limits: StreamLimits,
) -> HttpResponse {
    let first = at_hand(&mut reply.body).await;
    let relay = SseRelay {
        upstream: reply.body,
        first,
        events: Events::default(),
        meter: Some(StreamMeter { record, progress: StreamProgress::default() }),
        dialect,
        timer: Box::pin(tokio::time::sleep(limits.idle.min(limits.total))),
        ends_by: tokio::time::Instant::now() + limits.total,
        idle_timeout: limits.idle,
    };
    HttpResponse::build(reply.status)
        .content_type(reply.content_type.unwrap_or(HeaderValue::from_static("text/event-stream")))
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(relay)
}

/// The body's first piece when it is already at hand: most providers send the
/// response's head and first events together. Polled once, then once more after the
/// runtime has looked at its sockets again (a yield), for events a moment behind the
/// head. Relayed at the
/// first poll, it leaves in the same write as the response's head, so the client
/// wakes once for both; otherwise the head leaves alone, at once.
async fn at_hand(body: &mut BodyStream) -> Option<Option<Result<Bytes, String>>> {
    if let Some(item) = body.next().now_or_never() {
        return Some(item);
    }
    tokio::task::yield_now().await;
    body.next().now_or_never()
}

/// What metering learns from a stream's events.
#[derive(Default)]
pub struct StreamProgress {
    pub usage: Option<Usage>,
    /// The provider's end-of-stream marker came.
    pub complete: bool,
    /// Content (text, a tool call, reasoning) began: the time to first token.
    pub started: bool,
    pub failure: Option<(u16, Failure)>,
}

/// How the events of one kind of stream are read, and what the client gets of them.
pub trait StreamDialect: Unpin + 'static {
    /// Reads one complete event (its lines and blank line): true when the client
    /// gets it as it came; otherwise what the client gets instead, if anything, is
    /// appended to `replacement`.
    fn event(&mut self, event: &[u8], progress: &mut StreamProgress, replacement: &mut BytesMut) -> bool;
    /// The provider's end-of-stream marker, named when a stream ends without it.
    fn end_marker(&self) -> &'static str;
    /// An error told to the client in-band (the status line is long gone), in the
    /// client's protocol: OpenAI's error as a data event unless said otherwise.
    fn error_event(&self, error: &OpenAiError) -> Bytes {
        Bytes::from(format!("data: {}\n\n", error.body()))
    }
}

/// Searches made once (`memmem::find` makes one for every search).
static USAGE: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"usage\""));
static ERROR: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"error\""));
static CONTENT_BLOCK_DELTA: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"content_block_delta\""));

/// Whether the JSON object `data` may hold the key `finder` looks for (quoted) with a
/// value other than `null`. A quoted word that is a string value, not a key, is
/// passed over; when in doubt, the answer is yes and the event is parsed.
fn has_value(data: &[u8], finder: &memmem::Finder<'_>) -> bool {
    // `find` in a loop: `find_iter` copies the searcher on every call.
    let mut rest = data;
    while let Some(at) = finder.find(rest) {
        rest = &rest[at + finder.needle().len()..];
        if let Some(value) = rest.trim_ascii_start().strip_prefix(b":") {
            if !value.trim_ascii_start().starts_with(b"null") {
                return true;
            }
        }
    }
    false
}

/// An OpenAI stream to an OpenAI client: every event passes as it came, except the
/// usage chunk Tollgate asked for on the client's behalf.
pub struct OpenAiPassthrough {
    pub strip_usage: bool,
}

impl OpenAiPassthrough {
    /// Reads one event; false when it is the usage chunk the client did not ask for.
    fn keep(&self, event: &[u8], progress: &mut StreamProgress) -> bool {
        for data in data_lines(event) {
            if data == b"[DONE]" {
                progress.complete = true;
                continue;
            }
            progress.started = true;
            // Most chunks carry neither, or `"usage":null` (OpenAI's with the usage asked for).
            if !has_value(data, &USAGE) && !has_value(data, &ERROR) {
                continue;
            }
            let Ok(peek) = serde_json::from_slice::<Peek>(data) else { continue };
            if let Some(error) = peek.error {
                let message =
                    error.get("message").and_then(Value::as_str).unwrap_or("provider reported an error mid-stream");
                progress.failure = Some((502, Failure::new("api_error", "upstream_stream_error", message)));
            }
            if let Some(usage) = peek.usage {
                progress.usage = Some(usage.into());
                if self.strip_usage && peek.choices.is_none_or(|c| c.is_empty()) {
                    return false;
                }
            }
        }
        true
    }
}

impl StreamDialect for OpenAiPassthrough {
    fn event(&mut self, event: &[u8], progress: &mut StreamProgress, _: &mut BytesMut) -> bool {
        self.keep(event, progress)
    }

    fn end_marker(&self) -> &'static str {
        "[DONE]"
    }
}

/// An Anthropic stream to a client of the Messages API: every event passes as it
/// came, `message_start` and `message_delta` metered on the way.
pub struct AnthropicPassthrough {
    usage: AnthropicUsage,
}

impl AnthropicPassthrough {
    pub fn new() -> Self {
        Self { usage: AnthropicUsage::default() }
    }
}

/// The parts of an Anthropic stream event that metering reads.
#[derive(Deserialize)]
struct AnthropicEventPeek<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    message: Option<AnthropicPeek>,
    usage: Option<AnthropicUsage>,
    error: Option<Value>,
}

/// Whether an Anthropic event is a content delta, from its first bytes (its `type`
/// leads it): most of a stream, and nothing to meter once content has begun.
fn is_content_delta(data: &[u8]) -> bool {
    CONTENT_BLOCK_DELTA.find(&data[..data.len().min(48)]).is_some()
}

impl StreamDialect for AnthropicPassthrough {
    fn event(&mut self, event: &[u8], progress: &mut StreamProgress, _: &mut BytesMut) -> bool {
        for data in data_lines(event) {
            if progress.started && is_content_delta(data) {
                continue;
            }
            let Ok(peek) = serde_json::from_slice::<AnthropicEventPeek>(data) else { continue };
            // The call's usage is what `message_start` and `message_delta` reported:
            // a stream that reported none is not taken to have used nothing.
            let reported = match &*peek.kind {
                "message_start" => peek.message.and_then(|m| m.usage),
                "message_delta" => peek.usage,
                "content_block_start" | "content_block_delta" => {
                    progress.started = true;
                    None
                }
                "message_stop" => {
                    progress.complete = true;
                    None
                }
                "error" => {
                    progress.failure = Some(stream_failure(&peek.error.unwrap_or_default()));
                    None
                }
                _ => None,
            };
            if let Some(usage) = reported {
                self.usage = self.usage.updated(usage);
                progress.usage = Some(self.usage.into());
            }
        }
        true
    }

    fn end_marker(&self) -> &'static str {
        "message_stop"
    }

    fn error_event(&self, error: &OpenAiError) -> Bytes {
        openai_stream::anthropic_error_event(error)
    }
}

struct StreamMeter {
    record: CallRecord,
    progress: StreamProgress,
}

struct SseRelay<D> {
    upstream: BodyStream,
    /// What the upstream gave before the relay began (`at_hand`), taken at the first poll.
    first: Option<Option<Result<Bytes, String>>>,
    events: Events,
    /// `None` once the call is metered.
    meter: Option<StreamMeter>,
    dialect: D,
    /// Fires `idle_timeout` after the last piece came, or at `ends_by`, whichever is
    /// sooner: either way the stream ends as a timeout.
    timer: Pin<Box<Sleep>>,
    ends_by: tokio::time::Instant,
    idle_timeout: Duration,
}

impl<D: StreamDialect> SseRelay<D> {
    fn provider(&self) -> &'static str {
        self.meter.as_ref().map_or("", |m| m.record.provider)
    }

    /// Reads the complete events of a piece from the provider with the dialect (of
    /// what is left when the stream has ended: `None`), noting the time to first
    /// token: what goes to the client now.
    fn take_in(&mut self, piece: Option<Bytes>) -> Bytes {
        let (meter, dialect) = (&mut self.meter, &mut self.dialect);
        let read = |event: &[u8], replacement: &mut BytesMut| {
            let Some(meter) = meter.as_mut() else { return true };
            let keep = dialect.event(event, &mut meter.progress, replacement);
            if meter.progress.started && meter.record.ttft.is_none() {
                meter.record.ttft = Some(meter.record.elapsed());
            }
            keep
        };
        match piece {
            Some(piece) => self.events.take_in(piece, read),
            None => self.events.rest(read),
        }
    }

    /// Meters the end of the stream.
    fn finish(&mut self) {
        let Some(mut meter) = self.meter.take() else { return };
        let progress = &mut meter.progress;
        let (status, failure) = match progress.failure.take() {
            Some((status, failure)) => (status, Some(failure)),
            None if !progress.complete => (
                502,
                Some(Failure::new(
                    "api_error",
                    "upstream_stream_incomplete",
                    format!("the provider ended the stream before {}", self.dialect.end_marker()),
                )),
            ),
            None => (200, None),
        };
        meter.record.finish(status, progress.usage, failure);
    }

    /// Ends the stream with `error`: metered, and told to the client in-band (the
    /// status line is long gone).
    fn fail(&mut self, error: OpenAiError) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Some(meter) = self.meter.as_mut() {
            meter.progress.failure = Some((error.status.as_u16(), Failure::from(&error)));
        }
        self.finish();
        Poll::Ready(Some(Ok(self.dialect.error_event(&error))))
    }
}

impl<D: StreamDialect> Stream for SseRelay<D> {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.meter.is_none() {
                return Poll::Ready(None);
            }
            if self.timer.as_mut().poll(cx).is_ready() {
                let error = OpenAiError::upstream_timeout(self.provider());
                return self.fail(error);
            }
            let next = match self.first.take() {
                Some(first) => Poll::Ready(first),
                None => self.upstream.poll_next_unpin(cx),
            };
            match next {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    busy_poll::active();
                    let until = (tokio::time::Instant::now() + self.idle_timeout).min(self.ends_by);
                    self.timer.as_mut().reset(until);
                    let out = self.take_in(Some(chunk));
                    if self.events.waiting() > MAX_EVENT_BYTES {
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
                    let out = self.take_in(None);
                    self.finish();
                    return Poll::Ready((!out.is_empty()).then_some(Ok(out)));
                }
            }
        }
    }
}

impl<D> Drop for SseRelay<D> {
    /// The stream ended before its end was metered: still metered, with whatever
    /// usage the provider had reported by then.
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            meter.record.abandon(meter.progress.usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_or_error_key_counts_only_with_a_value() {
        assert!(has_value(br#"{"choices":[],"usage":{"prompt_tokens":1}}"#, &USAGE));
        assert!(has_value(br#"{"usage" : {"prompt_tokens":1}}"#, &USAGE));
        assert!(has_value(br#"{"error":{"message":"overloaded"}}"#, &ERROR));
        // OpenAI's chunks say `"usage":null` until the last one.
        assert!(!has_value(br#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#, &USAGE));
        assert!(!has_value(br#"{"usage": null}"#, &USAGE));
        // The word as a string value, not a key.
        assert!(!has_value(br#"{"choices":[{"delta":{"content":"usage"}}]}"#, &USAGE));
        assert!(has_value(br#"{"content":"usage","usage":{"total_tokens":2}}"#, &USAGE));
        assert!(!has_value(br#"{"choices":[]}"#, &USAGE));
    }
}
