//! Anthropic's answers in OpenAI's shape: a whole message as a `chat.completion`,
//! an error body as OpenAI's error.

use serde::Deserialize;
use serde_json::{json, Value};

use super::now_secs;
use crate::{
    catalog::Usage,
    proxy::usage::{openai_usage_json, AnthropicUsage},
};

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<Value>,
    stop_reason: Option<String>,
    usage: Option<AnthropicUsage>,
}

/// The `chat.completion` for an Anthropic message, and the usage it reported (if
/// it did); `None` when the body is not a message.
pub fn completion(body: &[u8]) -> Option<(Value, Option<Usage>)> {
    let message: Message = serde_json::from_slice(body).ok()?;
    let usage = message.usage.map(Usage::from);
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in &message.content {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block["thinking"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            _ => {}
        }
    }
    let mut reply = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { text.into() },
        "refusal": null,
    });
    if !reasoning.is_empty() {
        reply["reasoning_content"] = reasoning.into();
    }
    if !tool_calls.is_empty() {
        reply["tool_calls"] = tool_calls.into();
    }
    let completion = json!({
        "id": message.id,
        "object": "chat.completion",
        "created": now_secs(),
        "model": message.model,
        "choices": [{
            "index": 0,
            "message": reply,
            "logprobs": null,
            "finish_reason": finish_reason(message.stop_reason.as_deref()),
        }],
        "usage": openai_usage_json(&usage.unwrap_or_default()),
    });
    Some((completion, usage))
}

/// Anthropic's `{"type":"error","error":{"type","message"}}`: the error's type and message.
pub fn error(body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("api_error");
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    Some((kind.to_string(), message.to_string()))
}

/// An error in OpenAI's shape, from Anthropic's type and message.
pub fn openai_error_body(kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
}
