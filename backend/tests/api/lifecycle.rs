//! The process as an operator runs it: SIGTERM lets in-flight calls finish and
//! writes every queued event before the process exits.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::helpers::{hello, join_with_gateway, sse_data, TestApp};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_tollgate(data_dir: &std::path::Path, port: u16, mock_base: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", data_dir)
        // Nothing is flushed by time or size: only the shutdown drain can write the events.
        .env("EVENT_FLUSH_MS", "600000")
        .env("EVENT_BATCH_ROWS", "100000")
        .env("OPENAI_BASE_URL", mock_base)
        .env("OPENAI_API_KEY", "sk-test")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tollgate binary starts")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "tollgate did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigterm_drains_every_accepted_call_before_exit() {
    // The helper app only provides the mock provider and, later, reads the same data dir.
    let helper = TestApp::spawn().await;
    let data_dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_tollgate(data_dir.path(), port, &helper.mock.base_url());
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;

    let (token, gateway_id, secret) = join_with_gateway(&client, &base, "drain").await;

    for _ in 0..20 {
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&hello("mock/echo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // A slow stream is still running when the signal comes: it may finish.
    let slow = client.post(format!("{base}/v1/chat/completions")).bearer_auth(&secret)
        .json(&json!({"model": "openai/slow", "stream": true, "messages": [{"role": "user", "content": "one two three four five"}]}))
        .send().await.unwrap();
    assert_eq!(slow.status(), 200);
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let streamed = slow.text().await.unwrap();
    assert_eq!(sse_data(&streamed).last().map(String::as_str), Some("[DONE]"), "the in-flight stream completed");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "clean exit: {status:?}");

    // Restart on the same data: all 21 calls are there.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_tollgate(data_dir.path(), port, &helper.mock.base_url());
    wait_healthy(&client, &base).await;
    let login_token = token;
    let logs: Value = client
        .get(format!("{base}/gateways/{gateway_id}/logs?limit=100"))
        .bearer_auth(&login_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logs = logs["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 21);
    assert!(logs.iter().all(|l| l["ok"] == true), "{logs:?}");
    child.kill().unwrap();
    let _ = child.wait();
}
