//! Operations: health, readiness, Prometheus metrics, the OpenAPI document, and
//! the promise that no secret ever reaches a log line.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use serde_json::{json, Value};

use crate::helpers::{hello, TestApp};

#[tokio::test]
async fn health_and_readiness_report_the_stores() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: Value = app.client.get(app.at("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "ready", "database": "ok", "analytics": {"store": "sqlite", "status": "ok"},
            "limits": {"store": "memory", "status": "ok"}})
    );
}

#[tokio::test]
async fn metrics_count_requests_latency_and_the_event_pipeline() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "metrics").await;
    assert_eq!(app.chat(&gateway, hello("gpt-4o")).await.status(), 200);
    app.wait_for_logs(&user, &gateway, 1).await;
    let text = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"tollgate_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1"#,
        r#"tollgate_http_request_duration_seconds_count{method="POST",route="/v1/chat/completions"} 1"#,
        r#"tollgate_upstream_requests_total{outcome="2xx",provider="openai"} 1"#,
        "tollgate_events_inserted_total 1",
        "tollgate_event_queue_depth 0",
        "tollgate_events_spooled 0",
        "tollgate_events_dropped_total 0",
        "tollgate_event_insert_failures_total 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(text.contains(r#"route="/gateways/{id}/logs""#), "routes are labelled by pattern, not by id");
}

/// `tollgate_busy_poll_seconds_total`, read from `/metrics`.
async fn busy_polled(app: &TestApp) -> f64 {
    let text = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with("tollgate_busy_poll_seconds_total ")).expect("the busy-poll metric");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn after_each_step_of_a_call_a_worker_polls_briefly_instead_of_sleeping() {
    // BUSY_POLL_US (200 µs unless set): a worker stays on its core for that long after a
    // call arrives and after the provider answers, so the next step does not wait for
    // an idle core to be woken. An idle server never polls.
    let started = std::time::Instant::now();
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "polled").await;
    assert_eq!(busy_polled(&app).await, 0.0, "no call yet: the workers sleep");

    assert_eq!(app.chat(&gateway, hello("gpt-4o")).await.status(), 200);
    app.wait_for_logs(&user, &gateway, 1).await;
    let polled = busy_polled(&app).await;
    assert!(polled >= 0.000_2, "at least one window of 200 µs after the call's last step: {polled} s");
    assert!(polled < started.elapsed().as_secs_f64(), "a bounded stretch, not the whole time: {polled} s");
    // The API's own routes are not relayed calls: they leave the workers asleep.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(busy_polled(&app).await, polled);

    let off = TestApp::builder().env("BUSY_POLL_US", "0").start().await;
    let user = off.join().await;
    let gateway = off.create_gateway(&user, "asleep").await;
    assert_eq!(off.chat(&gateway, hello("gpt-4o")).await.status(), 200);
    off.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(busy_polled(&off).await, 0.0, "BUSY_POLL_US=0 turns it off");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app.client.get(app.at("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/auth/join", "post"),
        ("/auth/login", "post"),
        ("/auth/logout", "post"),
        ("/auth/password", "put"),
        ("/auth/me", "get"),
        ("/gateways", "post"),
        ("/gateways", "get"),
        ("/gateways/{id}", "get"),
        ("/gateways/{id}", "patch"),
        ("/gateways/{id}", "delete"),
        ("/gateways/{id}/secret", "post"),
        ("/gateways/{id}/provider-keys", "get"),
        ("/gateways/{id}/provider-keys", "post"),
        ("/gateways/{id}/provider-keys/{key_id}", "delete"),
        ("/gateways/{id}/analytics", "get"),
        ("/gateways/{id}/logs", "get"),
        ("/gateways/{id}/logs/export", "get"),
        ("/v1/chat/completions", "post"),
        ("/v1/messages", "post"),
        ("/v1/messages/count_tokens", "post"),
        ("/v1/models", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ];
    for (path, method) in expected {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is documented");
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "and nothing else");
    assert!(doc["components"]["schemas"]["AnalyticsReport"].is_object());

    // What the web app reads about unpriced calls and error codes.
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("SummaryStats", "unpriced_requests"),
        ("ModelStats", "unpriced_requests"),
        ("DailyStat", "unpriced_requests"),
        ("LogEntry", "priced"),
        ("LogEntry", "error_code"),
    ] {
        let required = schemas[schema]["required"].as_array().unwrap();
        assert!(schemas[schema]["properties"][field].is_object(), "{schema}.{field} is documented");
        assert_eq!(required.contains(&json!(field)), field != "error_code", "{schema}.{field}");
    }
    for field in ["cost", "cost_nanousd", "error_code"] {
        let types = &schemas["LogEntry"]["properties"][field]["type"];
        assert!(types.as_array().is_some_and(|t| t.contains(&json!("null"))), "LogEntry.{field} may be null: {types}");
    }
}

/// Collects everything the app logs, at debug level for every crate.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_key_or_token_reaches_a_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = TestApp::builder().env("OPENAI_API_KEY", "sk-operator-secret-9999").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "quiet").await;
    let response = app
        .client
        .put(app.at("/auth/password"))
        .bearer_auth(&user.token)
        .json(&json!({"new_password": "hunter2hunter2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A password change ends every session and hands out a new one.
    let changed: Value = response.json().await.unwrap();
    let joined_token = user.token.clone();
    let user = crate::helpers::User { token: changed["token"].as_str().unwrap().into(), ..user };
    app.client
        .post(app.at("/auth/login"))
        .json(&json!({"username": user.username, "password": "hunter2hunter2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.chat(&gateway, hello("gpt-4o")).await.status(), 200);
    let byok = app
        .client
        .post(app.at("/v1/chat/completions"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .header("authorization", "Bearer sk-caller-secret-7777")
        .json(&hello("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(byok.status(), 200);
    let rotated: Value =
        app.post_json(&user, &format!("/gateways/{}/secret", gateway.id), json!({})).await.json().await.unwrap();
    app.client
        .post(app.at("/v1/chat/completions"))
        .bearer_auth(&gateway.secret)
        .json(&hello("gpt-4o"))
        .send()
        .await
        .unwrap();
    // The call with the rotated-out secret is refused before any gateway is known: two events.
    app.wait_for_logs(&user, &gateway, 2).await;
    app.stop().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Tollgate listening"), "the capture works");
    for secret in [
        gateway.secret.as_str(),
        rotated["secret"].as_str().unwrap(),
        user.token.as_str(),
        joined_token.as_str(),
        "sk-operator-secret-9999",
        "sk-caller-secret-7777",
        "hunter2hunter2",
        "test-secret-test-secret",
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
}

#[tokio::test]
async fn browsers_from_configured_origins_may_call_the_api() {
    let app = TestApp::builder().env("CORS_ORIGINS", "http://localhost:5173, https://dash.example.com/").start().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.at("/gateways"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://dash.example.com").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://dash.example.com");
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    let response =
        app.client.post(app.at("/auth/join")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:5173");
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("content-disposition"));
}

#[tokio::test]
async fn the_web_app_is_served_without_shadowing_the_api() {
    let dist = tempfile::TempDir::new().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>Tollgate app</title>").unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("assets/app.js"), "console.log('app')").unwrap();
    let app = TestApp::builder().env("FRONTEND_DIR", dist.path().display().to_string()).start().await;

    for page in ["/", "/login", "/g/0192/analytics", "/profile"] {
        let response = app.client.get(app.at(page)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        assert!(response.text().await.unwrap().contains("Tollgate app"), "{page} loads the app");
    }
    let asset = app.client.get(app.at("/assets/app.js")).send().await.unwrap();
    assert_eq!(asset.text().await.unwrap(), "console.log('app')");

    let api = app.client.get(app.at("/gateways")).send().await.unwrap();
    assert_eq!(api.status(), 401, "API routes keep priority");
    let unknown = app.client.get(app.at("/v1/embeddings")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.json::<Value>().await.unwrap()["error"]["message"].is_string(), "unknown API paths answer JSON");
    let unknown = app.client.get(app.at("/gateways/x/y/z")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}
