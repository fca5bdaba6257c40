//! An OpenAI chat completion request, as Anthropic's Messages API takes it.
//!
//! - `system` and `developer` messages become the top-level `system` (as text blocks,
//!   wherever they stood in the conversation);
//! - user content (text, images as data or https URLs, PDF files), assistant text and
//!   `tool_calls`, and `tool` results become content blocks; consecutive turns of one
//!   role are joined, so tool results lead the user turn that follows a tool call;
//! - `max_completion_tokens` or `max_tokens` (else the model's output limit: Anthropic
//!   requires one), `temperature`, `top_p`, `stop`, `stream`, `user`, `tools`,
//!   `tool_choice` and `parallel_tool_calls` are mapped; a `cache_control` on a content
//!   part or tool is kept;
//! - what Anthropic cannot do (`n` > 1, JSON response formats, audio input, file ids)
//!   is refused with a 400 that says so; sampling knobs it lacks (`seed`,
//!   `frequency_penalty`, `presence_penalty`, `logit_bias`, `logprobs`, ...) are dropped.

use serde_json::{json, Map, Value};

use super::{invalid, text};
use crate::error::OpenAiError;

/// The Anthropic request for `body`, sent as `model` with at most `default_max_tokens`
/// (the model's answer limit) when the client set no limit.
pub fn translate(body: &[u8], model: &str, default_max_tokens: u64) -> Result<Value, OpenAiError> {
    let request: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| OpenAiError::invalid_json(format!("{e}")))?;
    let field = |name: &str| request.get(name).filter(|v| !v.is_null());

    let mut out = Map::new();
    out.insert("model".into(), model.into());

    let (system, messages) = conversation(field("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice))?;
    let max_tokens = match field("max_completion_tokens").or_else(|| field("max_tokens")) {
        Some(value) => value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            invalid("'max_tokens' (or 'max_completion_tokens') must be a positive integer").with_param("max_tokens")
        })?,
        None => default_max_tokens,
    };
    out.insert("max_tokens".into(), max_tokens.into());
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }

    for name in ["temperature", "top_p", "top_k"] {
        if let Some(value) = field(name) {
            if !value.is_number() {
                return Err(invalid(format!("'{name}' must be a number")).with_param(name));
            }
            out.insert(name.into(), value.clone());
        }
    }
    match field("stop") {
        None => {}
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if stops.iter().all(Value::is_string) => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        Some(_) => return Err(invalid("'stop' must be a string or an array of strings").with_param("stop")),
    }
    if field("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
    }
    if let Some(user) = field("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(n) = field("n").and_then(Value::as_u64).filter(|n| *n > 1) {
        return Err(invalid(format!("Anthropic's models give one choice per request; 'n' = {n} is not supported"))
            .with_param("n"));
    }
    if let Some(kind) = field("response_format").and_then(|f| f.get("type")).and_then(Value::as_str) {
        if kind != "text" {
            return Err(invalid(format!(
                "'response_format' of type {kind} is not supported for Anthropic's models: describe the JSON \
                 you want in the prompt, or use a tool"
            ))
            .with_param("response_format"));
        }
    }

    let tools = match field("tools") {
        None => Vec::new(),
        Some(Value::Array(tools)) => tools.iter().enumerate().map(|(i, t)| tool(t, i)).collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("'tools' must be an array").with_param("tools")),
    };
    let mut choice = match field("tool_choice") {
        None => None,
        Some(Value::String(mode)) => Some(match mode.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(invalid(format!("'tool_choice' {other:?} must be none, auto or required"))
                    .with_param("tool_choice"))
            }
        }),
        Some(choice) => match choice.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Some(json!({"type": "tool", "name": name})),
            None => {
                return Err(invalid(
                    "'tool_choice' must be a string or {\"type\":\"function\",\"function\":{\"name\":...}}",
                )
                .with_param("tool_choice"))
            }
        },
    };
    if field("parallel_tool_calls").and_then(Value::as_bool) == Some(false) && !tools.is_empty() {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = true.into();
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out))
}

/// The system blocks and the alternating turns of an OpenAI `messages` array.
fn conversation(messages: &[Value]) -> Result<(Vec<Value>, Vec<Value>), OpenAiError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = |what: &str| format!("messages[{i}].{what}");
        let (role, blocks) = match message.get("role").and_then(Value::as_str).unwrap_or_default() {
            "system" | "developer" => {
                system.extend(content_blocks(&message["content"], &at("content"), false)?);
                continue;
            }
            "user" => ("user", content_blocks(&message["content"], &at("content"), true)?),
            "assistant" => ("assistant", assistant_blocks(message, i)?),
            "tool" => ("user", vec![tool_result(message, i)?]),
            other => {
                return Err(invalid(format!(
                    "messages[{i}] has role {other:?}, which Anthropic's models do not take; use tool messages"
                ))
                .with_param("messages"))
            }
        };
        match turns.last_mut() {
            Some((last, previous)) if *last == role => previous.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .filter(|(_, blocks)| !blocks.is_empty())
        .map(|(role, blocks)| json!({"role": role, "content": collapse(blocks)}))
        .collect();
    Ok((system, messages))
}

/// A single plain text block reads best as a string.
fn collapse(mut blocks: Vec<Value>) -> Value {
    let plain = blocks.len() == 1
        && blocks[0]["type"] == "text"
        && blocks[0].as_object().is_some_and(|b| b.len() == 2)
        && blocks[0]["text"].is_string();
    if plain {
        blocks.remove(0)["text"].take()
    } else {
        Value::Array(blocks)
    }
}

/// Text (and for users, images and files) of an OpenAI `content`, as content blocks.
fn content_blocks(content: &Value, at: &str, media: bool) -> Result<Vec<Value>, OpenAiError> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![json!({"type": "text", "text": text})]),
        Value::Array(parts) => parts,
        _ => return Err(invalid(format!("{at} must be a string or an array of parts")).with_param("messages")),
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}[{j}]");
        let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
        let mut block = match kind {
            "text" => {
                let text = text(&part["text"], &format!("{at}.text")).map_err(|e| e.with_param("messages"))?;
                if text.is_empty() {
                    continue;
                }
                json!({"type": "text", "text": text})
            }
            "refusal" => json!({"type": "text", "text": text(&part["refusal"], &format!("{at}.refusal"))?}),
            "image_url" if media => {
                let url = part["image_url"].get("url").unwrap_or(&part["image_url"]);
                image(text(url, &format!("{at}.image_url.url"))?, &at)?
            }
            "file" if media => file(&part["file"], &at)?,
            "input_audio" if media => {
                return Err(invalid(format!("{at}: Anthropic's models do not take audio input")).with_param("messages"))
            }
            other => {
                return Err(invalid(format!("{at} has type {other:?}, which this message cannot carry to Anthropic"))
                    .with_param("messages"))
            }
        };
        if let Some(cache) = part.get("cache_control") {
            block["cache_control"] = cache.clone();
        }
        blocks.push(block);
    }
    Ok(blocks)
}

/// `data:<media type>;base64,<data>` as its two parts.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (media_type, data) = rest.split_once(";base64,")?;
    Some((media_type, data))
}

fn image(url: &str, at: &str) -> Result<Value, OpenAiError> {
    if let Some((media_type, data)) = data_url(url) {
        return Ok(json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(format!("{at}: an image must be a data: URL or an http(s) URL")).with_param("messages"))
}

fn file(file: &Value, at: &str) -> Result<Value, OpenAiError> {
    let Some((media_type, data)) = file.get("file_data").and_then(Value::as_str).and_then(data_url) else {
        return Err(invalid(format!(
            "{at}: only files sent inline as file_data (a base64 data: URL) can go to Anthropic, not file ids"
        ))
        .with_param("messages"));
    };
    let mut document =
        json!({"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}});
    if let Some(name) = file.get("filename").and_then(Value::as_str) {
        document["title"] = name.into();
    }
    Ok(document)
}

fn assistant_blocks(message: &Value, i: usize) -> Result<Vec<Value>, OpenAiError> {
    let mut blocks = content_blocks(&message["content"], &format!("messages[{i}].content"), false)?;
    if let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) {
        let calls = calls
            .as_array()
            .ok_or_else(|| invalid(format!("messages[{i}].tool_calls must be an array")).with_param("messages"))?;
        for (j, call) in calls.iter().enumerate() {
            let at = format!("messages[{i}].tool_calls[{j}]");
            let id = text(&call["id"], &format!("{at}.id"))?;
            let name = text(&call["function"]["name"], &format!("{at}.function.name"))?;
            let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
            let input: Value = match arguments.trim() {
                "" => json!({}),
                arguments => serde_json::from_str(arguments).map_err(|_| {
                    invalid(format!("{at}.function.arguments must be a JSON object")).with_param("messages")
                })?,
            };
            if !input.is_object() {
                return Err(invalid(format!("{at}.function.arguments must be a JSON object")).with_param("messages"));
            }
            blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
        }
    }
    Ok(blocks)
}

fn tool_result(message: &Value, i: usize) -> Result<Value, OpenAiError> {
    let id =
        text(&message["tool_call_id"], &format!("messages[{i}].tool_call_id")).map_err(|e| e.with_param("messages"))?;
    let content = match &message["content"] {
        Value::String(text) => Value::String(text.clone()),
        other => Value::Array(content_blocks(other, &format!("messages[{i}].content"), true)?),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

fn tool(tool: &Value, i: usize) -> Result<Value, OpenAiError> {
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Err(invalid(format!("tools[{i}]: only tools of type function can go to Anthropic")).with_param("tools"));
    }
    let function = &tool["function"];
    let name = text(&function["name"], &format!("tools[{i}].function.name")).map_err(|e| e.with_param("tools"))?;
    let mut out = json!({
        "name": name,
        "input_schema": function.get("parameters").filter(|p| p.is_object()).cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    });
    if let Some(description) = function.get("description").and_then(Value::as_str) {
        out["description"] = description.into();
    }
    if let Some(cache) = tool.get("cache_control") {
        out["cache_control"] = cache.clone();
    }
    Ok(out)
}
