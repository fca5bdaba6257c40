//! Usage you can bill from: each part of a call's tokens priced at its own rate
//! (uncached input, cache reads, cache writes, output), the cost stored by part and
//! in total to the nano-dollar, and a prompt the provider answered without
//! reporting usage counted by Tollgate rather than billed as nothing.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate::{
    events::estimate::{count_prompt, PromptEstimate, Sample},
    mock_upstream::MockOptions,
};

use crate::helpers::TestApp;

/// The cost parts of a log entry, in nano-USD, read back from its USD breakdown.
fn parts_nano(log: &Value) -> [u64; 4] {
    let b = &log["cost_breakdown"];
    ["input", "cached_input", "cache_write", "output"].map(|k| (b[k].as_f64().unwrap() * 1e9).round() as u64)
}

#[tokio::test]
async fn cached_openai_tokens_are_priced_at_the_cached_rate_exactly() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "cache").await;
    // The mock reports 2,048 of the prompt tokens as read from the cache for `[cache]`.
    let response = app
        .chat(
            &gateway,
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "[cache] the same long preamble"}]}),
        )
        .await;
    let usage = response.json::<Value>().await.unwrap()["usage"].clone();
    let (prompt, completion) = (usage["prompt_tokens"].as_u64().unwrap(), usage["completion_tokens"].as_u64().unwrap());

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let log = &logs[0];
    assert_eq!((log["tokens_prompt"].as_u64(), log["tokens_cached"].as_u64()), (Some(prompt), Some(2048)));
    // gpt-4o: $2.50 input, $1.25 cached input, $10 output per million tokens.
    let expected = [(prompt - 2048) * 2_500, 2048 * 1_250, 0, completion * 10_000];
    assert_eq!(parts_nano(log), expected);
    assert_eq!(log["cost_nanousd"], expected.iter().sum::<u64>(), "the total is the sum of its parts");
    assert_eq!(log["usage_source"], "provider");
}

#[tokio::test]
async fn anthropic_cache_reads_and_writes_are_priced_apart_exactly() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "claude-cache").await;
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "[cache] a long system prompt"}]});
    let response = app.messages(&gateway, &request).await;
    let usage = response.json::<Value>().await.unwrap()["usage"].clone();
    let (input, output) = (usage["input_tokens"].as_u64().unwrap(), usage["output_tokens"].as_u64().unwrap());

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let log = &logs[0];
    assert_eq!(
        (log["tokens_prompt"].as_u64(), log["tokens_cached"].as_u64(), log["tokens_cache_write"].as_u64()),
        (Some(input + 2048 + 1024), Some(2048), Some(1024))
    );
    // claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per million tokens.
    let expected = [input * 3_000, 2048 * 300, 1024 * 3_750, output * 15_000];
    assert_eq!(parts_nano(log), expected);
    assert_eq!(log["cost_nanousd"], expected.iter().sum::<u64>());
}

#[tokio::test]
async fn a_prompt_answered_without_usage_is_counted_by_the_gateway() {
    // Each streamed event comes 200 ms after the last: the client leaves after the
    // first, long before the usage chunk.
    let app = TestApp::builder()
        .mock(MockOptions { chunk_delay: Duration::from_millis(200), ..MockOptions::default() })
        .start()
        .await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "estimates").await;
    let request = json!({"model": "gpt-4o", "stream": true, "messages": [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "Tell me everything about the history of tokenizers, slowly."},
    ]});
    let response = app.chat(&gateway, request.clone()).await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    let log = &logs[0];
    assert_eq!((log["status_code"].as_u64(), log["usage_source"].as_str()), (Some(499), Some("estimated")));
    // Counted with OpenAI's tokenizer: the message texts, 4 tokens of framing each, 3 for the reply.
    let counted =
        count_prompt(&PromptEstimate { request: Sample::of(&request.to_string().into()), openai: true, price: None });
    assert!((20..40).contains(&counted), "{counted} tokens");
    assert_eq!(log["tokens_prompt"], counted);
    assert_eq!(log["cost_nanousd"], counted * 2_500, "billed as gpt-4o input");
    assert_eq!(parts_nano(log), [counted * 2_500, 0, 0, 0]);
}

#[tokio::test]
async fn a_call_no_provider_answered_has_no_usage() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "none").await;
    app.chat(&gateway, json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]})).await;
    app.chat(&gateway, json!({"model": "openai/gpt-fail-429", "messages": [{"role": "user", "content": "hi"}]})).await;
    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    for log in &logs {
        assert_eq!((log["usage_source"].as_str(), log["tokens_prompt"].as_u64()), (Some("none"), Some(0)), "{log}");
    }
}

#[tokio::test]
async fn a_claude_answer_without_usage_is_estimated_on_either_surface() {
    // The mock's `no-usage` models answer, whole and streamed, without any `usage`:
    // the call must be counted, not taken to have used nothing.
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "no-usage").await;
    let messages = json!([{"role": "user", "content": "Count me, please: I came without usage."}]);
    for stream in [false, true] {
        let chat = app
            .chat(&gateway, json!({"model": "anthropic/claude-no-usage", "stream": stream, "messages": messages}))
            .await;
        assert_eq!(chat.status(), 200);
        let _ = chat.text().await.unwrap();
        let relayed =
            json!({"model": "anthropic/claude-no-usage", "max_tokens": 50, "stream": stream, "messages": messages});
        let relayed = app.messages(&gateway, &relayed).await;
        assert_eq!(relayed.status(), 200);
        let _ = relayed.text().await.unwrap();
    }
    let logs = app.wait_for_logs(&user, &gateway, 4).await;
    for log in &logs {
        assert_eq!(
            (log["status_code"].as_u64(), log["usage_source"].as_str()),
            (Some(200), Some("estimated")),
            "{log}"
        );
        assert!(log["tokens_prompt"].as_u64().unwrap() > 10, "{log}");
    }
}
