//! Usage as each protocol reports it, read into one `Usage` (OpenAI's convention:
//! `prompt` counts every prompt token, cached and cache-written ones included).

use serde::Deserialize;

use crate::catalog::Usage;

/// OpenAI's `usage` (and what OpenAI-compatible providers add to it).
#[derive(Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek's name for cached prompt tokens.
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u64>,
}

impl From<OpenAiUsage> for Usage {
    fn from(u: OpenAiUsage) -> Self {
        let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens).or(u.prompt_cache_hit_tokens).unwrap_or(0);
        Usage {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            cached,
            cache_write: 0,
            reasoning: u.completion_tokens_details.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

/// Anthropic's `usage`: `input_tokens` leaves out the tokens read from and written
/// to the cache. In a stream, `message_start` carries the input side and
/// `message_delta` the output so far (and, lately, the input side again).
#[derive(Deserialize, Default, Clone, Copy)]
pub struct AnthropicUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// `later`'s counts where it has them, these elsewhere.
    pub fn updated(self, later: AnthropicUsage) -> Self {
        Self {
            input_tokens: later.input_tokens.or(self.input_tokens),
            output_tokens: later.output_tokens.or(self.output_tokens),
            cache_creation_input_tokens: later.cache_creation_input_tokens.or(self.cache_creation_input_tokens),
            cache_read_input_tokens: later.cache_read_input_tokens.or(self.cache_read_input_tokens),
        }
    }
}

impl From<AnthropicUsage> for Usage {
    fn from(u: AnthropicUsage) -> Self {
        let (read, write) = (u.cache_read_input_tokens.unwrap_or(0), u.cache_creation_input_tokens.unwrap_or(0));
        Usage {
            prompt: u.input_tokens.unwrap_or(0) + read + write,
            completion: u.output_tokens.unwrap_or(0),
            cached: read,
            cache_write: write,
            reasoning: 0,
        }
    }
}

/// `usage` in OpenAI's shape, as a translated answer reports it.
pub fn openai_usage_json(usage: &Usage) -> serde_json::Value {
    serde_json::json!({
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    })
}
