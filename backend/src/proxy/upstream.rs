//! Calls to providers: one HTTP client, an endpoint and key pool per provider,
//! retries on 429 / 5xx / timeouts with the next key, within a deadline. The
//! built-in mock provider answers here too, so the rest of the path is the same.
//!
//! The client is our own lean HTTP/1.1 client (`h1`), driven in the call's own
//! task: a request is the prepared path and headers and the body's shared bytes,
//! written in one vectored write, so a call costs few allocations and no copy of
//! the body.

use std::{
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::http::{header::HeaderValue, StatusCode};
use bytes::Bytes;
use futures_util::Stream;
use http::Uri;

use tokio::sync::mpsc;

use super::{
    h1::{self, Origin},
    keys::{GatewayKeys, KeyHeader, KeyPool},
};
use crate::{
    catalog::providers::{Protocol, ProviderInfo, ProviderKind, PROVIDERS},
    config::{Config, OperatorKeys},
    error::OpenAiError,
    fast_hash::FastMap,
    ids::ProviderKeyId,
    metrics::Metrics,
};

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// A provider's answer, its body not read yet.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: BodyStream,
    pub attempts: u32,
    pub key_hint: Option<String>,
    /// A short summary of each attempt before this one that failed.
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No key for a provider that needs one.
    NotConfigured,
    Unreachable,
    Timeout,
}

pub struct SendFailure {
    pub kind: FailureKind,
    pub attempts: u32,
    pub key_hint: Option<String>,
    /// A short summary of each attempt before the last that failed.
    pub failed: Vec<String>,
}

impl FailureKind {
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::NotConfigured => "not configured",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Timeout => "timeout",
        }
    }
}

impl SendFailure {
    fn not_configured() -> Self {
        Self { kind: FailureKind::NotConfigured, attempts: 0, key_hint: None, failed: Vec::new() }
    }

    /// The error the client gets.
    pub fn error(&self, provider: &str) -> OpenAiError {
        match self.kind {
            FailureKind::NotConfigured => OpenAiError::provider_not_configured(provider),
            FailureKind::Unreachable => OpenAiError::upstream_unreachable(provider),
            FailureKind::Timeout => OpenAiError::upstream_timeout(provider),
        }
    }
}

/// Which of a provider's endpoints a call goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UpstreamPath {
    /// Chat completions, or Anthropic's messages.
    Generate,
    /// Anthropic's `/v1/messages/count_tokens`.
    CountTokens,
}

/// Whose keys a call uses, in order of precedence.
#[derive(Clone, Copy)]
pub enum Keys<'a> {
    /// The caller's own key, sent with this call (never stored or logged).
    Caller(&'a str),
    /// The gateway's stored keys for the provider.
    Gateway(&'a KeyPool),
    /// The operator's keys, when `OPERATOR_KEYS` lets tenants use them.
    Operator,
}

/// One call to a provider: where, and the client's headers to pass on.
pub struct Call<'a> {
    pub provider: &'static ProviderInfo,
    pub path: UpstreamPath,
    pub headers: &'a [(http::HeaderName, http::HeaderValue)],
    /// Another model is tried when this one fails: then no attempt waits for a
    /// resting key (only the short backoff).
    pub fallback_next: bool,
}

struct Endpoint {
    origin: Origin,
    /// The path (and query) of generation calls.
    path: String,
    /// Anthropic's token counting.
    count_path: Option<String>,
    /// The `Host` header's value.
    host: String,
    protocol: Protocol,
    key_header: KeyHeader,
    keys: KeyPool,
}

/// The Messages API version Tollgate speaks to Anthropic, unless the client names one.
const ANTHROPIC_VERSION: &[u8] = b"2023-06-01";

pub struct Upstreams {
    /// The providers this server routes to: local servers only when the operator
    /// named them, so no tenant can make the server call ports on its own host.
    endpoints: FastMap<&'static str, Endpoint>,
    mock: bool,
    max_attempts: u32,
    first_byte_timeout: Duration,
    metrics: Arc<Metrics>,
    operator_keys: OperatorKeys,
    connect_timeout: Duration,
    /// Stored keys a provider refused, to be marked invalid in the database.
    refused: mpsc::UnboundedSender<ProviderKeyId>,
}

/// How long a key rests after a rate limit without `Retry-After`, or after a failure.
const RATE_LIMIT_REST: Duration = Duration::from_secs(30);
const FAILURE_REST: Duration = Duration::from_secs(5);
/// Retries back off from this, doubling, up to the maximum.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The longest a call waits for a key to come back before it gives up (and falls
/// back, or answers the provider's last refusal with its `retry-after`).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(20);

impl Upstreams {
    pub fn new(
        config: &Config,
        metrics: Arc<Metrics>,
        refused: mpsc::UnboundedSender<ProviderKeyId>,
    ) -> anyhow::Result<Self> {
        let mut endpoints = FastMap::default();
        for p in PROVIDERS.iter().filter(|p| p.remote()) {
            let settings = config.provider(p.name);
            let base = match settings.base_url {
                Some(base) => base,
                None if p.local => continue,
                None => p.default_base_url.to_string(),
            };
            let path = match p.protocol() {
                Protocol::OpenAi => "/chat/completions",
                Protocol::Anthropic => "/v1/messages",
            };
            let key_header = KeyHeader::of(p.protocol());
            let setting = format!("{}_BASE_URL", p.name.to_uppercase());
            let uri: Uri =
                format!("{base}{path}").parse().map_err(|e| anyhow::anyhow!("{setting} gives no valid URL: {e}"))?;
            let origin = Origin::of(&uri).map_err(|e| anyhow::anyhow!("{setting}: {e}"))?;
            // Host and port only: credentials in the URL's authority never go in a header.
            let host = match (uri.host(), uri.port_u16()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                (None, _) => anyhow::bail!("{setting} names no host"),
            };
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            let keys = KeyPool::new(p.name, key_header, &settings.api_keys)?;
            let count_path = match p.protocol() {
                Protocol::Anthropic => {
                    let uri: Uri = format!("{base}/v1/messages/count_tokens").parse()?;
                    Some(uri.path_and_query().map_or("/", |p| p.as_str()).to_string())
                }
                Protocol::OpenAi => None,
            };
            endpoints
                .insert(p.name, Endpoint { origin, path, count_path, host, protocol: p.protocol(), key_header, keys });
        }
        Ok(Self {
            endpoints,
            mock: config.mock_provider,
            max_attempts: config.upstream_max_attempts,
            first_byte_timeout: config.upstream_first_byte_timeout,
            metrics,
            operator_keys: config.operator_keys.clone(),
            connect_timeout: config.upstream_connect_timeout,
            refused,
        })
    }

    /// Whose keys a call to `provider` uses: the caller's own, else the gateway's
    /// usable stored keys, else the operator's if `OPERATOR_KEYS` allows; `None` when
    /// the provider needs a key and the gateway must bring its own.
    pub fn keys_for<'a>(
        &self,
        provider: &ProviderInfo,
        caller_key: Option<&'a str>,
        gateway: &'a GatewayKeys,
    ) -> Option<Keys<'a>> {
        if let Some(key) = caller_key {
            return Some(Keys::Caller(key));
        }
        if let Some(pool) = gateway.pool(provider.name).filter(|pool| pool.usable()) {
            return Some(Keys::Gateway(pool));
        }
        let operator = !provider.requires_key || self.operator_keys.allows(provider.name);
        operator.then_some(Keys::Operator)
    }

    /// Whether tenants may use the operator's keys for this provider.
    pub fn operator_keys_allowed(&self, provider: &str) -> bool {
        self.operator_keys.allows(provider)
    }

    /// Whether this server routes to the provider at all.
    pub fn serves(&self, provider: &ProviderInfo) -> bool {
        match provider.kind {
            ProviderKind::Mock => self.mock,
            ProviderKind::OpenAiCompatible | ProviderKind::Anthropic => self.endpoints.contains_key(provider.name),
        }
    }

    /// Whether a call to this provider can be made with the operator's configuration.
    pub fn available(&self, provider: &ProviderInfo) -> bool {
        self.serves(provider)
            && (provider.kind == ProviderKind::Mock
                || !provider.requires_key
                || self.endpoints.get(provider.name).is_some_and(|e| e.keys.usable()))
    }

    pub async fn send(
        &self,
        call: Call<'_>,
        body: Bytes,
        keys: Keys<'_>,
        deadline: Instant,
    ) -> Result<Reply, SendFailure> {
        let provider = call.provider;
        if provider.kind == ProviderKind::Mock {
            return Ok(super::mock::reply(&body));
        }
        let Some(endpoint) = self.endpoints.get(provider.name) else { return Err(SendFailure::not_configured()) };
        let path = match call.path {
            UpstreamPath::Generate => &endpoint.path,
            UpstreamPath::CountTokens => endpoint.count_path.as_ref().ok_or_else(SendFailure::not_configured)?,
        };
        // The client's `anthropic-version`, when it sent one, instead of ours.
        let anthropic_version = (endpoint.protocol == Protocol::Anthropic
            && !call.headers.iter().any(|(name, _)| name == "anthropic-version"))
        .then_some((&b"anthropic-version"[..], ANTHROPIC_VERSION));
        let key_name = endpoint.key_header.name();
        // The caller's own key, when it sent one, for every attempt; else a pool's.
        let (caller_auth, pool) = match keys {
            Keys::Caller(key) => match endpoint.key_header.value(key) {
                Ok(auth) => (Some(auth), None),
                Err(_) => return Err(SendFailure::not_configured()),
            },
            Keys::Gateway(pool) => (None, Some(pool)),
            Keys::Operator => (None, Some(&endpoint.keys)),
        };
        let mut tried = Vec::new();
        let mut failed = Vec::new();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let key_index = pool.and_then(|pool| pool.pick(&tried));
            let pooled = pool.zip(key_index).map(|(pool, i)| pool.get(i));
            let auth = caller_auth.as_ref().or_else(|| pooled.map(|key| &key.authorization));
            if auth.is_none() && provider.requires_key {
                return Err(SendFailure { failed, ..SendFailure::not_configured() });
            }
            let key_hint = pooled.map(|key| key.hint.clone());
            let headers = [(&b"host"[..], endpoint.host.as_bytes()), (b"content-type", b"application/json")]
                .into_iter()
                .chain(auth.map(|auth| (key_name.as_str().as_bytes(), auth.as_bytes())))
                .chain(anthropic_version)
                .chain(call.headers.iter().map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())));
            let response = h1::post(&endpoint.origin, path, headers, &body, self.connect_timeout);
            let head_by = deadline.min(Instant::now() + self.first_byte_timeout);
            // What this attempt came to, and how long the provider asked to be left alone.
            let (outcome, asked_rest) = match tokio::time::timeout_at(head_by.into(), response).await {
                Ok(Ok(response)) => {
                    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
                    self.metrics.upstream_requests.with_label_values(&[provider.name, status_class(status)]).inc();
                    let asked_rest = if retryable(status) { retry_after(|name| response.header(name)) } else { None };
                    let content_type = response.header("content-type").and_then(content_type);
                    let body = response.body;
                    // The key hint and earlier failures are filled in when the reply is returned.
                    let reply = Reply {
                        status,
                        content_type,
                        body: Box::pin(body),
                        attempts,
                        key_hint: None,
                        failed: Vec::new(),
                    };
                    (Ok(reply), asked_rest)
                }
                Ok(Err(e)) => {
                    let kind = match e.kind() {
                        std::io::ErrorKind::TimedOut => FailureKind::Timeout,
                        _ => FailureKind::Unreachable,
                    };
                    tracing::debug!(provider = provider.name, error = %e, "provider call failed");
                    (Err(kind), None)
                }
                Err(_) => (Err(FailureKind::Timeout), None),
            };
            // A pooled key the provider refused is never used again; the next one is tried at once.
            if let (Ok(reply), Some(pool), Some(i)) = (&outcome, pool, key_index) {
                if refused_key(reply.status) {
                    self.refuse(provider.name, pool, i, reply.status);
                    if attempts < self.max_attempts && pool.usable() && Instant::now() < deadline {
                        failed.push(attempt_summary(
                            key_hint.as_deref(),
                            format!("{} (key refused)", reply.status.as_u16()),
                        ));
                        tried.push(i);
                        continue;
                    }
                }
            }
            let summary = match &outcome {
                Ok(reply) if !retryable(reply.status) => {
                    let mut reply = outcome.expect("an answer");
                    (reply.key_hint, reply.failed) = (key_hint, failed);
                    return Ok(reply);
                }
                Ok(reply) => {
                    let class = status_class(reply.status);
                    self.metrics.upstream_errors.with_label_values(&[provider.name, class]).inc();
                    reply.status.as_u16().to_string()
                }
                Err(kind) => {
                    let label = kind.label();
                    self.metrics.upstream_requests.with_label_values(&[provider.name, label]).inc();
                    self.metrics.upstream_errors.with_label_values(&[provider.name, label]).inc();
                    label.to_string()
                }
            };
            let rest = match (&outcome, asked_rest) {
                (_, Some(asked)) => asked,
                (Ok(reply), None) if reply.status == StatusCode::TOO_MANY_REQUESTS => RATE_LIMIT_REST,
                _ => FAILURE_REST,
            };
            if let (Some(pool), Some(i)) = (pool, key_index) {
                pool.rest(i, rest);
                tried.push(i);
            }
            // The next attempt waits out a backoff, and for a key to come back when all
            // rest (the caller's own key rests as long as the provider asked).
            let key_back = match pool {
                Some(pool) => pool.soonest_back(),
                None => asked_rest.unwrap_or_default(),
            };
            let pause = backoff(attempts);
            let wait = pause.max(key_back);
            let give_up = attempts >= self.max_attempts
                || wait > MAX_RETRY_WAIT
                || (call.fallback_next && wait > pause)
                || Instant::now() + wait >= deadline;
            if give_up {
                return match outcome {
                    Ok(mut reply) => {
                        (reply.key_hint, reply.failed) = (key_hint, failed);
                        Ok(reply)
                    }
                    Err(kind) => Err(SendFailure { kind, attempts, key_hint, failed }),
                };
            }
            failed.push(attempt_summary(key_hint.as_deref(), summary));
            drop(outcome);
            tokio::time::sleep(wait).await;
        }
    }
}

impl Upstreams {
    /// Marks a pooled key the provider refused: a stored key is marked in the database too.
    fn refuse(&self, provider: &str, pool: &KeyPool, index: usize, status: StatusCode) {
        if !pool.invalidate(index) {
            return;
        }
        let key = pool.get(index);
        let whose = if key.id.is_some() { "a gateway's" } else { "an operator" };
        tracing::warn!(provider, key = %key.hint, status = status.as_u16(), "the provider refused {whose} key: it is not used again");
        if let Some(id) = key.id {
            let _ = self.refused.send(id);
        }
    }
}

/// Answers that say the key itself is refused: revoked, wrong, or without access.
fn refused_key(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// A failed attempt in short, with the key it used (`key …abcd: 429`).
pub fn attempt_summary(key_hint: Option<&str>, summary: String) -> String {
    match key_hint {
        Some(hint) => format!("key {hint}: {summary}"),
        None => summary,
    }
}

/// Answers worth another attempt: rate limits and the provider's own failures.
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The pause before attempt `attempts + 1`: 100 ms doubling each time, at most 5 s,
/// with "equal jitter" (between half and all of it), so clients that failed together
/// do not come back together.
fn backoff(attempts: u32) -> Duration {
    let full = BACKOFF_BASE.saturating_mul(1 << attempts.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    full / 2 + full.mul_f64(rand::random::<f64>() / 2.0)
}

/// The provider's content type for our answer: the usual ones without a copy.
fn content_type(value: &[u8]) -> Option<HeaderValue> {
    const KNOWN: [&str; 3] = ["application/json", "text/event-stream", "text/event-stream; charset=utf-8"];
    match KNOWN.iter().find(|known| value.eq_ignore_ascii_case(known.as_bytes())) {
        Some(known) => Some(HeaderValue::from_static(known)),
        None => HeaderValue::from_bytes(value).ok(),
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// How long the provider asked to be left alone: OpenAI's `retry-after-ms`, or
/// `retry-after` in seconds or as an HTTP date; at most 5 minutes.
fn retry_after<'a>(header: impl Fn(&str) -> Option<&'a [u8]>) -> Option<Duration> {
    let text = |name: &str| std::str::from_utf8(header(name)?).ok().map(str::trim);
    if let Some(ms) =
        text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_millis(ms as u64).min(MAX_ASKED_REST));
    }
    let value = text("retry-after")?;
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default()
        }
    };
    Some(wait.min(MAX_ASKED_REST))
}

const MAX_ASKED_REST: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_ceiling() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = backoff(40);
            assert!(late >= BACKOFF_MAX / 2 && late <= BACKOFF_MAX, "{late:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(2)).collect();
        assert!(spread.len() > 1, "jittered");
    }

    #[test]
    fn retry_after_is_read_in_each_of_its_forms() {
        let from = |pairs: &[(&str, &str)]| {
            retry_after(|name| pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes()))
        };
        assert_eq!(from(&[("Retry-After", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(from(&[("retry-after-ms", "1500"), ("retry-after", "7")]), Some(Duration::from_millis(1500)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = from(&[("retry-after", &soon)]).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(from(&[("retry-after", "86400")]), Some(MAX_ASKED_REST), "capped");
        assert_eq!(from(&[("retry-after", "soon")]), None);
        assert_eq!(from(&[]), None);
    }
}
