//! Argon2id password hashes, run a few at a time.
//!
//! Each hash takes about 19 MiB and a core for tens of milliseconds, on purpose. So
//! that sign-ins cannot take the memory and the threads the data plane needs, every
//! hash and every check (the dummy one for unknown usernames included) goes through
//! `Passwords`: a few slots, sized from the cores. A caller waits a short while for a
//! slot; when the queue is long or the wait runs out it gets `429 busy` with
//! `Retry-After`. Callers hold no database connection meanwhile.
//!
//! The hashes run on threads of their own, one per slot, each with Argon2 working
//! memory that it keeps from one hash to the next. So hashing takes slots x 19 MiB,
//! never more. (Allocated per hash, as the argon2 crate does by default, glibc keeps
//! freed blocks in its arenas: on main, RSS stayed at several blocks per thread that
//! ever hashed.)

use std::{
    cell::RefCell,
    fmt::Display,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use argon2::{
    password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

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
    workers: mpsc::Sender<Job>,
    slot_wait: Duration,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<Running>,
    refused: IntCounter,
}

type Job = Box<dyn FnOnce() + Send>;

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
            workers: spawn_workers(slots),
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

    /// Runs `job` on a hashing thread once a slot is free. The slot is held by the job
    /// itself, so a caller that goes away does not free it before the hash is done.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = self.acquire().await?;
        let running = self.running.clone();
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Slot and count are given back before the answer, so the caller sees them settled.
            let value = {
                let _permit = permit;
                let _running = running.start();
                job()
            };
            let _ = answer.send(value);
        });
        let lost = || ApiError::Internal(anyhow::anyhow!("password hashing failed"));
        self.workers.send(job).map_err(|_| lost())?;
        answered.await.map_err(|_| lost())
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

/// One thread per slot, taking jobs in turn until the pool is dropped.
fn spawn_workers(slots: usize) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..slots {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("password-hash-{i}"))
            .spawn(move || loop {
                let next = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok(job) = next else { break };
                // A job that panics answers nobody (its caller sees an internal error); the thread goes on.
                let _ = catch_unwind(AssertUnwindSafe(job));
            })
            .expect("a password hashing thread starts");
    }
    sender
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

thread_local! {
    /// The Argon2 working memory of this thread, kept from one hash to the next.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 over this thread's working memory (grown on first use, then reused: every
/// block is written before it is read, so what the last hash left there is harmless).
fn argon2_into(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    MEMORY.with_borrow_mut(|memory| {
        let blocks = argon2.params().block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// A new Argon2id hash with the crate's default parameters, as a PHC string.
fn hash(password: &str) -> Result<String, ApiError> {
    fn failed(e: impl Display) -> ApiError {
        ApiError::Internal(anyhow::anyhow!("password hashing failed: {e}"))
    }
    let (algorithm, version, params) = (Algorithm::Argon2id, Version::V0x13, Params::default());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&Argon2::new(algorithm, version, params.clone()), password.as_bytes(), raw_salt, &mut out)
        .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: (&params).try_into().map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches a stored PHC string (with whatever Argon2 parameters it names).
fn verify(password: &str, stored: &str) -> bool {
    let matches = || {
        let parsed = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed.version.map_or(Ok(Version::default()), Version::try_from).ok()?;
        let params = Params::try_from(&parsed).ok()?;
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(&Argon2::new(algorithm, version, params), password.as_bytes(), raw_salt, &mut out).ok()?;
        // `Output` compares in constant time.
        Some(Output::new(&out).ok()? == expected)
    };
    matches().unwrap_or(false)
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
            tokio::spawn(async move {
                passwords
                    .run(|| {
                        std::thread::sleep(Duration::from_millis(50));
                        std::thread::current().name().unwrap_or_default().to_string()
                    })
                    .await
            })
        });
        let mut threads = std::collections::HashSet::new();
        for job in futures_util::future::join_all(jobs).await {
            threads.insert(job.unwrap().unwrap());
        }
        assert_eq!(threads.len(), 2, "the same two threads take every job: {threads:?}");
        assert!(threads.iter().all(|name| name.starts_with("password-hash-")));
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
    async fn a_job_that_panics_leaves_its_slot_and_thread_usable() {
        let metrics = Metrics::new();
        let passwords = Passwords::with_limits(1, Duration::from_secs(10), 10, &metrics);
        assert!(matches!(passwords.run(|| panic!("boom")).await, Err(ApiError::Internal(_))));
        assert_eq!(passwords.run(|| 42).await.unwrap(), 42);
        assert_eq!(metrics.password_hashes_in_flight.get(), 0);
    }

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let ours = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok(), "{ours}");
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert!(verify("correct horse", &theirs) && !verify("wrong horse", &theirs));
        let other_params = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(64, 3, 2, Some(24)).unwrap())
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse", &other_params) && !verify("wrong horse", &other_params));
        assert!(verify("correct horse", &ours), "back to the default parameters after other ones");
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
