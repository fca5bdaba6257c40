//! The official OpenAI Python SDK works against a gateway with nothing but
//! `base_url` and `api_key` (the test setup installs it into `.venv`).

use crate::helpers::{run_sdk_script, test_python, TestApp};

#[tokio::test]
async fn the_official_openai_python_sdk_works_with_base_url_and_api_key() {
    let Some(python) = test_python("openai") else { return };
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "sdk").await;
    let calls = run_sdk_script(&python, "openai_sdk_check.py", &app, &gateway).await;
    let call = |name: &str| calls.iter().find(|c| c["call"] == name).unwrap_or_else(|| panic!("{name} missing"));

    assert_eq!(call("plain")["content"], "Hello from the OpenAI SDK");
    assert_eq!(call("stream")["content"], "Hello from the OpenAI SDK");
    assert_eq!(call("stream_without_usage")["content"], "Hello from the OpenAI SDK");
    assert_eq!(call("models")["has_echo"], true);
    assert_eq!(
        (call("unknown_model")["status"].as_u64(), call("unknown_model")["code"].as_str()),
        (Some(404), Some("model_not_found"))
    );
    assert_eq!(call("wrong_secret")["status"], 401);

    assert_eq!(
        (call("claude")["content"].as_str(), call("claude")["finish_reason"].as_str()),
        (Some("Hello from the OpenAI SDK"), Some("stop"))
    );
    let tool = call("claude_tool_stream");
    assert_eq!(tool["name"], "search");
    assert_eq!(tool["arguments"], serde_json::json!({"query": "Hello from the OpenAI SDK"}));
    assert!(tool["prompt_tokens"].as_u64().unwrap() > 0);

    let logs = app.wait_for_logs(&user, &gateway, 6).await;
    let streamed = logs.iter().find(|l| l["model"] == "gpt-4o").unwrap();
    assert_eq!(streamed["tokens_prompt"], call("stream")["prompt_tokens"]);
    assert_eq!(streamed["tokens_completion"], call("stream")["completion_tokens"]);
}
