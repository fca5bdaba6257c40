//! Tollgate: a multi-tenant AI gateway. `Tollgate::start` builds the whole app
//! from a `Config`; `main` and the integration tests both run it that way.

pub mod analytics;
pub mod auth;
pub mod busy_poll;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod fast_hash;
pub mod gateways;
pub mod ids;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod mock_upstream;
pub mod openapi;
pub mod ops;
pub mod proxy;
pub mod users;
pub mod web;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_cors::Cors;
use actix_web::{
    dev::{ServerHandle, Service},
    error::JsonPayloadError,
    middleware::Condition,
    web as aweb, App, HttpServer,
};
use anyhow::Context;

use crate::{
    analytics::routes::AnalyticsLimits,
    auth::{client_ip::ClientIp, JwtKeys, LoginThrottle, Passwords, Sessions},
    catalog::Catalog,
    config::Config,
    db::Db,
    error::ApiError,
    events::{
        spool::Spool,
        stores::{ClickHouseEventStore, SqlEventStore},
        writer::{EventPipeline, WriterConfig},
        EventStore,
    },
    gateways::{
        notices::Notices,
        provider_keys::{self, KeyLoader, Vault},
        GatewayCache,
    },
    limits::{redis::RedisLimits, Limiter},
    metrics::Metrics,
    proxy::keys::KeyStates,
    proxy::{AuthFailures, BodyMemory, Proxy, ShutdownFlag, StreamLimits, Upstreams},
};

/// Largest control-plane JSON body (names, passwords: small).
const CONTROL_JSON_LIMIT: usize = 64 * 1024;
/// How long the event writer gets to drain after the server stopped; what it has not
/// written by then goes to the spool. docker-compose's stop_grace_period covers the
/// server's grace (SHUTDOWN_GRACE_SECS) plus this, with a margin.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Everything the handlers share, built once.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub sessions: aweb::Data<Sessions>,
    pub passwords: aweb::Data<Passwords>,
    pub login_throttle: aweb::Data<LoginThrottle>,
    pub cache: Arc<GatewayCache>,
    pub notices: Arc<Notices>,
    pub proxy: aweb::Data<Proxy>,
    pub store: Arc<dyn EventStore>,
    pub metrics: Arc<Metrics>,
}

/// Registers every route and the shared data on an app.
pub fn build_app(state: &AppState, cfg: &mut aweb::ServiceConfig) {
    cfg.app_data(aweb::Data::new(state.db.clone()))
        .app_data(state.sessions.clone())
        .app_data(state.passwords.clone())
        .app_data(state.login_throttle.clone())
        .app_data(aweb::Data::from(state.cache.clone()))
        .app_data(aweb::Data::from(state.notices.clone()))
        .app_data(state.proxy.clone())
        .app_data(aweb::Data::from(state.proxy.catalog.clone()))
        .app_data(ops::store_data(state.store.clone()))
        .app_data(aweb::Data::from(state.metrics.clone()))
        .app_data(aweb::Data::from(state.config.clone()))
        .app_data(aweb::Data::from(state.proxy.limiter.clone()))
        .app_data(aweb::Data::new(AnalyticsLimits { max_days: state.config.retention_days }))
        .app_data(aweb::JsonConfig::default().limit(CONTROL_JSON_LIMIT).error_handler(|err, _| {
            match err {
                JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    ApiError::PayloadTooLarge(limit)
                }
                JsonPayloadError::ContentType => {
                    ApiError::bad_request("expected a JSON body (Content-Type: application/json)")
                }
                other => ApiError::invalid("invalid_json", format!("invalid JSON body: {other}")),
            }
            .into()
        }))
        // An id that does not parse names no gateway of the caller's: 404, like any other.
        .app_data(aweb::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(
            aweb::QueryConfig::default()
                .error_handler(|err, _| ApiError::invalid("invalid_query", err.to_string()).into()),
        )
        // The data plane first: the router tries routes in order, and a route with
        // path parameters (/gateways/{id}) costs a regex match to pass over.
        .configure(proxy::config)
        .configure(ops::config)
        .configure(users::config)
        .configure(gateways::config)
        .configure(analytics::config)
        .configure(|cfg| web::config(cfg, state.config.frontend_dir.clone()))
        .default_service(aweb::to(web::not_found));
}

/// The stores the app runs on, connected before it is built.
pub struct Stores {
    pub db: Db,
    pub events: Arc<dyn EventStore>,
    pub limiter: Arc<Limiter>,
}

impl AppState {
    pub async fn new(
        config: Config,
        metrics: Arc<Metrics>,
        sink: events::EventSink,
        stores: Stores,
        shutdown: ShutdownFlag,
    ) -> anyhow::Result<(Self, Vec<tokio::task::JoinHandle<()>>)> {
        let Stores { db, events: store, limiter } = stores;
        let catalog = Arc::new(Catalog::load(config.pricing_file.as_deref())?);
        let key_states = Arc::new(KeyStates::default());
        let keys = KeyLoader { vault: Vault::new(&config.master_key), states: key_states.clone() };
        let cache = Arc::new(GatewayCache::new(db.clone(), keys, config.gateway_cache_ttl, 100_000, 10_000));
        let (refused_keys, refused) = tokio::sync::mpsc::unbounded_channel();
        let client_ip = ClientIp::new(config.trusted_proxies.clone());
        let proxy = Proxy {
            limiter: limiter.clone(),
            ceiling: config.limits.ceiling,
            client_ip: client_ip.clone(),
            cache: cache.clone(),
            catalog,
            upstreams: Upstreams::new(&config, metrics.clone(), refused_keys)?,
            key_states: key_states.clone(),
            sink,
            max_body_bytes: config.max_body_bytes,
            body_memory: BodyMemory::new(config.request_memory_bytes),
            auth_failures: AuthFailures::new(metrics.auth_failures.clone()),
            shutdown: shutdown.clone(),
            unpriced_models: config.unpriced_models,
            upstream_timeout: config.upstream_timeout,
            stream_limits: StreamLimits { idle: config.stream_idle_timeout, total: config.stream_max_duration },
        };
        let notices = Arc::new(
            Notices::connect(config.redis_url.as_deref(), &db, &config.database_url, cache.clone(), key_states.clone())
                .await?,
        );
        let listener = notices.listen();
        let bookkeeping = provider_keys::spawn_bookkeeping(db.clone(), key_states, notices.clone(), refused);
        let state = Self {
            sessions: aweb::Data::new(Sessions::new(db.clone(), JwtKeys::new(&config.jwt_secret), config.jwt_ttl)),
            passwords: aweb::Data::new(Passwords::new(&metrics)),
            login_throttle: aweb::Data::new(LoginThrottle::new(
                client_ip.clone(),
                config.limits.joins_per_minute,
                &metrics,
            )),
            config: Arc::new(config),
            db,
            cache,
            notices,
            proxy: aweb::Data::new(proxy),
            store,
            metrics,
        };
        Ok((state, std::iter::once(bookkeeping).chain(listener).collect()))
    }
}

/// A running Tollgate: its address, and the means to stop it cleanly.
pub struct Tollgate {
    pub addr: SocketAddr,
    handle: ServerHandle,
    shutdown: ShutdownFlag,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    pipeline: EventPipeline,
    /// Retention and heap trimming: stopped with the server.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Tollgate {
    /// Connects storage, starts the event writer and the HTTP server. With
    /// `handle_signals`, SIGTERM and Ctrl-C stop it gracefully (see `wait`).
    pub async fn start(config: Config, handle_signals: bool) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new());
        let db_url = config.database_url.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&db_url, 16)).await??;
        let store: Arc<dyn EventStore> = match &config.clickhouse {
            Some(settings) => Arc::new(ClickHouseEventStore::connect(settings, db.locks()).await?),
            None => Arc::new(SqlEventStore::new(db.clone())?),
        };
        let spool = Arc::new(Spool::open(&config.data_dir.join("spool")).context("cannot open the event spool")?);
        let pipeline = EventPipeline::start(
            store.clone(),
            spool,
            metrics.clone(),
            WriterConfig {
                batch_rows: config.event_batch_rows,
                flush_interval: config.event_flush,
                queue_capacity: config.event_queue_capacity,
            },
        );
        let mut background =
            vec![events::retention::spawn(store.clone(), config.retention_days), memory::spawn_trimmer()];
        let listen = config.listen_addr;
        let cors_origins = config.cors_origins.clone();
        let grace = config.shutdown_grace;
        let busy_poll = config.busy_poll;
        let shutdown = ShutdownFlag::default();
        let limiter = Arc::new(match &config.redis_url {
            Some(url) => Limiter::redis(
                RedisLimits::connect(
                    url,
                    config.limits_on_redis_down,
                    // A call holds its place at most as long as it may last.
                    config.upstream_timeout + config.stream_max_duration,
                    metrics.limits_redis_errors.clone(),
                    metrics.limits_redis_down.clone(),
                )
                .await?,
            ),
            None => Limiter::memory(),
        });
        background.extend(limits::seed_spend(store.clone(), limiter.clone()).await);
        let (state, tasks) = AppState::new(
            config,
            metrics.clone(),
            pipeline.sink.clone(),
            Stores { db, events: store, limiter },
            shutdown.clone(),
        )
        .await?;
        background.extend(tasks);

        let server = HttpServer::new(move || {
            busy_poll::start_on_this_thread(busy_poll, state.metrics.busy_poll_seconds.clone());
            let metrics = state.metrics.clone();
            App::new()
                .configure(|cfg| build_app(&state, cfg))
                // Without CORS_ORIGINS only same-origin pages call the API: no CORS headers.
                .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
                .wrap_fn(move |req, srv| {
                    let started = Instant::now();
                    let metrics = metrics.clone();
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        // Only routes of the API name a series; everything else shares one.
                        let route = response.request().match_pattern().filter(|p| p != "/");
                        let route = route.as_deref().unwrap_or("other");
                        let method = metrics::method_label(response.request().method());
                        metrics.http_requests.with_label_values(&[route, method, response.status().as_str()]).inc();
                        let elapsed = started.elapsed();
                        metrics.http_latency.with_label_values(&[route, method]).observe(elapsed.as_secs_f64());
                        let status = response.status().as_u16();
                        let path = response.request().path();
                        if status >= 500 {
                            tracing::warn!(
                                method,
                                path,
                                status,
                                elapsed_ms = elapsed.as_millis() as u64,
                                "request failed"
                            );
                        } else {
                            tracing::debug!(method, path, status, elapsed_ms = elapsed.as_millis() as u64, "request");
                        }
                        Ok(response)
                    }
                })
        })
        // Longer than the idle timeouts of HTTP client pools (httpx: 5 s, the server's own
        // default), so a client never sends on a connection the server is closing.
        .keep_alive(Duration::from_secs(75))
        // Each streamed event goes out when it is ready, not when the client has
        // acknowledged the one before (Nagle's algorithm against delayed ACKs: ~40 ms).
        .tcp_nodelay(true)
        // A client that closes its side has gone: its call is dropped (and metered as
        // 499) instead of running on for nobody. HTTP clients never half-close.
        .h1_allow_half_closed(false)
        .shutdown_timeout(grace.as_secs())
        // Signals are handled below, so calls cut short by shutdown are known as such.
        .disable_signals();
        let server = server.bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        if handle_signals {
            let (handle, shutdown) = (handle.clone(), shutdown.clone());
            tokio::spawn(async move {
                stop_signal().await;
                tracing::info!("shutting down: finishing calls in flight");
                shutdown.raise();
                handle.stop(true).await;
            });
        }
        tracing::info!(%addr, "Tollgate listening");
        Ok(Self { addr, handle, shutdown, server, pipeline, background })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops (SIGTERM, Ctrl-C), then drains the events.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Tollgate { server, pipeline, background, .. } = self;
        let result = server.await;
        tracing::info!("server stopped; draining request events");
        background.iter().for_each(|task| task.abort());
        pipeline.shutdown(DRAIN_DEADLINE).await;
        result??;
        Ok(())
    }

    /// Stops gracefully: in-flight requests finish, queued events are written.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.raise();
        self.handle.stop(true).await;
        self.wait().await
    }
}

/// SIGTERM (what orchestrators send) or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn cors(origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_headers([
            "x-request-id",
            "content-disposition",
            "retry-after",
            "server-timing",
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin();
    }
    origins.iter().fold(cors, |cors, origin| cors.allowed_origin(origin))
}
