//! Serves the web app (frontend/dist) with SPA fallback. API routes are registered
//! first and keep priority; unknown API paths answer JSON, never the app's HTML.

use std::path::PathBuf;

use actix_files::{Files, NamedFile};
use actix_web::{
    dev::{fn_service, ServiceRequest, ServiceResponse},
    guard, web, HttpRequest, HttpResponse, ResponseError,
};

use crate::error::{ApiError, OpenAiError};

/// Path prefixes that belong to the API.
const API_PREFIXES: &[&str] =
    &["/v1/", "/chat/", "/auth/", "/gateways", "/models", "/healthz", "/readyz", "/metrics", "/openapi.json"];

fn is_api(path: &str) -> bool {
    API_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The answer for a path no route matched.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/v1/") || req.path().starts_with("/chat/") {
        let mut error = OpenAiError::invalid_request(format!("Unknown endpoint: {} {}", req.method(), req.path()));
        error.status = actix_web::http::StatusCode::NOT_FOUND;
        return error.error_response();
    }
    ApiError::NotFound.error_response()
}

pub fn config(cfg: &mut web::ServiceConfig, dist: Option<PathBuf>) {
    let Some(dist) = dist else { return };
    let index = dist.join("index.html");
    cfg.service(
        Files::new("/", dist)
            .index_file("index.html")
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .default_handler(fn_service(move |req: ServiceRequest| {
                let index = index.clone();
                async move {
                    let (req, _) = req.into_parts();
                    if is_api(req.path()) {
                        let response = not_found(req.clone()).await;
                        return Ok(ServiceResponse::new(req, response));
                    }
                    // Client-side routes (/g/..., /login) all load the app.
                    let file = NamedFile::open_async(&index).await?;
                    let response = file.use_etag(true).into_response(&req);
                    Ok(ServiceResponse::new(req, response))
                }
            })),
    );
}
