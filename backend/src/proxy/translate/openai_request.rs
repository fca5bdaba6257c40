//! An Anthropic Messages API request, as an OpenAI-compatible provider takes it
//! (a client of `/v1/messages` calling `gpt-4o-mini`, `groq/...` or `mock/echo`):
//!
//! - `system` becomes the first message; text, images (base64 or URL) and PDF
//!   documents become content parts; `tool_use` blocks become the assistant's
//!   `tool_calls`, and `tool_result` blocks become `tool` messages, ahead of the
//!   rest of their user turn;
//! - `max_tokens` (`max_completion_tokens` for OpenAI itself, whose reasoning models
//!   refuse the older name), `temperature`, `top_p`, `stop_sequences`,
//!   `metadata.user_id`, `tools`, `tool_choice` and `disable_parallel_tool_use` are
//!   mapped; a stream asks for the usage chunk, so it is metered;
//! - thinking blocks and `thinking`, `top_k` and `cache_control` have no OpenAI
//!   equivalent and are dropped; Anthropic's server tools (web search, code
//!   execution, ...) are refused with a 400.

use serde_json::{json, Map, Value};

use super::{invalid, text};
use crate::error::OpenAiError;

pub fn translate(body: &[u8], model: &str, provider: &str) -> Result<Value, OpenAiError> {
    let request: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| OpenAiError::invalid_json(format!("{e}")))?;
    let field = |name: &str| request.get(name).filter(|v| !v.is_null());
    let mut out = Map::new();
    out.insert("model".into(), model.into());

    let mut messages = Vec::new();
    match field("system") {
        None => {}
        Some(Value::String(system)) => messages.push(json!({"role": "system", "content": system})),
        Some(Value::Array(blocks)) => {
            let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            messages.push(json!({"role": "system", "content": text.join("\n")}));
        }
        Some(_) => return Err(invalid("system: must be a string or an array of text blocks").with_param("system")),
    }
    for (i, message) in field("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice).iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        let blocks = match &message["content"] {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => {
                return Err(
                    invalid(format!("messages.{i}.content: must be a string or an array")).with_param("messages")
                )
            }
        };
        if role == "assistant" {
            messages.push(assistant(&blocks, i)?);
        } else {
            user(&blocks, i, &mut messages)?;
        }
    }
    out.insert("messages".into(), Value::Array(messages));

    let limit = if provider == "openai" { "max_completion_tokens" } else { "max_tokens" };
    if let Some(max_tokens) = field("max_tokens") {
        out.insert(limit.into(), max_tokens.clone());
    }
    for name in ["temperature", "top_p"] {
        if let Some(value) = field(name) {
            out.insert(name.into(), value.clone());
        }
    }
    if let Some(stops) = field("stop_sequences") {
        out.insert("stop".into(), stops.clone());
    }
    if let Some(user) = field("metadata").and_then(|m| m.get("user_id")).and_then(Value::as_str) {
        out.insert("user".into(), user.into());
    }
    if field("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = field("tools") {
        let tools = tools.as_array().ok_or_else(|| invalid("tools: must be an array").with_param("tools"))?;
        let tools = tools.iter().enumerate().map(|(i, t)| tool(t, i)).collect::<Result<Vec<_>, _>>()?;
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(choice) = field("tool_choice") {
        let converted = match choice["type"].as_str() {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice["name"]}}),
            _ => return Err(invalid("tool_choice: type must be auto, any, tool or none").with_param("tool_choice")),
        };
        out.insert("tool_choice".into(), converted);
        if choice["disable_parallel_tool_use"].as_bool() == Some(true) {
            out.insert("parallel_tool_calls".into(), false.into());
        }
    }
    Ok(Value::Object(out))
}

/// A user turn: its tool results as `tool` messages first, then the rest as one user message.
fn user(blocks: &[Value], i: usize, messages: &mut Vec<Value>) -> Result<(), OpenAiError> {
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match block["type"].as_str().unwrap_or_default() {
            "tool_result" => {
                let id = text(&block["tool_use_id"], &format!("{at}.tool_use_id"))?;
                let content = match &block["content"] {
                    Value::String(text) => text.clone(),
                    Value::Array(inner) => {
                        inner.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n")
                    }
                    _ => String::new(),
                };
                let content =
                    if block["is_error"].as_bool() == Some(true) { format!("Error: {content}") } else { content };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            "text" => parts.push(json!({"type": "text", "text": text(&block["text"], &format!("{at}.text"))?})),
            "image" => {
                parts.push(json!({"type": "image_url", "image_url": {"url": source_url(&block["source"], &at)?}}))
            }
            "document" => {
                let source = &block["source"];
                if source["type"] != "base64" {
                    return Err(
                        invalid(format!("{at}: only base64 documents can go to this model")).with_param("messages")
                    );
                }
                let mut file = json!({"file_data": source_url(source, &at)?});
                if let Some(title) = block["title"].as_str() {
                    file["filename"] = title.into();
                }
                parts.push(json!({"type": "file", "file": file}));
            }
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(invalid(format!("{at}: a {other:?} block cannot go to this model")).with_param("messages"))
            }
        }
    }
    if !parts.is_empty() {
        let only_text = parts.iter().all(|p| p["type"] == "text");
        let content = if only_text && parts.len() == 1 { parts[0]["text"].clone() } else { Value::Array(parts) };
        messages.push(json!({"role": "user", "content": content}));
    }
    Ok(())
}

/// `data:` URL of a base64 source, or the URL of a URL source.
fn source_url(source: &Value, at: &str) -> Result<String, OpenAiError> {
    match source["type"].as_str() {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            text(&source["media_type"], &format!("{at}.source.media_type"))?,
            text(&source["data"], &format!("{at}.source.data"))?
        )),
        Some("url") => Ok(text(&source["url"], &format!("{at}.source.url"))?.to_string()),
        _ => Err(invalid(format!("{at}.source: type must be base64 or url")).with_param("messages")),
    }
}

fn assistant(blocks: &[Value], i: usize) -> Result<Value, OpenAiError> {
    let mut text_parts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match block["type"].as_str().unwrap_or_default() {
            "text" => text_parts.push(text(&block["text"], &format!("{at}.text"))?),
            "tool_use" => calls.push(json!({
                "id": text(&block["id"], &format!("{at}.id"))?,
                "type": "function",
                "function": {"name": text(&block["name"], &format!("{at}.name"))?, "arguments": block["input"].to_string()},
            })),
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(invalid(format!("{at}: a {other:?} block cannot go to this model")).with_param("messages"))
            }
        }
    }
    let mut message = json!({"role": "assistant", "content": if text_parts.is_empty() { Value::Null } else { text_parts.concat().into() }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}

fn tool(tool: &Value, i: usize) -> Result<Value, OpenAiError> {
    let custom = tool.get("type").and_then(Value::as_str).is_none_or(|t| t == "custom");
    if !custom || !tool["input_schema"].is_object() {
        let kind = tool["type"].as_str().unwrap_or("?");
        return Err(invalid(format!("tools.{i}: Anthropic's server tool {kind:?} runs only on Anthropic's models"))
            .with_param("tools"));
    }
    let mut function = json!({
        "name": text(&tool["name"], &format!("tools.{i}.name"))?,
        "parameters": tool["input_schema"],
    });
    if let Some(description) = tool["description"].as_str() {
        function["description"] = description.into();
    }
    Ok(json!({"type": "function", "function": function}))
}
