//! The hasher of the maps a call looks things up in (the catalog, the gateway and
//! limits caches, the provider endpoints and connection pool): foldhash, several
//! times cheaper than std's SipHash for short keys. Its seed is still random per
//! process, and these maps hold only keys the operator or the server chose (model
//! ids, origins, gateway ids, secret hashes): a caller's input is only looked up.

pub type BuildHasher = foldhash::fast::RandomState;
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasher>;
pub type FastDashMap<K, V> = dashmap::DashMap<K, V, BuildHasher>;
