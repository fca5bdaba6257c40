//! The Anthropic-compatible surface, `POST /v1/messages`: what Anthropic's SDKs and
//! Claude Code speak. A Claude model is relayed to Anthropic as it came (streams
//! included) and metered from Anthropic's own usage; any other catalog model is
//! translated to OpenAI's protocol and back. Errors keep Anthropic's shape here.

use serde_json::{json, Value};

use crate::helpers::{TestApp, ANTHROPIC_OPERATOR_KEY};

/// `(event name, data)` of an Anthropic SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split_terminator("\n\n")
        .map(|event| {
            let (name, data) = event.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_string();
            (name, serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap())
        })
        .collect()
}

fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "Anthropic's error shape: {body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn a_claude_call_is_relayed_as_it_came_and_metered() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "claude-code").await;
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":200,"system":"Be brief.","messages":[{"role":"user","content":"[cache] caf\u00e9"}],"metadata":{"user_id":"u-1"}}"#;
    let response = app
        .client
        .post(app.at("/v1/messages"))
        .header("x-api-key", &gateway.secret)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    assert_eq!((message["type"].as_str(), message["role"].as_str()), (Some("message"), Some("assistant")));
    assert_eq!(message["content"][0]["text"], "[cache] café");

    let seen = &app.mock.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body, body, "byte for byte");
    assert_eq!(seen.api_key.as_deref(), Some(ANTHROPIC_OPERATOR_KEY), "the operator's key, never the gateway secret");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let event = &logs[0];
    let usage = &message["usage"];
    let input = usage["input_tokens"].as_u64().unwrap();
    assert_eq!(event["tokens_prompt"], input + 2048 + 1024, "prompt tokens count cache reads and writes");
    assert_eq!((&event["tokens_cached"], &event["tokens_completion"]), (&json!(2048), &usage["output_tokens"]));
    let expected = input * 3_000 + 2048 * 300 + 1024 * 3_750 + usage["output_tokens"].as_u64().unwrap() * 15_000;
    assert_eq!(event["cost_nanousd"], expected);
    assert_eq!((event["provider"].as_str(), event["ok"].as_bool()), (Some("anthropic"), Some(true)));
}

#[tokio::test]
async fn a_claude_stream_passes_through_event_for_event() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "stream").await;
    // Claude Code's form: the secret as a bearer token (ANTHROPIC_AUTH_TOKEN).
    let response = app
        .client
        .post(app.at("/messages"))
        .bearer_auth(&gateway.secret)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "anthropic/claude-haiku-4-5", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "one two three"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"ping"), "every event passes, pings included");
    let start_usage = &events[0].1["message"]["usage"];
    assert!(start_usage["input_tokens"].as_u64().unwrap() > 0, "message_start's usage is never zeroed");
    let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
    assert_eq!(text, "one two three");
    let output = events.iter().find(|(n, _)| n == "message_delta").unwrap().1["usage"]["output_tokens"].clone();

    let sent: Value = serde_json::from_str(&app.mock.requests()[0].body).unwrap();
    assert_eq!(sent["model"], "claude-haiku-4-5", "only the model id is rewritten");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!((&logs[0]["tokens_prompt"], &logs[0]["tokens_completion"]), (&start_usage["input_tokens"], &output));
    assert_eq!((logs[0]["streaming"].as_bool(), logs[0]["status_code"].as_u64()), (Some(true), Some(200)));
}

#[tokio::test]
async fn any_other_model_is_translated_both_ways() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "translated").await;

    let response = app.messages(
        &gateway,
        &json!({"model": "mock/echo", "max_tokens": 50, "system": "Be brief.", "messages": [{"role": "user", "content": "Hi from Claude Code"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"], json!([{"type": "text", "text": "Hi from Claude Code"}]));
    assert_eq!(message["stop_reason"], "end_turn");
    assert!(message["usage"]["input_tokens"].as_u64().unwrap() > 0);

    // A streamed tool call from an OpenAI-compatible provider, as Anthropic's events.
    let tools =
        json!([{"name": "search", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]);
    let response = app.messages(
        &gateway,
        &json!({"model": "gpt-4o-mini", "max_tokens": 50, "stream": true, "tools": tools, "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "cats"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[1].1["content_block"]["name"], "search");
    let input: String = events.iter().filter_map(|(_, d)| d["delta"]["partial_json"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&input).unwrap(), json!({"query": "cats"}));
    assert_eq!(events[5].1["delta"]["stop_reason"], "tool_use");
    let usage = &events[5].1["usage"];

    let sent: Value = serde_json::from_str(&app.mock.requests()[0].body).unwrap();
    assert_eq!(sent["max_completion_tokens"], 50, "OpenAI's own name for the limit");
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["stream_options"], json!({"include_usage": true}), "asked, so the call is metered");

    let logs = app.wait_for_logs_where(&user, &gateway, "model=gpt-4o-mini", 1).await;
    assert_eq!(
        (&logs[0]["tokens_prompt"], &logs[0]["tokens_completion"]),
        (&usage["input_tokens"], &usage["output_tokens"])
    );
    assert!(logs[0]["cost_nanousd"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn errors_on_this_surface_have_anthropics_shape() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "errors").await;
    let hello =
        |model: &str| json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});

    let response = app.client.post(app.at("/v1/messages")).json(&hello("claude-haiku-4-5")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_anthropic_error(&response.json().await.unwrap(), "authentication_error");

    let response = app.messages(&gateway, &hello("no-such-model")).await;
    assert_eq!(response.status(), 404);
    assert_anthropic_error(&response.json().await.unwrap(), "not_found_error");

    let response = app
        .messages(&gateway, &json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_anthropic_error(&body, "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_tokens"));

    let response = app
        .messages(
            &gateway,
            &json!({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "system", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 400, "system goes at the top level, not in messages");

    // Anthropic's own error passes as it came; an OpenAI provider's is put in Anthropic's shape.
    let response = app.messages(&gateway, &hello("anthropic/claude-fail-529")).await;
    assert_eq!(response.status(), 529);
    assert_anthropic_error(&response.json().await.unwrap(), "overloaded_error");
    let response = app.messages(&gateway, &hello("openai/gpt-fail-429")).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_anthropic_error(&body, "rate_limit_error");
    assert_eq!(body["error"]["message"], "Simulated failure 429");

    // Server tools run only on Anthropic's models.
    let response = app.messages(
        &gateway,
        &json!({"model": "gpt-4o-mini", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_anthropic_error(&response.json().await.unwrap(), "invalid_request_error");

    let logs = app.wait_for_logs(&user, &gateway, 6).await;
    assert!(logs.iter().all(|l| l["ok"] == false));
}

#[tokio::test]
async fn the_callers_own_key_goes_to_anthropic_in_x_api_key() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "byok").await;
    let response = app
        .client
        .post(app.at("/v1/messages"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .header("x-api-key", "sk-ant-callers-own")
        .json(&json!({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = &app.mock.requests()[0];
    assert_eq!(seen.api_key.as_deref(), Some("sk-ant-callers-own"));
    assert_eq!(seen.anthropic_version.as_deref(), Some("2023-06-01"));
}

#[tokio::test]
async fn tokens_are_counted_by_anthropic_for_claude_and_estimated_elsewhere() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "count").await;
    let request =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "How many tokens is this?"}]});
    let count = |model: &'static str| {
        let app = &app;
        let gateway = &gateway;
        let body = request(model);
        async move {
            let response = app
                .client
                .post(app.at("/v1/messages/count_tokens"))
                .header("x-api-key", &gateway.secret)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{model}");
            response.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap()
        }
    };
    assert!(count("claude-sonnet-4-5").await > 0);
    let seen = &app.mock.requests()[0];
    assert_eq!(seen.path, "/v1/messages/count_tokens");
    assert_eq!(seen.api_key.as_deref(), Some(ANTHROPIC_OPERATOR_KEY));
    let estimate = count("mock/echo").await;
    assert!(estimate > 5 && estimate < 40, "about four characters a token: {estimate}");
    assert_eq!(app.mock.requests().len(), 1, "an estimate calls no provider");
}
