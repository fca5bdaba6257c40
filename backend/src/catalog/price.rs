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

impl Price {
    /// The cost of one call in nano-USD, rounded half up once per call.
    pub fn cost_nanousd(&self, usage: &Usage) -> u64 {
        let cached = usage.cached.min(usage.prompt) as u128;
        let written = usage.cache_write.min(usage.prompt - cached as u64) as u128;
        let uncached = usage.prompt as u128 - cached - written;
        let pico = uncached * self.input as u128
            + cached * self.cached_input as u128
            + written * self.cache_write as u128
            + usage.completion as u128 * self.output as u128;
        u64::try_from((pico + 500) / 1000).unwrap_or(u64::MAX)
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
        let price = Price { input: 2_500_000, cached_input: 1_250_000, cache_write: 2_500_000, output: 10_000_000 };
        let usage = Usage { prompt: 1000, completion: 200, cached: 400, ..Usage::default() };
        // 600 * 2500 + 400 * 1250 + 200 * 10000 nano-USD
        assert_eq!(price.cost_nanousd(&usage), 1_500_000 + 500_000 + 2_000_000);
        // Fractions of a nano-dollar round half up: 1 token at $0.0005/M = 0.5 nano-USD.
        let tiny = Price { input: 500, cached_input: 500, cache_write: 500, output: 0 };
        assert_eq!(tiny.cost_nanousd(&Usage { prompt: 1, ..Usage::default() }), 1);
    }

    #[test]
    fn cost_charges_cache_writes_at_their_own_price() {
        // claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out.
        let price = Price { input: 3_000_000, cached_input: 300_000, cache_write: 3_750_000, output: 15_000_000 };
        let usage = Usage { prompt: 100 + 2048 + 1024, completion: 50, cached: 2048, cache_write: 1024, reasoning: 0 };
        // 100 * 3000 + 2048 * 300 + 1024 * 3750 + 50 * 15000 nano-USD
        assert_eq!(price.cost_nanousd(&usage), 300_000 + 614_400 + 3_840_000 + 750_000);
        // Counts a provider got wrong never charge a token twice.
        let odd = Usage { prompt: 10, completion: 0, cached: 8, cache_write: 8, reasoning: 0 };
        assert_eq!(price.cost_nanousd(&odd), 8 * 300 + 2 * 3750);
    }
}
