//! The providers Tollgate can route to, the protocol each speaks, and where each
//! one lives by default.

/// A wire protocol: what a provider speaks, and what a client speaks to Tollgate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's chat completions (`/chat/completions`).
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`).
    Anthropic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Speaks OpenAI's chat completions API: an OpenAI request is forwarded as it came.
    OpenAiCompatible,
    /// Speaks Anthropic's Messages API.
    Anthropic,
    /// Answers inside Tollgate, in OpenAI's protocol, so a fresh install works without any key.
    Mock,
}

#[derive(Debug)]
pub struct ProviderInfo {
    pub name: &'static str,
    pub kind: ProviderKind,
    /// In the provider SDK's convention. OpenAI's includes the version path and gets
    /// `/chat/completions` appended; Anthropic's does not and gets `/v1/messages`.
    pub default_base_url: &'static str,
    /// Local servers (Ollama, vLLM) take calls without a key.
    pub requires_key: bool,
    /// A server on the operator's own network: routable only once its base URL is set.
    pub local: bool,
}

impl ProviderInfo {
    pub fn protocol(&self) -> Protocol {
        match self.kind {
            ProviderKind::Anthropic => Protocol::Anthropic,
            ProviderKind::OpenAiCompatible | ProviderKind::Mock => Protocol::OpenAi,
        }
    }

    /// Whether it is reached over HTTP at a base URL (every provider but the built-in mock).
    pub fn remote(&self) -> bool {
        self.kind != ProviderKind::Mock
    }
}

const fn openai_compatible(name: &'static str, default_base_url: &'static str) -> ProviderInfo {
    ProviderInfo { name, kind: ProviderKind::OpenAiCompatible, default_base_url, requires_key: true, local: false }
}

pub const PROVIDERS: &[ProviderInfo] = &[
    openai_compatible("openai", "https://api.openai.com/v1"),
    ProviderInfo {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        default_base_url: "https://api.anthropic.com",
        requires_key: true,
        local: false,
    },
    openai_compatible("mistral", "https://api.mistral.ai/v1"),
    openai_compatible("groq", "https://api.groq.com/openai/v1"),
    openai_compatible("deepseek", "https://api.deepseek.com/v1"),
    openai_compatible("openrouter", "https://openrouter.ai/api/v1"),
    openai_compatible("together", "https://api.together.xyz/v1"),
    openai_compatible("xai", "https://api.x.ai/v1"),
    openai_compatible("gemini", "https://generativelanguage.googleapis.com/v1beta/openai"),
    ProviderInfo { requires_key: false, local: true, ..openai_compatible("ollama", "http://127.0.0.1:11434/v1") },
    ProviderInfo { requires_key: false, local: true, ..openai_compatible("vllm", "http://127.0.0.1:8000/v1") },
    ProviderInfo { name: "mock", kind: ProviderKind::Mock, default_base_url: "", requires_key: false, local: false },
];

pub fn find(name: &str) -> Option<&'static ProviderInfo> {
    PROVIDERS.iter().find(|p| p.name == name)
}
