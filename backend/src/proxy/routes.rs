//! The data-plane handlers. Nothing here touches the relational database except
//! the gateway cache's one load on a miss.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{
    http::header::{HeaderName, HeaderValue},
    web, HttpRequest, HttpResponse, ResponseError,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    auth::{authenticate, AuthFailures},
    body::{read_body, share, BodyMemory},
    record::{CallRecord, ShutdownFlag},
    relay::{
        failure_summary, relay_stream, relay_unmetered, relay_whole, AnthropicPassthrough, OpenAiPassthrough,
        StreamLimits,
    },
    request::ChatRequest,
    timing::{ServerTiming, SERVER_TIMING},
    translate::{
        anthropic_request, anthropic_stream::AnthropicToOpenAi, openai_request, openai_stream::OpenAiToAnthropic,
    },
    upstream::{attempt_summary, retryable, Call, Keys, UpstreamPath, Upstreams},
};
use bytes::Bytes;

use crate::{
    auth::client_ip::ClientIp,
    busy_poll,
    catalog::price::Usage,
    catalog::{price::Price, providers::Protocol, Catalog, Route},
    config::UnpricedModels,
    error::OpenAiError,
    events::estimate::{count_prompt, PromptEstimate, Sample},
    events::EventSink,
    gateways::{Fallbacks, GatewayCache},
    ids::EventId,
    limits::{http::add_rate_headers, Ask, Denied, Limiter, Limits},
    proxy::keys::{GatewayKeys, KeyStates},
};

/// Everything the data plane needs, built once at start-up.
pub struct Proxy {
    pub cache: Arc<GatewayCache>,
    pub catalog: Arc<Catalog>,
    pub upstreams: Upstreams,
    pub limiter: Arc<Limiter>,
    /// The operator's maximum for every gateway's limits.
    pub ceiling: Limits,
    pub client_ip: ClientIp,
    /// What this process knows of each stored provider key it has loaded.
    pub key_states: Arc<KeyStates>,
    pub sink: EventSink,
    pub max_body_bytes: usize,
    pub body_memory: BodyMemory,
    pub auth_failures: AuthFailures,
    pub shutdown: ShutdownFlag,
    pub unpriced_models: UnpricedModels,
    /// The whole call, retries included, up to the end of a non-streamed answer.
    pub upstream_timeout: Duration,
    pub stream_limits: StreamLimits,
}

pub fn config(cfg: &mut web::ServiceConfig) {
    for prefix in ["", "/v1"] {
        cfg.route(&format!("{prefix}/chat/completions"), web::post().to(chat_completions))
            .route(&format!("{prefix}/messages"), web::post().to(messages))
            .route(&format!("{prefix}/messages/count_tokens"), web::post().to(count_tokens))
            .route(&format!("{prefix}/models"), web::get().to(list_models));
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's `x-request-id` when it is a sane token, else a new one.
fn request_id(req: &HttpRequest, event_id: EventId) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(|| event_id.to_string())
}

/// The headers every data-plane answer carries.
fn finish(mut response: HttpResponse, request_id: Option<HeaderValue>, timing: &ServerTiming) -> HttpResponse {
    let headers = response.headers_mut();
    if let Some(value) = request_id {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(SERVER_TIMING, timing.header());
    response
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "data plane",
    description = "OpenAI chat completions, streaming or not; also at `/chat/completions`. \
        Authenticate with `Authorization: Bearer <gateway secret>`, or `x-gateway-id` + `x-gateway-authorization` \
        (then an `Authorization: Bearer` is your own provider key for this call).",
    request_body(content = Object, description = "An OpenAI chat completion request"),
    responses((status = 200, description = "The provider's answer (JSON, or SSE when `stream` is true)"),
        (status = 400, description = "invalid_request_error"), (status = 401, description = "authentication_error"),
        (status = 404, description = "model_not_found"), (status = 413, description = "request_too_large"),
        (status = 502, description = "provider failed"), (status = 503, description = "server_busy"),
        (status = 504, description = "provider timed out")),
    security(("gateway_secret" = [])))]
pub async fn chat_completions(req: HttpRequest, payload: web::Payload, proxy: web::Data<Proxy>) -> HttpResponse {
    serve(req, payload, proxy, Protocol::OpenAi).await
}

#[utoipa::path(post, path = "/v1/messages", tag = "data plane",
    description = "Anthropic's Messages API, streaming or not; also at `/messages`. Any catalog model: a Claude \
        model is relayed to Anthropic as it came, any other is translated to the OpenAI protocol and back. \
        Authenticate with the gateway secret in `x-api-key` (Anthropic's SDKs) or `Authorization: Bearer` \
        (Claude Code's `ANTHROPIC_AUTH_TOKEN`), or the `x-gateway-*` pair. Errors in Anthropic's shape.",
    request_body(content = Object, description = "An Anthropic Messages API request"),
    responses((status = 200, description = "The message (JSON, or Anthropic's SSE events when `stream` is true)"),
        (status = 400, description = "invalid_request_error"), (status = 401, description = "authentication_error"),
        (status = 404, description = "not_found_error"), (status = 413, description = "request_too_large"),
        (status = 502, description = "api_error: the provider failed"), (status = 504, description = "timeout_error")),
    security(("gateway_secret" = [])))]
pub async fn messages(req: HttpRequest, payload: web::Payload, proxy: web::Data<Proxy>) -> HttpResponse {
    serve(req, payload, proxy, Protocol::Anthropic).await
}

/// One metered call on either surface.
async fn serve(req: HttpRequest, payload: web::Payload, proxy: web::Data<Proxy>, surface: Protocol) -> HttpResponse {
    // A step of the call: the worker polls for the next (the provider's answer).
    busy_poll::arrived();
    let started = Instant::now();
    let mut timing = ServerTiming::start(started);
    let event_id = EventId::new();
    let request_id = request_id(&req, event_id);
    let request_header = HeaderValue::from_str(&request_id).ok();
    let caller = match authenticate(&req, &proxy.cache, &proxy.auth_failures).await {
        Ok(caller) => caller,
        Err(error) => return finish(error.response_for(surface), request_header, &timing),
    };
    let fallbacks = caller.gateway.fallbacks.clone();
    let gateway_keys = caller.gateway.keys.clone();
    let limits = caller.gateway.limits.within(&proxy.ceiling);
    let allowed = caller.gateway.allowed_ips.clone();
    let mut record =
        CallRecord::start(started, request_id, event_id, caller.gateway, proxy.sink.clone(), proxy.shutdown.clone());
    record.endpoint = match surface {
        Protocol::OpenAi => "/chat/completions",
        Protocol::Anthropic => "/messages",
    };
    if let Err(error) = admitted_from(&req, &proxy, &allowed) {
        record.fail(&error);
        return finish(error.response_for(surface), request_header, &timing);
    }
    let keys = CallKeys { caller: caller.provider_key.as_deref(), gateway: &gateway_keys };
    let call = Calling { keys, fallbacks: &fallbacks, limits: &limits };
    let response = proxy_call(&req, payload, &proxy, call, record, &mut timing, surface).await;
    finish(response, request_header, &timing)
}

/// A gateway with an IP allow-list takes calls only from the addresses on it.
fn admitted_from(req: &HttpRequest, proxy: &Proxy, allowed: &[ipnet::IpNet]) -> Result<(), OpenAiError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let client = proxy.client_ip.of(req);
    match allowed.iter().any(|net| net.contains(&client)) {
        true => Ok(()),
        false => Err(OpenAiError::address_not_allowed(client)),
    }
}

/// The client's `anthropic-version` and `anthropic-beta`, passed on to Anthropic
/// (Claude Code turns features on with betas).
fn anthropic_headers(req: &HttpRequest) -> Vec<(http::header::HeaderName, http::header::HeaderValue)> {
    ["anthropic-version", "anthropic-beta"]
        .into_iter()
        .filter_map(|name| {
            let value = http::header::HeaderValue::from_bytes(req.headers().get(name)?.as_bytes()).ok()?;
            Some((http::header::HeaderName::from_static(name), value))
        })
        .collect()
}

/// The keys a call may use: the caller's own, and the gateway's stored ones.
#[derive(Clone, Copy)]
struct CallKeys<'a> {
    caller: Option<&'a str>,
    gateway: &'a GatewayKeys,
}

/// What the gateway says about a call: its keys, fallbacks and limits.
struct Calling<'a> {
    keys: CallKeys<'a>,
    fallbacks: &'a Fallbacks,
    limits: &'a Limits,
}

/// What a call asks of its gateway's limits: its prompt (estimated at four bytes a
/// token) plus the most it may answer, and its worst case cost over the routes it
/// may take (the prompt bounded by its size in bytes: a token is at least a byte).
fn ask<'r>(chat: &ChatRequest, body: &Bytes, routes: impl Iterator<Item = &'r Route> + Clone) -> Ask {
    let asked = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|name| chat.field(name).and_then(|raw| raw.parse::<u64>().ok()));
    let most = |route: &Route| asked.unwrap_or_else(|| route.answer_limit());
    let prompt = (body.len() as u64).div_ceil(4);
    let tokens = prompt + routes.clone().map(most).max().unwrap_or_default();
    let cost = routes
        .filter_map(|route| {
            let usage = Usage { prompt: body.len() as u64, completion: most(route), ..Usage::default() };
            Some(route.price?.cost_nanousd(&usage))
        })
        .max();
    Ask { tokens, cost_nanousd: cost }
}

async fn proxy_call(
    req: &HttpRequest,
    payload: web::Payload,
    proxy: &Proxy,
    calling: Calling<'_>,
    mut record: CallRecord,
    timing: &mut ServerTiming,
    surface: Protocol,
) -> HttpResponse {
    let fail = |record: CallRecord, error: OpenAiError| {
        record.fail(&error);
        error.response_for(surface)
    };
    let (body, mut body_memory) = match read_body(req, payload, proxy.max_body_bytes, &proxy.body_memory).await {
        Ok(read) => read,
        Err(error) => return fail(record, error),
    };
    let parsed = match surface {
        Protocol::OpenAi => ChatRequest::parse(&body),
        Protocol::Anthropic => ChatRequest::parse_messages(&body),
    };
    let chat = match parsed {
        Ok(chat) => chat,
        Err(error) => return fail(record, error),
    };
    record.model = chat.model.to_string();
    record.streaming = chat.stream;
    let primary = match proxy.catalog.resolve(&chat.model) {
        Some(route) if proxy.upstreams.serves(route.provider) => route,
        _ => return fail(record, OpenAiError::model_not_found(&chat.model)),
    };
    if primary.price.is_none() && proxy.unpriced_models == UnpricedModels::Reject {
        record.provider = primary.provider.name;
        return fail(record, OpenAiError::unpriced_model(&chat.model));
    }
    let keys = calling.keys;
    let keys_for = |route: &Route| proxy.upstreams.keys_for(route.provider, keys.caller, keys.gateway);
    let Some(primary_keys) = keys_for(&primary) else {
        record.provider = primary.provider.name;
        let error = OpenAiError::provider_key_required(primary.provider.name, record.gateway_id());
        return fail(record, error);
    };
    // The requested model, then its fallbacks that this server can route with a key
    // (and price, when unpriced models are refused).
    let fallbacks = calling.fallbacks.chain(&chat.model);
    let routes: Vec<(Route, Keys)> = std::iter::once((primary, primary_keys))
        .chain(fallbacks.iter().filter_map(|model| {
            let route = proxy.catalog.resolve(model)?;
            let priced = route.price.is_some() || proxy.unpriced_models == UnpricedModels::Allow;
            if !(proxy.upstreams.serves(route.provider) && priced) {
                return None;
            }
            let keys = keys_for(&route)?;
            Some((route, keys))
        }))
        .collect();
    // Within the gateway's limits, or refused before anything goes upstream. Every
    // call is admitted, limits or not, so that its spend counts towards a budget set later.
    let admitted = proxy
        .limiter
        .admit(record.gateway_id(), calling.limits, ask(&chat, &body, routes.iter().map(|(route, _)| route)))
        .await;
    let rate = match admitted {
        Ok(ticket) => {
            let rate = ticket.rate;
            record.ticket = Some(ticket);
            rate
        }
        Err(Denied::Limit(refusal)) => {
            record.provider = routes[0].0.provider.name;
            let error = refusal.error();
            let mut response = error.response_for(surface);
            refusal.decorate(&mut response);
            record.fail(&error);
            return response;
        }
        Err(Denied::Unavailable) => return fail(record, OpenAiError::limits_unavailable()),
    };
    let mut routes = routes.into_iter().peekable();
    // The share held for a rewritten copy of the body goes back at once when the
    // body goes out as it came (and no fallback may need it rewritten).
    let copy_share = body_memory.split(share(body.len()));
    if fallbacks.is_empty()
        && routes.peek().is_some_and(|(r, _)| r.provider.protocol() == surface && !chat.needs_rewrite(&r.upstream_id))
    {
        drop(copy_share);
    }
    let deadline = record.started() + proxy.upstream_timeout;
    timing.upstream_begins();
    let (reply, protocol) = loop {
        let (route, route_keys) = routes.next().expect("a route is left");
        let more = routes.peek().is_some();
        let protocol = route.provider.protocol();
        record.provider = route.provider.name;
        record.price = route.price;
        let upstream_body = match upstream_request(&chat, &body, &route, surface) {
            Ok(upstream_body) => upstream_body,
            Err(error) => return fail(record, error),
        };
        let forward = if surface == Protocol::Anthropic && protocol == Protocol::Anthropic {
            anthropic_headers(req)
        } else {
            Vec::new()
        };
        record.upstream_model = route.upstream_id;
        let call =
            Call { provider: route.provider, path: UpstreamPath::Generate, headers: &forward, fallback_next: more };
        let sent = proxy.upstreams.send(call, upstream_body, route_keys, deadline).await;
        busy_poll::active();
        let (attempts, earlier, key_hint) = match &sent {
            Ok(reply) => (reply.attempts, &reply.failed, &reply.key_hint),
            Err(failure) => (failure.attempts, &failure.failed, &failure.key_hint),
        };
        record.attempts += attempts;
        record.note_failures(earlier);
        record.key_hint = key_hint.clone();
        // The last attempt at this model, noted when another model is tried after it.
        match sent {
            Ok(reply) if !more || !retryable(reply.status) => {
                record.answered = reply.status.is_success();
                break (reply, protocol);
            }
            Ok(reply) => {
                let summary = failure_summary(reply, deadline, protocol).await;
                record.note_failure(attempt_summary(record.key_hint.as_deref(), summary));
            }
            Err(failure) if !more => {
                timing.upstream_ends();
                let error = failure.error(record.provider);
                return fail(record, error);
            }
            Err(failure) => {
                record.note_failure(attempt_summary(record.key_hint.as_deref(), failure.kind.label().to_string()))
            }
        }
    };
    let (stream, wants_usage) = (chat.stream, chat.wants_usage);
    drop(chat);
    // The body is kept (within its share of the request memory) to count its prompt
    // should the provider not report usage; a huge one only by its size.
    record.prompt_sample = Some(Sample::of(&body));
    if matches!(record.prompt_sample, Some(Sample::Body(_))) {
        record.sample_memory = Some(body_memory);
    } else {
        drop(body_memory);
    }
    drop(body);
    let mut response = if stream && reply.status.is_success() {
        timing.upstream_ends();
        let limits = proxy.stream_limits;
        match (surface, protocol) {
            (Protocol::OpenAi, Protocol::OpenAi) => {
                relay_stream(reply, record, OpenAiPassthrough { strip_usage: !wants_usage }, limits).await
            }
            (Protocol::OpenAi, Protocol::Anthropic) => {
                relay_stream(reply, record, AnthropicToOpenAi::new(wants_usage), limits).await
            }
            (Protocol::Anthropic, Protocol::Anthropic) => {
                relay_stream(reply, record, AnthropicPassthrough::new(), limits).await
            }
            (Protocol::Anthropic, Protocol::OpenAi) => {
                relay_stream(reply, record, OpenAiToAnthropic::new(), limits).await
            }
        }
    } else {
        relay_whole(reply, record, deadline, timing, (surface, protocol)).await
    };
    add_rate_headers(&mut response, &rate);
    response
}

/// The body `route`'s provider gets: the client's, with at most the model id and the
/// usage request rewritten, when it speaks the surface's protocol; translated otherwise.
fn upstream_request(chat: &ChatRequest, body: &Bytes, route: &Route, surface: Protocol) -> Result<Bytes, OpenAiError> {
    let translated = match (surface, route.provider.protocol()) {
        (Protocol::OpenAi, Protocol::Anthropic) => {
            anthropic_request::translate(body, &route.upstream_id, route.answer_limit())?
        }
        (Protocol::Anthropic, Protocol::OpenAi) => {
            openai_request::translate(body, &route.upstream_id, route.provider.name)?
        }
        _ => return Ok(chat.upstream_body(body, &route.upstream_id)),
    };
    Ok(Bytes::from(translated.to_string()))
}

#[utoipa::path(post, path = "/v1/messages/count_tokens", tag = "data plane",
    description = "Anthropic's token count for a Messages API request; also at `/messages/count_tokens`. Relayed to \
        Anthropic for Claude models; for any other model, an estimate of about four characters a token. Not metered.",
    request_body(content = Object, description = "An Anthropic Messages API request, without max_tokens"),
    responses((status = 200, description = "`{\"input_tokens\": n}`"), (status = 400, description = "invalid_request_error"),
        (status = 401, description = "authentication_error"), (status = 404, description = "not_found_error")),
    security(("gateway_secret" = [])))]
pub async fn count_tokens(req: HttpRequest, payload: web::Payload, proxy: web::Data<Proxy>) -> HttpResponse {
    let timing = ServerTiming::start(Instant::now());
    let fail = |error: OpenAiError| finish(error.response_for(Protocol::Anthropic), None, &timing);
    let caller = match authenticate(&req, &proxy.cache, &proxy.auth_failures).await {
        Ok(caller) => caller,
        Err(error) => return fail(error),
    };
    if let Err(error) = admitted_from(&req, &proxy, &caller.gateway.allowed_ips) {
        return fail(error);
    }
    let (body, _memory) = match read_body(&req, payload, proxy.max_body_bytes, &proxy.body_memory).await {
        Ok(read) => read,
        Err(error) => return fail(error),
    };
    let request = match ChatRequest::parse_count(&body) {
        Ok(request) => request,
        Err(error) => return fail(error),
    };
    let route = match proxy.catalog.resolve(&request.model) {
        Some(route) if proxy.upstreams.serves(route.provider) => route,
        _ => return fail(OpenAiError::model_not_found(&request.model)),
    };
    let gateway = &caller.gateway;
    let Some(keys) = proxy.upstreams.keys_for(route.provider, caller.provider_key.as_deref(), &gateway.keys) else {
        return fail(OpenAiError::provider_key_required(route.provider.name, gateway.gateway_id));
    };
    if route.provider.protocol() != Protocol::Anthropic {
        // The estimate a call without usage gets, at four characters a token.
        let estimate = PromptEstimate { request: Sample::of(&body), openai: false, price: None };
        let tokens = count_prompt(&estimate);
        return finish(HttpResponse::Ok().json(serde_json::json!({ "input_tokens": tokens })), None, &timing);
    }
    let upstream_body = request.upstream_body(&body, &route.upstream_id);
    let forward = anthropic_headers(&req);
    let call =
        Call { provider: route.provider, path: UpstreamPath::CountTokens, headers: &forward, fallback_next: false };
    let deadline = Instant::now() + proxy.upstream_timeout;
    let response = match proxy.upstreams.send(call, upstream_body, keys, deadline).await {
        Ok(reply) => relay_unmetered(reply, deadline, route.provider.name).await,
        Err(failure) => Err(failure.error(route.provider.name)),
    };
    match response {
        Ok(response) => finish(response, None, &timing),
        Err(error) => fail(error),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ModelPricing {
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    pub cached_input_per_mtok: f64,
    /// Writing the provider's prompt cache (Anthropic); the input price elsewhere.
    pub cache_write_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ModelEntry {
    /// `provider/model`, accepted as `model` in chat completions.
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
    pub pricing: ModelPricing,
    pub context_window: Option<u64>,
    /// The most tokens one answer may hold.
    pub max_output_tokens: Option<u64>,
    /// Whether this server can call the provider (it has a key, or needs none).
    pub available: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

#[utoipa::path(get, path = "/v1/models", tag = "data plane", description = "Models this gateway serves, with prices; also at `/models`.",
    responses((status = 200, body = ModelList), (status = 401, description = "authentication_error")),
    security(("gateway_secret" = [])))]
pub async fn list_models(req: HttpRequest, proxy: web::Data<Proxy>) -> HttpResponse {
    let timing = ServerTiming::start(Instant::now());
    let caller = match authenticate(&req, &proxy.cache, &proxy.auth_failures).await {
        Ok(caller) => caller,
        Err(error) => return finish(error.error_response(), None, &timing),
    };
    if let Err(error) = admitted_from(&req, &proxy, &caller.gateway.allowed_ips) {
        return finish(error.error_response(), None, &timing);
    }
    let data = proxy
        .catalog
        .models()
        .iter()
        .filter(|m| proxy.upstreams.serves(m.provider))
        .map(|m| ModelEntry {
            id: m.qualified_id(),
            object: "model",
            created: 0,
            owned_by: m.provider.name.to_string(),
            pricing: ModelPricing {
                input_per_mtok: Price::per_million_usd(m.price.input),
                cached_input_per_mtok: Price::per_million_usd(m.price.cached_input),
                cache_write_per_mtok: Price::per_million_usd(m.price.cache_write),
                output_per_mtok: Price::per_million_usd(m.price.output),
            },
            context_window: m.context_window,
            max_output_tokens: m.max_output_tokens,
            available: proxy.upstreams.available(m.provider),
        })
        .collect();
    finish(HttpResponse::Ok().json(ModelList { object: "list", data }), None, &timing)
}
