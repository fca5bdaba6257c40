//! A provider's operator keys: used round-robin, and a key that was rate limited
//! or failed rests for a while before it is used again.

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use hyper::header::{HeaderName, HeaderValue};

use crate::auth::secrets::key_hint;

/// How a provider takes its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and those compatible with it).
    Bearer,
    /// `x-api-key: <key>` (Anthropic).
    XApiKey,
}

impl KeyHeader {
    pub fn name(self) -> HeaderName {
        match self {
            KeyHeader::Bearer => hyper::header::AUTHORIZATION,
            KeyHeader::XApiKey => HeaderName::from_static("x-api-key"),
        }
    }

    /// The header value that presents `key`, marked sensitive so it is never logged.
    pub fn value(self, key: &str) -> Result<HeaderValue, hyper::header::InvalidHeaderValue> {
        let mut value = match self {
            KeyHeader::Bearer => HeaderValue::try_from(format!("Bearer {key}"))?,
            KeyHeader::XApiKey => HeaderValue::try_from(key)?,
        };
        value.set_sensitive(true);
        Ok(value)
    }
}

pub struct PooledKey {
    /// The key's header value, made once.
    pub authorization: HeaderValue,
    pub hint: String,
    /// Epoch milliseconds before which the key rests.
    resting_until: AtomicU64,
}

pub struct KeyPool {
    keys: Vec<PooledKey>,
    next: AtomicUsize,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl KeyPool {
    pub fn new(provider: &str, header: KeyHeader, keys: &[String]) -> anyhow::Result<Self> {
        let keys = keys
            .iter()
            .map(|key| {
                let authorization = header.value(key).map_err(|_| {
                    anyhow::anyhow!(
                        "{}_API_KEY holds a key with characters no HTTP header may carry",
                        provider.to_uppercase()
                    )
                })?;
                Ok(PooledKey { authorization, hint: key_hint(key), resting_until: AtomicU64::new(0) })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { keys, next: AtomicUsize::new(0) })
    }

    pub fn get(&self, index: usize) -> &PooledKey {
        &self.keys[index]
    }

    /// The next key in turn, preferring keys not already `tried` for this call and
    /// not resting; when every key rests, the one that comes back first.
    pub fn pick(&self, tried: &[usize]) -> Option<usize> {
        let count = self.keys.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let in_turn = (0..count).map(|offset| (start + offset) % count);
        let ready = |i: &usize| self.keys[*i].resting_until.load(Ordering::Relaxed) <= now;
        in_turn
            .clone()
            .find(|i| !tried.contains(i) && ready(i))
            .or_else(|| in_turn.clone().find(ready))
            .or_else(|| in_turn.min_by_key(|i| self.keys[*i].resting_until.load(Ordering::Relaxed)))
    }

    /// How long until the first key is ready again (zero when one is ready now).
    pub fn soonest_back(&self) -> Duration {
        let now = now_ms();
        let soonest = self.keys.iter().map(|k| k.resting_until.load(Ordering::Relaxed)).min().unwrap_or(0);
        Duration::from_millis(soonest.saturating_sub(now))
    }

    pub fn rest(&self, index: usize, duration: Duration) {
        self.keys[index].resting_until.store(now_ms() + duration.as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> KeyPool {
        KeyPool::new("openai", KeyHeader::Bearer, &(0..n).map(|i| format!("sk-key-{i}")).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn keys_are_used_in_turn() {
        let pool = pool(3);
        let picks: Vec<_> = (0..6).map(|_| pool.pick(&[]).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_resting_key_is_skipped_until_all_rest() {
        let pool = pool(2);
        pool.rest(0, Duration::from_secs(60));
        assert!((0..4).all(|_| pool.pick(&[]) == Some(1)));
        pool.rest(1, Duration::from_secs(30));
        assert_eq!(pool.pick(&[]), Some(1), "the key that comes back first");
    }

    #[test]
    fn a_retry_prefers_a_key_not_yet_tried() {
        let pool = pool(3);
        assert_eq!(pool.pick(&[0, 1]), Some(2));
        assert!(KeyPool::new("openai", KeyHeader::Bearer, &[]).unwrap().pick(&[]).is_none());
    }
}
