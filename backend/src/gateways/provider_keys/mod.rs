//! A gateway's own provider keys (BYOK): added and listed on the control plane
//! (only hints are ever shown), sealed at rest under `MASTER_KEY`, and opened into
//! the gateway's key pools when the data plane loads the gateway.

pub mod routes;
pub mod store;
pub mod vault;

use std::{sync::Arc, time::Duration};

pub use routes::config;
use tokio::sync::mpsc;
pub use vault::Vault;

use super::notices::{Notice, Notices};
use crate::{
    catalog::providers::{self, ProviderInfo},
    db::{Db, DbConn},
    ids::ProviderKeyId,
    proxy::keys::{GatewayKeys, KeyHeader, KeyPool, KeyStates, StoredKey},
};

/// Opens a gateway's stored keys into its pools.
pub struct KeyLoader {
    pub vault: Vault,
    pub states: Arc<KeyStates>,
}

impl KeyLoader {
    pub fn load(&self, rows: Vec<store::ProviderKeyRow>) -> GatewayKeys {
        let mut pools: Vec<(&'static ProviderInfo, Vec<StoredKey>)> = Vec::new();
        for row in rows {
            let (Some(provider), Ok(id)) = (providers::find(&row.provider), row.id.parse::<ProviderKeyId>()) else {
                continue;
            };
            let api_key = match self.vault.open(id, &row.sealed_key) {
                Ok(key) => key,
                Err(error) => {
                    tracing::error!(key_id = %id, %error, "a stored provider key cannot be opened: is MASTER_KEY the one it was sealed with?");
                    continue;
                }
            };
            let state = self.states.get(id, row.status == store::INVALID);
            let key = StoredKey { id, api_key, hint: row.key_hint, state };
            match pools.iter_mut().find(|(known, _)| known.name == provider.name) {
                Some((_, keys)) => keys.push(key),
                None => pools.push((provider, vec![key])),
            }
        }
        GatewayKeys::new(
            pools
                .into_iter()
                .map(|(provider, keys)| (provider.name, KeyPool::stored(KeyHeader::of(provider.protocol()), keys)))
                .collect(),
        )
    }
}

/// How often the last use of keys is written to the database.
const RECORD_USES_EVERY: Duration = Duration::from_secs(10);
/// A key's state is dropped from memory after this long unused.
const FORGET_IDLE: Duration = Duration::from_secs(24 * 3600);

/// The keys' bookkeeping, off the data plane: marks the keys providers refused as
/// invalid in the database, and records when keys were last used.
pub fn spawn_bookkeeping(
    db: Db,
    states: Arc<KeyStates>,
    notices: Arc<Notices>,
    mut refused: mpsc::UnboundedReceiver<ProviderKeyId>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut record = tokio::time::interval(RECORD_USES_EVERY);
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                Some(id) = refused.recv() => {
                    match db.run(move |conn| store::mark_invalid(conn, id)).await {
                        Ok(Some(gateway)) => notices.announce(Notice::KeyRefused(gateway, id)),
                        Ok(None) => {}
                        Err(error) => tracing::error!(key_id = %id, %error, "cannot mark a refused provider key invalid"),
                    }
                }
                _ = record.tick() => {
                    let used: Vec<_> = states
                        .take_unrecorded_uses()
                        .into_iter()
                        .filter_map(|(id, ms)| Some((id, chrono::DateTime::from_timestamp_millis(ms as i64)?.naive_utc())))
                        .collect();
                    if !used.is_empty() {
                        if let Err(error) = db.run(move |conn| store::touch(conn, &used)).await {
                            tracing::warn!(%error, "cannot record when provider keys were last used");
                        }
                    }
                }
                _ = prune.tick() => states.prune(FORGET_IDLE),
            }
        }
    })
}

/// What `rotate-master-key` did: keys re-sealed, and keys already under the new key.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: usize,
    pub already: usize,
}

/// Re-seals every stored key under `new`, in one transaction: all or none. A key
/// already sealed under `new` (a rotation run twice) is left as it is; a key that
/// opens under neither stops the rotation, changing nothing (the inner error).
pub fn rotate(conn: &mut DbConn, old: &Vault, new: &Vault) -> diesel::QueryResult<Result<Rotation, String>> {
    use diesel::Connection;
    let mut unopened = None;
    let result = conn.transaction(|conn| {
        let mut rotation = Rotation { resealed: 0, already: 0 };
        for (id, sealed) in store::all_sealed(conn)? {
            let opened = id.parse::<ProviderKeyId>().ok().and_then(|key_id| {
                if new.open(key_id, &sealed).is_ok() {
                    return Some(None);
                }
                Some(Some(new.seal(key_id, &old.open(key_id, &sealed).ok()?)))
            });
            match opened {
                Some(None) => rotation.already += 1,
                Some(Some(resealed)) => {
                    store::reseal(conn, &id, &resealed)?;
                    rotation.resealed += 1;
                }
                None => {
                    unopened = Some(format!("provider key {id} does not open under the current MASTER_KEY"));
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            }
        }
        Ok(rotation)
    });
    match (result, unopened) {
        (Err(_), Some(error)) => Ok(Err(error)),
        (result, _) => result.map(Ok),
    }
}
