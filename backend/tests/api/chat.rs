//! The data plane: OpenAI-compatible chat completions through a gateway, with
//! either credential form, streaming or not, metered once per call however it ends.

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{hello, sse_data, Gateway, TestApp};

fn assert_openai_error(body: &Value) {
    let error = &body["error"];
    assert!(error["message"].is_string(), "OpenAI error shape: {body}");
    assert!(error["type"].is_string(), "OpenAI error shape: {body}");
    assert!(error.get("code").is_some() && error.get("param").is_some(), "OpenAI error shape: {body}");
}

#[tokio::test]
async fn the_mock_provider_answers_with_no_keys_at_all() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "demo").await;

    let response = app
        .chat(
            &gateway,
            json!({"model": "mock/echo", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Is this thing on?"}
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Is this thing on?");
    let usage = &body["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0 && usage["completion_tokens"].as_u64().unwrap() > 0);

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let event = &logs[0];
    assert_eq!(event["request_id"], request_id.as_str());
    assert_eq!(
        (event["model"].as_str(), event["provider"].as_str(), event["upstream_model"].as_str()),
        (Some("mock/echo"), Some("mock"), Some("echo"))
    );
    assert_eq!(event["tokens_prompt"], usage["prompt_tokens"]);
    assert_eq!(event["tokens_completion"], usage["completion_tokens"]);
    // mock/echo costs $1 in and $2 out per million tokens: 1,000 and 2,000 nano-dollars a token.
    let expected =
        usage["prompt_tokens"].as_u64().unwrap() * 1000 + usage["completion_tokens"].as_u64().unwrap() * 2000;
    assert_eq!(event["cost_nanousd"], expected);
    assert_eq!(
        (event["status_code"].as_u64(), event["ok"].as_bool(), event["attempts"].as_u64()),
        (Some(200), Some(true), Some(1))
    );
}

#[tokio::test]
async fn a_body_is_forwarded_untouched_with_the_operators_key() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "openai").await;
    let body = r#"{ "model": "gpt-4o",  "messages": [{"role":"user","content":"caf\u00e9 ☕"}], "temperature": 0.20, "tools": [], "user": "u-1" }"#;
    let response = app
        .client
        .post(app.at("/v1/chat/completions"))
        .bearer_auth(&gateway.secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["choices"][0]["message"]["content"], "café ☕");

    let seen = app.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].body, body, "byte for byte");
    let authorization = seen[0].authorization.as_deref().unwrap();
    assert!(authorization == "Bearer sk-operator-one" || authorization == "Bearer sk-operator-two", "{authorization}");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(logs[0]["provider"], "openai");
    assert!(logs[0]["cost_nanousd"].as_u64().unwrap() > 0, "gpt-4o is priced");
}

#[tokio::test]
async fn a_provider_prefix_routes_directly_and_rewrites_only_the_model() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "groq").await;
    let response = app.chat(&gateway, json!({"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}], "seed": 7})).await;
    assert_eq!(response.status(), 200);
    let forwarded: Value = serde_json::from_str(&app.mock.requests()[0].body).unwrap();
    assert_eq!(
        forwarded,
        json!({"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}], "seed": 7})
    );
    assert_eq!(app.mock.requests()[0].authorization.as_deref(), Some("Bearer gsk-operator"));
}

#[tokio::test]
async fn the_header_form_lets_callers_bring_their_own_provider_key() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "byok").await;
    let call = |model: &str| {
        app.client
            .post(app.at("/chat/completions"))
            .header("x-gateway-id", &gateway.id)
            .header("x-gateway-authorization", &gateway.secret)
            .header("authorization", "Bearer sk-callers-own-key-1234")
            .json(&hello(model))
            .send()
    };
    assert_eq!(call("gpt-4o").await.unwrap().status(), 200);
    // DeepSeek has no operator key here: the caller's own key makes it usable.
    assert_eq!(call("deepseek-chat").await.unwrap().status(), 200);
    let seen = app.mock.requests();
    assert!(seen.iter().all(|r| r.authorization.as_deref() == Some("Bearer sk-callers-own-key-1234")));

    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    let text = serde_json::to_string(&logs).unwrap();
    assert!(!text.contains("sk-callers-own-key"), "the caller's key is never stored");
    let export =
        app.get(&user, &format!("/gateways/{}/logs/export?format=ndjson", gateway.id)).await.text().await.unwrap();
    assert!(!export.contains("sk-callers-own-key"));

    let without_key = app.chat(&gateway, hello("deepseek-chat")).await;
    assert_eq!(without_key.status(), 400);
    let body: Value = without_key.json().await.unwrap();
    assert_openai_error(&body);
    assert_eq!(body["error"]["code"], "provider_not_configured");
}

#[tokio::test]
async fn missing_or_wrong_gateway_credentials_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "guarded").await;
    let requests = [
        app.client.post(app.at("/v1/chat/completions")).json(&hello("mock/echo")),
        app.client.post(app.at("/v1/chat/completions")).bearer_auth("tg-not-a-real-secret").json(&hello("mock/echo")),
        app.client.post(app.at("/v1/chat/completions")).bearer_auth(&user.token).json(&hello("mock/echo")),
        app.client.post(app.at("/v1/chat/completions")).header("x-gateway-id", &gateway.id).json(&hello("mock/echo")),
        app.client
            .post(app.at("/v1/chat/completions"))
            .header("x-gateway-id", "nope")
            .header("x-gateway-authorization", &gateway.secret)
            .json(&hello("mock/echo")),
        app.client.get(app.at("/v1/models")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("x-request-id") || response.url().path().ends_with("models"));
        let body: Value = response.json().await.unwrap();
        assert_openai_error(&body);
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    // A wrong secret for a real gateway is not the owner's call: hostile.rs shows it is not metered.
    assert!(app.mock.requests().is_empty(), "nothing reached a provider");
}

#[tokio::test]
async fn bad_requests_get_clear_openai_errors_and_are_metered() {
    let app = TestApp::builder().env("MAX_BODY_BYTES", "4096").start().await;
    let user = app.join().await;
    let gateway: Gateway = app.create_gateway(&user, "strict").await;
    let raw = |body: String| {
        app.client
            .post(app.at("/v1/chat/completions"))
            .bearer_auth(&gateway.secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(String, u16, Option<&str>, Option<&str>)> = vec![
        ("{\"model\": ".into(), 400, Some("invalid_json"), None),
        ("\"just a string\"".into(), 400, Some("invalid_json"), None),
        (json!({"messages": [{"role": "user", "content": "hi"}]}).to_string(), 400, None, Some("model")),
        (
            json!({"model": ["gpt-4o"], "messages": [{"role": "user", "content": "hi"}]}).to_string(),
            400,
            None,
            Some("model"),
        ),
        (json!({"model": "mock/echo"}).to_string(), 400, None, Some("messages")),
        (json!({"model": "mock/echo", "messages": {"role": "user"}}).to_string(), 400, None, Some("messages")),
        (
            json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}).to_string(),
            400,
            None,
            Some("stream"),
        ),
        (
            json!({"model": "gpt-17-ultra", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
            404,
            Some("model_not_found"),
            Some("model"),
        ),
        (
            json!({"model": "mock/echo", "messages": [{"role": "user", "content": "x".repeat(5000)}]}).to_string(),
            413,
            Some("request_too_large"),
            None,
        ),
    ];
    let count = cases.len();
    for (body, status, code, param) in cases {
        let response = raw(body.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{body:.80}");
        assert!(response.headers().contains_key("x-request-id"));
        let error: Value = response.json().await.unwrap();
        assert_openai_error(&error);
        if let Some(code) = code {
            assert_eq!(error["error"]["code"], code, "{body:.80}");
        }
        if let Some(param) = param {
            assert_eq!(error["error"]["param"], param, "{body:.80}");
        }
    }
    let logs = app.wait_for_logs(&user, &gateway, count).await;
    assert!(logs.iter().all(|l| l["ok"] == false));
    assert!(logs.iter().any(|l| l["status_code"] == 404 && l["model"] == "gpt-17-ultra"));
    assert!(app.mock.requests().is_empty());

    let unknown =
        app.client.post(app.at("/v1/embeddings")).bearer_auth(&gateway.secret).json(&json!({})).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_openai_error(&unknown.json().await.unwrap());
}

#[tokio::test]
async fn streams_are_relayed_and_usage_is_metered_without_surprising_the_client() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "streams").await;
    for (model, asks_usage) in [("gpt-4o", false), ("gpt-4o", true), ("mock/echo", false), ("mock/echo", true)] {
        let mut body =
            json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "stream me please"}]});
        if asks_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let response = app.chat(&gateway, body).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let data = sse_data(&response.text().await.unwrap());
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "stream me please");
        let usage_chunks = chunks.iter().filter(|c| !c["usage"].is_null()).count();
        assert_eq!(usage_chunks, usize::from(asks_usage), "{model}: the usage chunk comes only when asked for");
    }
    // The provider was asked for usage every time, so every call is metered.
    for request in app.mock.requests() {
        let forwarded: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(forwarded["stream_options"]["include_usage"], true);
    }
    let logs = app.wait_for_logs(&user, &gateway, 4).await;
    for log in &logs {
        assert_eq!(log["streaming"], true);
        assert!(log["tokens_prompt"].as_u64().unwrap() > 0 && log["tokens_completion"].as_u64().unwrap() > 0, "{log}");
        assert!(log["cost_nanousd"].as_u64().unwrap() > 0);
        assert!(log["ttft_ms"].is_u64());
    }
}

#[tokio::test]
async fn a_stream_is_passed_on_event_by_event() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "live").await;
    // The mock sends one event every 100 ms for this model.
    let response = app.chat(&gateway, json!({"model": "openai/slow-model", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]})).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut reads = 0;
    let mut events = 0;
    while let Some(chunk) = body.next().await {
        reads += 1;
        events += String::from_utf8_lossy(&chunk.unwrap()).matches("data: ").count();
    }
    assert_eq!(events, 9, "role, six words, finish, [DONE]");
    assert!(reads >= 6, "events arrive as the provider sends them, not all at the end ({reads} reads)");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_is_still_metered() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "impatient").await;
    let response = app.chat(&gateway, json!({"model": "openai/slow-model", "stream": true, "messages": [{"role": "user", "content": "a long answer that nobody waits for"}]})).await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!((logs[0]["status_code"].as_u64(), logs[0]["ok"].as_bool()), (Some(499), Some(false)));
    assert_eq!(
        (logs[0]["error_type"].as_str(), logs[0]["error_code"].as_str()),
        (Some("client_error"), Some("client_closed_request"))
    );
}

#[tokio::test]
async fn provider_failures_are_retried_then_relayed_and_metered() {
    let app = TestApp::builder().env("UPSTREAM_MAX_ATTEMPTS", "3").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "flaky").await;

    let response = app.chat(&gateway, hello("openai/always-fail-500")).await;
    assert_eq!(response.status(), 500, "the provider's own status, after retrying");
    assert_openai_error(&response.json().await.unwrap());
    assert_eq!(app.mock.requests().len(), 3);

    let response = app.chat(&gateway, hello("openai/fail-400")).await;
    assert_eq!(response.status(), 400, "client errors are not retried");
    assert_eq!(app.mock.requests().len(), 4);

    let response = app.chat(&gateway, json!({"model": "openai/cut-short", "stream": true, "messages": [{"role": "user", "content": "one two three four"}]})).await;
    assert_eq!(response.status(), 200);
    let _ = response.text().await;

    let logs = app.wait_for_logs(&user, &gateway, 3).await;
    let by_model = |m: &str| logs.iter().find(|l| l["model"] == m).unwrap().clone();
    let failed = by_model("openai/always-fail-500");
    assert_eq!(
        (failed["status_code"].as_u64(), failed["attempts"].as_u64(), failed["ok"].as_bool()),
        (Some(500), Some(3), Some(false))
    );
    assert_eq!(failed["error_message"], "Simulated failure 500");
    assert_eq!(by_model("openai/fail-400")["attempts"], 1);
    let cut = by_model("openai/cut-short");
    assert_eq!((cut["ok"].as_bool(), cut["error_code"].as_str()), (Some(false), Some("upstream_stream_incomplete")));
}

#[tokio::test]
async fn a_rate_limited_key_rests_while_the_next_one_serves() {
    let app = TestApp::builder().env("OPENAI_API_KEY", "sk-ratelimited-aaaa,sk-good-bbbb").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "keys").await;
    for _ in 0..4 {
        assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
    }
    let keys: Vec<String> = app.mock.requests().into_iter().map(|r| r.authorization.unwrap()).collect();
    let limited = keys.iter().filter(|k| k.contains("ratelimited")).count();
    assert_eq!(limited, 1, "the rate-limited key is tried once, then rests: {keys:?}");
    assert_eq!(keys.len(), 5);

    let logs = app.wait_for_logs(&user, &gateway, 4).await;
    assert_eq!(logs.iter().map(|l| l["attempts"].as_u64().unwrap()).sum::<u64>(), 5);
    assert!(logs.iter().all(|l| l["ok"] == true));
}

#[tokio::test]
async fn operator_keys_take_turns() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "turns").await;
    for _ in 0..4 {
        assert_eq!(app.chat(&gateway, hello("gpt-4o")).await.status(), 200);
    }
    let keys: Vec<String> = app.mock.requests().into_iter().map(|r| r.authorization.unwrap()).collect();
    assert_eq!(keys.iter().filter(|k| k.ends_with("one")).count(), 2, "{keys:?}");
    assert_ne!(keys[0], keys[1]);
}

#[tokio::test]
async fn a_silent_or_unreachable_provider_becomes_a_timely_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::builder()
        .env("UPSTREAM_TIMEOUT_SECS", "1")
        .env("MISTRAL_BASE_URL", dead)
        .env("MISTRAL_API_KEY", "mk-1")
        .start()
        .await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "timeouts").await;

    let response = app.chat(&gateway, hello("openai/hang")).await;
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert_openai_error(&body);
    assert_eq!(body["error"]["code"], "upstream_timeout");

    let response = app.chat(&gateway, hello("mistral-small-latest")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "upstream_unreachable");

    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    let statuses: Vec<u64> = logs.iter().map(|l| l["status_code"].as_u64().unwrap()).collect();
    assert!(statuses.contains(&504) && statuses.contains(&502), "{statuses:?}");
}

#[tokio::test]
async fn models_are_listed_with_prices_for_gateway_callers() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "models").await;
    for path in ["/v1/models", "/models"] {
        let response = app.client.get(app.at(path)).bearer_auth(&gateway.secret).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let list: Value = response.json().await.unwrap();
        assert_eq!(list["object"], "list");
        let models = list["data"].as_array().unwrap();
        let echo = models.iter().find(|m| m["id"] == "mock/echo").expect("mock/echo listed");
        assert_eq!(
            echo["pricing"],
            json!({"input_per_mtok": 1.0, "cached_input_per_mtok": 0.5, "cache_write_per_mtok": 1.0, "output_per_mtok": 2.0})
        );
        assert_eq!(echo["available"], true);
        let sonnet = models.iter().find(|m| m["id"] == "anthropic/claude-sonnet-4-5").expect("Claude listed");
        assert_eq!(
            sonnet["pricing"],
            json!({"input_per_mtok": 3.0, "cached_input_per_mtok": 0.3, "cache_write_per_mtok": 3.75, "output_per_mtok": 15.0})
        );
        assert_eq!((sonnet["max_output_tokens"].as_u64(), sonnet["available"].as_bool()), (Some(64_000), Some(true)));
        let gpt = models.iter().find(|m| m["id"] == "openai/gpt-4o").unwrap();
        assert_eq!((gpt["pricing"]["input_per_mtok"].as_f64(), gpt["available"].as_bool()), (Some(2.5), Some(true)));
        let deepseek = models.iter().find(|m| m["id"] == "deepseek/deepseek-chat").unwrap();
        assert_eq!(deepseek["available"], false, "no DeepSeek key configured in tests");
    }
}

#[tokio::test]
async fn pricing_file_overrides_and_extends_the_catalog() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("prices.json");
    std::fs::write(&file, include_str!("../fixtures/litellm_prices_sample.json")).unwrap();
    let app = TestApp::builder().env("PRICING_FILE", file.display().to_string()).start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "priced").await;
    let list: Value =
        app.client.get(app.at("/v1/models")).bearer_auth(&gateway.secret).send().await.unwrap().json().await.unwrap();
    let find = |id: &str| list["data"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned();
    let custom = find("openai/gpt-4o-custom-deployment").expect("a model from the file is added");
    assert_eq!(custom["pricing"]["input_per_mtok"], 3.0);
    assert_eq!(
        find("openai/gpt-4o").unwrap()["pricing"]["output_per_mtok"],
        12.0,
        "the file overrides the built-in price"
    );
    assert!(find("openai/text-embedding-3-small").is_none(), "non-chat models are skipped");

    assert_eq!(app.chat(&gateway, hello("gpt-4o-custom-deployment")).await.status(), 200);
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let expected =
        logs[0]["tokens_prompt"].as_u64().unwrap() * 3000 + logs[0]["tokens_completion"].as_u64().unwrap() * 6000;
    assert_eq!(logs[0]["cost_nanousd"], expected);
}

/// Writes `pieces` to the server one at a time, `pause` apart, then reads until the
/// server closes (the last request asks it to): what came back.
async fn raw_exchange(app: &TestApp, pieces: &[String], pause: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    for piece in pieces {
        stream.write_all(piece.as_bytes()).await.unwrap();
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answered and closed")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn chat_head(gateway: &Gateway, framing: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: tollgate\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\nconnection: {connection}\r\n{framing}\r\n",
        gateway.secret
    )
}

#[tokio::test]
async fn a_body_read_whole_however_it_arrives_after_its_head() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "raw").await;
    let body =
        json!({"model": "mock/echo", "messages": [{"role": "user", "content": "slowly, in pieces"}]}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let pause = std::time::Duration::from_millis(50);

    // The head, then the body in two writes, 50 ms apart.
    let head = chat_head(&gateway, &format!("content-length: {}\r\n", body.len()), true);
    let answer = raw_exchange(&app, &[head, first.to_string(), rest.to_string()], pause).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("slowly, in pieces"), "{answer}");

    // Chunked, each chunk in a write of its own.
    let head = chat_head(&gateway, "transfer-encoding: chunked\r\n", true);
    let chunk = |text: &str| format!("{:x}\r\n{text}\r\n", text.len());
    let answer = raw_exchange(&app, &[head, chunk(first), chunk(rest), "0\r\n\r\n".to_string()], pause).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("slowly, in pieces"), "{answer}");

    // Two calls sent at once on one connection (pipelined): both answered, in order.
    let two = [chat_head(&gateway, &format!("content-length: {}\r\n", body.len()), false), body.clone()].concat()
        + &[chat_head(&gateway, &format!("content-length: {}\r\n", body.len()), true), body.clone()].concat();
    let answer = raw_exchange(&app, &[two], pause).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert_eq!(answer.matches("slowly, in pieces").count(), 2, "{answer}");

    assert_eq!(app.wait_for_logs(&user, &gateway, 4).await.len(), 4);
}
