//! The model catalog: which provider serves a model, under which upstream id, at
//! which price. Built in (models.toml), optionally extended by a LiteLLM price map.

mod litellm;
pub mod price;
pub mod providers;

use std::{path::Path, sync::Arc};

use anyhow::Context;
use serde::Deserialize;

use crate::fast_hash::FastMap;

pub use price::{CostParts, Price, Usage};
use providers::ProviderInfo;

/// Longest model name accepted, in bytes.
pub const MAX_MODEL_BYTES: usize = 256;

/// One servable model.
#[derive(Clone, Debug)]
pub struct CatalogModel {
    /// How clients address it (without the provider prefix).
    pub id: String,
    pub provider: &'static ProviderInfo,
    pub upstream_id: String,
    pub price: Price,
    pub context_window: Option<u64>,
    /// The most tokens one answer may hold.
    pub max_output_tokens: Option<u64>,
}

impl CatalogModel {
    /// The fully qualified name, `provider/id`.
    pub fn qualified_id(&self) -> String {
        format!("{}/{}", self.provider.name, self.id)
    }
}

/// Where a requested model goes.
#[derive(Clone, Debug)]
pub struct Route {
    pub provider: &'static ProviderInfo,
    pub upstream_id: String,
    /// `None` for a model the provider serves but the catalog does not price.
    pub price: Option<Price>,
    pub max_output_tokens: Option<u64>,
}

/// The most an answer may hold when the catalog does not know the model's limit.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

impl Route {
    /// The most tokens one answer of this model may hold.
    pub fn answer_limit(&self) -> u64 {
        self.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)
    }
}

#[derive(Clone, Default)]
pub struct Catalog {
    /// Keyed by `provider/id`.
    models: FastMap<String, Arc<CatalogModel>>,
    /// Plain ids (without a slash) that name exactly one model.
    plain: FastMap<String, String>,
}

#[derive(Deserialize)]
struct CatalogFile {
    model: Vec<ModelEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelEntry {
    id: String,
    provider: String,
    upstream: Option<String>,
    input: String,
    cached_input: Option<String>,
    cache_write: Option<String>,
    output: String,
    reasoning: Option<String>,
    context_window: Option<u64>,
    max_output_tokens: Option<u64>,
}

impl Catalog {
    pub fn builtin() -> anyhow::Result<Self> {
        let file: CatalogFile = toml::from_str(include_str!("models.toml")).context("built-in catalog is invalid")?;
        let mut catalog = Catalog::default();
        for entry in file.model {
            let provider = providers::find(&entry.provider)
                .with_context(|| format!("catalog model {} names unknown provider {}", entry.id, entry.provider))?;
            let input = price::parse_per_million(&entry.input)?;
            let or_input =
                |text: Option<&str>| text.map(price::parse_per_million).transpose().map(|p| p.unwrap_or(input));
            let output = price::parse_per_million(&entry.output)?;
            let model = CatalogModel {
                upstream_id: entry.upstream.unwrap_or_else(|| entry.id.clone()),
                price: Price {
                    input,
                    cached_input: or_input(entry.cached_input.as_deref())?,
                    cache_write: or_input(entry.cache_write.as_deref())?,
                    output,
                    reasoning: entry.reasoning.as_deref().map(price::parse_per_million).transpose()?.unwrap_or(output),
                },
                id: entry.id,
                provider,
                context_window: entry.context_window,
                max_output_tokens: entry.max_output_tokens,
            };
            catalog.insert(model);
        }
        Ok(catalog)
    }

    /// The built-in table, extended or overridden by `PRICING_FILE` when given.
    pub fn load(pricing_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut catalog = Self::builtin()?;
        if let Some(path) = pricing_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read PRICING_FILE {}", path.display()))?;
            let models =
                litellm::parse(&text).with_context(|| format!("PRICING_FILE {} is invalid", path.display()))?;
            let count = models.len();
            for model in models {
                catalog.insert(model);
            }
            tracing::info!(path = %path.display(), models = count, "loaded prices from PRICING_FILE");
        }
        Ok(catalog)
    }

    fn insert(&mut self, model: CatalogModel) {
        let qualified = model.qualified_id();
        if !model.id.contains('/') {
            // A plain id keeps the provider that claimed it first: the built-in table.
            self.plain.entry(model.id.clone()).or_insert_with(|| qualified.clone());
        }
        self.models.insert(qualified, Arc::new(model));
    }

    /// `gpt-4o` (catalog lookup) or `provider/model` (that provider directly, priced
    /// when the catalog knows the model).
    pub fn resolve(&self, requested: &str) -> Option<Route> {
        let route = |m: &CatalogModel| Route {
            provider: m.provider,
            upstream_id: m.upstream_id.clone(),
            price: Some(m.price),
            max_output_tokens: m.max_output_tokens,
        };
        if let Some(model) = self.plain.get(requested).and_then(|q| self.models.get(q)) {
            return Some(route(model));
        }
        if let Some(model) = self.models.get(requested) {
            return Some(route(model));
        }
        let (provider, upstream) = requested.split_once('/')?;
        let provider = providers::find(provider)?;
        if upstream.is_empty() || provider.kind == providers::ProviderKind::Mock {
            return None;
        }
        Some(Route { provider, upstream_id: upstream.to_string(), price: None, max_output_tokens: None })
    }

    /// Every model, sorted by provider then id.
    pub fn models(&self) -> Vec<Arc<CatalogModel>> {
        let mut all: Vec<_> = self.models.values().cloned().collect();
        all.sort_by(|a, b| (a.provider.name, &a.id).cmp(&(b.provider.name, &b.id)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_prices_the_main_providers() {
        let catalog = Catalog::builtin().unwrap();
        for (model, provider) in [
            ("gpt-4o", "openai"),
            ("gpt-5-mini", "openai"),
            ("mistral-large-latest", "mistral"),
            ("llama-3.3-70b-versatile", "groq"),
            ("deepseek-chat", "deepseek"),
            ("gemini-2.5-flash", "gemini"),
            ("claude-sonnet-4-5", "anthropic"),
            ("claude-haiku-4-5", "anthropic"),
        ] {
            let route = catalog.resolve(model).unwrap_or_else(|| panic!("{model} missing"));
            assert_eq!(route.provider.name, provider);
            assert!(route.price.is_some_and(|p| p.input > 0 && p.output > 0), "{model} is priced");
        }
        let gpt4o = catalog.resolve("gpt-4o").unwrap().price.unwrap();
        assert_eq!((gpt4o.input, gpt4o.cached_input, gpt4o.output), (2_500_000, 1_250_000, 10_000_000));
        assert_eq!(gpt4o.cache_write, gpt4o.input, "OpenAI charges no premium for writing its cache");
        let sonnet = catalog.resolve("claude-sonnet-4-5").unwrap();
        let price = sonnet.price.unwrap();
        assert_eq!(
            (price.input, price.cached_input, price.cache_write, price.output),
            (3_000_000, 300_000, 3_750_000, 15_000_000)
        );
        assert_eq!((sonnet.upstream_id.as_str(), sonnet.max_output_tokens), ("claude-sonnet-4-5", Some(64_000)));
    }

    #[test]
    fn the_catalog_covers_the_current_models_of_every_provider() {
        let catalog = Catalog::builtin().unwrap();
        let models = catalog.models();
        for (provider, at_least, current) in [
            ("openai", 20, "gpt-5.5"),
            ("anthropic", 10, "claude-opus-4-7"),
            ("gemini", 6, "gemini-3.1-pro-preview"),
            ("mistral", 8, "mistral-large-latest"),
            ("groq", 6, "llama-3.3-70b-versatile"),
            ("deepseek", 3, "deepseek-chat"),
            ("xai", 5, "grok-4"),
            ("openrouter", 12, "anthropic/claude-opus-4.7"),
            ("together", 10, "deepseek-ai/DeepSeek-V3.1"),
        ] {
            let theirs: Vec<_> = models.iter().filter(|m| m.provider.name == provider).collect();
            assert!(theirs.len() >= at_least, "{provider}: {} models", theirs.len());
            assert!(theirs.iter().all(|m| m.price.input > 0 && m.price.output > 0), "{provider}: every model priced");
            assert!(theirs.iter().any(|m| m.id == current), "{provider} serves {current}");
        }
    }

    #[test]
    fn provider_prefix_addresses_a_provider_directly() {
        let catalog = Catalog::builtin().unwrap();
        let route = catalog.resolve("openai/gpt-4o").unwrap();
        assert_eq!((route.provider.name, route.upstream_id.as_str()), ("openai", "gpt-4o"));
        assert!(route.price.is_some());

        // Slashed upstream ids are only reachable with their provider prefix.
        let route = catalog.resolve("groq/openai/gpt-oss-120b").unwrap();
        assert_eq!((route.provider.name, route.upstream_id.as_str()), ("groq", "openai/gpt-oss-120b"));

        // A provider's model the catalog does not know is routed, unpriced.
        let route = catalog.resolve("ollama/llama3.2").unwrap();
        assert_eq!((route.provider.name, route.upstream_id.as_str(), route.price), ("ollama", "llama3.2", None));
    }

    #[test]
    fn a_dated_snapshot_has_its_own_price_and_an_unknown_date_has_none() {
        let catalog = Catalog::builtin().unwrap();
        // gpt-4o-2024-05-13 is billed at twice today's gpt-4o; it must not borrow the alias's price.
        let may = catalog.resolve("gpt-4o-2024-05-13").unwrap().price.unwrap();
        assert_eq!((may.input, may.output), (5_000_000, 15_000_000));
        let august = catalog.resolve("openai/gpt-4o-2024-08-06").unwrap().price.unwrap();
        assert_eq!((august.input, august.cached_input, august.output), (2_500_000, 1_250_000, 10_000_000));
        let unknown = catalog.resolve("openai/gpt-4o-2099-01-01").unwrap();
        assert_eq!((unknown.upstream_id.as_str(), unknown.price), ("gpt-4o-2099-01-01", None));
    }

    #[test]
    fn unknown_models_do_not_resolve() {
        let catalog = Catalog::builtin().unwrap();
        for model in ["gpt-17", "nope/gpt-4o", "mock/unknown", "openai/", ""] {
            assert!(catalog.resolve(model).is_none(), "{model} should not resolve");
        }
        assert!(catalog.resolve("mock/echo").is_some());
    }
}
