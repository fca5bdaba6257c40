//! OpenAI answers in Anthropic's shape: a `chat.completion` as a `message`, an
//! error body as Anthropic's error.

use serde_json::{json, Value};

use crate::{catalog::Usage, proxy::usage::OpenAiUsage};

/// Anthropic's `stop_reason` for OpenAI's `finish_reason`.
pub fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's `usage` for an OpenAI usage: `input_tokens` leaves the cached ones out.
pub fn anthropic_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt.saturating_sub(usage.cached + usage.cache_write),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": usage.completion,
    })
}

/// The Anthropic message for a `chat.completion`, and the usage it reported (if it
/// did); `None` when the body is not a completion.
pub fn message(body: &[u8]) -> Option<(Value, Option<Usage>)> {
    let completion: Value = serde_json::from_slice(body).ok()?;
    let choice = completion.get("choices")?.get(0)?;
    let reply = &choice["message"];
    let usage =
        completion.get("usage").and_then(|u| serde_json::from_value::<OpenAiUsage>(u.clone()).ok()).map(Usage::from);
    let mut content = Vec::new();
    if let Some(text) = reply["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in reply["tool_calls"].as_array().map_or(&[][..], Vec::as_slice) {
        let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
        let input = serde_json::from_str::<Value>(arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}));
        content.push(json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": input}));
    }
    let message = json!({
        "id": completion["id"],
        "type": "message",
        "role": "assistant",
        "model": completion["model"],
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": anthropic_usage(&usage.unwrap_or_default()),
    });
    Some((message, usage))
}

/// Anthropic's error body for an OpenAI-compatible provider's error at `status`.
pub fn anthropic_error_body(status: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": crate::error::anthropic_type_of(status), "message": message}})
}
