//! Argon2id password hashes, run a few at a time.
//!
//! Each hash takes about 19 MiB and a core for tens of milliseconds, on purpose. So
//! that sign-ins cannot take the memory and the threads the data plane needs, every
//! hash and every check (the dummy one for unknown usernames included) goes through
//! `Passwords`: a semaphore with a few slots, sized from the cores. A caller waits a
//! short while for a slot; when the queue is long or the wait runs out it gets
//! `429 busy` with `Retry-After`. Callers hold no database connection meanwhile.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{error::ApiError, metrics::Metrics};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

/// Never more hashes at once than this, however many cores there are.
const MAX_SLOTS: usize = 4;
/// How long a check may wait for a slot before it is answered `429 busy`.
const SLOT_WAIT: Duration = Duration::from_secs(3);
/// Waiting callers per slot beyond which new ones are refused at once.
const WAITERS_PER_SLOT: usize = 16;
/// What a refused caller is told to wait.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Half the cores (the other half stays with the data plane), 1 to `MAX_SLOTS`.
pub fn default_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, MAX_SLOTS)
}

/// The bounded pool every password hash and check runs on.
pub struct Passwords {
    slots: Arc<Semaphore>,
    slot_wait: Duration,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<Running>,
    refused: IntCounter,
}

/// How many hashes run now, and the most that ever ran at once (for `/metrics`).
struct Running {
    now: AtomicUsize,
    peak: AtomicUsize,
    now_gauge: IntGauge,
    peak_gauge: IntGauge,
}

impl Passwords {
    pub fn new(metrics: &Metrics) -> Self {
        let slots = default_slots();
        Self::with_limits(slots, SLOT_WAIT, slots * WAITERS_PER_SLOT, metrics)
    }

    pub fn with_limits(slots: usize, slot_wait: Duration, max_waiting: usize, metrics: &Metrics) -> Self {
        let slots = slots.max(1);
        metrics.password_hash_slots.set(slots as i64);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            slot_wait,
            max_waiting,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(Running {
                now: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                now_gauge: metrics.password_hashes_in_flight.clone(),
                peak_gauge: metrics.password_hashes_in_flight_max.clone(),
            }),
            refused: metrics.password_hashes_refused.clone(),
        }
    }

    /// A new Argon2id hash (PHC string) of `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash(&password)).await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown username, or
    /// an account without a password) it checks against a dummy one and answers false,
    /// taking as long as a real check, so the answer does not tell which accounts exist.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => {
                dummy_verify(&password);
                false
            }
        })
        .await
    }

    /// Runs `job` on the blocking pool once a slot is free. The slot is held by the job
    /// itself, so a caller that goes away does not free it before the hash is done.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = self.acquire().await?;
        let running = self.running.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = running.start();
            job()
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing task failed: {e}")))
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let Some(_waiter) = Waiter::enter(&self.waiting, self.max_waiting) else {
            self.refused.inc();
            return Err(ApiError::Busy(BUSY_RETRY_AFTER));
        };
        match tokio::time::timeout(self.slot_wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.refused.inc();
                Err(ApiError::Busy(BUSY_RETRY_AFTER))
            }
        }
    }
}

/// A place in the queue for a slot, given back on drop (also when the caller goes away).
struct Waiter(Arc<AtomicUsize>);

impl Waiter {
    fn enter(waiting: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Self(waiting.clone()))
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Running {
    fn start(self: &Arc<Self>) -> RunningGuard {
        let now = self.now.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now, Ordering::AcqRel);
        self.publish();
        RunningGuard(self.clone())
    }

    fn publish(&self) {
        self.now_gauge.set(self.now.load(Ordering::Acquire) as i64);
        self.peak_gauge.set(self.peak.load(Ordering::Acquire) as i64);
    }
}

struct RunningGuard(Arc<Running>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::AcqRel);
        // Published again on the way out, so once all is quiet the gauges are exact.
        self.0.publish();
    }
}

fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not-a-real-password").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_jobs_run_at_once_than_there_are_slots() {
        let metrics = Metrics::new();
        let passwords = Arc::new(Passwords::with_limits(2, Duration::from_secs(10), 100, &metrics));
        let jobs = (0..8).map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.run(|| std::thread::sleep(Duration::from_millis(50))).await })
        });
        for job in futures_util::future::join_all(jobs).await {
            job.unwrap().unwrap();
        }
        assert_eq!(metrics.password_hashes_in_flight_max.get(), 2);
        assert_eq!(metrics.password_hashes_in_flight.get(), 0);
        assert_eq!(metrics.password_hash_slots.get(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn callers_that_cannot_get_a_slot_in_time_are_told_to_come_back() {
        let metrics = Metrics::new();
        let passwords = Arc::new(Passwords::with_limits(1, Duration::from_millis(100), 1, &metrics));
        let busy = {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.run(|| std::thread::sleep(Duration::from_millis(600))).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let (waited, queue_full) = tokio::join!(passwords.run(|| ()), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            passwords.run(|| ()).await
        });
        assert!(matches!(queue_full, Err(ApiError::Busy(_))), "the one place in the queue is taken");
        assert!(matches!(waited, Err(ApiError::Busy(_))), "no slot within the wait");
        assert!(started.elapsed() < Duration::from_millis(500), "refused without waiting for the running hash");
        busy.await.unwrap().unwrap();
        assert_eq!(metrics.password_hashes_refused.get(), 2);
        passwords.run(|| ()).await.expect("the queue place was given back");
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let metrics = Metrics::new();
        let passwords = Passwords::new(&metrics);
        let stored = passwords.hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(passwords.verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!passwords.verify("wrong horse".into(), Some(stored)).await.unwrap());
        assert!(!passwords.verify("correct horse".into(), None).await.unwrap());
        assert!(!passwords.verify("x".into(), Some("not a hash".into())).await.unwrap());
    }
}
