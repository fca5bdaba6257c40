//! Reads a price map in LiteLLM's JSON format (`PRICING_FILE`) into catalog models.

use std::collections::HashMap;

use serde::Deserialize;

use super::{price, providers, CatalogModel, Price};

#[derive(Deserialize)]
struct Entry {
    litellm_provider: Option<String>,
    mode: Option<String>,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    max_input_tokens: Option<f64>,
    max_output_tokens: Option<f64>,
}

/// LiteLLM's provider names for the providers Tollgate routes to.
fn provider_for(litellm_name: &str) -> Option<&'static providers::ProviderInfo> {
    let name = match litellm_name {
        "together_ai" => "together",
        "text-completion-openai" => return None,
        other => other,
    };
    providers::find(name).filter(|p| p.remote())
}

/// Chat models of known providers; other entries (embeddings, images, unknown
/// providers, the file's `sample_spec`) are skipped.
pub fn parse(text: &str) -> anyhow::Result<Vec<CatalogModel>> {
    let raw: HashMap<String, serde_json::Value> = serde_json::from_str(text)?;
    let mut models = Vec::new();
    for (key, value) in raw {
        let Ok(entry) = serde_json::from_value::<Entry>(value) else { continue };
        if entry.mode.as_deref() != Some("chat") {
            continue;
        }
        let Some(provider) = entry.litellm_provider.as_deref().and_then(provider_for) else { continue };
        let (Some(input), Some(output)) = (
            entry.input_cost_per_token.and_then(price::from_usd_per_token),
            entry.output_cost_per_token.and_then(price::from_usd_per_token),
        ) else {
            continue;
        };
        let cached_input = entry.cache_read_input_token_cost.and_then(price::from_usd_per_token).unwrap_or(input);
        let cache_write = entry.cache_creation_input_token_cost.and_then(price::from_usd_per_token).unwrap_or(input);
        let id =
            key.strip_prefix(&format!("{}/", entry.litellm_provider.as_deref().unwrap_or_default())).unwrap_or(&key);
        models.push(CatalogModel {
            id: id.to_string(),
            provider,
            upstream_id: id.to_string(),
            price: Price { input, cached_input, cache_write, output },
            context_window: entry.max_input_tokens.filter(|t| *t > 0.0).map(|t| t as u64),
            max_output_tokens: entry.max_output_tokens.filter(|t| *t > 0.0).map(|t| t as u64),
        });
    }
    Ok(models)
}
