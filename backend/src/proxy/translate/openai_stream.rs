//! OpenAI `chat.completion.chunk`s as Anthropic's stream events, chunk by chunk:
//! `message_start` with the first chunk; a text block for `content`, a `tool_use`
//! block per tool call (its arguments as `input_json_delta`s), each closed by
//! `content_block_stop` when the next begins; at `[DONE]`, `message_delta` with the
//! stop reason and the usage (which Tollgate asked the provider for), then
//! `message_stop`. An `{"error":...}` chunk becomes an `error` event.

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

use super::openai_answer::{anthropic_usage, stop_reason};
use crate::{
    catalog::Usage,
    proxy::{
        record::Failure,
        relay::{StreamDialect, StreamProgress},
        sse::data_lines,
        usage::OpenAiUsage,
    },
};

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Text,
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

#[derive(Default)]
pub struct OpenAiToAnthropic {
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(Block, usize)>,
    next_index: usize,
    usage: Usage,
    stop_reason: Option<&'static str>,
}

fn event(out: &mut BytesMut, data: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(data["type"].as_str().unwrap_or("message").as_bytes());
    out.put_slice(b"\ndata: ");
    serde_json::to_writer(out.writer(), data).expect("JSON serializes");
    out.put_slice(b"\n\n");
}

impl OpenAiToAnthropic {
    pub fn new() -> Self {
        Self::default()
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some((_, index)) = self.open.take() {
            event(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// Opens `block` unless it is the open one: its Anthropic index.
    fn open(&mut self, block: Block, start: Value, out: &mut BytesMut) -> usize {
        if let Some((open, index)) = self.open {
            if open == block {
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((block, index));
        event(out, &json!({"type": "content_block_start", "index": index, "content_block": start}));
        index
    }

    fn on_chunk(&mut self, chunk: &Value, progress: &mut StreamProgress, out: &mut BytesMut) {
        if let Some(error) = chunk.get("error") {
            let message = error["message"].as_str().unwrap_or("the provider reported an error mid-stream");
            progress.failure = Some((502, Failure::new("api_error", "upstream_stream_error", message)));
            event(out, &json!({"type": "error", "error": {"type": "api_error", "message": message}}));
            return;
        }
        if !self.started {
            self.started = true;
            event(
                out,
                &json!({"type": "message_start", "message": {
                    "id": chunk["id"], "type": "message", "role": "assistant", "model": chunk["model"],
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }}),
            );
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            if let Ok(usage) = serde_json::from_value::<OpenAiUsage>(usage.clone()) {
                self.usage = usage.into();
                progress.usage = Some(self.usage);
            }
        }
        let Some(choice) = chunk["choices"].get(0) else { return };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            progress.started = true;
            let index = self.open(Block::Text, json!({"type": "text", "text": ""}), out);
            event(
                out,
                &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
            );
        }
        for call in delta["tool_calls"].as_array().map_or(&[][..], Vec::as_slice) {
            progress.started = true;
            let tool = Block::Tool(call["index"].as_u64().unwrap_or(0));
            let start = json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {}});
            let index = self.open(tool, start, out);
            if let Some(arguments) = call["function"]["arguments"].as_str().filter(|a| !a.is_empty()) {
                let delta = json!({"type": "input_json_delta", "partial_json": arguments});
                event(out, &json!({"type": "content_block_delta", "index": index, "delta": delta}));
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop_reason = Some(stop_reason(Some(reason)));
        }
    }

    fn finish(&mut self, progress: &mut StreamProgress, out: &mut BytesMut) {
        progress.complete = true;
        self.close(out);
        event(
            out,
            &json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": anthropic_usage(&self.usage)}),
        );
        event(out, &json!({"type": "message_stop"}));
    }
}

impl StreamDialect for OpenAiToAnthropic {
    fn event(&mut self, event: &[u8], progress: &mut StreamProgress, out: &mut BytesMut) -> bool {
        for data in data_lines(event) {
            if data == b"[DONE]" {
                self.finish(progress, out);
            } else if let Ok(chunk) = serde_json::from_slice::<Value>(data) {
                self.on_chunk(&chunk, progress, out);
            }
        }
        false
    }

    fn end_marker(&self) -> &'static str {
        "[DONE]"
    }

    fn error_event(&self, error: &crate::error::OpenAiError) -> bytes::Bytes {
        anthropic_error_event(error)
    }
}

/// An error told in-band to a client of the Messages API.
pub fn anthropic_error_event(error: &crate::error::OpenAiError) -> bytes::Bytes {
    let mut out = BytesMut::new();
    event(&mut out, &error.anthropic_body());
    out.freeze()
}
