//! Gateway credentials on the data plane, in either form:
//! `x-gateway-id` + `x-gateway-authorization`, or the secret alone, in
//! `Authorization: Bearer <secret>` (OpenAI's SDKs, Claude Code's auth token) or
//! `x-api-key` (Anthropic's SDKs). With the `x-gateway-*` pair, an `Authorization`
//! or `x-api-key` header is the caller's own provider key for this one call.
//!
//! A failed authentication belongs to nobody: it is never metered for the gateway
//! it names (anyone can name a gateway id), only counted in `/metrics` without a
//! gateway label and logged at a bounded rate.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{http::header::HeaderName, HttpRequest};
use prometheus::IntCounterVec;

use crate::{
    auth::{jwt::bearer_token, secrets::SecretHash},
    error::OpenAiError,
    gateways::{GatewayAuth, GatewayCache},
    ids::GatewayId,
};

pub struct Caller {
    pub gateway: GatewayAuth,
    /// The caller's own provider key, used upstream instead of the operator's. Never stored or logged.
    pub provider_key: Option<String>,
}

/// Why credentials were refused: the `reason` label of `tollgate_auth_failures_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Missing,
    Incomplete,
    UnknownSecret,
    WrongSecret,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Incomplete => "incomplete",
            Refusal::UnknownSecret => "unknown_secret",
            Refusal::WrongSecret => "wrong_secret",
        }
    }

    fn error(self) -> OpenAiError {
        match self {
            Refusal::Missing => OpenAiError::unauthorized(
                "Missing gateway credentials: send Authorization: Bearer <gateway secret> (the api_key of your OpenAI client) \
                 or x-api-key: <gateway secret> (the api_key of your Anthropic client)",
            ),
            Refusal::Incomplete => OpenAiError::unauthorized(
                "Send both x-gateway-id and x-gateway-authorization, or only Authorization: Bearer <gateway secret>",
            ),
            Refusal::UnknownSecret => OpenAiError::unauthorized("Invalid gateway secret"),
            Refusal::WrongSecret => OpenAiError::unauthorized("Invalid gateway id or gateway secret"),
        }
    }
}

/// Failed authentications: counted, and logged at most once a second with how
/// many were left out, so a flood cannot fill the logs.
pub struct AuthFailures {
    counter: IntCounterVec,
    last_logged_s: AtomicU64,
    unlogged: AtomicU64,
}

impl AuthFailures {
    pub fn new(counter: IntCounterVec) -> Self {
        Self { counter, last_logged_s: AtomicU64::new(0), unlogged: AtomicU64::new(0) }
    }

    fn record(&self, req: &HttpRequest, refusal: Refusal) -> OpenAiError {
        self.counter.with_label_values(&[refusal.label()]).inc();
        let now = chrono::Utc::now().timestamp() as u64;
        let last = self.last_logged_s.load(Ordering::Relaxed);
        if now > last && self.last_logged_s.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let also = self.unlogged.swap(0, Ordering::Relaxed);
            let peer = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
            tracing::warn!(reason = refusal.label(), %peer, similar_unlogged = also, "gateway authentication failed");
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
        }
        refusal.error()
    }
}

const GATEWAY_ID: HeaderName = HeaderName::from_static("x-gateway-id");
const GATEWAY_AUTHORIZATION: HeaderName = HeaderName::from_static("x-gateway-authorization");
const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

fn header<'a>(req: &'a HttpRequest, name: &HeaderName) -> Option<&'a str> {
    req.headers().get(name)?.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
}

pub async fn authenticate(
    req: &HttpRequest,
    cache: &GatewayCache,
    failures: &AuthFailures,
) -> Result<Caller, OpenAiError> {
    let unavailable = |e| {
        tracing::error!(error = %e, "gateway lookup failed");
        OpenAiError::unavailable()
    };
    let refuse = |refusal| Err(failures.record(req, refusal));
    match (header(req, &GATEWAY_ID), header(req, &GATEWAY_AUTHORIZATION)) {
        (Some(id), Some(secret)) => {
            let secret = secret.strip_prefix("Bearer ").unwrap_or(secret).trim();
            let Ok(id) = id.parse::<GatewayId>() else { return refuse(Refusal::WrongSecret) };
            let Some(gateway) = cache.by_id(id).await.map_err(unavailable)? else {
                return refuse(Refusal::WrongSecret);
            };
            if !gateway.secret_hash.matches(&SecretHash::of(secret)) {
                return refuse(Refusal::WrongSecret);
            }
            // An SDK given the gateway secret as its api_key sends it here too: that
            // is not a provider key, and the secret never leaves for a provider.
            let own_key = bearer_token(req).or_else(|| header(req, &API_KEY));
            let provider_key = own_key.filter(|key| *key != secret).map(String::from);
            Ok(Caller { gateway, provider_key })
        }
        (Some(_), None) | (None, Some(_)) => refuse(Refusal::Incomplete),
        (None, None) => {
            let Some(secret) = bearer_token(req).or_else(|| header(req, &API_KEY)) else {
                return refuse(Refusal::Missing);
            };
            match cache.by_secret(secret).await.map_err(unavailable)? {
                Some(gateway) => Ok(Caller { gateway, provider_key: None }),
                None => refuse(Refusal::UnknownSecret),
            }
        }
    }
}
