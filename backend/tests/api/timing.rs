//! `Server-Timing` on every data-plane answer: the gateway's own share of a call
//! and the provider's, in milliseconds, readable from any client.

use std::time::Duration;

use serde_json::json;
use tollgate::mock_upstream::MockOptions;

use crate::helpers::{hello, TestApp};

/// The `name;dur=ms` entries of a `Server-Timing` header, in order.
fn entries(response: &reqwest::Response) -> Vec<(String, f64)> {
    let header = response.headers().get("server-timing").expect("a Server-Timing header").to_str().unwrap();
    header
        .split(", ")
        .map(|entry| {
            let (name, duration) = entry.split_once(";dur=").unwrap_or_else(|| panic!("name;dur=ms: {header}"));
            (name.to_string(), duration.parse().unwrap_or_else(|_| panic!("milliseconds: {header}")))
        })
        .collect()
}

fn names(entries: &[(String, f64)]) -> Vec<&str> {
    entries.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn a_proxied_call_tells_the_gateways_time_from_the_providers() {
    // The provider takes at least 80 ms to answer.
    let mock = MockOptions { latency: Duration::from_millis(80), ..MockOptions::default() };
    let app = TestApp::builder().mock(mock).start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "timed").await;

    let response = app.chat(&gateway, hello("gpt-4o-mini")).await;
    assert_eq!(response.status(), 200);
    let timing = entries(&response);
    assert_eq!(names(&timing), ["gateway", "upstream"]);
    let (gateway_ms, upstream_ms) = (timing[0].1, timing[1].1);
    assert!(upstream_ms >= 80.0, "the provider's 80 ms are the provider's: {timing:?}");
    assert!(gateway_ms >= 0.0 && gateway_ms < upstream_ms, "{timing:?}");

    // A stream's header comes with its head: the provider's part is its time to answer.
    let mut body = hello("gpt-4o-mini");
    body["stream"] = json!(true);
    let response = app.chat(&gateway, body).await;
    assert_eq!(response.status(), 200);
    let timing = entries(&response);
    assert_eq!(names(&timing), ["gateway", "upstream"]);
    assert!(timing[1].1 >= 80.0, "{timing:?}");
    response.text().await.unwrap();
}

#[tokio::test]
async fn an_answer_that_never_reached_a_provider_has_only_the_gateways_time() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "timed").await;

    let refused = app.client.post(app.at("/v1/chat/completions")).json(&hello("gpt-4o-mini")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(names(&entries(&refused)), ["gateway"]);

    let unknown = app.chat(&gateway, hello("no-such-model")).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(names(&entries(&unknown)), ["gateway"]);

    let models = app.client.get(app.at("/v1/models")).bearer_auth(&gateway.secret).send().await.unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(names(&entries(&models)), ["gateway"]);
}
