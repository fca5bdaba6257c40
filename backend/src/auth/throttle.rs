//! Sign-in limits: attempts per client address, and unsuccessful attempts per
//! username, each in fixed windows, in bounded memory. Beyond a limit the answer is
//! `429 too_many_attempts` with `Retry-After`, before any password is hashed.
//!
//! New accounts (`/auth/join`) are limited per client address too.
//!
//! The client address is the TCP peer's, or behind `TRUSTED_PROXIES` the one they
//! forwarded (see `ClientIp`). IPv6 clients are counted per /64, the block one
//! subscriber usually gets. The counts live in this process.

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use actix_web::HttpRequest;
use prometheus::IntCounterVec;
use sha2::{Digest, Sha256};

use super::client_ip::ClientIp;
use crate::{error::ApiError, metrics::Metrics};

/// Sign-in attempts one client address may make per window.
pub const ADDRESS_ATTEMPTS: u32 = 30;
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Unsuccessful sign-ins (wrong password, unknown username) per username per window;
/// a successful one starts the count again.
pub const USERNAME_FAILURES: u32 = 10;
pub const USERNAME_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys tracked per limit; a few MiB at most.
const MAX_TRACKED: usize = 100_000;
/// A full table is swept of finished windows at most this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

pub struct LoginThrottle {
    by_address: Windows<IpAddr>,
    by_username: Windows<[u8; 32]>,
    joins: Windows<IpAddr>,
    client_ip: ClientIp,
    throttled: IntCounterVec,
}

impl LoginThrottle {
    pub fn new(client_ip: ClientIp, joins_per_minute: u32, metrics: &Metrics) -> Self {
        Self {
            by_address: Windows::new(ADDRESS_ATTEMPTS, ADDRESS_WINDOW, MAX_TRACKED),
            by_username: Windows::new(USERNAME_FAILURES, USERNAME_WINDOW, MAX_TRACKED),
            joins: Windows::new(joins_per_minute, Duration::from_secs(60), MAX_TRACKED),
            client_ip,
            throttled: metrics.logins_throttled.clone(),
        }
    }

    /// Counts a new account made by the client of `req`.
    pub fn join_from(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.joins.hit(self.client_address(req), Instant::now()).map_err(|wait| {
            self.throttled.with_label_values(&["join"]).inc();
            ApiError::TooManyAttempts(wait)
        })
    }

    /// Counts a sign-in attempt by the client of `req`.
    pub fn attempt_from(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.by_address.hit(self.client_address(req), Instant::now()).map_err(|wait| {
            self.throttled.with_label_values(&["address"]).inc();
            ApiError::TooManyAttempts(wait)
        })
    }

    /// Counts an attempt on `username`. It counts as unsuccessful until `succeeded`
    /// says otherwise, so that concurrent attempts cannot slip past the limit.
    pub fn attempt_on(&self, username: &str) -> Result<(), ApiError> {
        self.by_username.hit(username_key(username), Instant::now()).map_err(|wait| {
            self.throttled.with_label_values(&["username"]).inc();
            ApiError::TooManyAttempts(wait)
        })
    }

    /// The password was right: the username's unsuccessful attempts are forgotten.
    pub fn succeeded(&self, username: &str) {
        self.by_username.clear(&username_key(username));
    }

    /// The attempt could not be checked (server busy, database down): it does not count.
    pub fn unchecked(&self, username: &str) {
        self.by_username.refund(&username_key(username));
    }

    /// Who is calling, as far as the limits are concerned.
    pub fn client_address(&self, req: &HttpRequest) -> IpAddr {
        address_block(self.client_ip.of(req))
    }
}

/// Usernames are keyed by digest, so an entry's size does not depend on what was sent.
fn username_key(username: &str) -> [u8; 32] {
    Sha256::digest(username.as_bytes()).into()
}

/// IPv4 addresses as they are; IPv6 ones by their /64.
fn address_block(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Counts per key in fixed windows. At most `capacity` keys are tracked: when the table
/// is full of unfinished windows, a new key goes uncounted rather than evicting one
/// (evicting would let a flood of made-up keys reset the count of a real one).
struct Windows<K> {
    limit: u32,
    window: Duration,
    capacity: usize,
    state: Mutex<State<K>>,
}

struct State<K> {
    slots: HashMap<K, Slot>,
    next_sweep: Option<Instant>,
}

struct Slot {
    started: Instant,
    count: u32,
}

impl<K: Hash + Eq> Windows<K> {
    fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Self { limit, window, capacity, state: Mutex::new(State { slots: HashMap::new(), next_sweep: None }) }
    }

    /// Counts one for `key`, or says how long until its window ends when the limit is reached.
    fn hit(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = state.slots.get_mut(&key) {
            let ends = slot.started + self.window;
            if now >= ends {
                *slot = Slot { started: now, count: 1 };
            } else if slot.count >= self.limit {
                return Err(ends - now);
            } else {
                slot.count += 1;
            }
            return Ok(());
        }
        if state.slots.len() >= self.capacity {
            if state.next_sweep.is_none_or(|at| now >= at) {
                let window = self.window;
                state.slots.retain(|_, slot| now.duration_since(slot.started) < window);
                state.next_sweep = Some(now + SWEEP_INTERVAL);
            }
            if state.slots.len() >= self.capacity {
                tracing::warn!("sign-in limit table full: a key goes uncounted");
                return Ok(());
            }
        }
        state.slots.insert(key, Slot { started: now, count: 1 });
        Ok(())
    }

    fn clear(&self, key: &K) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).slots.remove(key);
    }

    fn refund(&self, key: &K) {
        if let Some(slot) = self.state.lock().unwrap_or_else(PoisonError::into_inner).slots.get_mut(key) {
            slot.count = slot.count.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().unwrap().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_then_the_time_left() {
        let windows = Windows::new(3, Duration::from_secs(60), 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(windows.hit("a", start), Ok(()));
        }
        assert_eq!(windows.hit("a", start + Duration::from_secs(20)), Err(Duration::from_secs(40)));
        assert_eq!(windows.hit("b", start + Duration::from_secs(20)), Ok(()), "other keys are not affected");
        assert_eq!(windows.hit("a", start + Duration::from_secs(60)), Ok(()), "a new window");
    }

    #[test]
    fn clearing_forgets_and_refunding_gives_one_back() {
        let windows = Windows::new(2, Duration::from_secs(60), 10);
        let now = Instant::now();
        windows.hit("a", now).unwrap();
        windows.hit("a", now).unwrap();
        assert!(windows.hit("a", now).is_err());
        windows.refund(&"a");
        assert_eq!(windows.hit("a", now), Ok(()));
        windows.clear(&"a");
        windows.hit("a", now).unwrap();
        assert_eq!(windows.hit("a", now), Ok(()));
    }

    #[test]
    fn a_flood_of_new_keys_cannot_grow_the_table_or_reset_a_tracked_key() {
        let windows = Windows::new(2, Duration::from_secs(60), 100);
        let now = Instant::now();
        windows.hit(u32::MAX, now).unwrap();
        windows.hit(u32::MAX, now).unwrap();
        for key in 0..10_000 {
            windows.hit(key, now).unwrap();
        }
        assert_eq!(windows.tracked(), 100);
        assert!(windows.hit(u32::MAX, now).is_err(), "the tracked key keeps its count");
        // Once the windows are over, the table makes room again.
        let later = now + Duration::from_secs(61);
        windows.hit(20_000, later).unwrap();
        assert_eq!(windows.tracked(), 1);
    }

    #[test]
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        let metrics = Metrics::new();
        let request = || {
            TestRequest::default()
                .peer_addr("192.0.2.1:5000".parse().unwrap())
                .insert_header(("x-forwarded-for", "203.0.113.9, 198.51.100.7"))
                .to_http_request()
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusting =
            |cidrs: &str| LoginThrottle::new(ClientIp::new(crate::config::parse_cidrs(cidrs).unwrap()), 10, &metrics);
        assert_eq!(trusting("").client_address(&request()), ip("192.0.2.1"));
        assert_eq!(trusting("192.0.2.0/24").client_address(&request()), ip("198.51.100.7"));
        assert_eq!(trusting("192.0.2.0/24, 198.51.100.7").client_address(&request()), ip("203.0.113.9"));
        let v6 = TestRequest::default().peer_addr("[2001:db8:1:2:3:4:5:6]:443".parse().unwrap()).to_http_request();
        assert_eq!(trusting("").client_address(&v6), ip("2001:db8:1:2::"));
    }
}
