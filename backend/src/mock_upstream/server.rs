//! The standalone fake provider: OpenAI chat completions over real HTTP, with
//! added latency and error injection, and a record of what it received so tests
//! can check what the gateway forwarded.
//!
//! Behaviour chosen per request, so one server serves many test cases:
//! - a model containing `fail-<status>` answers that status with an OpenAI error;
//! - a model containing `hang` never answers (timeouts);
//! - a model containing `slow` streams one chunk every 100 ms;
//! - a model containing `cut` ends the stream halfway without `[DONE]`;
//! - a model containing `stall` sends half the stream, then nothing, forever;
//! - a model containing `huge-event` streams one event larger than any gateway relays;
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

use super::openai::{error_body, Answer, MockRequest};

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
    pub body: String,
}

const RECORD_LIMIT: usize = 1000;

struct State {
    options: MockOptions,
    requests: Mutex<VecDeque<RecordedRequest>>,
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    handle: ServerHandle,
    state: Arc<State>,
}

impl MockUpstream {
    pub async fn start(listen: SocketAddr, options: MockOptions, workers: usize) -> std::io::Result<Self> {
        let state = Arc::new(State { options, requests: Mutex::new(VecDeque::new()) });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/chat/completions", web::post().to(chat))
                .route("/chat/completions", web::post().to(chat))
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

async fn chat(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
    if state.options.record {
        let mut requests = state.requests.lock().expect("lock");
        if requests.len() >= RECORD_LIMIT {
            requests.pop_front();
        }
        requests.push_back(RecordedRequest {
            path: req.path().to_string(),
            authorization: authorization.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let options = &state.options;
    if !options.latency.is_zero() {
        tokio::time::sleep(options.latency).await;
    }
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
    if options.error_rate > 0.0 && rand::random::<f64>() < options.error_rate {
        let status = StatusCode::from_u16(options.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return openai_error(status, "Injected failure", "server_error", None);
    }
    let request = match MockRequest::parse(&body) {
        Ok(request) => request,
        Err(message) => return openai_error(StatusCode::BAD_REQUEST, &message, "invalid_request_error", None),
    };
    if let Some(status) = failure_status(&request.model) {
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
    let delay = if request.model.contains("slow") { Duration::from_millis(100) } else { options.chunk_delay };
    let model = request.model.to_string();
    let mut events: Vec<String> = answer.sse_events(request.include_usage()).collect();
    if model.contains("cut") || model.contains("stall") {
        events.truncate(events.len() / 2);
    }
    if model.contains("huge-event") {
        events.insert(1, format!("data: {{\"pad\":\"{}\"}}\n\n", "x".repeat(4 * 1024 * 1024)));
    }
    let body = paced(events, Duration::ZERO, delay);
    let body: futures_util::stream::BoxStream<'static, _> =
        if model.contains("stall") { body.chain(stream::pending()).boxed() } else { body.boxed() };
    HttpResponse::Ok().content_type("text/event-stream").insert_header(("cache-control", "no-cache")).streaming(body)
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
