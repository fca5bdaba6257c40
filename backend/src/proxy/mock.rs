//! The built-in `mock` provider: answers inside Tollgate, in OpenAI's protocol,
//! with the pace of a real provider (a first token after a few tens of
//! milliseconds, then a steady stream), so a fresh install shows believable
//! latencies without any key. `mock/slow-echo` streams slowly on purpose.

use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;
use futures_util::TryStreamExt;

use super::upstream::{BodyStream, Reply};
use crate::mock_upstream::{
    openai::{error_body, Answer, MockRequest},
    server::paced,
};

/// Time to the first token: a fixed start plus reading the prompt.
fn first_token(answer: &Answer) -> Duration {
    Duration::from_millis(30 + (answer.prompt_tokens / 10).min(270))
}

fn between_chunks(model: &str) -> Duration {
    Duration::from_millis(if model.starts_with("slow") { 80 } else { 8 })
}

pub fn reply(body: &Bytes) -> Reply {
    let reply = |status, content_type: &str, body: BodyStream| Reply {
        status,
        content_type: Some(content_type.to_string()),
        body,
        attempts: 1,
        key_hint: None,
    };
    let request = match MockRequest::parse(body) {
        Ok(request) => request,
        Err(message) => {
            let body = error_body(&message, "invalid_request_error", None).to_string();
            let once = paced(vec![body], Duration::ZERO, Duration::ZERO).map_err(|e| e.to_string());
            return reply(StatusCode::BAD_REQUEST, "application/json", Box::pin(once));
        }
    };
    let answer = Answer::to(&request);
    let events = answer.sse_events(request.include_usage());
    let (first, between) = (first_token(&answer), between_chunks(&request.model));
    if !request.streaming() {
        // The whole answer arrives when the last chunk would have.
        let total = first + between * events.len().saturating_sub(1) as u32;
        let body = paced(vec![answer.completion().to_string()], total, Duration::ZERO).map_err(|e| e.to_string());
        return reply(StatusCode::OK, "application/json", Box::pin(body));
    }
    let stream = paced(events, first, between).map_err(|e| e.to_string());
    reply(StatusCode::OK, "text/event-stream", Box::pin(stream))
}
