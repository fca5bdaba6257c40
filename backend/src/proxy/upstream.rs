//! Calls to providers: one HTTP client, an endpoint and key pool per provider,
//! retries on 429 / 5xx / timeouts with the next key, within a deadline. The
//! built-in mock provider answers here too, so the rest of the path is the same.
//!
//! The client is hyper's own pooled HTTP/1.1 client (TLS by rustls): a request is
//! the prepared URI, two prepared headers and the body's shared bytes, so a call
//! costs few allocations and no copy of the body.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::http::{header::HeaderValue, StatusCode};
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http_body_util::{BodyDataStream, Full};
use hyper::{
    header::{self, HeaderMap},
    Request, Uri,
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioTimer},
};

use super::keys::{KeyHeader, KeyPool};
use crate::{
    catalog::providers::{Protocol, ProviderInfo, ProviderKind, PROVIDERS},
    config::Config,
    error::OpenAiError,
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
}

impl SendFailure {
    fn not_configured() -> Self {
        Self { kind: FailureKind::NotConfigured, attempts: 0, key_hint: None }
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

/// One call to a provider: where, and the client's headers to pass on.
pub struct Call<'a> {
    pub provider: &'static ProviderInfo,
    pub path: UpstreamPath,
    pub headers: &'a [(hyper::header::HeaderName, hyper::header::HeaderValue)],
}

struct Endpoint {
    uri: Uri,
    /// Anthropic's token counting.
    count_uri: Option<Uri>,
    /// The `Host` header, made once (the client would format it for every call).
    host: hyper::header::HeaderValue,
    protocol: Protocol,
    key_header: KeyHeader,
    keys: KeyPool,
}

/// The Messages API version Tollgate speaks to Anthropic.
const ANTHROPIC_VERSION: hyper::header::HeaderValue = hyper::header::HeaderValue::from_static("2023-06-01");

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

thread_local! {
    /// A client, and so a connection pool, per thread. A pooled connection is driven
    /// by a task on the runtime that opened it; with one pool shared by the server's
    /// workers, a call on one worker would be answered on another and wait for it to
    /// wake (a few hundred microseconds here, for every streamed event).
    static CLIENT: HttpClient = new_client();
}

fn new_client() -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    http.set_nodelay(true);
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .build(https)
}

pub struct Upstreams {
    /// The providers this server routes to: local servers only when the operator
    /// named them, so no tenant can make the server call ports on its own host.
    endpoints: HashMap<&'static str, Endpoint>,
    mock: bool,
    max_attempts: u32,
    metrics: Arc<Metrics>,
}

const JSON: hyper::header::HeaderValue = hyper::header::HeaderValue::from_static("application/json");

/// How long a key rests after a rate limit without `Retry-After`, or after a failure.
const RATE_LIMIT_REST: Duration = Duration::from_secs(30);
const FAILURE_REST: Duration = Duration::from_secs(5);

impl Upstreams {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let mut endpoints = HashMap::new();
        for p in PROVIDERS.iter().filter(|p| p.remote()) {
            let settings = config.provider(p.name);
            let base = match settings.base_url {
                Some(base) => base,
                None if p.local => continue,
                None => p.default_base_url.to_string(),
            };
            let (path, key_header) = match p.protocol() {
                Protocol::OpenAi => ("/chat/completions", KeyHeader::Bearer),
                Protocol::Anthropic => ("/v1/messages", KeyHeader::XApiKey),
            };
            let uri: Uri = format!("{base}{path}")
                .parse()
                .map_err(|e| anyhow::anyhow!("{}_BASE_URL gives no valid URL: {e}", p.name.to_uppercase()))?;
            // Host and port only: credentials in the URL's authority never go in a header.
            let host = match (uri.host(), uri.port_u16()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_string(),
                (None, _) => anyhow::bail!("{}_BASE_URL names no host", p.name.to_uppercase()),
            };
            let host = host.parse()?;
            let keys = KeyPool::new(p.name, key_header, &settings.api_keys)?;
            let count_uri = match p.protocol() {
                Protocol::Anthropic => Some(format!("{base}/v1/messages/count_tokens").parse()?),
                Protocol::OpenAi => None,
            };
            endpoints.insert(p.name, Endpoint { uri, count_uri, host, protocol: p.protocol(), key_header, keys });
        }
        Ok(Self { endpoints, mock: config.mock_provider, max_attempts: config.upstream_max_attempts, metrics })
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
                || self.endpoints.get(provider.name).is_some_and(|e| e.keys.pick(&[]).is_some()))
    }

    pub async fn send(
        &self,
        call: Call<'_>,
        body: Bytes,
        caller_key: Option<&str>,
        deadline: Instant,
    ) -> Result<Reply, SendFailure> {
        let provider = call.provider;
        if provider.kind == ProviderKind::Mock {
            return Ok(super::mock::reply(&body));
        }
        let Some(endpoint) = self.endpoints.get(provider.name) else { return Err(SendFailure::not_configured()) };
        let uri = match call.path {
            UpstreamPath::Generate => &endpoint.uri,
            UpstreamPath::CountTokens => endpoint.count_uri.as_ref().ok_or_else(SendFailure::not_configured)?,
        };
        // The caller's own key, when it sent one, for every attempt.
        let caller_auth = match caller_key.map(|key| endpoint.key_header.value(key)).transpose() {
            Ok(auth) => auth,
            Err(_) => return Err(SendFailure::not_configured()),
        };
        let mut tried = Vec::new();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let key_index = if caller_auth.is_some() { None } else { endpoint.keys.pick(&tried) };
            let auth = caller_auth.as_ref().or_else(|| key_index.map(|i| &endpoint.keys.get(i).authorization));
            if auth.is_none() && provider.requires_key {
                return Err(SendFailure::not_configured());
            }
            let key_hint = key_index.map(|i| endpoint.keys.get(i).hint.clone());
            let mut request = Request::post(uri.clone())
                .header(header::HOST, endpoint.host.clone())
                .header(header::CONTENT_TYPE, JSON)
                .body(Full::new(body.clone()))
                .expect("a request of a valid URI and headers");
            if let Some(auth) = auth {
                request.headers_mut().insert(endpoint.key_header.name(), auth.clone());
            }
            if endpoint.protocol == Protocol::Anthropic {
                request.headers_mut().insert("anthropic-version", ANTHROPIC_VERSION);
            }
            for (name, value) in call.headers {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            let response = CLIENT.with(|client| client.request(request));
            let outcome = tokio::time::timeout_at(deadline.into(), response).await;
            let last_chance = attempts >= self.max_attempts || Instant::now() >= deadline;
            let failure = match outcome {
                Ok(Ok(response)) => {
                    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    self.metrics.upstream_requests.with_label_values(&[provider.name, status_class(status)]).inc();
                    if !retryable || last_chance {
                        let content_type = response.headers().get(header::CONTENT_TYPE).and_then(content_type);
                        let body = BodyDataStream::new(response.into_body()).map_err(|e| e.to_string());
                        return Ok(Reply { status, content_type, body: Box::pin(body), attempts, key_hint });
                    }
                    self.metrics.upstream_errors.with_label_values(&[provider.name, status_class(status)]).inc();
                    if let Some(i) = key_index {
                        let rest = if status == StatusCode::TOO_MANY_REQUESTS {
                            retry_after(response.headers()).unwrap_or(RATE_LIMIT_REST)
                        } else {
                            FAILURE_REST
                        };
                        endpoint.keys.rest(i, rest);
                    }
                    None
                }
                Ok(Err(e)) => Some(if timed_out(&e) { FailureKind::Timeout } else { FailureKind::Unreachable }),
                Err(_) => Some(FailureKind::Timeout),
            };
            if let Some(kind) = failure {
                let label = if kind == FailureKind::Timeout { "timeout" } else { "unreachable" };
                self.metrics.upstream_requests.with_label_values(&[provider.name, label]).inc();
                self.metrics.upstream_errors.with_label_values(&[provider.name, label]).inc();
                if let Some(i) = key_index {
                    endpoint.keys.rest(i, FAILURE_REST);
                }
                if last_chance {
                    return Err(SendFailure { kind, attempts, key_hint });
                }
            }
            if let Some(i) = key_index {
                tried.push(i);
            }
            // A short pause before trying again, longer each time.
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempts))).await;
        }
    }
}

/// The provider's content type for our answer: the usual ones without a copy.
fn content_type(value: &hyper::header::HeaderValue) -> Option<HeaderValue> {
    const KNOWN: [&str; 3] = ["application/json", "text/event-stream", "text/event-stream; charset=utf-8"];
    match KNOWN.iter().find(|known| value.as_bytes().eq_ignore_ascii_case(known.as_bytes())) {
        Some(known) => Some(HeaderValue::from_static(known)),
        None => HeaderValue::from_bytes(value.as_bytes()).ok(),
    }
}

/// Whether a failed request failed by timing out (connecting, most often).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        source = error.source();
    }
    false
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.clamp(1, 300)))
}
