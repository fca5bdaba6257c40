//! A provider's bad minute does not reach the caller: a failed attempt (429, 5xx,
//! timeout, unreachable) is retried with the next key after a backoff, honouring
//! `retry-after`; when every key of a model fails, the gateway's fallback chain is
//! tried in order. A request the provider refused for itself (another 4xx) is
//! answered as it is, and a stream is never retried once its first byte left.
//! Each call's event records every failed attempt in short.

use serde_json::{json, Value};

use crate::helpers::{sse_data, Gateway, TestApp, User};

async fn set_fallbacks(app: &TestApp, user: &User, gateway: &Gateway, fallbacks: Value) -> reqwest::Response {
    app.client
        .patch(app.at(&format!("/gateways/{}", gateway.id)))
        .bearer_auth(&user.token)
        .json(&json!({ "fallbacks": fallbacks }))
        .send()
        .await
        .unwrap()
}

fn failed(event: &Value) -> Vec<(String, String, String)> {
    event["failed_attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap().into(),
                a["model"].as_str().unwrap().into(),
                a["error"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_rate_limited_key_rests_for_its_retry_after_while_the_next_key_answers() {
    let app = TestApp::builder().env("MISTRAL_API_KEY", "sk-ratelimited-aaaa,sk-good-bbbb").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "keys").await;
    let hello = json!({"model": "mistral/mistral-small-latest", "messages": [{"role": "user", "content": "hi"}]});

    assert_eq!(app.chat(&gateway, hello.clone()).await.status(), 200);
    let keys: Vec<_> = app.mock.requests().iter().map(|r| r.authorization.clone().unwrap()).collect();
    assert_eq!(keys, ["Bearer sk-ratelimited-aaaa", "Bearer sk-good-bbbb"]);
    // The mock's 429 asked for 30 s: the key sits them out, so the next call goes to the other.
    assert_eq!(app.chat(&gateway, hello).await.status(), 200);
    assert_eq!(app.mock.requests()[2].authorization.as_deref(), Some("Bearer sk-good-bbbb"));

    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    let first = logs.iter().find(|l| l["attempts"] == 2).expect("the first call took two attempts");
    assert_eq!(
        failed(first),
        [("mistral".into(), "mistral-small-latest".into(), "key …aaaa: 429".into())],
        "the failed attempt, in short"
    );
    assert!(logs.iter().any(|l| l["attempts"] == 1 && failed(l).is_empty()));
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_retry_answers() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "flaky").await;
    // The mock fails a `flaky` model's first request with a 500 and answers the second.
    let response = app
        .chat(&gateway, json!({"model": "openai/gpt-flaky-1", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.mock.requests().len(), 2);
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!((logs[0]["attempts"].as_u64(), logs[0]["ok"].as_bool()), (Some(2), Some(true)));
    assert!(failed(&logs[0])[0].2.ends_with(": 500"), "{:?}", failed(&logs[0]));
}

#[tokio::test]
async fn when_every_key_of_a_model_fails_the_fallback_model_answers() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "fallbacks").await;
    let chain = json!({"openai/gpt-fail-503": ["openai/gpt-fail-502", "anthropic/claude-haiku-4-5", "mock/echo"]});
    assert_eq!(set_fallbacks(&app, &user, &gateway, chain.clone()).await.status(), 200);

    let response = app
        .chat(
            &gateway,
            json!({"model": "openai/gpt-fail-503", "messages": [{"role": "user", "content": "Still there?"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Still there?");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"), "Claude answered, in OpenAI's shape");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let event = &logs[0];
    assert_eq!(
        (event["model"].as_str(), event["provider"].as_str(), event["upstream_model"].as_str()),
        (Some("openai/gpt-fail-503"), Some("anthropic"), Some("claude-haiku-4-5")),
        "what was asked for, beside what answered"
    );
    assert_eq!(event["ok"], true);
    assert!(event["cost_nanousd"].as_u64().unwrap() > 0, "priced as the model that answered");
    let attempts = failed(event);
    // Each of the two operator keys of gpt-fail-503, then gpt-fail-502's; never waiting for a key to rest.
    assert_eq!(event["attempts"].as_u64(), Some(attempts.len() as u64 + 1));
    let models: Vec<&str> = attempts.iter().map(|(_, m, _)| m.as_str()).collect();
    // Both keys now rest after their 503s: gpt-fail-502 gets one try, with no wait for a key.
    assert_eq!(models, ["gpt-fail-503", "gpt-fail-503", "gpt-fail-502"]);
    assert!(attempts[0].2.starts_with("key …") && attempts[0].2.ends_with(": 503"), "{attempts:?}");
    assert!(
        attempts[1].2.ends_with(": 503 server_error: Simulated failure 503"),
        "the provider's own words: {attempts:?}"
    );

    // The chain is the gateway's: shown, and replaced or removed with PATCH.
    let shown = app.get_json(&user, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!(shown["fallbacks"], chain);
    assert_eq!(set_fallbacks(&app, &user, &gateway, Value::Null).await.status(), 200);
    let response = app
        .chat(&gateway, json!({"model": "openai/gpt-fail-503", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 503, "without a chain, the provider's failure is the answer");
}

#[tokio::test]
async fn a_request_the_provider_refused_is_not_sent_to_a_fallback() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "no-fallback-on-400").await;
    set_fallbacks(&app, &user, &gateway, json!({"openai/gpt-fail-400": ["mock/echo"]})).await;
    let response = app
        .chat(&gateway, json!({"model": "openai/gpt-fail-400", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(app.mock.requests().len(), 1, "neither retried nor sent elsewhere");
}

#[tokio::test]
async fn a_provider_that_sends_no_head_in_time_is_a_timeout_then_a_fallback() {
    let app =
        TestApp::builder().env("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", "300").env("UPSTREAM_MAX_ATTEMPTS", "2").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "timeouts").await;
    let hang = json!({"model": "openai/gpt-hang", "messages": [{"role": "user", "content": "hi"}]});
    let response = app.chat(&gateway, hang.clone()).await;
    assert_eq!(response.status(), 504);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "upstream_timeout");
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(logs[0]["attempts"], 2, "each attempt waited 300 ms for a head");

    // On the Messages surface the same timeout has Anthropic's shape.
    let response = app
        .messages(
            &gateway,
            &json!({"model": "openai/gpt-hang", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 504);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "timeout_error");

    set_fallbacks(&app, &user, &gateway, json!({"openai/gpt-hang": ["mock/echo"]})).await;
    let response = app.chat(&gateway, hang).await;
    assert_eq!(response.status(), 200);
    let logs = app.wait_for_logs_where(&user, &gateway, "status=ok", 1).await;
    assert_eq!(logs[0]["provider"], "mock");
    // Both keys rest after the timeouts before: one try at gpt-hang, then at once the fallback.
    let timeouts: Vec<String> = failed(&logs[0]).into_iter().map(|(_, _, e)| e).collect();
    assert_eq!(timeouts.len(), 1, "{timeouts:?}");
    assert!(timeouts[0].ends_with(": timeout"), "{timeouts:?}");
}

#[tokio::test]
async fn a_stream_that_fails_after_its_first_chunk_is_neither_retried_nor_sent_to_a_fallback() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "streams").await;
    set_fallbacks(&app, &user, &gateway, json!({"openai/gpt-cut": ["mock/echo"]})).await;
    let response = app
        .chat(&gateway, json!({"model": "openai/gpt-cut", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_data(&response.text().await.unwrap());
    assert!(!events.is_empty() && !events.iter().any(|e| e == "[DONE]"), "the client got the first half");
    assert_eq!(app.mock.requests().len(), 1, "the client already had bytes: no second try");
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!((logs[0]["status_code"].as_u64(), logs[0]["attempts"].as_u64()), (Some(502), Some(1)));
    assert_eq!(logs[0]["error_code"], "upstream_stream_incomplete");
    assert!(failed(&logs[0]).is_empty());
}

#[tokio::test]
async fn a_stream_idle_past_its_limit_ends_with_a_timeout_event() {
    let app = TestApp::builder().env("STREAM_IDLE_TIMEOUT_SECS", "1").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "idle").await;
    let response = app
        .chat(&gateway, json!({"model": "openai/gpt-stall", "stream": true, "messages": [{"role": "user", "content": "one two three four"}]}))
        .await;
    let events = sse_data(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout");
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(logs[0]["status_code"], 504);
}

#[tokio::test]
async fn fallback_chains_are_checked_and_private() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "checks").await;
    for bad in
        [json!({"gpt-4o": ["no-such-model"]}), json!({"gpt-4o": ["gpt-4o"]}), json!({"gpt-4o": []}), json!(["gpt-4o"])]
    {
        let response = set_fallbacks(&app, &user, &gateway, bad.clone()).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_fallbacks", "{bad}");
    }
    let renamed = app
        .client
        .patch(app.at(&format!("/gateways/{}", gateway.id)))
        .bearer_auth(&user.token)
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!((renamed["name"].as_str(), &renamed["fallbacks"]), (Some("renamed"), &json!({})));

    let stranger = app.join().await;
    let response = set_fallbacks(&app, &stranger, &gateway, json!({"gpt-4o": ["mock/echo"]})).await;
    assert_eq!(response.status(), 404);
}
