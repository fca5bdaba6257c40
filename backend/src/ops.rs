//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::json;
use utoipa::OpenApi;

use crate::{db::Db, events::EventStore, metrics::Metrics};

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
    responses((status = 200, description = "Database and analytics store reachable"), (status = 503, description = "Something is down")))]
pub async fn readyz(db: web::Data<Db>, store: web::Data<dyn EventStore>) -> HttpResponse {
    let (database, analytics) = tokio::join!(db.ping(), store.ping());
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = database.is_ok() && analytics.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": status(database.is_ok()),
        "analytics": {"store": store.name(), "status": status(analytics.is_ok())},
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
