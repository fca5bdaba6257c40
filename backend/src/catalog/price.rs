//! Exact money: prices are integer micro-dollars per million tokens, costs integer
//! nano-dollars, so sums over millions of calls never drift.

use anyhow::{bail, Context};

/// Micro-USD per million tokens (= pico-USD per token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_input: u64,
    /// Prompt tokens written to the provider's cache (Anthropic charges a premium).
    pub cache_write: u64,
    pub output: u64,
    /// Reasoning tokens (part of the output), where a model prices them apart.
    pub reasoning: u64,
}

/// Token counts of one call, in OpenAI's convention whatever the provider: `prompt`
/// counts every prompt token, those read from the cache (`cached`) and those written
/// to it (`cache_write`) included; `completion` counts `reasoning` too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

/// A call's cost by part, in nano-USD. The total is their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CostParts {
    /// Prompt tokens neither read from nor written to the cache.
    pub input: u64,
    pub cached_input: u64,
    pub cache_write: u64,
    /// Completion tokens, reasoning included.
    pub output: u64,
}

impl CostParts {
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.cached_input).saturating_add(self.cache_write).saturating_add(self.output)
    }
}

/// Nano-USD as US dollars, for display.
pub fn usd(nanousd: u64) -> f64 {
    nanousd as f64 / 1e9
}

/// Pico-USD to nano-USD, half up.
fn nano(pico: u128) -> u64 {
    u64::try_from((pico + 500) / 1000).unwrap_or(u64::MAX)
}

impl Price {
    /// The cost of one call by part, each in nano-USD rounded half up, so the parts
    /// a bill shows add up to its total exactly.
    pub fn cost_parts(&self, usage: &Usage) -> CostParts {
        let cached = usage.cached.min(usage.prompt);
        let written = usage.cache_write.min(usage.prompt - cached);
        let uncached = usage.prompt - cached - written;
        let reasoning = usage.reasoning.min(usage.completion);
        let answer = usage.completion - reasoning;
        CostParts {
            input: nano(uncached as u128 * self.input as u128),
            cached_input: nano(cached as u128 * self.cached_input as u128),
            cache_write: nano(written as u128 * self.cache_write as u128),
            output: nano(answer as u128 * self.output as u128 + reasoning as u128 * self.reasoning as u128),
        }
    }

    /// The cost of one call in nano-USD: the sum of its parts.
    pub fn cost_nanousd(&self, usage: &Usage) -> u64 {
        self.cost_parts(usage).total()
    }

    /// USD per million tokens, for display.
    pub fn per_million_usd(micros: u64) -> f64 {
        micros as f64 / 1e6
    }
}

/// "2.50" (USD per million tokens) -> 2_500_000, exactly; at most six decimals.
pub fn parse_per_million(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 6 {
        bail!("price {text:?} must be a decimal with at most six places");
    }
    if !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        bail!("price {text:?} must be a non-negative decimal");
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().context("price too large")? };
    let fraction: u64 = format!("{fraction:0<6}").parse().unwrap_or(0);
    whole.checked_mul(1_000_000).and_then(|w| w.checked_add(fraction)).context("price too large")
}

/// USD per token as a float (LiteLLM's unit) -> micro-USD per million tokens.
pub fn from_usd_per_token(usd: f64) -> Option<u64> {
    (usd.is_finite() && usd >= 0.0).then(|| (usd * 1e12).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_prices_are_read_exactly() {
        assert_eq!(parse_per_million("2.50").unwrap(), 2_500_000);
        assert_eq!(parse_per_million("0.075").unwrap(), 75_000);
        assert_eq!(parse_per_million("0.000001").unwrap(), 1);
        assert_eq!(parse_per_million("15").unwrap(), 15_000_000);
        for bad in ["", ".", "-1", "1e-6", "0.0000001", "abc"] {
            assert!(parse_per_million(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(from_usd_per_token(2.5e-06), Some(2_500_000));
        assert_eq!(from_usd_per_token(3.75e-08), Some(37_500));
    }

    #[test]
    fn cost_charges_cached_tokens_at_the_cached_price() {
        // gpt-4o: $2.50 in, $1.25 cached, $10 out per million tokens.
        let price = Price {
            input: 2_500_000,
            cached_input: 1_250_000,
            cache_write: 2_500_000,
            output: 10_000_000,
            reasoning: 10_000_000,
        };
        let usage = Usage { prompt: 1000, completion: 200, cached: 400, ..Usage::default() };
        // 600 * 2500 + 400 * 1250 + 200 * 10000 nano-USD
        assert_eq!(price.cost_nanousd(&usage), 1_500_000 + 500_000 + 2_000_000);
        // Fractions of a nano-dollar round half up: 1 token at $0.0005/M = 0.5 nano-USD.
        let tiny = Price { input: 500, cached_input: 500, cache_write: 500, output: 0, reasoning: 0 };
        assert_eq!(tiny.cost_nanousd(&Usage { prompt: 1, ..Usage::default() }), 1);
    }

    #[test]
    fn cost_charges_cache_writes_at_their_own_price() {
        // claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out.
        let price = Price {
            input: 3_000_000,
            cached_input: 300_000,
            cache_write: 3_750_000,
            output: 15_000_000,
            reasoning: 15_000_000,
        };
        let usage = Usage { prompt: 100 + 2048 + 1024, completion: 50, cached: 2048, cache_write: 1024, reasoning: 0 };
        // 100 * 3000 + 2048 * 300 + 1024 * 3750 + 50 * 15000 nano-USD
        let parts = price.cost_parts(&usage);
        assert_eq!(parts, CostParts { input: 300_000, cached_input: 614_400, cache_write: 3_840_000, output: 750_000 });
        assert_eq!(price.cost_nanousd(&usage), parts.total());
        // Counts a provider got wrong never charge a token twice.
        let odd = Usage { prompt: 10, completion: 0, cached: 8, cache_write: 8, reasoning: 0 };
        assert_eq!(price.cost_nanousd(&odd), 8 * 300 + 2 * 3750);
    }

    #[test]
    fn reasoning_tokens_are_priced_apart_where_a_model_says_so() {
        let price = Price {
            input: 1_000_000,
            cached_input: 1_000_000,
            cache_write: 1_000_000,
            output: 2_000_000,
            reasoning: 5_000_000,
        };
        let usage = Usage { prompt: 10, completion: 100, reasoning: 40, ..Usage::default() };
        // 60 answer tokens at 2,000 and 40 reasoning tokens at 5,000 nano-USD.
        assert_eq!(price.cost_parts(&usage).output, 60 * 2_000 + 40 * 5_000);
    }
}
