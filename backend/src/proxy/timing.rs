//! `Server-Timing` on every data-plane answer: how long the gateway itself took
//! and how long the provider did, so any client can see Tollgate's share of a
//! call. For a stream the figures run to the response head, which is when the
//! header is sent.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use actix_web::http::header::{HeaderName, HeaderValue};

pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

pub struct ServerTiming {
    started: Instant,
    upstream_started: Option<Instant>,
    upstream: Option<Duration>,
}

impl ServerTiming {
    pub fn start(started: Instant) -> Self {
        Self { started, upstream_started: None, upstream: None }
    }

    /// The call to the provider begins.
    pub fn upstream_begins(&mut self) {
        self.upstream_started = Some(Instant::now());
    }

    /// The provider's part is over (its whole answer read, or a stream's head received).
    pub fn upstream_ends(&mut self) {
        if let Some(began) = self.upstream_started {
            self.upstream = Some(began.elapsed());
        }
    }

    /// `gateway;dur=0.071, upstream;dur=12.300`, in milliseconds.
    pub fn header(&self) -> HeaderValue {
        let total = self.started.elapsed();
        let gateway = total.saturating_sub(self.upstream.unwrap_or_default());
        let mut buffer = [0u8; 64];
        let mut out = &mut buffer[..];
        let _ = write!(out, "gateway;dur={:.3}", millis(gateway));
        if let Some(upstream) = self.upstream {
            let _ = write!(out, ", upstream;dur={:.3}", millis(upstream));
        }
        let written = 64 - out.len();
        HeaderValue::from_bytes(&buffer[..written]).expect("digits and ASCII make a header value")
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_gateway_and_the_provider_in_milliseconds() {
        let mut timing = ServerTiming::start(Instant::now() - Duration::from_millis(15));
        timing.upstream_started = Some(Instant::now() - Duration::from_millis(12));
        timing.upstream_ends();
        let header = timing.header();
        let text = header.to_str().unwrap();
        let (gateway, upstream) = text.split_once(", ").unwrap();
        let gateway: f64 = gateway.strip_prefix("gateway;dur=").unwrap().parse().unwrap();
        let upstream: f64 = upstream.strip_prefix("upstream;dur=").unwrap().parse().unwrap();
        // The provider had 12 ms of the call; the gateway the 3 ms before it, and what followed.
        assert!(upstream >= 12.0, "{text}");
        assert!(gateway >= 3.0, "{text}");
    }

    #[test]
    fn a_call_that_never_reached_a_provider_has_only_the_gateway() {
        let header = ServerTiming::start(Instant::now()).header();
        assert!(header.to_str().unwrap().starts_with("gateway;dur=0.0"), "{header:?}");
        assert!(!header.to_str().unwrap().contains("upstream"));
    }
}
