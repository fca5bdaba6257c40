//! Prometheus metrics, in a registry owned by the app (not a global), so every app
//! instance — and every test — counts only its own traffic.

use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub upstream_requests: IntCounterVec,
    pub upstream_errors: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub event_queue_depth: IntGauge,
    pub events_inserted: IntCounter,
    pub event_insert_failures: IntCounter,
    pub events_dropped: IntCounter,
    pub events_spooled: IntGauge,
    pub password_hash_slots: IntGauge,
    pub password_hashes_in_flight: IntGauge,
    pub password_hashes_in_flight_max: IntGauge,
    pub password_hashes_refused: IntCounter,
    pub logins_throttled: IntCounterVec,
    pub limits_redis_errors: IntCounterVec,
    pub limits_redis_down: IntCounterVec,
    pub busy_poll_seconds: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("tollgate".into()), None).expect("valid prefix");
        let latency_buckets =
            vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        let metrics = Metrics {
            http_requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by route pattern, method and status"),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
            http_latency: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Time to the response head, by route pattern")
                    .buckets(latency_buckets),
                &["route", "method"],
            )
            .expect("valid metric"),
            upstream_requests: IntCounterVec::new(
                Opts::new("upstream_requests_total", "Calls to providers, by provider and outcome"),
                &["provider", "outcome"],
            )
            .expect("valid metric"),
            upstream_errors: IntCounterVec::new(
                Opts::new("upstream_errors_total", "Failed provider attempts, by provider and kind"),
                &["provider", "kind"],
            )
            .expect("valid metric"),
            auth_failures: IntCounterVec::new(
                Opts::new("auth_failures_total", "Refused gateway credentials on the data plane, by reason"),
                &["reason"],
            )
            .expect("valid metric"),
            event_queue_depth: IntGauge::new("event_queue_depth", "Request events waiting for the writer")
                .expect("valid metric"),
            events_inserted: IntCounter::new("events_inserted_total", "Request events written to the analytics store")
                .expect("valid metric"),
            event_insert_failures: IntCounter::new("event_insert_failures_total", "Batch inserts that failed")
                .expect("valid metric"),
            events_dropped: IntCounter::new(
                "events_dropped_total",
                "Request events lost (queue full and spool unwritable)",
            )
            .expect("valid metric"),
            events_spooled: IntGauge::new("events_spooled", "Request events waiting in the disk spool")
                .expect("valid metric"),
            password_hash_slots: IntGauge::new("password_hash_slots", "Password hashes that may run at once")
                .expect("valid metric"),
            password_hashes_in_flight: IntGauge::new("password_hashes_in_flight", "Password hashes running now")
                .expect("valid metric"),
            password_hashes_in_flight_max: IntGauge::new(
                "password_hashes_in_flight_max",
                "Most password hashes that ran at once since start-up",
            )
            .expect("valid metric"),
            password_hashes_refused: IntCounter::new(
                "password_hashes_refused_total",
                "Password checks answered 429 busy because no hashing slot freed up in time",
            )
            .expect("valid metric"),
            logins_throttled: IntCounterVec::new(
                Opts::new(
                    "logins_throttled_total",
                    "Sign-in attempts refused with 429, by the limit that refused them",
                ),
                &["limit"],
            )
            .expect("valid metric"),
            limits_redis_errors: IntCounterVec::new(
                Opts::new("limits_redis_errors_total", "Round trips to Redis for the limits that failed, by operation"),
                &["operation"],
            )
            .expect("valid metric"),
            limits_redis_down: IntCounterVec::new(
                Opts::new(
                    "limits_redis_down_calls_total",
                    "Calls met while Redis was unreachable, by what LIMITS_ON_REDIS_DOWN decided (open, closed)",
                ),
                &["decision"],
            )
            .expect("valid metric"),
            busy_poll_seconds: Counter::new(
                "busy_poll_seconds_total",
                "Time the workers spent polling for a call's next step instead of sleeping (BUSY_POLL_US)",
            )
            .expect("valid metric"),
            registry,
        };
        for collector in [
            Box::new(metrics.http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.http_latency.clone()),
            Box::new(metrics.upstream_requests.clone()),
            Box::new(metrics.upstream_errors.clone()),
            Box::new(metrics.auth_failures.clone()),
            Box::new(metrics.event_queue_depth.clone()),
            Box::new(metrics.events_inserted.clone()),
            Box::new(metrics.event_insert_failures.clone()),
            Box::new(metrics.events_dropped.clone()),
            Box::new(metrics.events_spooled.clone()),
            Box::new(metrics.password_hash_slots.clone()),
            Box::new(metrics.password_hashes_in_flight.clone()),
            Box::new(metrics.password_hashes_in_flight_max.clone()),
            Box::new(metrics.password_hashes_refused.clone()),
            Box::new(metrics.logins_throttled.clone()),
            Box::new(metrics.limits_redis_errors.clone()),
            Box::new(metrics.limits_redis_down.clone()),
            Box::new(metrics.busy_poll_seconds.clone()),
        ] {
            metrics.registry.register(collector).expect("metric registered once");
        }
        metrics
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The `method` label: the methods the API serves, and `other` for the rest, so
/// made-up methods cannot create series without end.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
