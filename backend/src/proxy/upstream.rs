//! Calls to providers: one HTTP client, an endpoint and key pool per provider,
//! retries on 429 / 5xx / timeouts with the next key, within a deadline. The
//! built-in mock provider answers here too, so the rest of the path is the same.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::http::StatusCode;
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};

use super::keys::KeyPool;
use crate::{
    catalog::providers::{ProviderInfo, ProviderKind, PROVIDERS},
    config::Config,
    metrics::Metrics,
};

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// A provider's answer, its body not read yet.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
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

struct Endpoint {
    url: String,
    keys: KeyPool,
}

pub struct Upstreams {
    client: reqwest::Client,
    /// The providers this server routes to: local servers only when the operator
    /// named them, so no tenant can make the server call ports on its own host.
    endpoints: HashMap<&'static str, Endpoint>,
    mock: bool,
    max_attempts: u32,
    metrics: Arc<Metrics>,
}

/// How long a key rests after a rate limit without `Retry-After`, or after a failure.
const RATE_LIMIT_REST: Duration = Duration::from_secs(30);
const FAILURE_REST: Duration = Duration::from_secs(5);

impl Upstreams {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(config.upstream_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        let endpoints = PROVIDERS
            .iter()
            .filter(|p| p.kind == ProviderKind::OpenAiCompatible)
            .filter_map(|p| {
                let settings = config.provider(p.name);
                let base = match settings.base_url {
                    Some(base) => base,
                    None if p.local => return None,
                    None => p.default_base_url.to_string(),
                };
                let endpoint =
                    Endpoint { url: format!("{base}/chat/completions"), keys: KeyPool::new(&settings.api_keys) };
                Some((p.name, endpoint))
            })
            .collect();
        Ok(Self { client, endpoints, mock: config.mock_provider, max_attempts: config.upstream_max_attempts, metrics })
    }

    /// Whether this server routes to the provider at all.
    pub fn serves(&self, provider: &ProviderInfo) -> bool {
        match provider.kind {
            ProviderKind::Mock => self.mock,
            ProviderKind::OpenAiCompatible => self.endpoints.contains_key(provider.name),
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
        provider: &ProviderInfo,
        body: Bytes,
        caller_key: Option<&str>,
        deadline: Instant,
    ) -> Result<Reply, SendFailure> {
        if provider.kind == ProviderKind::Mock {
            return Ok(super::mock::reply(&body));
        }
        let endpoint = self.endpoints.get(provider.name).ok_or(SendFailure {
            kind: FailureKind::NotConfigured,
            attempts: 0,
            key_hint: None,
        })?;
        let mut tried = Vec::new();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let key = match caller_key {
                Some(key) => Some((None, key)),
                None => endpoint.keys.pick(&tried).map(|i| (Some(i), endpoint.keys.get(i).secret.as_str())),
            };
            if key.is_none() && provider.requires_key {
                return Err(SendFailure { kind: FailureKind::NotConfigured, attempts: 0, key_hint: None });
            }
            let key_index = key.and_then(|(i, _)| i);
            let key_hint = key_index.map(|i| endpoint.keys.get(i).hint.clone());
            let mut request =
                self.client.post(&endpoint.url).header("content-type", "application/json").body(body.clone());
            if let Some((_, secret)) = key {
                request = request.bearer_auth(secret);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = tokio::time::timeout(remaining, request.send()).await;
            let last_chance = attempts >= self.max_attempts || Instant::now() >= deadline;
            let failure = match outcome {
                Ok(Ok(response)) => {
                    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    self.metrics.upstream_requests.with_label_values(&[provider.name, status_class(status)]).inc();
                    if !retryable || last_chance {
                        return Ok(Reply {
                            status,
                            content_type: response
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .map(String::from),
                            body: Box::pin(response.bytes_stream().map_err(|e| e.to_string())),
                            attempts,
                            key_hint,
                        });
                    }
                    self.metrics.upstream_errors.with_label_values(&[provider.name, status_class(status)]).inc();
                    if let Some(i) = key_index {
                        let rest = if status == StatusCode::TOO_MANY_REQUESTS {
                            retry_after(&response).unwrap_or(RATE_LIMIT_REST)
                        } else {
                            FAILURE_REST
                        };
                        endpoint.keys.rest(i, rest);
                    }
                    None
                }
                Ok(Err(e)) => {
                    let kind = if e.is_timeout() { FailureKind::Timeout } else { FailureKind::Unreachable };
                    Some(kind)
                }
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

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response.headers().get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.clamp(1, 300)))
}
