//! Claude through the OpenAI surface: an OpenAI chat request for a Claude model is
//! translated to Anthropic's Messages API, sent with `x-api-key` and
//! `anthropic-version`, and the answer comes back in OpenAI's shape, streams and
//! tools included, metered and priced from Anthropic's own usage.

use serde_json::{json, Value};

use crate::helpers::{sse_data, TestApp, ANTHROPIC_OPERATOR_KEY};

/// Nano-dollars per token of claude-sonnet-4-5: $3 in, $0.30 cache read,
/// $3.75 cache write, $15 out per million tokens.
const SONNET: (u64, u64, u64, u64) = (3_000, 300, 3_750, 15_000);

#[tokio::test]
async fn an_openai_request_for_claude_is_sent_as_a_messages_request() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "claude").await;
    let response = app
        .chat(
            &gateway,
            json!({"model": "claude-sonnet-4-5", "temperature": 0.3, "stop": "END", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Bonjour, Claude"}
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    let choice = &body["choices"][0];
    assert_eq!(
        (choice["message"]["role"].as_str(), choice["message"]["content"].as_str()),
        (Some("assistant"), Some("Bonjour, Claude"))
    );
    assert_eq!(choice["finish_reason"], "stop");

    let seen = &app.mock.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.api_key.as_deref(), Some(ANTHROPIC_OPERATOR_KEY));
    assert_eq!(seen.anthropic_version.as_deref(), Some("2023-06-01"));
    assert_eq!(seen.authorization, None, "Anthropic takes the key in x-api-key only");
    let sent: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": "Bonjour, Claude"}],
            // No max_tokens from the client: the model's output limit.
            "max_tokens": 64000,
            "temperature": 0.3,
            "stop_sequences": ["END"],
        })
    );

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let event = &logs[0];
    assert_eq!(
        (event["provider"].as_str(), event["model"].as_str(), event["upstream_model"].as_str()),
        (Some("anthropic"), Some("claude-sonnet-4-5"), Some("claude-sonnet-4-5"))
    );
    let usage = &body["usage"];
    assert_eq!(
        (&event["tokens_prompt"], &event["tokens_completion"]),
        (&usage["prompt_tokens"], &usage["completion_tokens"])
    );
    let (input, _, _, output) = SONNET;
    let expected =
        usage["prompt_tokens"].as_u64().unwrap() * input + usage["completion_tokens"].as_u64().unwrap() * output;
    assert_eq!(event["cost_nanousd"], expected);
}

#[tokio::test]
async fn cache_reads_and_writes_are_each_priced_at_their_own_rate() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "cache").await;
    // The mock reports 2,048 tokens read from the cache and 1,024 written for a `[cache]` prompt.
    let response = app
        .chat(&gateway, json!({"model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": "[cache] a long document"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let usage = response.json::<Value>().await.unwrap()["usage"].clone();
    let (prompt, completion) = (usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap());
    // OpenAI's convention: prompt_tokens counts the cached tokens too, and names them.
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2048);
    assert_eq!(usage["total_tokens"], prompt + completion);
    let sent: Value = serde_json::from_str(&app.mock.requests()[0].body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5", "the provider prefix is not sent");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let uncached = prompt - 2048 - 1024;
    let (input, read, write, output) = SONNET;
    let expected = uncached * input + 2048 * read + 1024 * write + completion * output;
    assert_eq!(logs[0]["cost_nanousd"], expected, "exact to the nano-dollar");
    assert_eq!((&logs[0]["tokens_prompt"], &logs[0]["tokens_cached"]), (&json!(prompt), &json!(2048)));
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_openai_chunks_with_usage() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "tools").await;
    let request = json!({
        "model": "claude-haiku-4-5",
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": 300,
        "tools": [{"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}],
        "messages": [{"role": "user", "content": "weather in Paris"}],
    });
    let response = app.chat(&gateway, request).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    let deltas: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"].get(0)).map(|c| &c["delta"]).collect();
    let text: String = deltas.iter().filter_map(|d| d["content"].as_str()).collect();
    assert_eq!(text, "I will call search.");
    let calls: Vec<&Value> = deltas.iter().filter_map(|d| d["tool_calls"].get(0)).collect();
    assert_eq!((calls[0]["index"].as_u64(), calls[0]["function"]["name"].as_str()), (Some(0), Some("search")));
    assert!(calls[0]["id"].as_str().unwrap().starts_with("toolu_"));
    let arguments: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"query": "weather in Paris"}));
    let finish: Vec<&str> = chunks.iter().filter_map(|c| c["choices"].get(0)?["finish_reason"].as_str()).collect();
    assert_eq!(finish, ["tool_calls"]);

    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(chunks.last().unwrap()["choices"], json!([]), "the usage chunk, as OpenAI sends it");
    let sent: Value = serde_json::from_str(&app.mock.requests()[0].body).unwrap();
    assert_eq!((sent["stream"].as_bool(), sent["max_tokens"].as_u64()), (Some(true), Some(300)));

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let event = &logs[0];
    assert_eq!((event["streaming"].as_bool(), event["status_code"].as_u64()), (Some(true), Some(200)));
    assert_eq!(
        (&event["tokens_prompt"], &event["tokens_completion"]),
        (&usage["prompt_tokens"], &usage["completion_tokens"])
    );
    assert!(event["ttft_ms"].is_u64());
}

#[tokio::test]
async fn a_tool_result_goes_back_to_claude_and_is_answered() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "tools").await;
    let tools = json!([{"type": "function", "function": {"name": "search"}}]);
    let first = app
        .chat(&gateway, json!({"model": "claude-haiku-4-5", "tools": tools, "messages": [{"role": "user", "content": "find cats"}]}))
        .await;
    let first: Value = first.json().await.unwrap();
    let message = first["choices"][0]["message"].clone();
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    let call = &message["tool_calls"][0];
    assert_eq!((call["type"].as_str(), call["function"]["name"].as_str()), (Some("function"), Some("search")));

    let second = app
        .chat(
            &gateway,
            json!({"model": "claude-haiku-4-5", "tools": tools, "messages": [
                {"role": "user", "content": "find cats"},
                message,
                {"role": "tool", "tool_call_id": call["id"], "content": "three cats"},
            ]}),
        )
        .await;
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["choices"][0]["message"]["content"], "The tool said: three cats");
    let sent: Value = serde_json::from_str(&app.mock.requests()[1].body).unwrap();
    assert_eq!(sent["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "three cats"}]})
    );
}

#[tokio::test]
async fn anthropic_errors_reach_openai_clients_in_openais_shape() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "errors").await;

    // Anthropic's own refusal of the request, with its status and message.
    let response = app
        .chat(&gateway, json!({"model": "anthropic/claude-fail-404", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error");
    assert_eq!(body["error"]["message"], "Simulated failure 404");
    assert!(body["error"].get("param").is_some());

    // What Anthropic cannot do is refused before any call.
    let before = app.mock.requests().len();
    let response = app
        .chat(&gateway, json!({"model": "claude-haiku-4-5", "n": 2, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "n");
    let response = app
        .chat(&gateway, json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("audio"));
    assert_eq!(app.mock.requests().len(), before, "nothing was sent");

    // The caller's own key goes in x-api-key; Anthropic's 401 comes back as a 401.
    let response = app
        .client
        .post(app.at("/v1/chat/completions"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .bearer_auth("sk-ant-invalid-key")
        .json(&json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    assert_eq!(app.mock.requests().last().unwrap().api_key.as_deref(), Some("sk-ant-invalid-key"));

    let logs = app.wait_for_logs(&user, &gateway, 4).await;
    let failed = logs.iter().find(|l| l["status_code"] == 404).unwrap();
    assert_eq!((failed["error_type"].as_str(), failed["ok"].as_bool()), (Some("not_found_error"), Some(false)));
}

#[tokio::test]
async fn an_error_event_in_a_claude_stream_ends_it_and_is_recorded() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "stream-errors").await;
    let response = app
        .chat(&gateway, json!({"model": "anthropic/claude-midstream-error", "stream": true, "messages": [{"role": "user", "content": "tell me a long story please"}]}))
        .await;
    assert_eq!(response.status(), 200, "the stream had begun");
    let events = sse_data(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "overloaded_error");
    assert!(!events.iter().any(|e| e == "[DONE]"));

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(
        (logs[0]["status_code"].as_u64(), logs[0]["error_type"].as_str()),
        (Some(529), Some("overloaded_error"))
    );
    assert!(logs[0]["tokens_prompt"].as_u64().unwrap() > 0, "message_start's usage is kept");

    // A stream cut before message_stop is an error too.
    let response = app
        .chat(&gateway, json!({"model": "anthropic/claude-cut", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]}))
        .await;
    let _ = response.text().await.unwrap();
    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    let cut = logs.iter().find(|l| l["model"] == "anthropic/claude-cut").unwrap();
    assert_eq!(
        (cut["status_code"].as_u64(), cut["error_code"].as_str()),
        (Some(502), Some("upstream_stream_incomplete"))
    );
    assert!(cut["error_message"].as_str().unwrap().contains("message_stop"));
}
