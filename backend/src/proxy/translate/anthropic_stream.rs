//! Anthropic's stream events as OpenAI `chat.completion.chunk`s, event by event:
//!
//! | Anthropic | OpenAI |
//! |---|---|
//! | `message_start` | the first chunk, `{"role":"assistant","content":""}` |
//! | `content_block_start` of a `tool_use` | a `tool_calls` delta with its id and name |
//! | `content_block_delta`: `text_delta` / `input_json_delta` / `thinking_delta` | `content` / `tool_calls[].function.arguments` / `reasoning_content` |
//! | `message_delta` | an empty delta with `finish_reason` |
//! | `message_stop` | the usage chunk (when asked for), then `[DONE]` |
//! | `error` | an `{"error":{...}}` event |
//! | `ping`, `content_block_stop` | nothing |
//!
//! Usage is read from `message_start` (the input side) and `message_delta` (the
//! output), whether or not the client asked to see it.

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

use super::{
    anthropic_answer::{finish_reason, openai_error_body},
    now_secs,
};
use crate::proxy::{
    record::Failure,
    relay::{StreamDialect, StreamProgress},
    sse::data_lines,
    usage::{openai_usage_json, AnthropicUsage},
};

pub struct AnthropicToOpenAi {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: AnthropicUsage,
    /// Anthropic's content block index of each tool call, in OpenAI's order.
    tool_blocks: Vec<u64>,
}

impl AnthropicToOpenAi {
    pub fn new(include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: String::new(),
            created: now_secs(),
            include_usage,
            usage: AnthropicUsage::default(),
            tool_blocks: Vec::new(),
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: Value, finish_reason: Option<&str>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        });
        write_data(out, &chunk);
    }

    fn tool_index(&self, block: u64) -> Option<usize> {
        self.tool_blocks.iter().position(|b| *b == block)
    }

    fn on_data(&mut self, data: &Value, progress: &mut StreamProgress, out: &mut BytesMut) {
        match data["type"].as_str().unwrap_or_default() {
            "message_start" => {
                let message = &data["message"];
                self.id = message["id"].as_str().unwrap_or_default().to_string();
                self.model = message["model"].as_str().unwrap_or_default().to_string();
                if let Some(usage) = usage(&message["usage"]) {
                    self.usage = usage;
                    progress.usage = Some(self.usage.into());
                }
                self.chunk(out, json!({"role": "assistant", "content": ""}), None);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        progress.started = true;
                        let index = self.tool_blocks.len();
                        self.tool_blocks.push(data["index"].as_u64().unwrap_or(u64::MAX));
                        let call = json!({"index": index, "id": block["id"], "type": "function",
                            "function": {"name": block["name"], "arguments": ""}});
                        self.chunk(out, json!({ "tool_calls": [call] }), None);
                    }
                    Some("text") if block["text"].as_str().is_some_and(|t| !t.is_empty()) => {
                        progress.started = true;
                        self.chunk(out, json!({"content": block["text"]}), None);
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                let piece = ["text", "thinking", "partial_json"].iter().find_map(|k| delta[k].as_str());
                if piece.is_none_or(str::is_empty) {
                    return;
                }
                let converted = match delta["type"].as_str() {
                    Some("text_delta") => json!({"content": delta["text"]}),
                    Some("thinking_delta") => json!({"reasoning_content": delta["thinking"]}),
                    Some("input_json_delta") => {
                        let Some(index) = data["index"].as_u64().and_then(|b| self.tool_index(b)) else { return };
                        json!({"tool_calls": [{"index": index, "function": {"arguments": delta["partial_json"]}}]})
                    }
                    _ => return,
                };
                progress.started = true;
                self.chunk(out, converted, None);
            }
            "message_delta" => {
                if let Some(usage) = usage(&data["usage"]) {
                    self.usage = self.usage.updated(usage);
                    progress.usage = Some(self.usage.into());
                }
                let reason = finish_reason(data["delta"]["stop_reason"].as_str());
                self.chunk(out, json!({}), Some(reason));
            }
            "message_stop" => {
                progress.complete = true;
                if self.include_usage {
                    let chunk = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": openai_usage_json(&self.usage.into()),
                    });
                    write_data(out, &chunk);
                }
                out.put_slice(b"data: [DONE]\n\n");
            }
            "error" => {
                let (status, failure) = stream_failure(&data["error"]);
                write_data(out, &openai_error_body(&failure.kind, &failure.message));
                progress.failure = Some((status, failure));
            }
            _ => {}
        }
    }
}

/// The usage an event reported, if it did.
fn usage(value: &Value) -> Option<AnthropicUsage> {
    value.is_object().then(|| serde_json::from_value(value.clone()).ok()).flatten()
}

/// An `error` event's `{"type", "message"}` as the call's failure, with the status
/// recorded for it.
pub fn stream_failure(error: &Value) -> (u16, Failure) {
    let kind = error["type"].as_str().unwrap_or("api_error");
    let message = error["message"].as_str().unwrap_or("the provider reported an error mid-stream");
    let status = match kind {
        "overloaded_error" => 529,
        "rate_limit_error" => 429,
        "api_error" => 500,
        _ => 502,
    };
    (status, Failure::new(kind, "upstream_stream_error", message))
}

fn write_data(out: &mut BytesMut, value: &Value) {
    out.put_slice(b"data: ");
    serde_json::to_writer(out.writer(), value).expect("JSON serializes");
    out.put_slice(b"\n\n");
}

impl StreamDialect for AnthropicToOpenAi {
    fn event(&mut self, event: &[u8], progress: &mut StreamProgress, out: &mut BytesMut) -> bool {
        for data in data_lines(event) {
            if let Ok(data) = serde_json::from_slice::<Value>(data) {
                self.on_data(&data, progress, out);
            }
        }
        false
    }

    fn end_marker(&self) -> &'static str {
        "message_stop"
    }
}
