//! Key pools: a provider's operator keys, or a gateway's own keys for it. Keys are
//! used in turn; a key that was rate limited or failed rests for a while before it
//! is used again, and one the provider refused (401/403) is not used again.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use dashmap::DashMap;
use http::header::{HeaderName, HeaderValue};

use crate::{auth::secrets::key_hint, catalog::providers::Protocol, ids::ProviderKeyId};

/// How a provider takes its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and those compatible with it).
    Bearer,
    /// `x-api-key: <key>` (Anthropic).
    XApiKey,
}

impl KeyHeader {
    pub fn of(protocol: Protocol) -> Self {
        match protocol {
            Protocol::OpenAi => KeyHeader::Bearer,
            Protocol::Anthropic => KeyHeader::XApiKey,
        }
    }

    pub fn name(self) -> HeaderName {
        match self {
            KeyHeader::Bearer => http::header::AUTHORIZATION,
            KeyHeader::XApiKey => HeaderName::from_static("x-api-key"),
        }
    }

    /// The header value that presents `key`, marked sensitive so it is never logged.
    pub fn value(self, key: &str) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
        let mut value = match self {
            KeyHeader::Bearer => HeaderValue::try_from(format!("Bearer {key}"))?,
            KeyHeader::XApiKey => HeaderValue::try_from(key)?,
        };
        value.set_sensitive(true);
        Ok(value)
    }
}

/// What a key's pool knows about it: kept apart from the pool, so a gateway's stored
/// keys keep their rest, invalid mark and last use when its cache entry is reloaded.
#[derive(Default)]
pub struct KeyState {
    /// Epoch milliseconds before which the key rests.
    resting_until: AtomicU64,
    /// The provider refused it (401/403): never used again.
    invalid: AtomicBool,
    /// Epoch milliseconds of its last use, and of the last use written to the database.
    last_used_ms: AtomicU64,
    recorded_ms: AtomicU64,
}

impl KeyState {
    pub fn invalid(&self) -> bool {
        self.invalid.load(Ordering::Relaxed)
    }

    /// The provider refused the key: it is not used again. Whether it was usable until now.
    fn refuse(&self) -> bool {
        !self.invalid.swap(true, Ordering::Relaxed)
    }

    pub fn last_used_ms(&self) -> u64 {
        self.last_used_ms.load(Ordering::Relaxed)
    }
}

pub struct PooledKey {
    /// The key's header value, made once.
    pub authorization: HeaderValue,
    pub hint: String,
    /// A gateway's stored key; `None` for the operator's.
    pub id: Option<ProviderKeyId>,
    state: Arc<KeyState>,
}

pub struct KeyPool {
    keys: Vec<PooledKey>,
    next: AtomicUsize,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A gateway's stored key, opened, for its pool.
pub struct StoredKey {
    pub id: ProviderKeyId,
    pub api_key: String,
    pub hint: String,
    pub state: Arc<KeyState>,
}

impl KeyPool {
    /// The operator's keys for a provider (from `<PROVIDER>_API_KEY`).
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
                Ok(PooledKey { authorization, hint: key_hint(key), id: None, state: Arc::default() })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { keys, next: AtomicUsize::new(0) })
    }

    /// A gateway's own keys for a provider (checked for header characters when added).
    pub fn stored(header: KeyHeader, keys: Vec<StoredKey>) -> Self {
        let keys = keys
            .into_iter()
            .filter_map(|key| {
                let authorization = header.value(&key.api_key).ok()?;
                Some(PooledKey { authorization, hint: key.hint, id: Some(key.id), state: key.state })
            })
            .collect();
        Self { keys, next: AtomicUsize::new(0) }
    }

    pub fn get(&self, index: usize) -> &PooledKey {
        &self.keys[index]
    }

    /// Whether any key is not invalid.
    pub fn usable(&self) -> bool {
        self.keys.iter().any(|k| !k.state.invalid())
    }

    /// The next key in turn, preferring keys not already `tried` for this call and
    /// not resting; when every key rests, the one that comes back first. Never a
    /// key the provider refused.
    pub fn pick(&self, tried: &[usize]) -> Option<usize> {
        let count = self.keys.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let in_turn = (0..count).map(|offset| (start + offset) % count).filter(|i| !self.keys[*i].state.invalid());
        let resting_until = |i: &usize| self.keys[*i].state.resting_until.load(Ordering::Relaxed);
        let picked = in_turn
            .clone()
            .find(|i| !tried.contains(i) && resting_until(i) <= now)
            .or_else(|| in_turn.clone().find(|i| resting_until(i) <= now))
            .or_else(|| in_turn.min_by_key(resting_until))?;
        self.keys[picked].state.last_used_ms.store(now, Ordering::Relaxed);
        Some(picked)
    }

    /// How long until the first usable key is ready again (zero when one is ready now).
    pub fn soonest_back(&self) -> Duration {
        let now = now_ms();
        let usable = self.keys.iter().filter(|k| !k.state.invalid());
        let soonest = usable.map(|k| k.state.resting_until.load(Ordering::Relaxed)).min().unwrap_or(0);
        Duration::from_millis(soonest.saturating_sub(now))
    }

    pub fn rest(&self, index: usize, duration: Duration) {
        self.keys[index].state.resting_until.store(now_ms() + duration.as_millis() as u64, Ordering::Relaxed);
    }

    /// The provider refused the key (401/403): it is not used again. Whether it was
    /// usable until now.
    pub fn invalidate(&self, index: usize) -> bool {
        self.keys[index].state.refuse()
    }
}

/// A gateway's own keys: a pool per provider it holds keys for.
#[derive(Default)]
pub struct GatewayKeys {
    pools: Vec<(&'static str, KeyPool)>,
}

impl std::fmt::Debug for GatewayKeys {
    // Keys are secrets: only their providers and number are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.pools.iter().map(|(name, pool)| (name, pool.keys.len()))).finish()
    }
}

impl GatewayKeys {
    pub fn new(pools: Vec<(&'static str, KeyPool)>) -> Self {
        Self { pools }
    }

    pub fn pool(&self, provider: &str) -> Option<&KeyPool> {
        self.pools.iter().find(|(name, _)| *name == provider).map(|(_, pool)| pool)
    }
}

/// The states of every stored key this process has loaded, by id, so they outlive
/// the gateway cache's entries. Their last use is written to the database now and
/// then, off the data plane.
#[derive(Default)]
pub struct KeyStates {
    states: DashMap<ProviderKeyId, Arc<KeyState>>,
}

impl KeyStates {
    /// The key's state; a new one starts invalid when the database says so.
    pub fn get(&self, id: ProviderKeyId, invalid: bool) -> Arc<KeyState> {
        let state = self.states.entry(id).or_default().clone();
        if invalid {
            state.refuse();
        }
        state
    }

    /// The key's state, if this process has loaded the key.
    pub fn peek(&self, id: ProviderKeyId) -> Option<Arc<KeyState>> {
        self.states.get(&id).map(|s| s.clone())
    }

    /// Another process saw the provider refuse this key.
    pub fn mark_invalid(&self, id: ProviderKeyId) {
        if let Some(state) = self.states.get(&id) {
            state.refuse();
        }
    }

    pub fn forget(&self, id: ProviderKeyId) {
        self.states.remove(&id);
    }

    /// Keys used since their last use was recorded, with that time (marked recorded).
    pub fn take_unrecorded_uses(&self) -> Vec<(ProviderKeyId, u64)> {
        let mut used = Vec::new();
        for entry in self.states.iter() {
            let last = entry.last_used_ms.load(Ordering::Relaxed);
            if last > entry.recorded_ms.swap(last, Ordering::Relaxed) {
                used.push((*entry.key(), last));
            }
        }
        used
    }

    /// Drops the states of keys unused for a day (a deleted key's, say): a key that is
    /// loaded again starts from its row.
    pub fn prune(&self, idle: Duration) {
        let now = now_ms();
        let cutoff = now.saturating_sub(idle.as_millis() as u64);
        self.states
            .retain(|_, state| state.last_used_ms() >= cutoff || state.resting_until.load(Ordering::Relaxed) > now);
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

    #[test]
    fn a_refused_key_is_never_picked_again() {
        let pool = pool(2);
        pool.invalidate(0);
        assert!((0..4).all(|_| pool.pick(&[]) == Some(1)));
        pool.rest(1, Duration::from_secs(60));
        assert_eq!(pool.pick(&[]), Some(1), "a resting key before a refused one");
        pool.invalidate(1);
        assert!(!pool.usable());
        assert_eq!(pool.pick(&[]), None);
    }

    #[test]
    fn a_stored_key_keeps_its_state_across_pools() {
        let states = KeyStates::default();
        let id = ProviderKeyId::new();
        let load = || {
            let key = StoredKey { id, api_key: "sk-own".into(), hint: "…-own".into(), state: states.get(id, false) };
            KeyPool::stored(KeyHeader::Bearer, vec![key])
        };
        let first = load();
        assert_eq!(first.pick(&[]), Some(0));
        first.invalidate(0);
        assert!(!load().usable(), "a reloaded gateway still knows the key was refused");
        let uses = states.take_unrecorded_uses();
        assert_eq!(uses.len(), 1);
        assert!(states.take_unrecorded_uses().is_empty(), "each use is recorded once");
    }
}
