//! Answers to OpenAI chat completion requests: the last user message echoed back,
//! with usage numbers in the shape (and roughly the size) a real provider reports.
//! With `tools` (and `tool_choice` not `none`), the answer calls the tool
//! `tool_choice` names (else the first) with `{"query": <last user text>}`; after a
//! tool result, it says what the tool said. A last user message holding `[cache]`
//! reports 2,048 more prompt tokens, read from the cache (`cached_tokens`).

use std::{
    borrow::Cow,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

/// Cached prompt tokens a `[cache]` request reports.
pub const CACHED_TOKENS: u64 = 2048;

/// Longest answer, in characters: a long prompt is echoed by its beginning, so
/// the answer costs the same small memory whatever the request's size.
pub const MAX_ANSWER_CHARS: usize = 2000;

/// A chat request as the mock reads it: message texts are borrowed from the body.
#[derive(Deserialize)]
pub struct MockRequest<'a> {
    #[serde(default, borrow)]
    pub model: Cow<'a, str>,
    #[serde(default, borrow)]
    pub messages: Vec<MockMessage<'a>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub tools: Vec<ToolPeek>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
}

#[derive(Deserialize)]
pub struct ToolPeek {
    #[serde(default)]
    function: Option<FunctionPeek>,
}

#[derive(Deserialize)]
struct FunctionPeek {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct MockMessage<'a> {
    #[serde(default, borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl<'a> MockRequest<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
    }

    pub fn streaming(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options.as_ref().and_then(|o| o.include_usage).unwrap_or(false)
    }
}

#[derive(Deserialize)]
struct TextPart<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

impl MockMessage<'_> {
    /// The beginning of the content's text (a string, or the text parts of an
    /// array), at most `MAX_ANSWER_CHARS`: only that much is ever copied.
    fn text(&self) -> String {
        let Some(raw) = self.content else { return String::new() };
        if let Ok(text) = serde_json::from_str::<Cow<str>>(raw.get()) {
            return prefix(&text).to_string();
        }
        let parts = serde_json::from_str::<Vec<TextPart>>(raw.get()).unwrap_or_default();
        let mut text = String::new();
        for part in parts.iter().filter_map(|p| p.text.as_deref()) {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(prefix(part));
            if text.chars().count() >= MAX_ANSWER_CHARS {
                break;
            }
        }
        prefix(&text).to_string()
    }

    /// About how many tokens the content holds, read from its raw size (no copy).
    fn tokens(&self) -> u64 {
        self.content.map_or(0, |raw| (raw.get().len() as u64).div_ceil(4))
    }
}

/// The first `MAX_ANSWER_CHARS` characters of `text`.
fn prefix(text: &str) -> &str {
    text.char_indices().nth(MAX_ANSWER_CHARS).map_or(text, |(cut, _)| &text[..cut])
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
    /// Prompt tokens read from the cache (part of `prompt_tokens`).
    pub cached_tokens: u64,
    /// A tool call instead of text: the tool's name and the arguments.
    pub tool_call: Option<(String, String)>,
}

impl Answer {
    pub fn to(request: &MockRequest) -> Self {
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role.as_deref() == Some("user"))
            .map(MockMessage::text)
            .filter(|t| !t.trim().is_empty());
        let tool_result = request.messages.last().filter(|m| m.role.as_deref() == Some("tool")).map(MockMessage::text);
        let forced = request.tool_choice.as_ref().and_then(|c| c.pointer("/function/name")).and_then(Value::as_str);
        let tool = match request.tool_choice.as_ref().and_then(Value::as_str) {
            _ if tool_result.is_some() => None,
            Some("none") => None,
            _ => forced.map(String::from).or_else(|| request.tools.first()?.function.as_ref().map(|f| f.name.clone())),
        };
        let content = match &tool_result {
            Some(result) => format!("The tool said: {result}"),
            None => last_user.clone().unwrap_or_else(|| "Hello from the mock provider.".to_string()),
        };
        let cached_tokens = if last_user.as_deref().is_some_and(|t| t.contains("[cache]")) { CACHED_TOKENS } else { 0 };
        let tool_call = tool.map(|name| (name, json!({ "query": last_user.unwrap_or_default() }).to_string()));
        // Every message costs its text plus a few tokens of framing, as with OpenAI.
        let prompt_tokens = 3 + request.messages.iter().map(|m| 4 + m.tokens().max(1)).sum::<u64>() + cached_tokens;
        let completion_tokens = match &tool_call {
            Some((name, arguments)) => estimate_tokens(name) + estimate_tokens(arguments),
            None => estimate_tokens(&content),
        };
        Answer {
            id: format!("chatcmpl-mock{}", uuid::Uuid::new_v4().simple()),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            model: request.model.to_string(),
            content,
            prompt_tokens,
            completion_tokens,
            cached_tokens,
            tool_call,
        }
    }

    fn tool_call_id(&self) -> String {
        format!("call_{}", &self.id[self.id.len() - 24..])
    }

    pub fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        })
    }

    /// The non-streaming response body.
    pub fn completion(&self) -> Value {
        let (message, finish_reason) = match &self.tool_call {
            Some((name, arguments)) => {
                let call = json!({"id": self.tool_call_id(), "type": "function",
                    "function": {"name": name, "arguments": arguments}});
                (json!({"role": "assistant", "content": null, "tool_calls": [call]}), "tool_calls")
            }
            None => (json!({"role": "assistant", "content": self.content}), "stop"),
        };
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
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

    /// The SSE events of a streamed answer, `data: ...\n\n` each, ending with `[DONE]`,
    /// made one by one as they are sent. The usage chunk (empty `choices`) comes only
    /// when asked for, as with OpenAI.
    pub fn sse_events(self, include_usage: bool) -> impl Iterator<Item = String> + Send + 'static {
        let first = self.chunk(json!({"role": "assistant", "content": ""}), None);
        // A tool call: its id and name, then its arguments in two pieces.
        let mut calls = Vec::new();
        if let Some((name, arguments)) = &self.tool_call {
            let call = json!({"index": 0, "id": self.tool_call_id(), "type": "function", "function": {"name": name, "arguments": ""}});
            calls.push(self.chunk(json!({ "tool_calls": [call] }), None));
            let mid = arguments.char_indices().nth(arguments.chars().count() / 2).map_or(0, |(i, _)| i);
            for piece in [&arguments[..mid], &arguments[mid..]] {
                calls.push(self.chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), None));
            }
        }
        calls.reverse(); // taken from the end
        let finish = if self.tool_call.is_some() { "tool_calls" } else { "stop" };
        let mut answer = Some(self);
        let (mut at, mut tail) = (if calls.is_empty() { 0 } else { usize::MAX }, 0);
        std::iter::once(first)
            .chain(std::iter::from_fn(move || {
                let current = answer.as_ref()?;
                if let Some(call) = calls.pop() {
                    return Some(call);
                }
                if at < current.content.len() {
                    // Word by word, each with its trailing space.
                    let rest = &current.content[at..];
                    let piece = &rest[..rest.find(' ').map_or(rest.len(), |i| i + 1)];
                    at += piece.len();
                    return Some(current.chunk(json!({ "content": piece }), None));
                }
                tail += 1;
                match tail {
                    1 => Some(current.chunk(json!({}), Some(finish))),
                    2 if include_usage => Some(json!({
                        "id": current.id,
                        "object": "chat.completion.chunk",
                        "created": current.created,
                        "model": current.model,
                        "choices": [],
                        "usage": current.usage(),
                    })),
                    _ => {
                        answer = None;
                        None
                    }
                }
            }))
            .map(|chunk| format!("data: {chunk}\n\n"))
            .chain(std::iter::once("data: [DONE]\n\n".to_string()))
    }
}

pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
