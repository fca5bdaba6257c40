//! Answers to Anthropic Messages API requests, as Anthropic gives them: the last
//! user text echoed back (or a tool call, when tools are offered), whole or as
//! Anthropic's stream events, with usage in Anthropic's names.
//!
//! - With `tools` (and `tool_choice` not `none`), and no tool result in the last
//!   turn, the answer is a short text and then a `tool_use` of the tool `tool_choice`
//!   names (else the first), with input `{"query": <last user text>}`.
//! - A last user text holding `[cache]` reports 2,048 tokens read from the cache and
//!   1,024 written to it, beside the uncached input.
//! - An answer longer than `max_tokens` tokens is cut there, with `stop_reason: max_tokens`.
//! - A model containing `no-usage` answers without any `usage`, whole or streamed, as
//!   some servers do.

use serde_json::{json, Value};

use super::openai::estimate_tokens;

/// Cache reads and writes a `[cache]` request reports.
pub const CACHE_READ_TOKENS: u64 = 2048;
pub const CACHE_WRITE_TOKENS: u64 = 1024;

/// Anthropic's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// Anthropic's error type for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// A request checked as Anthropic checks it: the message of a 400 otherwise.
pub struct MessagesRequest {
    pub model: String,
    pub stream: bool,
    max_tokens: u64,
    input_tokens: u64,
    last_user_text: String,
    tool_result: Option<String>,
    tool: Option<String>,
}

impl MessagesRequest {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        Self::read(body, true)
    }

    /// A `count_tokens` request: the same, without `max_tokens`.
    pub fn parse_for_count(body: &[u8]) -> Result<Self, String> {
        Self::read(body, false)
    }

    fn read(body: &[u8], answering: bool) -> Result<Self, String> {
        let request: Value = serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
        let model = request["model"].as_str().ok_or("model: Field required")?.to_string();
        let max_tokens = match request["max_tokens"].as_u64().filter(|n| *n > 0) {
            Some(n) => n,
            None if answering => return Err("max_tokens: Field required".into()),
            None => 0,
        };
        let messages = request["messages"].as_array().ok_or("messages: Field required")?;
        if messages.is_empty() {
            return Err("messages: at least one message is required".into());
        }
        for (i, message) in messages.iter().enumerate() {
            if !matches!(message["role"].as_str(), Some("user" | "assistant")) {
                return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'"));
            }
        }
        if !request["system"].is_null() && !request["system"].is_string() && !request["system"].is_array() {
            return Err("system: Input should be a valid string or list".into());
        }
        let last = messages.last().expect("not empty");
        let blocks = blocks(&last["content"]);
        let last_user_text = if last["role"] == "user" {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            String::new()
        };
        let tool_result = blocks.iter().find(|b| b["type"] == "tool_result").map(|b| match &b["content"] {
            Value::String(text) => text.clone(),
            other => blocks_text(other),
        });
        let tools = request["tools"].as_array().map_or(&[][..], Vec::as_slice);
        let choice = &request["tool_choice"];
        let tool = match choice["type"].as_str() {
            _ if tools.is_empty() || tool_result.is_some() => None,
            Some("none") => None,
            Some("tool") => choice["name"].as_str().map(String::from),
            _ => tools[0]["name"].as_str().map(String::from),
        };
        let input_tokens = 3
            + estimate_tokens(&request["system"].to_string())
            + messages.iter().map(|m| 4 + estimate_tokens(&m["content"].to_string())).sum::<u64>()
            + tools.iter().map(|t| estimate_tokens(&t.to_string())).sum::<u64>();
        Ok(Self {
            model,
            stream: request["stream"].as_bool().unwrap_or(false),
            max_tokens,
            input_tokens,
            last_user_text,
            tool_result,
            tool,
        })
    }

    /// The answer's content blocks, its stop reason and usage.
    pub fn answer(&self) -> Message {
        let cache = self.last_user_text.contains("[cache]");
        let mut content = Vec::new();
        let mut stop_reason = "end_turn";
        let mut output = 0;
        if let Some(tool) = &self.tool {
            let text = format!("I will call {tool}.");
            output += estimate_tokens(&text);
            content.push(json!({"type": "text", "text": text}));
            let input = json!({"query": self.last_user_text});
            output += estimate_tokens(&input.to_string());
            let id = format!("toolu_mock{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
            content.push(json!({"type": "tool_use", "id": id, "name": tool, "input": input}));
            stop_reason = "tool_use";
        } else {
            let mut text = match &self.tool_result {
                Some(result) => format!("The tool said: {result}"),
                None if self.last_user_text.trim().is_empty() => "Hello from the mock provider.".to_string(),
                None => self.last_user_text.clone(),
            };
            if estimate_tokens(&text) > self.max_tokens {
                let cut = text.char_indices().nth(self.max_tokens as usize * 4).map_or(text.len(), |(i, _)| i);
                text.truncate(cut);
                stop_reason = "max_tokens";
            }
            output = estimate_tokens(&text);
            content.push(json!({"type": "text", "text": text}));
        }
        Message {
            id: format!("msg_mock{}", uuid::Uuid::new_v4().simple()),
            model: self.model.clone(),
            content,
            stop_reason,
            input_tokens: self.input_tokens,
            cache_read: if cache { CACHE_READ_TOKENS } else { 0 },
            cache_write: if cache { CACHE_WRITE_TOKENS } else { 0 },
            output_tokens: output,
            reports_usage: !self.model.contains("no-usage"),
        }
    }

    pub fn count_tokens(&self) -> Value {
        json!({"input_tokens": self.input_tokens})
    }
}

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn blocks_text(content: &Value) -> String {
    blocks(content).iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join(" ")
}

pub struct Message {
    pub id: String,
    pub model: String,
    pub content: Vec<Value>,
    pub stop_reason: &'static str,
    pub input_tokens: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output_tokens: u64,
    pub reports_usage: bool,
}

impl Message {
    /// `usage`, or nothing (`null`, dropped from its object) for a `no-usage` model.
    fn usage(&self, output_tokens: u64) -> Value {
        if !self.reports_usage {
            return Value::Null;
        }
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output_tokens,
        })
    }

    /// The non-streamed answer.
    pub fn body(&self) -> Value {
        without_null_usage(json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": self.usage(self.output_tokens),
        }))
    }

    /// The streamed answer: `event: <type>` and `data: <json>` per event, text word
    /// by word and tool input in pieces, as Anthropic sends them.
    pub fn sse_events(&self) -> Vec<String> {
        let mut events = vec![json!({
            "type": "message_start",
            "message": without_null_usage(json!({
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": self.usage(1),
            })),
        })];
        for (index, block) in self.content.iter().enumerate() {
            let (start, deltas) = match block["type"].as_str() {
                Some("tool_use") => {
                    let input = block["input"].to_string();
                    let mid = input.char_indices().nth(input.chars().count() / 2).map_or(0, |(i, _)| i);
                    let pieces = [&input[..mid], &input[mid..]];
                    (
                        json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                        pieces.iter().map(|p| json!({"type": "input_json_delta", "partial_json": p})).collect(),
                    )
                }
                _ => {
                    let text = block["text"].as_str().unwrap_or_default();
                    (
                        json!({"type": "text", "text": ""}),
                        text.split_inclusive(' ').map(|w| json!({"type": "text_delta", "text": w})).collect::<Vec<_>>(),
                    )
                }
            };
            events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
            if index == 0 {
                events.push(json!({"type": "ping"}));
            }
            for delta in deltas {
                events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
            }
            events.push(json!({"type": "content_block_stop", "index": index}));
        }
        let output_usage = if self.reports_usage { json!({"output_tokens": self.output_tokens}) } else { Value::Null };
        events.push(without_null_usage(json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
            "usage": output_usage,
        })));
        events.push(json!({"type": "message_stop"}));
        events.iter().map(sse).collect()
    }
}

fn without_null_usage(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut().filter(|o| o["usage"].is_null()) {
        object.remove("usage");
    }
    value
}

/// One event as Anthropic writes it.
pub fn sse(data: &Value) -> String {
    format!("event: {}\ndata: {data}\n\n", data["type"].as_str().unwrap_or("message"))
}
