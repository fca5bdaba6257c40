//! Gateway credentials on the data plane, in either form:
//! `x-gateway-id` + `x-gateway-authorization`, or `Authorization: Bearer <secret>`.
//! With the `x-gateway-*` pair, an `Authorization` header is the caller's own
//! provider key for this one call.

use actix_web::HttpRequest;

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

pub struct Rejection {
    pub error: OpenAiError,
    /// Set when the gateway is known (a wrong secret for a real gateway id), so the
    /// failed call is metered for its owner.
    pub gateway: Option<GatewayAuth>,
}

impl From<OpenAiError> for Rejection {
    fn from(error: OpenAiError) -> Self {
        Self { error, gateway: None }
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name)?.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
}

pub async fn authenticate(req: &HttpRequest, cache: &GatewayCache) -> Result<Caller, Rejection> {
    let unavailable = |e| {
        tracing::error!(error = %e, "gateway lookup failed");
        OpenAiError::unavailable()
    };
    match (header(req, "x-gateway-id"), header(req, "x-gateway-authorization")) {
        (Some(id), Some(secret)) => {
            let secret = secret.strip_prefix("Bearer ").unwrap_or(secret).trim();
            let invalid = || OpenAiError::unauthorized("Invalid gateway id or gateway secret");
            let id: GatewayId = id.parse().map_err(|_| invalid())?;
            let gateway = cache.by_id(id).await.map_err(unavailable)?.ok_or_else(invalid)?;
            if !gateway.secret_hash.matches(&SecretHash::of(secret)) {
                return Err(Rejection { error: invalid(), gateway: Some(gateway) });
            }
            Ok(Caller { gateway, provider_key: bearer_token(req).map(String::from) })
        }
        (Some(_), None) | (None, Some(_)) => Err(OpenAiError::unauthorized(
            "Send both x-gateway-id and x-gateway-authorization, or only Authorization: Bearer <gateway secret>",
        )
        .into()),
        (None, None) => {
            let secret = bearer_token(req).ok_or_else(|| {
                OpenAiError::unauthorized(
                    "Missing gateway credentials: send Authorization: Bearer <gateway secret> (the api_key of your OpenAI client)",
                )
            })?;
            let gateway = cache
                .by_secret(secret)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| OpenAiError::unauthorized("Invalid gateway secret"))?;
            Ok(Caller { gateway, provider_key: None })
        }
    }
}
