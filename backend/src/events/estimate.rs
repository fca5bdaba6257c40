//! Prompt tokens counted by Tollgate, for calls a provider answered without
//! reporting usage (a stream cut short before its usage, a server that sends none):
//! billing them as zero would be wrong by the whole prompt.
//!
//! The counting happens in the event writer, on a blocking thread, never on the
//! call's path. OpenAI's models are counted with their own tokenizer (`o200k_base`,
//! through tiktoken-rs); every other model at one token per four characters of
//! text, the usual rule of thumb for English. Either way each message adds the 4
//! tokens of framing OpenAI's chat format costs. The tokenizer takes about 45 MiB
//! once loaded, so it is loaded only when a count needs it and let go after five
//! idle minutes. A request body is kept for counting (a shared reference, holding
//! its share of the request memory) up to 1 MiB; a larger one is estimated from its
//! size alone.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde_json::Value;
use tiktoken_rs::CoreBPE;

use super::RequestEvent;
use crate::catalog::{Price, Usage};

/// The largest request body kept, shared, for counting its prompt.
pub const SAMPLE_MAX_BYTES: usize = 1024 * 1024;
/// How long the tokenizer stays loaded after its last use.
const TOKENIZER_IDLE: Duration = Duration::from_secs(300);

/// What a prompt count needs, carried by an event until the writer counts it.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptEstimate {
    /// The request body (a shared reference, not a copy), or only its size when it
    /// was too large to keep.
    pub request: Sample,
    /// Counted with OpenAI's tokenizer.
    pub openai: bool,
    /// The answering model's price, to cost the counted prompt.
    pub price: Option<Price>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    Body(Bytes),
    Length(usize),
}

impl Sample {
    pub fn of(body: &Bytes) -> Self {
        if body.len() <= SAMPLE_MAX_BYTES {
            Sample::Body(body.clone())
        } else {
            Sample::Length(body.len())
        }
    }
}

/// Whether a model is one of OpenAI's (tokenized with `o200k_base`).
pub fn is_openai_model(provider: &str, upstream_model: &str) -> bool {
    let model = upstream_model.strip_prefix("openai/").unwrap_or(upstream_model);
    provider == "openai" || ["gpt-", "o1", "o3", "o4", "chatgpt"].iter().any(|p| model.starts_with(p))
}

static TOKENIZER: Mutex<Option<(Arc<CoreBPE>, Instant)>> = Mutex::new(None);

fn tokenizer() -> Option<Arc<CoreBPE>> {
    let mut held = TOKENIZER.lock().unwrap_or_else(|e| e.into_inner());
    if held.is_none() {
        let bpe = tiktoken_rs::o200k_base().ok()?;
        *held = Some((Arc::new(bpe), Instant::now()));
    }
    let (bpe, used) = held.as_mut()?;
    *used = Instant::now();
    Some(bpe.clone())
}

/// Lets the tokenizer go when it has not been used for a while.
pub fn release_idle_tokenizer() {
    let mut held = TOKENIZER.lock().unwrap_or_else(|e| e.into_inner());
    if held.as_ref().is_some_and(|(_, used)| used.elapsed() >= TOKENIZER_IDLE) {
        *held = None;
    }
}

const SKIPPED: &[&str] = &[
    "role",
    "type",
    "id",
    "image_url",
    "source",
    "input_audio",
    "file",
    "tool_call_id",
    "tool_use_id",
    "cache_control",
];

/// The text of a request's prompt (OpenAI's or Anthropic's shape): every string
/// under `messages`, `system` and `tools`, and how many messages hold it.
fn prompt_text(body: &[u8]) -> (String, u64) {
    fn collect(value: &Value, out: &mut String) {
        match value {
            Value::String(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            // Words, not markup: roles, part types, ids and media (an image costs
            // what its provider says, not what its base64 would) are left out.
            Value::Object(fields) => {
                fields.iter().filter(|(k, _)| !SKIPPED.contains(&k.as_str())).for_each(|(_, v)| collect(v, out))
            }
            _ => {}
        }
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else { return (String::new(), 0) };
    let mut text = String::new();
    for key in ["system", "messages", "tools"] {
        collect(&request[key], &mut text);
    }
    let messages = request["messages"].as_array().map_or(0, |m| m.len() as u64);
    (text, messages)
}

/// The prompt tokens of one request.
pub fn count_prompt(estimate: &PromptEstimate) -> u64 {
    let (text, messages) = match &estimate.request {
        Sample::Body(body) => prompt_text(body),
        Sample::Length(length) => return (*length as u64).div_ceil(4),
    };
    let tokens = match estimate.openai.then(tokenizer).flatten() {
        Some(bpe) => bpe.encode_ordinary(&text).len() as u64,
        None => (text.chars().count() as u64).div_ceil(4),
    };
    tokens + 4 * messages + 3
}

/// Counts the prompts of the events that need it, and costs them.
pub fn fill(events: &mut [RequestEvent]) {
    for event in events.iter_mut() {
        let Some(estimate) = event.estimate.take() else { continue };
        event.tokens_prompt = count_prompt(&estimate);
        if let Some(price) = estimate.price {
            let usage = Usage { prompt: event.tokens_prompt, completion: event.tokens_completion, ..Usage::default() };
            let parts = price.cost_parts(&usage);
            event.cost_input_nanousd = parts.input;
            event.cost_cached_nanousd = parts.cached_input;
            event.cost_cache_write_nanousd = parts.cache_write;
            event.cost_output_nanousd = parts.output;
            event.cost_nanousd = parts.total();
        }
    }
}

/// `fill` on a blocking thread, when any event needs it.
pub async fn fill_off_thread(mut events: Vec<RequestEvent>) -> Vec<RequestEvent> {
    if !events.iter().any(|e| e.estimate.is_some()) {
        return events;
    }
    tokio::task::spawn_blocking(move || {
        // Should counting ever fail, the events are stored all the same.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fill(&mut events)));
        events
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(body: &str, openai: bool) -> u64 {
        count_prompt(&PromptEstimate { request: Sample::of(&Bytes::from(body.to_string())), openai, price: None })
    }

    #[test]
    fn openai_prompts_are_counted_with_openais_tokenizer() {
        // "Hello, world!" and its line end are 4 tokens in o200k_base ("Hello", ",",
        // " world", "!\n"); the message adds 4, the reply 3.
        let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hello, world!"}]}"#;
        assert_eq!(estimate(body, true), 4 + 4 + 3);
        assert!(is_openai_model("openai", "gpt-4o") && is_openai_model("openrouter", "openai/gpt-5"));
        assert!(!is_openai_model("anthropic", "claude-sonnet-4-5"));
    }

    #[test]
    fn other_prompts_are_counted_at_four_characters_a_token() {
        let body = r#"{"model":"claude","system":"abcd","messages":[{"role":"user","content":"efghijkl"}]}"#;
        // "abcd\n" + "efghijkl\n": 14 characters -> 4 tokens, + 4 + 3.
        assert_eq!(estimate(body, false), 4 + 4 + 3);
        let huge = Bytes::from(vec![b'x'; SAMPLE_MAX_BYTES + 4]);
        assert_eq!(Sample::of(&huge), Sample::Length(SAMPLE_MAX_BYTES + 4), "a huge body is not kept");
        let counted = count_prompt(&PromptEstimate { request: Sample::of(&huge), openai: true, price: None });
        assert_eq!(counted, (SAMPLE_MAX_BYTES as u64 + 4) / 4);
    }
}
