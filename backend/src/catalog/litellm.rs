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
    output_cost_per_reasoning_token: Option<f64>,
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
/// providers, the file's `sample_spec`) are skipped. Prices per token become exact
/// integers of micro-USD per million (pico-USD a token); cache reads, cache writes
/// and reasoning tokens get their own prices where the map gives them, else the
/// input (or output) price. When the map names one model twice (`gemini-pro-latest`
/// and `gemini/gemini-pro-latest`), the key with the provider prefix wins.
pub fn parse(text: &str) -> anyhow::Result<Vec<CatalogModel>> {
    let raw: HashMap<String, serde_json::Value> = serde_json::from_str(text)?;
    let mut keys: Vec<&String> = raw.keys().collect();
    // Plain keys first, so a prefixed key for the same model comes after and wins.
    keys.sort_by_key(|key| (key.contains('/'), key.as_str()));
    let mut models: Vec<CatalogModel> = Vec::new();
    let mut at: HashMap<(&'static str, String), usize> = HashMap::new();
    for key in keys {
        let value = raw[key].clone();
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
            key.strip_prefix(&format!("{}/", entry.litellm_provider.as_deref().unwrap_or_default())).unwrap_or(key);
        let model = CatalogModel {
            id: id.to_string(),
            provider,
            upstream_id: id.to_string(),
            price: Price {
                input,
                cached_input,
                cache_write,
                output,
                reasoning: entry.output_cost_per_reasoning_token.and_then(price::from_usd_per_token).unwrap_or(output),
            },
            context_window: entry.max_input_tokens.filter(|t| *t > 0.0).map(|t| t as u64),
            max_output_tokens: entry.max_output_tokens.filter(|t| *t > 0.0).map(|t| t as u64),
        };
        match at.get(&(provider.name, model.id.clone())) {
            Some(&index) => models[index] = model,
            None => {
                at.insert((provider.name, model.id.clone()), models.len());
                models.push(model);
            }
        }
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use serde_json::{Number, Value};

    use super::*;

    /// A price from the map's decimal text (`3.75e-06`), in pico-USD a token, by
    /// decimal arithmetic alone: no floating point on the way.
    fn pico_per_token(number: &Number) -> u64 {
        let text = number.to_string();
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap()),
            None => (text.as_str(), 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: u128 = format!("{whole}{fraction}").parse().unwrap();
        // digits x 10^(exponent - fraction places + 12), rounded half up.
        let shift = exponent - fraction.len() as i32 + 12;
        let value = if shift >= 0 {
            digits * 10u128.pow(shift as u32)
        } else {
            let divisor = 10u128.pow((-shift) as u32);
            (digits + divisor / 2) / divisor
        };
        value as u64
    }

    #[test]
    fn every_chat_model_of_litellms_map_loads_with_its_prices() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/litellm_model_prices.json");
        let text = std::fs::read_to_string(path).unwrap();
        let models = parse(&text).unwrap();
        let loaded: HashMap<(&str, &str), &CatalogModel> =
            models.iter().map(|m| ((m.provider.name, m.id.as_str()), m)).collect();
        assert_eq!(loaded.len(), models.len(), "each model once");

        let map: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let mut expected = HashMap::new();
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by_key(|key| (key.contains('/'), key.as_str()));
        for key in keys {
            let entry = &map[key];
            let Some(provider) = entry["litellm_provider"].as_str() else { continue };
            let ours = match provider {
                "together_ai" => "together",
                other => other,
            };
            let known = [
                "openai",
                "anthropic",
                "mistral",
                "groq",
                "deepseek",
                "openrouter",
                "together",
                "xai",
                "gemini",
                "ollama",
            ];
            if entry["mode"] != "chat" || !known.contains(&ours) {
                continue;
            }
            let price = |field: &str| entry[field].as_number().map(pico_per_token);
            let (Some(input), Some(output)) = (price("input_cost_per_token"), price("output_cost_per_token")) else {
                continue;
            };
            let id = key.strip_prefix(&format!("{provider}/")).unwrap_or(key);
            let want = Price {
                input,
                cached_input: price("cache_read_input_token_cost").unwrap_or(input),
                cache_write: price("cache_creation_input_token_cost").unwrap_or(input),
                output,
                reasoning: price("output_cost_per_reasoning_token").unwrap_or(output),
            };
            expected.insert((ours, id.to_string()), want);
        }
        assert!(expected.len() > 450, "{} chat models of known providers", expected.len());
        for ((provider, id), want) in &expected {
            let model = loaded.get(&(*provider, id.as_str())).unwrap_or_else(|| panic!("{provider}/{id} is loaded"));
            assert_eq!(model.price, *want, "{provider}/{id}");
        }
        assert_eq!(loaded.len(), expected.len(), "and nothing else");

        // A few read by eye from the map, in USD per million tokens.
        let sonnet = loaded[&("anthropic", "claude-sonnet-4-5")];
        assert_eq!((sonnet.price.cached_input, sonnet.price.cache_write), (300_000, 3_750_000));
        assert_eq!(sonnet.max_output_tokens, Some(64_000));
    }
}
