//! The standalone fake provider: OpenAI chat completions (`/v1/chat/completions`)
//! and Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`) over
//! real HTTP, with added latency and error injection, and a record of what it
//! received so tests can check what the gateway forwarded. Each protocol answers
//! with its own shapes, errors included; the Anthropic side wants `x-api-key` and
//! `anthropic-version`, as Anthropic does.
//!
//! Behaviour chosen per request, so one server serves many test cases:
//! - a model containing `fail-<status>` answers that status with an OpenAI error;
//! - a model containing `hang` never answers (timeouts);
//! - a model containing `slow` streams one chunk every 100 ms;
//! - a model containing `cut` ends the stream halfway without `[DONE]`;
//! - a model containing `stall` sends half the stream, then nothing, forever;
//! - a model containing `huge-event` streams one event larger than any gateway relays;
//! - a model containing `midstream-error` streams half, then an error event;
//! - a model containing `flaky` fails with 500 on its first request, answers the
//!   second, and so on in turn (counted per model name);
//! - a key containing `ratelimited` gets 429, one containing `invalid` gets 401.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{dev::ServerHandle, http::StatusCode, web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::json;

use super::{
    anthropic::{self, MessagesRequest},
    openai::{error_body, Answer, MockRequest},
};

#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Added before every answer.
    pub latency: Duration,
    /// Share of requests (0..=1) answered with `error_status` instead.
    pub error_rate: f64,
    pub error_status: u16,
    /// Pause between streamed chunks.
    pub chunk_delay: Duration,
    /// Keep the last requests for `GET /_mock/requests` (off in benchmarks).
    pub record: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self { latency: Duration::ZERO, error_rate: 0.0, error_status: 500, chunk_delay: Duration::ZERO, record: true }
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub api_key: Option<String>,
    pub anthropic_version: Option<String>,
    pub body: String,
}

const RECORD_LIMIT: usize = 1000;

struct State {
    options: MockOptions,
    requests: Mutex<VecDeque<RecordedRequest>>,
    /// Requests seen per `flaky` model.
    flaky: Mutex<std::collections::HashMap<String, u64>>,
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    handle: ServerHandle,
    state: Arc<State>,
}

impl MockUpstream {
    pub async fn start(listen: SocketAddr, options: MockOptions, workers: usize) -> std::io::Result<Self> {
        let state = Arc::new(State { options, requests: Mutex::new(VecDeque::new()), flaky: Mutex::default() });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/chat/completions", web::post().to(chat))
                .route("/chat/completions", web::post().to(chat))
                .route("/v1/messages", web::post().to(messages))
                .route("/v1/messages/count_tokens", web::post().to(count_tokens))
                .route("/v1/models", web::get().to(models))
                .route("/_mock/requests", web::get().to(recorded))
                .route("/_mock/requests", web::delete().to(clear))
        })
        .workers(workers)
        .tcp_nodelay(true)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(listen)?;
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { addr, handle, state })
    }

    /// In the OpenAI SDK's convention, as `<PROVIDER>_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("lock").iter().cloned().collect()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> HttpResponse {
    HttpResponse::build(status).json(error_body(message, kind, code))
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from)
}

/// Keeps the request for `GET /_mock/requests`, then waits the configured latency.
async fn receive(req: &HttpRequest, body: &Bytes, state: &State) {
    if state.options.record {
        let mut requests = state.requests.lock().expect("lock");
        if requests.len() >= RECORD_LIMIT {
            requests.pop_front();
        }
        requests.push_back(RecordedRequest {
            path: req.path().to_string(),
            authorization: header(req, "authorization"),
            api_key: header(req, "x-api-key"),
            anthropic_version: header(req, "anthropic-version"),
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }
    if !state.options.latency.is_zero() {
        tokio::time::sleep(state.options.latency).await;
    }
}

/// The status an injected failure answers with, if this request gets one.
fn injected_failure(state: &State, model: &str) -> Option<StatusCode> {
    let options = &state.options;
    if options.error_rate > 0.0 && rand::random::<f64>() < options.error_rate {
        return Some(StatusCode::from_u16(options.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if model.contains("flaky") {
        let mut seen = state.flaky.lock().expect("lock");
        let count = seen.entry(model.to_string()).or_default();
        *count += 1;
        if *count % 2 == 1 {
            return Some(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    failure_status(model)
}

/// A stream's events shaped by the model's behaviour (`slow`, `cut`, `stall`,
/// `huge-event`, `midstream-error`); `error_event` is the protocol's error event.
fn stream_events(
    model: &str,
    mut events: Vec<String>,
    error_event: String,
    options: &MockOptions,
    content_type: &'static str,
) -> HttpResponse {
    let delay = if model.contains("slow") { Duration::from_millis(100) } else { options.chunk_delay };
    if model.contains("cut") || model.contains("stall") || model.contains("midstream-error") {
        events.truncate(events.len() / 2);
    }
    if model.contains("midstream-error") {
        events.push(error_event);
    }
    if model.contains("huge-event") {
        events.insert(1, format!("data: {{\"pad\":\"{}\"}}\n\n", "x".repeat(4 * 1024 * 1024)));
    }
    let body = paced(events, Duration::ZERO, delay);
    let body: futures_util::stream::BoxStream<'static, _> =
        if model.contains("stall") { body.chain(stream::pending()).boxed() } else { body.boxed() };
    HttpResponse::Ok().content_type(content_type).insert_header(("cache-control", "no-cache")).streaming(body)
}

async fn chat(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    receive(&req, &body, &state).await;
    let options = &state.options;
    let authorization = header(&req, "authorization");
    let key = authorization.as_deref().unwrap_or_default();
    if key.contains("invalid") {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
            "invalid_request_error",
            Some("invalid_api_key"),
        );
    }
    if key.contains("ratelimited") {
        let mut response =
            openai_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached", "requests", Some("rate_limit_exceeded"));
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from_static("30"));
        return response;
    }
    let request = match MockRequest::parse(&body) {
        Ok(request) => request,
        Err(message) => return openai_error(StatusCode::BAD_REQUEST, &message, "invalid_request_error", None),
    };
    if let Some(status) = injected_failure(&state, &request.model) {
        return openai_error(status, &format!("Simulated failure {}", status.as_u16()), "server_error", None);
    }
    if request.model.contains("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if request.messages.is_empty() {
        return openai_error(StatusCode::BAD_REQUEST, "'messages' must not be empty", "invalid_request_error", None);
    }
    let answer = Answer::to(&request);
    if !request.streaming() {
        return HttpResponse::Ok().json(answer.completion());
    }
    let model = request.model.to_string();
    let events = answer.sse_events(request.include_usage()).collect();
    let error = format!("data: {}\n\n", error_body("The server is overloaded", "server_error", None));
    stream_events(&model, events, error, options, "text/event-stream")
}

fn anthropic_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(anthropic::error_body(anthropic::error_type(status.as_u16()), message))
}

/// The checks Anthropic makes before reading a request: a key, a good key, a
/// version. The refusal, if any.
fn anthropic_gate(req: &HttpRequest) -> Option<HttpResponse> {
    let key = header(req, "x-api-key").unwrap_or_default();
    if key.is_empty() {
        return Some(anthropic_error(StatusCode::UNAUTHORIZED, "x-api-key header is required"));
    }
    if key.contains("invalid") {
        return Some(anthropic_error(StatusCode::UNAUTHORIZED, "invalid x-api-key"));
    }
    if key.contains("ratelimited") {
        let mut response =
            anthropic_error(StatusCode::TOO_MANY_REQUESTS, "Number of requests has exceeded your rate limit");
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from_static("30"));
        return Some(response);
    }
    if header(req, "anthropic-version").is_none() {
        return Some(anthropic_error(StatusCode::BAD_REQUEST, "anthropic-version: header is required"));
    }
    None
}

async fn messages(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    receive(&req, &body, &state).await;
    if let Some(response) = anthropic_gate(&req) {
        return response;
    }
    let request = match MessagesRequest::parse(&body) {
        Ok(request) => request,
        Err(message) => return anthropic_error(StatusCode::BAD_REQUEST, &message),
    };
    let options = &state.options;
    if let Some(status) = injected_failure(&state, &request.model) {
        return anthropic_error(status, &format!("Simulated failure {}", status.as_u16()));
    }
    if request.model.contains("hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let message = request.answer();
    if !request.stream {
        return HttpResponse::Ok().json(message.body());
    }
    let error = anthropic::sse(&anthropic::error_body("overloaded_error", "Overloaded"));
    stream_events(&request.model, message.sse_events(), error, options, "text/event-stream; charset=utf-8")
}

async fn count_tokens(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    receive(&req, &body, &state).await;
    if let Some(response) = anthropic_gate(&req) {
        return response;
    }
    match MessagesRequest::parse_for_count(&body) {
        Ok(request) => HttpResponse::Ok().json(request.count_tokens()),
        Err(message) => anthropic_error(StatusCode::BAD_REQUEST, &message),
    }
}

/// Chunks as a body stream: the first after `first`, the others `between` apart.
pub fn paced(
    events: impl IntoIterator<Item = String, IntoIter: Send + 'static>,
    first: Duration,
    between: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    stream::iter(events.into_iter().enumerate()).then(move |(i, event)| async move {
        let pause = if i == 0 { first } else { between };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Ok(Bytes::from(event))
    })
}

fn failure_status(model: &str) -> Option<StatusCode> {
    let code = model.split("fail-").nth(1)?.get(..3)?;
    StatusCode::from_u16(code.parse().ok()?).ok()
}

async fn models() -> HttpResponse {
    HttpResponse::Ok().json(
        json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]}),
    )
}

async fn recorded(state: web::Data<State>) -> HttpResponse {
    let requests: Vec<_> = state.requests.lock().expect("lock").iter().cloned().collect();
    HttpResponse::Ok().json(requests)
}

async fn clear(state: web::Data<State>) -> HttpResponse {
    state.requests.lock().expect("lock").clear();
    HttpResponse::NoContent().finish()
}
