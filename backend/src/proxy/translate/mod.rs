//! Between the two protocols, in one place: a request one way, its answer and
//! stream events the other way. Used only when the client's surface and the
//! provider's protocol differ; otherwise bodies pass through untouched. Usage is
//! always read in the protocol the provider speaks (`usage.rs`), so a translation
//! can never lose it.

pub mod anthropic_answer;
pub mod anthropic_request;
pub mod anthropic_stream;
pub mod openai_answer;
pub mod openai_request;
pub mod openai_stream;

#[cfg(test)]
mod golden;

use serde_json::Value;

use crate::error::OpenAiError;

/// A string field, or a 400 naming where it should have been.
fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str, OpenAiError> {
    value.as_str().ok_or_else(|| invalid(format!("{what} must be a string")))
}

fn invalid(message: impl Into<String>) -> OpenAiError {
    OpenAiError::invalid_request(message)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
