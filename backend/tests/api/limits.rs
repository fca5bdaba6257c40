//! A gateway's limits: requests and tokens per minute, calls at once, daily and
//! monthly budgets, the operator's ceilings, the IP allow-list and the sign-up limit.
//! Over a limit, a call gets OpenAI's 429 with its headers, before anything goes upstream.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tollgate::mock_upstream::MockOptions;

use crate::helpers::{hello, output_priced_model, Gateway, TestApp, User};

async fn patch(app: &TestApp, user: &User, gateway: &Gateway, body: Value) -> reqwest::Response {
    app.client
        .patch(app.at(&format!("/gateways/{}", gateway.id)))
        .bearer_auth(&user.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn set_limits(app: &TestApp, user: &User, gateway: &Gateway, limits: Value) -> Value {
    let response = patch(app, user, gateway, json!({ "limits": limits })).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// The mock answers after a pause, so calls sent together are in flight together.
async fn slow_app(env: &[(&'static str, &str)]) -> TestApp {
    let mut builder =
        TestApp::builder().mock(MockOptions { latency: Duration::from_millis(300), ..MockOptions::default() });
    for (key, value) in env {
        builder = builder.env(key, *value);
    }
    builder.start().await
}

async fn burst(app: &TestApp, gateway: &Gateway, body: &Value, n: usize) -> Vec<reqwest::Response> {
    join_all((0..n).map(|_| app.chat(gateway, body.clone()))).await
}

#[tokio::test]
async fn an_rpm_of_5_lets_exactly_5_of_20_concurrent_calls_through() {
    let app = slow_app(&[]).await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "rpm").await;
    let set = set_limits(&app, &user, &gateway, json!({"rpm": 5})).await;
    assert_eq!(set["limits"]["rpm"], 5);
    assert!(set["limits"]["tpm"].is_null());

    let responses = burst(&app, &gateway, &hello("gpt-4o-mini"), 20).await;
    let (ok, refused): (Vec<_>, Vec<_>) = responses.into_iter().partition(|r| r.status() == 200);
    assert_eq!((ok.len(), refused.len()), (5, 15));
    for response in &ok {
        assert_eq!(header(response, "x-ratelimit-limit-requests"), Some(5));
        assert!(header(response, "x-ratelimit-remaining-requests").unwrap() < 5);
        assert!(response.headers().contains_key("x-ratelimit-reset-requests"));
        assert!(!response.headers().contains_key("x-ratelimit-limit-tokens"), "no token limit, no token headers");
    }
    for response in refused {
        assert_eq!(response.status(), 429);
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), Some(5));
        assert_eq!(header(&response, "x-ratelimit-remaining-requests"), Some(0));
        let retry = header(&response, "retry-after").unwrap();
        assert!((1..=12).contains(&retry), "a request comes back every 12 s: {retry}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "rate_limit_exceeded");
        assert_eq!(error["error"]["type"], "requests");
        assert_eq!(error["error"]["param"], "rpm");
        assert!(error["error"]["message"].as_str().unwrap().contains("5 requests per minute"));
    }
    assert_eq!(app.mock.requests().len(), 5, "refused calls never reach the provider");
    let read = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!(read["usage"]["requests_this_minute"], 5);
    let logs = app.wait_for_logs(&user, &gateway, 20).await;
    assert_eq!(logs.iter().filter(|l| l["status_code"] == 429 && l["error_code"] == "rate_limit_exceeded").count(), 15);
}

#[tokio::test]
async fn tokens_are_reserved_before_the_call_and_settled_to_what_it_used() {
    let app = slow_app(&[]).await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "tpm").await;
    set_limits(&app, &user, &gateway, json!({"tpm": 1000})).await;
    // Each call reserves its prompt (~18 tokens) plus max_tokens (300): three fit in 1,000.
    let mut body = hello("gpt-4o-mini");
    body["max_tokens"] = json!(300);
    let responses = burst(&app, &gateway, &body, 10).await;
    let (ok, refused): (Vec<_>, Vec<_>) = responses.into_iter().partition(|r| r.status() == 200);
    assert_eq!((ok.len(), refused.len()), (3, 7));
    assert!(ok.iter().all(|r| header(r, "x-ratelimit-limit-tokens") == Some(1000)));
    for response in refused {
        let error: Value = response.json().await.unwrap();
        assert_eq!((error["error"]["type"].as_str(), error["error"]["param"].as_str()), (Some("tokens"), Some("tpm")));
    }
    // They used a few tokens each, not 300: what they did not use came back, so
    // calls one after another keep passing.
    for _ in 0..6 {
        let response = app.chat(&gateway, body.clone()).await;
        assert_eq!(response.status(), 200, "settled, not held");
    }
    let read = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    let used = read["usage"]["tokens_this_minute"].as_u64().unwrap();
    assert!((100..400).contains(&used), "9 calls of ~22 tokens each: {used}");
    // One call that could never fit is told so.
    body["max_tokens"] = json!(5000);
    let response = app.chat(&gateway, body).await;
    assert_eq!(response.status(), 429);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("Request too large"), "{error}");
}

#[tokio::test]
async fn concurrent_calls_beyond_max_concurrent_are_refused_until_one_ends() {
    let app = slow_app(&[]).await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "concurrency").await;
    set_limits(&app, &user, &gateway, json!({"max_concurrent": 2})).await;
    let responses = burst(&app, &gateway, &hello("gpt-4o-mini"), 6).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{statuses:?}");
    let refused = responses.into_iter().find(|r| r.status() == 429).unwrap();
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["param"], "max_concurrent");
    assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200, "released when the calls ended");
}

#[tokio::test]
async fn a_budget_is_never_exceeded_by_concurrent_calls_and_lets_through_exactly_those_that_fit() {
    budget_exactness(None).await;
}

#[tokio::test]
async fn a_budget_shared_through_redis_is_just_as_exact() {
    if let Some(redis) = crate::helpers::redis_url() {
        budget_exactness(Some(&redis)).await;
    }
}

async fn budget_exactness(redis: Option<&str>) {
    let dir = tempfile::TempDir::new().unwrap();
    let prices = output_priced_model(dir.path());
    let mut env = vec![("PRICING_FILE", prices.as_str())];
    env.extend(redis.map(|url| ("REDIS_URL", url)));
    let app = slow_app(&env).await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "budget").await;

    // What one call costs: the mock answers "hi" in one token, at $0.001 a token.
    let mut body = hello("openai/budget-echo");
    body["messages"][0]["content"] = json!("hi");
    let first: Value = app.chat(&gateway, body.clone()).await.json().await.unwrap();
    let tokens = first["usage"]["completion_tokens"].as_u64().unwrap();
    body["max_tokens"] = json!(tokens);
    let cost_nanousd = tokens * 1_000_000;
    // A cap worth 50.5 more calls: exactly 50 fit.
    let spent_before = cost_nanousd;
    let cap_nanousd = spent_before + cost_nanousd * 101 / 2;
    set_limits(&app, &user, &gateway, json!({"daily_budget_usd": cap_nanousd as f64 / 1e9})).await;

    let responses = burst(&app, &gateway, &body, 200).await;
    let mut ok = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "insufficient_quota");
                assert_eq!(error["error"]["type"], "insufficient_quota");
                assert_eq!(error["error"]["param"], "daily_budget_usd");
                let message = error["error"]["message"].as_str().unwrap();
                assert!(message.contains("daily budget of $"), "{message}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 50, "exactly the calls that fit");
    let logs = app.wait_for_logs_where(&user, &gateway, "status=ok", 51).await;
    let spent: u64 = logs.iter().map(|l| l["cost_nanousd"].as_u64().unwrap()).sum();
    assert_eq!(spent, spent_before + 50 * cost_nanousd);
    assert!(spent <= cap_nanousd, "never past the cap, not by one nano-dollar");
    let read = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!((read["usage"]["spend_today_usd"].as_f64().unwrap() * 1e9).round() as u64, spent);
    // The rest of the cap is less than a call: the next one is refused as spent.
    let response = app.chat(&gateway, body.clone()).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("is spent"), "{error}");

    // A restart does not reset the day: spend is rebuilt from the event store.
    let data_dir = app.stop().await;
    let mut builder = TestApp::builder().env("PRICING_FILE", prices.clone()).data_dir(data_dir);
    if let Some(url) = redis {
        builder = builder.env("REDIS_URL", url);
    }
    let app = builder.start().await;
    let read = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!((read["usage"]["spend_today_usd"].as_f64().unwrap() * 1e9).round() as u64, spent);
    assert_eq!((read["usage"]["spend_this_month_usd"].as_f64().unwrap() * 1e9).round() as u64, spent);
    assert_eq!(app.chat(&gateway, body).await.status(), 429, "still spent after the restart");
}

#[tokio::test]
async fn the_operators_defaults_and_ceilings_bound_every_gateway() {
    let app = TestApp::builder()
        .env("LIMIT_DEFAULT_RPM", "50")
        .env("LIMIT_MAX_RPM", "100")
        .env("LIMIT_MAX_MONTHLY_BUDGET_USD", "20")
        .env("MAX_GATEWAYS_PER_USER", "2")
        .start()
        .await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "bounded").await;
    let read = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!(read["limits"]["rpm"], 50, "the default applies to a new gateway");
    assert_eq!(read["limit_ceilings"]["rpm"], 100);
    assert_eq!(read["limit_ceilings"]["monthly_budget_usd"], 20.0);
    let response = app.chat(&gateway, hello("mock/echo")).await;
    assert_eq!(header(&response, "x-ratelimit-limit-requests"), Some(50));

    for (limits, needle) in [
        (json!({"rpm": 101}), "at most 100"),
        (json!({"monthly_budget_usd": 20.01}), "at most 20"),
        (json!({"rpm": 0}), "whole number"),
        (json!({"rpm": "ten"}), "whole number"),
        (json!({"daily_budget_usd": -1}), "above 0"),
        (json!({"burst": 5}), "unknown limit"),
        (json!([1]), "object"),
    ] {
        let response = patch(&app, &user, &gateway, json!({ "limits": limits })).await;
        assert_eq!(response.status(), 400, "{limits}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_limits");
        assert!(error["error"]["message"].as_str().unwrap().contains(needle), "{limits}: {error}");
    }
    // Lower is fine; removing a limit leaves the ceiling.
    let set = set_limits(&app, &user, &gateway, json!({"rpm": 10, "monthly_budget_usd": 5})).await;
    assert_eq!((set["limits"]["rpm"].as_u64(), set["limits"]["monthly_budget_usd"].as_f64()), (Some(10), Some(5.0)));
    let set = set_limits(&app, &user, &gateway, json!({"rpm": null})).await;
    assert!(set["limits"]["rpm"].is_null());
    assert_eq!(set["limits"]["monthly_budget_usd"], 5.0, "a patch changes only what it names");
    let response = app.chat(&gateway, hello("mock/echo")).await;
    assert_eq!(header(&response, "x-ratelimit-limit-requests"), Some(100));

    app.create_gateway(&user, "second").await;
    let third = app.post_json(&user, "/gateways", json!({"name": "third"})).await;
    assert_eq!(third.status(), 400);
    assert_eq!(third.json::<Value>().await.unwrap()["error"]["code"], "too_many_gateways");
}

#[tokio::test]
async fn a_gateway_with_an_ip_allow_list_takes_calls_only_from_it() {
    let app = TestApp::builder().env("TRUSTED_PROXIES", "127.0.0.1").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "allow-list").await;
    let set = patch(&app, &user, &gateway, json!({"allowed_ips": ["10.9.8.0/24", "2001:db8::1"]})).await;
    assert_eq!(set.status(), 200);
    let set: Value = set.json().await.unwrap();
    assert_eq!(set["allowed_ips"], json!(["10.9.8.0/24", "2001:db8::1/128"]));

    let from = |address: &'static str| {
        app.client
            .post(app.at("/v1/chat/completions"))
            .bearer_auth(&gateway.secret)
            .header("x-forwarded-for", address)
            .json(&hello("mock/echo"))
            .send()
    };
    assert_eq!(from("10.9.8.7").await.unwrap().status(), 200);
    let refused = from("10.9.9.1").await.unwrap();
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "ip_not_allowed");
    assert!(error["error"]["message"].as_str().unwrap().contains("10.9.9.1"));
    // What a client writes to the left of the proxy's entry is not believed.
    assert_eq!(from("10.9.8.7, 10.9.9.1").await.unwrap().status(), 403);
    let models = app.client.get(app.at("/v1/models")).bearer_auth(&gateway.secret).send().await.unwrap();
    assert_eq!(models.status(), 403, "every data-plane route");

    for bad in [json!(["not-an-ip"]), json!("10.0.0.0/8"), json!([1])] {
        let response = patch(&app, &user, &gateway, json!({ "allowed_ips": bad })).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    let cleared = patch(&app, &user, &gateway, json!({"allowed_ips": []})).await;
    assert_eq!(cleared.json::<Value>().await.unwrap()["allowed_ips"], json!([]));
    assert_eq!(from("192.0.2.1").await.unwrap().status(), 200, "an empty list takes any address");
}

#[tokio::test]
async fn sign_up_is_limited_per_client_address() {
    let app = TestApp::builder().env("JOINS_PER_MINUTE", "3").start().await;
    for _ in 0..3 {
        app.join().await;
    }
    let response = app.client.post(app.at("/auth/join")).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(header(&response, "retry-after").is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "too_many_attempts");
}
