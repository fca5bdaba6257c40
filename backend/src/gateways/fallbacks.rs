//! A gateway's fallback chains: for a requested model, the models tried in order
//! when every key of it failed (a rate limit, the provider's own error, a timeout,
//! an unreachable provider), never when the request itself was refused.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    catalog::{Catalog, MAX_MODEL_BYTES},
    error::ApiError,
};

/// At most this many chains per gateway, and models per chain.
pub const MAX_CHAINS: usize = 50;
pub const MAX_CHAIN: usize = 5;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fallbacks(BTreeMap<String, Vec<String>>);

impl Fallbacks {
    /// The models tried after `model`, in order.
    pub fn chain(&self, model: &str) -> &[String] {
        self.0.get(model).map_or(&[], Vec::as_slice)
    }

    pub fn chains(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// As stored: a JSON object. A stored value that does not read is no chain at all.
    pub fn from_stored(text: &str) -> Self {
        Self(serde_json::from_str(text).unwrap_or_default())
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings serializes")
    }

    /// A chain map sent by a user (`null` clears it), checked against the catalog:
    /// every model must be one this gateway can route, and none may fall back to itself.
    pub fn parse(value: &Value, catalog: &Catalog) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::invalid("invalid_fallbacks", message);
        let object = match value {
            Value::Null => return Ok(Self::default()),
            Value::Object(object) => object,
            _ => return Err(invalid("fallbacks must be an object of model: [fallback models]".into())),
        };
        if object.len() > MAX_CHAINS {
            return Err(invalid(format!("at most {MAX_CHAINS} fallback chains per gateway")));
        }
        let known = |model: &str| {
            if model.trim().is_empty() || model.len() > MAX_MODEL_BYTES || catalog.resolve(model).is_none() {
                Err(invalid(format!("`{model}` is not a model this gateway serves")))
            } else {
                Ok(model.to_string())
            }
        };
        let mut chains = BTreeMap::new();
        for (model, chain) in object {
            let chain =
                chain.as_array().ok_or_else(|| invalid(format!("the fallbacks of `{model}` must be a list")))?;
            if chain.is_empty() || chain.len() > MAX_CHAIN {
                return Err(invalid(format!("`{model}` must fall back to 1 to {MAX_CHAIN} models")));
            }
            let model = known(model)?;
            let mut models = Vec::with_capacity(chain.len());
            for fallback in chain {
                let fallback = known(fallback.as_str().ok_or_else(|| invalid("fallback models are strings".into()))?)?;
                if fallback == model || models.contains(&fallback) {
                    return Err(invalid(format!("`{model}` lists `{fallback}` twice, or falls back to itself")));
                }
                models.push(fallback);
            }
            chains.insert(model, models);
        }
        Ok(Self(chains))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chains_name_models_the_catalog_routes() {
        let catalog = Catalog::builtin().unwrap();
        let parsed = Fallbacks::parse(
            &json!({"gpt-4o": ["anthropic/claude-sonnet-4-5", "groq/llama-3.3-70b-versatile"]}),
            &catalog,
        )
        .unwrap();
        assert_eq!(parsed.chain("gpt-4o"), ["anthropic/claude-sonnet-4-5", "groq/llama-3.3-70b-versatile"]);
        assert!(parsed.chain("gpt-4o-mini").is_empty());
        assert_eq!(Fallbacks::from_stored(&parsed.to_stored()), parsed);
        assert_eq!(Fallbacks::parse(&Value::Null, &catalog).unwrap(), Fallbacks::default());

        for bad in [
            json!(["gpt-4o"]),
            json!({"gpt-4o": []}),
            json!({"gpt-4o": "mock/echo"}),
            json!({"gpt-4o": ["no-such-model"]}),
            json!({"nope/gpt": ["mock/echo"]}),
            json!({"gpt-4o": ["gpt-4o"]}),
            json!({"gpt-4o": ["mock/echo", "mock/echo"]}),
            json!({"gpt-4o": ["mock/echo", "mock/slow-echo", "gpt-4o-mini", "claude-haiku-4-5", "groq/x", "groq/y"]}),
        ] {
            let error = Fallbacks::parse(&bad, &catalog).expect_err(&bad.to_string());
            assert_eq!(error.code(), "invalid_fallbacks", "{bad}");
        }
    }
}
