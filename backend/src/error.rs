//! The two error shapes: `ApiError` for the control plane and `OpenAiError` for the
//! data plane. Every status code is decided here and nowhere else.

use std::time::Duration;

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use serde_json::json;

use crate::{catalog::providers::Protocol, ids::GatewayId};

/// Control-plane errors: `{"error": {"code", "message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    /// Too many sign-in attempts for a username or from an address; the value is how long until the next may be tried.
    #[error("too many attempts; try again in {} seconds", retry_after_secs(.0))]
    TooManyAttempts(Duration),
    /// Every password-hashing slot is busy and the wait for one ran out.
    #[error("the server is busy; try again in {} seconds", retry_after_secs(.0))]
    Busy(Duration),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("service temporarily unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest("bad_request", message.into())
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(code, message.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(code, _) => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyAttempts(_) => "too_many_attempts",
            ApiError::Busy(_) => "busy",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyAttempts(_) | ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "control-plane request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::TooManyAttempts(wait) | ApiError::Busy(wait) = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs(wait)));
        }
        response.json(json!({"error": {"code": self.code(), "message": self.to_string()}}))
    }
}

/// Whole seconds, rounded up and at least one, as `Retry-After` wants them.
fn retry_after_secs(wait: &Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            // The database's own text names tables and constraints: it goes to the log
            // (as an internal error would), never into the response.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::warn!(error = info.message(), constraint = info.constraint_name(), "unique violation");
                ApiError::Conflict("something with these values already exists")
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Query(q) => q.into(),
            crate::db::DbError::PoolExhausted(_) | crate::db::DbError::Canceled => ApiError::Unavailable,
        }
    }
}

/// Data-plane errors in OpenAI's shape, with the status its SDKs expect.
#[derive(Debug, Clone)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
}

impl std::fmt::Display for OpenAiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl OpenAiError {
    fn new(status: StatusCode, kind: &'static str, code: Option<&'static str>, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), kind, code, param: None }
    }

    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", None, message)
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", Some("invalid_json"), message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", Some("invalid_api_key"), message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            format!("The model `{model}` does not exist or is not served by this gateway"),
        )
        .with_param("model")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn provider_not_configured(provider: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("provider_not_configured"),
            format!(
                "No API key is configured for provider `{provider}`: set {}_API_KEY on the gateway server, or send your own key",
                provider.to_uppercase()
            ),
        )
    }

    /// `OPERATOR_KEYS` keeps the operator's keys for this provider from tenants.
    pub fn provider_key_required(provider: &str, gateway: GatewayId) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("provider_key_required"),
            format!(
                "This gateway has no API key for provider `{provider}`, and this server does not lend its own: add one \
                 on the gateway's Keys page (POST /gateways/{gateway}/provider-keys), or send your own key with the call"
            ),
        )
    }

    /// The gateway's IP allow-list does not hold the caller's address.
    pub fn address_not_allowed(client: std::net::IpAddr) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            Some("ip_not_allowed"),
            format!("This gateway does not take calls from {client}: its IP allow-list does not include it"),
        )
    }

    pub fn upstream_unreachable(provider: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            Some("upstream_unreachable"),
            format!("Could not reach provider `{provider}`"),
        )
    }

    pub fn upstream_failed(provider: &str, status: u16) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            Some("upstream_error"),
            format!("Provider `{provider}` answered with status {status}"),
        )
    }

    /// A successful answer the gateway could not read (to translate it).
    pub fn upstream_unreadable(provider: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            Some("upstream_unreadable"),
            format!("Provider `{provider}` sent an answer the gateway could not read"),
        )
    }

    /// An answer (or one streamed event of it) beyond what the gateway relays.
    pub fn upstream_too_large(provider: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            Some("upstream_too_large"),
            format!("Provider `{provider}` sent an answer part larger than the gateway's limit of {limit} bytes"),
        )
    }

    pub fn upstream_timeout(provider: &str) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            Some("upstream_timeout"),
            format!("Provider `{provider}` did not answer in time"),
        )
    }

    /// A model the catalog has no price for, when the operator refuses those.
    pub fn unpriced_model(model: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("unpriced_model"),
            format!(
                "The model `{model}` has no price on this gateway, and unpriced models are refused \
                 (UNPRICED_MODELS=reject): the operator can price it in PRICING_FILE"
            ),
        )
        .with_param("model")
    }

    /// The gateway has no room for the request right now; the SDKs retry a 503.
    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            Some("server_busy"),
            "The gateway is handling too much request data right now; retry shortly",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            Some("service_unavailable"),
            "The gateway is temporarily unavailable",
        )
    }

    /// The shared limits (Redis) cannot be reached and `LIMITS_ON_REDIS_DOWN=closed`.
    pub fn limits_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            Some("limits_unavailable"),
            "The gateway cannot check this gateway's limits right now; retry shortly",
        )
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", Some("internal_error"), "Internal error")
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "code": self.code, "param": self.param}})
    }

    /// Anthropic's type for this error's status.
    pub fn anthropic_type(&self) -> &'static str {
        anthropic_type_of(self.status.as_u16())
    }

    /// The same error in Anthropic's shape, for the Messages API surface.
    pub fn anthropic_body(&self) -> serde_json::Value {
        json!({"type": "error", "error": {"type": self.anthropic_type(), "message": self.message}})
    }

    /// The answer in the shape of the surface the client speaks.
    pub fn response_for(&self, surface: Protocol) -> HttpResponse {
        match surface {
            Protocol::OpenAi => self.error_response(),
            Protocol::Anthropic => HttpResponse::build(self.status).json(self.anthropic_body()),
        }
    }
}

/// Anthropic's error type for an HTTP status, as its SDKs map them.
pub fn anthropic_type_of(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

impl ResponseError for OpenAiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}
