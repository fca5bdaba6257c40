//! Answers to OpenAI chat completion requests: the last user message echoed back,
//! with usage numbers in the shape (and roughly the size) a real provider reports.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct MockRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<Value>,
}

impl MockRequest {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
    }

    pub fn streaming(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options.as_ref().and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// The text of a message's content: a string, or the text parts of an array.
fn content_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

/// About four characters a token, as for English text with OpenAI's tokenizers.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

pub struct Answer {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Answer {
    pub fn to(request: &MockRequest) -> Self {
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(content_text)
            .filter(|t| !t.trim().is_empty());
        let content = last_user.unwrap_or_else(|| "Hello from the mock provider.".to_string());
        // Every message costs its text plus a few tokens of framing, as with OpenAI.
        let prompt_tokens = 3 + request.messages.iter().map(|m| 4 + estimate_tokens(&content_text(m))).sum::<u64>();
        let completion_tokens = estimate_tokens(&content);
        Answer {
            id: format!("chatcmpl-mock{}", uuid::Uuid::new_v4().simple()),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            model: request.model.clone(),
            content,
            prompt_tokens,
            completion_tokens,
        }
    }

    pub fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        })
    }

    /// The non-streaming response body.
    pub fn completion(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.content},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": self.usage(),
            "system_fingerprint": "fp_mock",
        })
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        })
    }

    /// The SSE events of a streamed answer, `data: ...\n\n` each, ending with `[DONE]`.
    /// The usage chunk (empty `choices`) comes only when asked for, as with OpenAI.
    pub fn sse_events(&self, include_usage: bool) -> Vec<String> {
        let mut chunks = vec![self.chunk(json!({"role": "assistant", "content": ""}), None)];
        for piece in self.content.split_inclusive(' ') {
            chunks.push(self.chunk(json!({"content": piece}), None));
        }
        chunks.push(self.chunk(json!({}), Some("stop")));
        if include_usage {
            chunks.push(json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage(),
            }));
        }
        let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        events.push("data: [DONE]\n\n".to_string());
        events
    }
}

pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
