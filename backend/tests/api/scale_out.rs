//! Many Tollgate processes, one truth: on one PostgreSQL and one Redis, limits and
//! budgets are shared, and a change made on one process reaches the others within
//! a second, not at the cache's TTL. When Redis is unreachable,
//! `LIMITS_ON_REDIS_DOWN` decides, and `/readyz` and `/metrics` say so.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use tollgate::mock_upstream::MockOptions;

use crate::helpers::{
    hello, output_priced_model, postgres_url, redis_url, Gateway, PgSchema, RedisServer, TestApp, User,
};

/// Two processes on one PostgreSQL schema (and Redis, when given), with a cache TTL
/// long enough that only a change notice can explain a change seen within a second.
async fn two_processes(redis: Option<&str>) -> Option<(TestApp, TestApp, PgSchema, tempfile::TempDir)> {
    let schema = PgSchema::create(&postgres_url()?);
    let prices = tempfile::TempDir::new().unwrap();
    let prices_file = output_priced_model(prices.path());
    let start = || {
        let mut builder = TestApp::builder()
            .env("DATABASE_URL", schema.url())
            .env("PRICING_FILE", prices_file.clone())
            .env("GATEWAY_CACHE_TTL_SECS", "300")
            .env("JWT_SECRET", "shared-secret-shared-secret-shared!")
            .mock(MockOptions { latency: Duration::from_millis(300), ..MockOptions::default() });
        if let Some(url) = redis {
            builder = builder.env("REDIS_URL", url);
        }
        builder.start()
    };
    let a = start().await;
    let b = start().await;
    Some((a, b, schema, prices))
}

async fn set_limits(app: &TestApp, user: &User, gateway: &Gateway, limits: Value) {
    let response = app
        .client
        .patch(app.at(&format!("/gateways/{}", gateway.id)))
        .bearer_auth(&user.token)
        .json(&json!({ "limits": limits }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Polls `check` until it holds, for at most a second; how long it took.
async fn within_a_second(mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(1), "not seen within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn two_processes_share_one_rate_limit_and_one_budget_through_redis() {
    let Some(redis) = redis_url() else { return };
    let Some((a, b, _schema, _prices)) = two_processes(Some(&redis)).await else { return };
    let user = a.join().await;
    let gateway = a.create_gateway(&user, "shared").await;
    set_limits(&a, &user, &gateway, json!({"rpm": 6})).await;

    // 20 calls at once, half to each process: 6 in all get through.
    let calls = (0..20).map(|i| {
        if i % 2 == 0 {
            a.chat(&gateway, hello("gpt-4o-mini"))
        } else {
            b.chat(&gateway, hello("gpt-4o-mini"))
        }
    });
    let statuses: Vec<u16> = join_all(calls).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 6, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 14);
    let read = b.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!(read["usage"]["requests_this_minute"], 6, "either process sees the shared count");

    // A budget worth 4.5 calls of a model priced on output only, each answering the
    // one token it may: 4 of 12 concurrent calls over both processes.
    let budget = b.create_gateway(&user, "shared budget").await;
    let mut body = hello("openai/budget-echo");
    body["messages"][0]["content"] = json!("hi");
    body["max_tokens"] = json!(1);
    set_limits(&b, &user, &budget, json!({"daily_budget_usd": 0.0045})).await;
    let calls = (0..12).map(|i| if i % 2 == 0 { a.chat(&budget, body.clone()) } else { b.chat(&budget, body.clone()) });
    let responses = join_all(calls).await;
    assert_eq!(responses.iter().filter(|r| r.status() == 200).count(), 4);
    // Settled on both processes (in the background, after each answer).
    within_a_second(async || {
        let read = a.get_json(&user, &format!("/gateways/{}", budget.id)).await;
        read["usage"]["spend_today_usd"] == 0.004
    })
    .await;
    assert!(responses.iter().filter(|r| r.status() == 429).all(|r| r.headers().contains_key("retry-after")));
}

#[tokio::test]
async fn a_secret_rotated_on_one_process_is_refused_by_the_other_within_a_second() {
    for redis in [redis_url(), None] {
        // Through Redis pub/sub, then through PostgreSQL's LISTEN/NOTIFY.
        let Some((a, b, _schema, _prices)) = two_processes(redis.as_deref()).await else { return };
        let user = a.join().await;
        let gateway = a.create_gateway(&user, "rotate").await;
        assert_eq!(b.chat(&gateway, hello("mock/echo")).await.status(), 200, "B has the gateway cached");

        let rotated = a.post_json(&user, &format!("/gateways/{}/secret", gateway.id), json!({})).await;
        assert_eq!(rotated.status(), 200);
        let took = within_a_second(async || b.chat(&gateway, hello("mock/echo")).await.status() == 401).await;
        eprintln!("rotation seen by the other process after {took:?} (redis: {})", redis.is_some());
        let new_secret = rotated.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_string();
        let renewed = Gateway { id: gateway.id.clone(), secret: new_secret };
        assert_eq!(b.chat(&renewed, hello("mock/echo")).await.status(), 200);

        // A limit set on A holds on B at once too.
        set_limits(&a, &user, &gateway, json!({"rpm": 1})).await;
        within_a_second(async || {
            let response = b.chat(&renewed, hello("mock/echo")).await;
            response.headers().get("x-ratelimit-limit-requests").is_some_and(|v| v == "1")
        })
        .await;
    }
}

#[tokio::test]
async fn a_provider_key_deleted_on_one_process_is_no_longer_used_by_the_other() {
    let redis = redis_url();
    let Some((a, b, _schema, _prices)) = two_processes(redis.as_deref()).await else { return };
    let user = a.join().await;
    let gateway = a.create_gateway(&user, "keys").await;
    let path = format!("/gateways/{}/provider-keys", gateway.id);
    let added =
        a.post_json(&user, &path, json!({"provider": "openai", "api_key": "sk-shared-key-4444", "label": ""})).await;
    let key: Value = added.json().await.unwrap();
    let last_key = |app: &TestApp| app.mock.requests().pop().unwrap().authorization.unwrap();
    within_a_second(async || {
        b.chat(&gateway, hello("gpt-4o-mini")).await.status() == 200 && last_key(&b) == "Bearer sk-shared-key-4444"
    })
    .await;

    let deleted = a.client.delete(a.at(&format!("{path}/{}", key["id"].as_str().unwrap()))).bearer_auth(&user.token);
    assert_eq!(deleted.send().await.unwrap().status(), 204);
    within_a_second(async || {
        b.chat(&gateway, hello("gpt-4o-mini")).await.status() == 200 && last_key(&b).starts_with("Bearer sk-operator-")
    })
    .await;
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[tokio::test]
async fn when_redis_is_unreachable_limits_on_redis_down_decides() {
    for (policy, down_status) in [("open", 200), ("closed", 503)] {
        let Some(mut redis) = RedisServer::start() else { return };
        let app =
            TestApp::builder().env("REDIS_URL", redis.url.clone()).env("LIMITS_ON_REDIS_DOWN", policy).start().await;
        let user = app.join().await;
        let gateway = app.create_gateway(&user, "redis down").await;
        set_limits(&app, &user, &gateway, json!({"rpm": 100})).await;
        let ready: Value = app.client.get(app.at("/readyz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["limits"], json!({"store": "redis", "status": "ok", "on_redis_down": policy}));
        assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);

        redis.stop();
        let response = app.chat(&gateway, hello("mock/echo")).await;
        assert_eq!(response.status(), down_status, "{policy}");
        if policy == "closed" {
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["code"], "limits_unavailable");
        }
        let ready = app.client.get(app.at("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), if policy == "open" { 200 } else { 503 });
        let ready: Value = ready.json().await.unwrap();
        assert_eq!(ready["limits"]["status"], "unavailable");
        let counted = metric(&app, &format!("tollgate_limits_redis_down_calls_total{{decision=\"{policy}\"}}")).await;
        assert_eq!(counted, 1.0, "{policy}");
        assert!(metric(&app, "tollgate_limits_redis_errors_total").await >= 1.0);
    }
}
