//! The built-in `mock` provider: answers inside Tollgate, in OpenAI's protocol,
//! with the pace of a real provider (a first token after a few tens of
//! milliseconds, then a steady stream), so a fresh install shows believable
//! latencies without any key. `mock/slow-echo` streams slowly on purpose.
//! It reads the request without copying it and answers with at most
//! `MAX_ANSWER_CHARS`, made chunk by chunk as they are sent, so a huge request
//! costs no more than a small one.

use std::time::Duration;

use actix_web::http::{header::HeaderValue, StatusCode};
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
    let reply = |status, content_type: &'static str, body: BodyStream| Reply {
        status,
        content_type: Some(HeaderValue::from_static(content_type)),
        body,
        attempts: 1,
        key_hint: None,
        failed: Vec::new(),
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
    let (first, between) = (first_token(&answer), between_chunks(&request.model));
    if !request.streaming() {
        // The whole answer arrives when the last chunk would have: one per word.
        let chunks = answer.content.split_inclusive(' ').count() as u32 + 1;
        let body = paced([answer.completion().to_string()], first + between * chunks, Duration::ZERO)
            .map_err(|e| e.to_string());
        return reply(StatusCode::OK, "application/json", Box::pin(body));
    }
    let stream = paced(answer.sse_events(request.include_usage()), first, between).map_err(|e| e.to_string());
    reply(StatusCode::OK, "text/event-stream", Box::pin(stream))
}
