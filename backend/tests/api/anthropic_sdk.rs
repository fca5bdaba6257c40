//! The official Anthropic Python SDK works against a gateway with nothing but
//! `base_url` and `api_key`: for Claude (relayed) and for other providers'
//! models (translated), streaming and not, tools included.

use serde_json::json;

use crate::helpers::{run_sdk_script, test_python, TestApp};

#[tokio::test]
async fn the_official_anthropic_python_sdk_works_with_base_url_and_api_key() {
    let Some(python) = test_python("anthropic") else { return };
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "anthropic-sdk").await;
    let calls = run_sdk_script(&python, "anthropic_sdk_check.py", &app, &gateway).await;
    let call = |name: &str| calls.iter().find(|c| c["call"] == name).unwrap_or_else(|| panic!("{name} missing"));

    for model in ["claude-sonnet-4-5", "mock/echo"] {
        for kind in ["plain", "stream"] {
            let c = call(&format!("{kind} {model}"));
            assert_eq!(
                (c["text"].as_str(), c["stop_reason"].as_str()),
                (Some("Hello from the Anthropic SDK"), Some("end_turn")),
                "{c}"
            );
            assert!(c["input_tokens"].as_u64().unwrap() > 0 && c["output_tokens"].as_u64().unwrap() > 0, "{c}");
        }
    }
    for model in ["claude-haiku-4-5", "gpt-4o-mini"] {
        let c = call(&format!("tools {model}"));
        assert_eq!(c["stop_reason"], "tool_use", "{c}");
        assert_eq!(c["tools"], json!([{"name": "search", "input": {"query": "cats"}}]), "{c}");
        let c = call(&format!("tool stream {model}"));
        assert_eq!(c["tools"], json!([{"name": "search", "input": {"query": "dogs"}}]), "{c}");
    }
    assert!(call("count")["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        (call("unknown_model")["status"].as_u64(), call("unknown_model")["type"].as_str()),
        (Some(404), Some("not_found_error"))
    );
    assert_eq!(call("wrong_secret")["status"], 401);

    // Eight answered calls and the unknown model, each metered on the Messages surface.
    let logs = app.wait_for_logs(&user, &gateway, 9).await;
    assert_eq!(logs.iter().filter(|l| l["ok"] == true).count(), 8);
    let streamed = logs.iter().find(|l| l["model"] == "claude-sonnet-4-5" && l["streaming"] == true).unwrap();
    let reported = call("stream claude-sonnet-4-5");
    assert_eq!(
        (&streamed["tokens_prompt"], &streamed["tokens_completion"]),
        (&reported["input_tokens"], &reported["output_tokens"])
    );
}
