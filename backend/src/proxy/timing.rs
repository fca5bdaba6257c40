//! `Server-Timing` on every data-plane answer: how long the gateway itself took
//! and how long the provider did, so any client can see Tollgate's share of a
//! call. For a stream the figures run to the response head, which is when the
//! header is sent.

use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};

use super::h1::itoa;

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
        let mut line = Line::default();
        line.push(b"gateway;dur=");
        line.millis(gateway);
        if let Some(upstream) = self.upstream {
            line.push(b", upstream;dur=");
            line.millis(upstream);
        }
        HeaderValue::from_bytes(line.as_bytes()).expect("digits and ASCII make a header value")
    }
}

/// The header's text, written by hand (through `fmt`'s float formatting it took
/// about 2,000 instructions a call).
struct Line {
    buf: [u8; 96],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self { buf: [0; 96], len: 0 }
    }
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    /// A duration in milliseconds to the nearest microsecond: `12.300`.
    fn millis(&mut self, duration: Duration) {
        let micros = (duration.as_nanos() + 500) / 1000;
        let whole = usize::try_from(micros / 1000).unwrap_or(usize::MAX);
        let fraction = (micros % 1000) as usize;
        self.push(itoa(whole, &mut [0; 20]));
        self.push(b".");
        self.push(&itoa(1000 + fraction, &mut [0; 20])[1..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
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
    fn milliseconds_are_given_to_the_microsecond() {
        let millis = |nanos: u64| {
            let mut line = Line::default();
            line.millis(Duration::from_nanos(nanos));
            String::from_utf8(line.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(millis(12_300_000), "12.300");
        assert_eq!(millis(71_499), "0.071");
        assert_eq!(millis(71_500), "0.072");
        assert_eq!(millis(999_999_600), "1000.000");
        assert_eq!(millis(0), "0.000");
        assert_eq!(millis(u64::MAX), "18446744073709.552");
    }

    #[test]
    fn a_call_that_never_reached_a_provider_has_only_the_gateway() {
        let header = ServerTiming::start(Instant::now()).header();
        assert!(header.to_str().unwrap().starts_with("gateway;dur=0.0"), "{header:?}");
        assert!(!header.to_str().unwrap().contains("upstream"));
    }
}
