//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::json;
use utoipa::OpenApi;

use crate::{
    config::Config,
    db::Db,
    events::EventStore,
    limits::{Limiter, RedisDown},
    metrics::Metrics,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi));
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    description = "The database, the analytics store and, with REDIS_URL, Redis (`limits`). Redis down with \
        LIMITS_ON_REDIS_DOWN=open is reported but ready (calls go unlimited); with closed, not ready.",
    responses((status = 200, description = "Database and analytics store reachable"), (status = 503, description = "Something is down")))]
pub async fn readyz(
    db: web::Data<Db>,
    store: web::Data<dyn EventStore>,
    limiter: web::Data<Limiter>,
    config: web::Data<Config>,
) -> HttpResponse {
    let (database, analytics, redis) = tokio::join!(db.ping(), store.ping(), limiter.redis_up());
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    // Without Redis the limits are open (served unlimited) or closed (calls refused):
    // closed, the server is not ready.
    let closed = config.limits_on_redis_down == RedisDown::Closed;
    let ready = database.is_ok() && analytics.is_ok() && !(redis == Some(false) && closed);
    let limits = match redis {
        None => json!({"store": "memory", "status": "ok"}),
        Some(up) => {
            json!({"store": "redis", "status": status(up), "on_redis_down": if closed { "closed" } else { "open" }})
        }
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": status(database.is_ok()),
        "analytics": {"store": store.name(), "status": status(analytics.is_ok())},
        "limits": limits,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(metrics.render())
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::ApiDoc::openapi())
}

pub fn store_data(store: Arc<dyn EventStore>) -> web::Data<dyn EventStore> {
    web::Data::from(store)
}
