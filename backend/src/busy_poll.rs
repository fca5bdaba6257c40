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
//! It is bounded: after a call's last step (`arrived`, `active`), a worker polls for at
//! most the window (`BUSY_POLL_US`), giving its core to any other thread that is ready
//! to run at every turn, and then sleeps as before. An idle server does not poll at all.
//! `BUSY_POLL_US=0` turns it off.
//!
//! It only pays while a worker waits on one call at a time. A worker that takes in
//! several calls between two turns has work queued on its sockets anyway, and its core
//! is shared with whatever feeds it: there, polling only adds a switch between threads
//! at every turn (at 32 connections on two cores, about 2.7 µs of CPU per call and
//! twice the context switches). Such a worker stands down for a while (`STAND_DOWN`)
//! and sleeps between steps as it would without polling.

use std::{
    cell::{Cell, RefCell},
    future::poll_fn,
    task::{Poll, Waker},
    time::{Duration, Instant},
};

use prometheus::Counter;

/// How long a worker that took in several calls in one turn does not poll.
const STAND_DOWN: Duration = Duration::from_millis(10);

thread_local! {
    static POLLER: Poller = const {
        Poller {
            on: Cell::new(false),
            last: Cell::new(None),
            arrivals: Cell::new(0),
            waker: RefCell::new(None),
            quiet_until: Cell::new(None),
        }
    };
}

struct Poller {
    /// Whether this thread polls.
    on: Cell<bool>,
    /// The latest step of a call, until the poller takes it.
    last: Cell<Option<Instant>>,
    /// Calls that arrived since the poller's last turn.
    arrivals: Cell<u32>,
    /// The poller, while it sleeps.
    waker: RefCell<Option<Waker>>,
    /// Steps start no polling before then: the worker was busy with several calls.
    quiet_until: Cell<Option<Instant>>,
}

/// Starts polling on this worker thread, once (a zero window does nothing). Runs on
/// the thread's own runtime, as actix-web's app factory does.
pub fn start_on_this_thread(window: Duration, polled: Counter) {
    if window.is_zero() || POLLER.with(|p| p.on.replace(true)) {
        return;
    }
    tokio::task::spawn_local(poll_after_steps(window, polled));
}

/// A call arrived on this thread: its first step (see `active`).
pub fn arrived() {
    step(true);
}

/// A step of a call on this thread: the worker polls for the window after it.
pub fn active() {
    step(false);
}

fn step(arrival: bool) {
    POLLER.with(|p| {
        if !p.on.get() {
            return;
        }
        let now = Instant::now();
        if p.quiet_until.get().is_some_and(|until| now < until) {
            return;
        }
        if arrival {
            p.arrivals.set(p.arrivals.get().saturating_add(1));
        }
        p.last.set(Some(now));
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
                Some(at) => {
                    // Calls are counted from here: those that came while it slept
                    // (or stood down) say nothing of the worker's load now.
                    p.arrivals.set(0);
                    Poll::Ready(at)
                }
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
            let (stepped, arrivals) = POLLER.with(|p| (p.last.take(), p.arrivals.replace(0)));
            if let Some(at) = stepped {
                last = at;
            }
            if arrivals > 1 {
                POLLER.with(|p| p.quiet_until.set(Some(last + STAND_DOWN)));
                break;
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

            arrived();
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
            arrived();
            // Steps of that call 3 ms apart (a stream's events) keep the worker polling
            // across them: one stretch of polling that lasts from the first step to the
            // window after the last.
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
    fn a_worker_taking_in_several_calls_at_once_stands_down_for_a_while() {
        on_a_worker(async {
            let window = Duration::from_millis(50);
            let counter = polling(window);
            arrived();
            tokio::task::yield_now().await;
            // Two more calls before the poller's next turn: the worker is busy.
            arrived();
            arrived();
            tokio::time::sleep(Duration::from_millis(5)).await;
            let polled = counter.get();
            assert!(
                polled > 0.0 && polled < window.as_secs_f64(),
                "stopped polling after {polled} s instead of polling the window out"
            );
            let quiet_until = POLLER.with(|p| p.quiet_until.get()).expect("the worker stands down");
            if Instant::now() < quiet_until {
                active();
                assert_eq!(POLLER.with(|p| p.last.get()), None, "standing down, a step starts no polling");
            }

            // Once the stand-down is over, one call at a time is polled for again.
            tokio::time::sleep_until(quiet_until.into()).await;
            arrived();
            tokio::time::sleep(Duration::from_millis(80)).await;
            assert!(
                counter.get() >= polled + window.as_secs_f64(),
                "polled {} s in all, the window after the call again",
                counter.get()
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
