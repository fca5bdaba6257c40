//! The hasher of the maps a call looks things up in (the catalog, the gateways found
//! and their limits, the provider endpoints and connection pool): foldhash, several
//! times cheaper than std's SipHash for short keys. Its seed is random per process,
//! but it is only "minimally" resistant to collisions made on purpose, so these maps
//! hold only keys the operator or the server chose (model ids, origins, the ids and
//! secret hashes of gateways that exist): a caller's input is only looked up in them.
//! Maps that keep what a caller sent (the gateway ids that named nothing) stay on
//! SipHash.

pub type BuildHasher = foldhash::fast::RandomState;
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasher>;
pub type FastDashMap<K, V> = dashmap::DashMap<K, V, BuildHasher>;
