//! The data plane's view of gateways: an in-memory map keyed by the SHA-256 of the
//! secret (and by id, for the `x-gateway-id` form). A miss loads once from the
//! database; misses are cached too, so a flood of wrong secrets cannot reach the
//! database more than once per secret per TTL. Rotation and deletion in this process
//! invalidate at once; other processes see them within the TTL.

use std::{
    hash::Hash,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use dashmap::DashMap;

use super::store::{self, GatewayRow};
use crate::{
    auth::secrets::SecretHash,
    db::{Db, DbError},
    ids::{GatewayId, UserId},
};

#[derive(Clone, Debug)]
pub struct GatewayAuth {
    pub gateway_id: GatewayId,
    pub user_id: UserId,
    pub secret_hash: SecretHash,
}

impl GatewayAuth {
    fn from_row(row: GatewayRow) -> Option<Self> {
        Some(Self {
            gateway_id: row.id.parse().ok()?,
            user_id: row.user_id.parse().ok()?,
            secret_hash: SecretHash::from_hex(&row.secret_hash)?,
        })
    }
}

struct Entry {
    auth: Option<GatewayAuth>,
    loaded_at: Instant,
}

pub struct GatewayCache {
    db: Db,
    by_secret: DashMap<SecretHash, Entry>,
    by_id: DashMap<GatewayId, Entry>,
    ttl: Duration,
    max_entries: usize,
    /// Bumped by every invalidation, so a load that raced with one is not cached.
    generation: AtomicU64,
}

impl GatewayCache {
    pub fn new(db: Db, ttl: Duration, max_entries: usize) -> Self {
        Self { db, by_secret: DashMap::new(), by_id: DashMap::new(), ttl, max_entries, generation: AtomicU64::new(0) }
    }

    /// The gateway whose secret this is, if any.
    pub async fn by_secret(&self, secret: &str) -> Result<Option<GatewayAuth>, DbError> {
        let hash = SecretHash::of(secret);
        if let Some(hit) = self.fresh(&self.by_secret, &hash) {
            return Ok(hit.filter(|auth| auth.secret_hash.matches(&hash)));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = self.db.run(move |conn| store::find_by_secret_hash(conn, hash)).await?;
        let auth = row.and_then(GatewayAuth::from_row).filter(|auth| auth.secret_hash.matches(&hash));
        self.store(&self.by_secret, hash, auth.clone(), generation);
        Ok(auth)
    }

    /// The gateway with this id, if any (its secret still has to be checked).
    pub async fn by_id(&self, id: GatewayId) -> Result<Option<GatewayAuth>, DbError> {
        if let Some(hit) = self.fresh(&self.by_id, &id) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = self.db.run(move |conn| store::find_by_id(conn, id)).await?;
        let auth = row.and_then(GatewayAuth::from_row);
        self.store(&self.by_id, id, auth.clone(), generation);
        Ok(auth)
    }

    /// Forgets everything known about a gateway: its old secret stops working at once.
    pub fn invalidate(&self, id: GatewayId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.by_id.remove(&id);
        self.by_secret.retain(|_, entry| entry.auth.as_ref().is_none_or(|auth| auth.gateway_id != id));
    }

    fn fresh<K: Eq + Hash>(&self, map: &DashMap<K, Entry>, key: &K) -> Option<Option<GatewayAuth>> {
        let entry = map.get(key)?;
        (entry.loaded_at.elapsed() < self.ttl).then(|| entry.auth.clone())
    }

    fn store<K: Eq + Hash>(&self, map: &DashMap<K, Entry>, key: K, auth: Option<GatewayAuth>, generation: u64) {
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= self.max_entries {
            map.retain(|_, entry| entry.loaded_at.elapsed() < self.ttl);
            if map.len() >= self.max_entries {
                map.clear();
            }
        }
        map.insert(key, Entry { auth, loaded_at: Instant::now() });
    }
}
