//! Busy polling: a worker thread stays on its core for a short while after a step of
//! a call, instead of going to sleep at once.
//!
//! A call through the gateway is a relay: the client's request arrives and goes to
//! the provider, the answer (or each streamed event) comes back and goes out. Between
//! these steps the worker waits some tens of microseconds. Asleep in `epoll_wait`, its
//! core goes idle, and on a virtual machine an idle core is halted: waking it for the
//! next step waits for the host to schedule that core again, 15-70 µs on this
//! project's CI machine and a few hundred when the host is busy, at least twice per
//! call. A worker that polls for those microseconds is still running when the next
//! step's bytes arrive.
//!
//! It is bounded: after a call's last step (`active`), a worker polls for at most the
//! window (`BUSY_POLL_US`), giving its core to any other thread that is ready to run
//! at every turn, and then sleeps as before. An idle server does not poll at all.
//! `BUSY_POLL_US=0` turns it off.

use std::{
    cell::{Cell, RefCell},
    future::poll_fn,
    task::{Poll, Waker},
    time::{Duration, Instant},
};

use prometheus::Counter;

thread_local! {
    static POLLER: Poller = const { Poller { on: Cell::new(false), last: Cell::new(None), waker: RefCell::new(None) } };
}

struct Poller {
    /// Whether this thread polls.
    on: Cell<bool>,
    /// The latest step of a call, until the poller takes it.
    last: Cell<Option<Instant>>,
    /// The poller, while it sleeps.
    waker: RefCell<Option<Waker>>,
}

/// Starts polling on this worker thread, once (a zero window does nothing). Runs on
/// the thread's own runtime, as actix-web's app factory does.
pub fn start_on_this_thread(window: Duration, polled: Counter) {
    if window.is_zero() || POLLER.with(|p| p.on.replace(true)) {
        return;
    }
    tokio::task::spawn_local(poll_after_steps(window, polled));
}

/// A step of a call on this thread: the worker polls for the window after it.
pub fn active() {
    POLLER.with(|p| {
        if !p.on.get() {
            return;
        }
        p.last.set(Some(Instant::now()));
        if let Some(waker) = p.waker.borrow_mut().take() {
            waker.wake();
        }
    });
}

async fn poll_after_steps(window: Duration, polled: Counter) {
    loop {
        // Asleep until a call takes a step.
        let mut last = poll_fn(|cx| {
            POLLER.with(|p| match p.last.take() {
                Some(at) => Poll::Ready(at),
                None => {
                    *p.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await;
        let began = last;
        // Each turn lets the runtime look for ready sockets without blocking and run
        // whatever they woke, until a window has passed with no step.
        loop {
            if let Some(at) = POLLER.with(|p| p.last.take()) {
                last = at;
            }
            if last.elapsed() >= window {
                break;
            }
            std::thread::yield_now();
            tokio::task::yield_now().await;
        }
        polled.inc_by(began.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker's runtime, as actix-web runs one per thread.
    fn on_a_worker(test: impl std::future::Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        tokio::task::LocalSet::new().block_on(&runtime, test);
    }

    /// Starts this worker's poller with `window`: the counter of the time it polls.
    fn polling(window: Duration) -> Counter {
        let counter = Counter::new("polled", "test").expect("counter");
        start_on_this_thread(window, counter.clone());
        counter
    }

    #[test]
    fn a_worker_polls_for_the_window_after_a_step_then_sleeps() {
        on_a_worker(async {
            let window = Duration::from_millis(5);
            let counter = polling(window);
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(counter.get(), 0.0, "no step yet: the worker sleeps");

            active();
            tokio::time::sleep(Duration::from_millis(30)).await;
            let after_one_step = counter.get();
            assert!(
                after_one_step >= window.as_secs_f64(),
                "polled {after_one_step} s, at least the window after the step"
            );

            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(counter.get(), after_one_step, "no step since: the worker sleeps again");
        });
    }

    #[test]
    fn each_step_extends_the_window() {
        on_a_worker(async {
            let window = Duration::from_millis(5);
            let counter = polling(window);
            active();
            // Steps 3 ms apart keep the worker polling across them: one stretch of
            // polling that lasts from the first step to the window after the last.
            for _ in 0..4 {
                let until = Instant::now() + Duration::from_millis(3);
                while Instant::now() < until {
                    tokio::task::yield_now().await;
                }
                active();
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            let polled = counter.get();
            assert!(
                polled >= (Duration::from_millis(12) + window).as_secs_f64(),
                "polled {polled} s through four steps 3 ms apart"
            );
        });
    }

    #[test]
    fn a_zero_window_never_polls() {
        on_a_worker(async {
            let counter = polling(Duration::ZERO);
            active();
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(counter.get(), 0.0);
        });
    }
}
