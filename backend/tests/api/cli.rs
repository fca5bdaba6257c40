//! The `tollgate` binary itself: its command line, and what a stored provider key
//! leaves behind (nothing in clear: not in a response, a log line or the database),
//! and `rotate-master-key`.

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tollgate::mock_upstream::{MockOptions, MockUpstream};

use crate::helpers::join_with_gateway;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

#[tokio::test]
async fn help_and_version_print_and_exit_without_starting_anything() {
    let dir = tempfile::TempDir::new().unwrap();
    for (arg, expected) in
        [("--help", "rotate-master-key"), ("--version", env!("CARGO_PKG_VERSION")), ("help", "serve")]
    {
        let output = tokio::process::Command::new(BIN).arg(arg).current_dir(dir.path()).output().await.unwrap();
        assert!(output.status.success(), "{arg}");
        assert!(String::from_utf8_lossy(&output.stdout).contains(expected), "{arg}");
    }
    let output = tokio::process::Command::new(BIN).arg("bogus").current_dir(dir.path()).output().await.unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage"));
    let missing = tokio::process::Command::new(BIN).arg("rotate-master-key").current_dir(dir.path()).output();
    let missing = missing.await.unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--new-key"));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no ./data, nothing created");
}

/// A `tollgate serve` process with its output collected.
struct Server {
    child: tokio::process::Child,
    url: String,
    output: Arc<Mutex<String>>,
}

impl Server {
    async fn start(dir: &Path, master_key: &str, mock: &MockUpstream) -> Server {
        let mut child = tokio::process::Command::new(BIN)
            .arg("serve")
            .current_dir(dir)
            .env("DATA_DIR", dir.join("data"))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "debug")
            .env("MASTER_KEY", master_key)
            .env("OPENAI_BASE_URL", mock.base_url())
            .env("OPENAI_API_KEY", "sk-operator-cli")
            .env("EVENT_FLUSH_MS", "50")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let (addr_tx, mut addr_rx) = tokio::sync::mpsc::unbounded_channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (output, addr_tx) = (output.clone(), addr_tx.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                        if entry["fields"]["message"] == "Tollgate listening" {
                            let _ = addr_tx.send(entry["fields"]["addr"].as_str().unwrap().to_string());
                        }
                    }
                    let mut output = output.lock().unwrap();
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        let addr =
            tokio::time::timeout(Duration::from_secs(30), addr_rx.recv()).await.expect("the server starts").unwrap();
        Server { child, url: format!("http://{addr}"), output }
    }

    async fn stop(mut self) -> String {
        self.child.kill().await.unwrap();
        let output = self.output.lock().unwrap().clone();
        output
    }
}

fn everything_stored(data: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_stored_key_is_never_in_clear_and_survives_a_master_key_rotation() {
    let dir = tempfile::TempDir::new().unwrap();
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap(), MockOptions::default(), 1).await.unwrap();
    let old_key = "0123456789abcdef".repeat(4); // `openssl rand -hex 32`'s form
    let new_key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA"; // base64url
    let api_key = "sk-tenant-vaulted-secret-9c1d";

    let server = Server::start(dir.path(), &old_key, &mock).await;
    let client = reqwest::Client::new();
    let (token, id, secret) = join_with_gateway(&client, &server.url, "vault").await;
    let keys_url = format!("{}/gateways/{id}/provider-keys", server.url);
    let added = client
        .post(&keys_url)
        .bearer_auth(&token)
        .json(&json!({"provider": "openai", "api_key": api_key, "label": "vaulted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let mut responses = added.text().await.unwrap();
    let chat = |url: String| {
        let (client, secret) = (client.clone(), secret.clone());
        async move {
            let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
            client.post(format!("{url}/v1/chat/completions")).bearer_auth(&secret).json(&body).send().await.unwrap()
        }
    };
    let answer = chat(server.url.clone()).await;
    assert_eq!(answer.status(), 200);
    responses.push_str(&answer.text().await.unwrap());
    assert_eq!(mock.requests().pop().unwrap().authorization.unwrap(), format!("Bearer {api_key}"));
    responses.push_str(&client.get(&keys_url).bearer_auth(&token).send().await.unwrap().text().await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = server.stop().await;

    assert!(responses.contains("…9c1d"), "the hint is shown: {responses}");
    assert!(!responses.contains("vaulted-secret"), "no response holds the key: {responses}");
    assert!(logs.contains("Tollgate listening") && !logs.contains("vaulted-secret"), "no log line holds the key");
    let stored = everything_stored(&dir.path().join("data"));
    assert!(contains(&stored, "…9c1d") && !contains(&stored, "vaulted-secret"), "the database holds it sealed only");

    // Rotation: with the wrong current key it changes nothing; with the right one,
    // every key is sealed anew, and the server started on the new key still uses it.
    let rotate = |current: &str| {
        tokio::process::Command::new(BIN)
            .args(["rotate-master-key", "--new-key", new_key])
            .current_dir(dir.path())
            .env("DATA_DIR", dir.path().join("data"))
            .env("MASTER_KEY", current)
            .output()
    };
    let refused = rotate(&"f".repeat(64)).await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not open under the current MASTER_KEY"));
    let rotated = rotate(&old_key).await.unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("Re-encrypted 1 stored provider key"));
    let again = rotate(&old_key).await.unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("(1 already were)"), "a second run is harmless");

    let server = Server::start(dir.path(), new_key, &mock).await;
    assert_eq!(chat(server.url.clone()).await.status(), 200);
    assert_eq!(mock.requests().pop().unwrap().authorization.unwrap(), format!("Bearer {api_key}"));
    let logs = server.stop().await;
    assert!(!logs.contains("cannot be opened"), "{logs}");
}

#[tokio::test]
async fn in_development_a_rotation_replaces_the_generated_key_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap(), MockOptions::default(), 1).await.unwrap();
    // No MASTER_KEY: one is generated into the data dir.
    let server = Server::start(dir.path(), "", &mock).await;
    let client = reqwest::Client::new();
    let (token, id, secret) = join_with_gateway(&client, &server.url, "generated").await;
    let added = client
        .post(format!("{}/gateways/{id}/provider-keys", server.url))
        .bearer_auth(&token)
        .json(&json!({"provider": "openai", "api_key": "sk-dev-stored-5151", "label": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    server.stop().await;
    let key_file = dir.path().join("data/master_key");
    let before = std::fs::read_to_string(&key_file).unwrap();

    let rotated = tokio::process::Command::new(BIN)
        .args(["rotate-master-key", "--generate"])
        .current_dir(dir.path())
        .env("DATA_DIR", dir.path().join("data"))
        .env("MASTER_KEY", "")
        .output()
        .await
        .unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("replaced"));
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), before);

    let server = Server::start(dir.path(), "", &mock).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let answer =
        client.post(format!("{}/v1/chat/completions", server.url)).bearer_auth(&secret).json(&body).send().await;
    assert_eq!(answer.unwrap().status(), 200);
    assert_eq!(mock.requests().pop().unwrap().authorization.unwrap(), "Bearer sk-dev-stored-5151");
    server.stop().await;
}
