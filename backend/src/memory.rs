//! Giving freed heap memory back to the system. glibc's malloc keeps what a thread
//! freed in that thread's arena for reuse; under load each thread's arena settles at
//! its own high-water mark, so resident memory crept up for minutes (10 % over a
//! 10-minute soak) though nothing was live. Every few seconds `malloc_trim` returns
//! the free pages of every arena; it takes about a millisecond.

use std::time::Duration;

use tokio::task::JoinHandle;

const EVERY: Duration = Duration::from_secs(5);

/// Trims the heap every few seconds until aborted (a no-op where the C library is not glibc).
pub fn spawn_trimmer() -> JoinHandle<()> {
    tokio::spawn(async {
        let mut ticker = tokio::time::interval(EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            trim();
        }
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks malloc's own arenas, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
