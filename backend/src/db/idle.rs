//! A thread at idle priority, for database work that can wait: the event writer's
//! inserts into SQLite.
//!
//! Linux runs a `SCHED_IDLE` thread only on a core that nothing else wants, and
//! gives the core up to any other thread that wakes there. The writer then never
//! holds a core that a call's next step, the client or the provider is waiting for:
//! on two cores, a call at one connection had waited behind an insert statement at
//! its 99th percentile.
//!
//! The price is starvation on a machine whose cores are never idle, and a thread
//! cannot raise its own priority again (that takes `CAP_SYS_NICE`). Work on this
//! thread watches for it and hands what is left to a thread of normal priority.

use std::{panic::AssertUnwindSafe, sync::mpsc};

use super::DbError;

type Job = Box<dyn FnOnce() + Send>;

pub struct IdleThread {
    jobs: mpsc::Sender<Job>,
}

impl IdleThread {
    /// Starts the thread; it ends when this handle is dropped.
    pub fn spawn(name: &str) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name(name.to_string()).spawn(move || {
            lower_priority();
            for job in queue {
                // A panicking job drops its answer (its caller sees `Canceled`); the
                // thread goes on with the next.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the thread and waits for it.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DbError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(f());
        });
        self.jobs.send(job).map_err(|_| DbError::Canceled)?;
        answered.await.map_err(|_| DbError::Canceled)
    }
}

fn lower_priority() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sets the calling thread's policy (pid 0) from a valid parameter.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(%error, "cannot run the event writer at idle priority: it runs at normal priority");
        }
    }
}
