//! The data plane's view of gateways: an in-memory map keyed by the SHA-256 of the
//! secret (and by id, for the `x-gateway-id` form). Rotation, deletion and any
//! change of settings or keys invalidate at once in this process, and in others
//! through change notices (`notices`); the TTL is only the safety net.
//!
//! Unauthenticated load must not reach the tenants, so a miss is paid for once:
//! - a secret that is not in the format Tollgate issues never causes a lookup;
//! - concurrent misses for the same key share one lookup;
//! - at most a few lookups run at once, so a flood cannot take the database pool;
//! - misses are remembered in maps of their own with their own bound, so a flood
//!   of made-up secrets never evicts the gateways that are really in use.

use std::{
    future::Future,
    hash::Hash,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;
use ipnet::IpNet;
use tokio::sync::{OnceCell, Semaphore};

use super::{
    provider_keys::{self, store::ProviderKeyRow, KeyLoader},
    store::{self, GatewayRow},
    Fallbacks,
};
use crate::{
    auth::secrets::{self, SecretHash},
    db::{Db, DbConn, DbError},
    fast_hash::FastDashMap,
    ids::{GatewayId, UserId},
    limits::Limits,
    proxy::keys::GatewayKeys,
};

#[derive(Clone, Debug)]
pub struct GatewayAuth {
    pub gateway_id: GatewayId,
    pub user_id: UserId,
    pub secret_hash: SecretHash,
    pub fallbacks: Arc<Fallbacks>,
    /// The gateway's own provider keys.
    pub keys: Arc<GatewayKeys>,
    /// Its limits as set (the operator's ceiling applies on top).
    pub limits: Limits,
    /// The client addresses it takes calls from; empty: any.
    pub allowed_ips: Arc<Vec<IpNet>>,
}

impl GatewayAuth {
    fn from_row(row: GatewayRow, keys: GatewayKeys) -> Option<Self> {
        Some(Self {
            gateway_id: row.id.parse().ok()?,
            user_id: row.user_id.parse().ok()?,
            secret_hash: SecretHash::from_hex(&row.secret_hash)?,
            fallbacks: Arc::new(Fallbacks::from_stored(&row.fallbacks)),
            keys: Arc::new(keys),
            limits: Limits::from_stored(&row.limits),
            allowed_ips: Arc::new(row.allowed_ips()),
        })
    }
}

/// A gateway row with its stored keys, in one visit to the database.
fn load_gateway(
    conn: &mut DbConn,
    find: impl FnOnce(&mut DbConn) -> diesel::QueryResult<Option<GatewayRow>>,
) -> diesel::QueryResult<Option<(GatewayRow, Vec<ProviderKeyRow>)>> {
    let Some(row) = find(conn)? else { return Ok(None) };
    let Ok(id) = row.id.parse() else { return Ok(None) };
    let keys = provider_keys::store::for_gateway(conn, id)?;
    Ok(Some((row, keys)))
}

/// Database lookups for cache misses allowed at once.
const CONCURRENT_LOOKUPS: usize = 4;

/// Cached answers for one kind of key: the gateways found, and the keys that
/// named none, each map with its own bound.
struct Index<K> {
    /// Every call's lookup (foldhash: only gateways that exist are in it).
    found: FastDashMap<K, (GatewayAuth, Instant)>,
    /// Keys a caller chose (a made-up gateway id): SipHash, which no caller can
    /// collide on purpose.
    missing: DashMap<K, Instant>,
    /// Lookups in flight, shared by concurrent misses of the same key.
    loading: DashMap<K, Arc<OnceCell<Option<GatewayAuth>>>>,
}

impl<K: Eq + Hash + Clone> Index<K> {
    fn new() -> Self {
        Self { found: FastDashMap::default(), missing: DashMap::new(), loading: DashMap::new() }
    }
}

pub struct GatewayCache {
    db: Db,
    keys: KeyLoader,
    by_secret: Index<SecretHash>,
    by_id: Index<GatewayId>,
    ttl: Duration,
    max_found: usize,
    max_missing: usize,
    lookups: Semaphore,
    lookups_made: AtomicU64,
    /// Bumped by every invalidation, so a load that raced with one is not cached.
    generation: AtomicU64,
}

impl GatewayCache {
    pub fn new(db: Db, keys: KeyLoader, ttl: Duration, max_found: usize, max_missing: usize) -> Self {
        Self {
            db,
            keys,
            by_secret: Index::new(),
            by_id: Index::new(),
            ttl,
            max_found,
            max_missing,
            lookups: Semaphore::new(CONCURRENT_LOOKUPS),
            lookups_made: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// The gateway whose secret this is, if any.
    pub async fn by_secret(&self, secret: &str) -> Result<Option<GatewayAuth>, DbError> {
        if !secrets::looks_issued(secret) {
            return Ok(None);
        }
        let hash = SecretHash::of(secret);
        let auth = self
            .get(&self.by_secret, hash, || async move {
                let found =
                    self.db.run(move |conn| load_gateway(conn, |c| store::find_by_secret_hash(c, hash))).await?;
                Ok(self.open(found))
            })
            .await?;
        Ok(auth.filter(|auth| auth.secret_hash.matches(&hash)))
    }

    /// The gateway with this id, if any (its secret still has to be checked).
    pub async fn by_id(&self, id: GatewayId) -> Result<Option<GatewayAuth>, DbError> {
        self.get(&self.by_id, id, || async move {
            let found = self.db.run(move |conn| load_gateway(conn, |c| store::find_by_id(c, id))).await?;
            Ok(self.open(found))
        })
        .await
    }

    /// What seals and opens stored provider keys.
    pub fn vault(&self) -> &provider_keys::Vault {
        &self.keys.vault
    }

    fn open(&self, found: Option<(GatewayRow, Vec<ProviderKeyRow>)>) -> Option<GatewayAuth> {
        let (row, keys) = found?;
        GatewayAuth::from_row(row, self.keys.load(keys))
    }

    /// Forgets everything known about a gateway: its old secret stops working at once.
    pub fn invalidate(&self, id: GatewayId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_id.found.remove(&id);
        self.by_secret.found.retain(|_, (auth, _)| auth.gateway_id != id);
    }

    async fn get<K, F, Fut>(&self, index: &Index<K>, key: K, load: F) -> Result<Option<GatewayAuth>, DbError>
    where
        K: Eq + Hash + Clone,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<GatewayAuth>, DbError>>,
    {
        if let Some(hit) = index.found.get(&key).filter(|e| e.1.elapsed() < self.ttl) {
            return Ok(Some(hit.0.clone()));
        }
        if index.missing.get(&key).is_some_and(|at| at.elapsed() < self.ttl) {
            return Ok(None);
        }
        let cell = index.loading.entry(key.clone()).or_default().clone();
        let result = cell
            .get_or_try_init(|| async {
                let generation = self.generation.load(Ordering::Acquire);
                let _permit = self.lookups.acquire().await.expect("the lookup semaphore is never closed");
                self.lookups_made.fetch_add(1, Ordering::Relaxed);
                let auth = load().await?;
                self.remember(index, key.clone(), auth.clone(), generation);
                Ok(auth)
            })
            .await
            .cloned();
        index.loading.remove_if(&key, |_, loading| Arc::ptr_eq(loading, &cell));
        result
    }

    fn remember<K: Eq + Hash>(&self, index: &Index<K>, key: K, auth: Option<GatewayAuth>, generation: u64) {
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let now = Instant::now();
        match auth {
            Some(auth) => {
                if index.found.len() >= self.max_found {
                    index.found.retain(|_, (_, at)| at.elapsed() < self.ttl);
                }
                // Full of live gateways: serve this one uncached rather than evict any.
                if index.found.len() < self.max_found {
                    index.found.insert(key, (auth, now));
                }
            }
            None => {
                if index.missing.len() >= self.max_missing {
                    index.missing.retain(|_, at| at.elapsed() < self.ttl);
                    if index.missing.len() >= self.max_missing {
                        index.missing.clear();
                    }
                }
                index.missing.insert(key, now);
            }
        }
    }

    /// Forgets every gateway (after change notices may have been missed).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_id.found.clear();
        self.by_secret.found.clear();
    }

    /// Database lookups made so far.
    pub fn lookups_made(&self) -> u64 {
        self.lookups_made.load(Ordering::Relaxed)
    }

    /// How many entries each map holds: (found, missing), over both kinds of key.
    pub fn sizes(&self) -> (usize, usize) {
        (self.by_secret.found.len() + self.by_id.found.len(), self.by_secret.missing.len() + self.by_id.missing.len())
    }
}
