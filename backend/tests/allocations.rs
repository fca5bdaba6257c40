//! The allocation budget of the hot path: how many heap allocations one
//! non-streamed call through the whole gateway costs (authentication, metering,
//! the provider call, the relay, the event queued for the writer).
//!
//! This test binary counts every allocation of the process with a counting
//! global allocator. The provider is the `mock-upstream` binary in a process of
//! its own, and the client is a plain socket writing one prepared request and
//! reading into a reused buffer, so the count is the gateway's own. Events are
//! written in one batch after the measurement (the writer's cost per event is a
//! batch insert, measured by `make bench`, not here).
//!
//! The budget is a ceiling: raise it only with a reason in the commit.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
};

use serde_json::{json, Value};
use tempfile::TempDir;
use tollgate::{config::Config, Tollgate};

/// Allocations one proxied call may make, averaged over many calls. It was 121
/// with reqwest as the provider client and tracing-actix-web's span per request,
/// and 42 with hyper's pooled client; it measures 29 now, with the provider client
/// of our own (`proxy/h1.rs`).
const BUDGET_PER_CALL: u64 = 32;
const CALLS: u64 = 200;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The project's mock provider, in a process of its own so its allocations are not counted.
struct Upstream(Child, String);

impl Upstream {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
            .args(["--port", "0", "--workers", "1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mock-upstream starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.split("OPENAI_BASE_URL=").nth(1).expect("mock-upstream prints its URL");
        let base = base.trim().trim_end_matches(')').to_string();
        Self(child, base)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One keep-alive connection sending the same request again and again.
struct Client {
    stream: TcpStream,
    request: Vec<u8>,
    buffer: Vec<u8>,
}

impl Client {
    fn new(addr: std::net::SocketAddr, secret: &str, body: &str) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {secret}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        Self { stream, request, buffer: Vec::with_capacity(64 * 1024) }
    }

    /// Sends the request and reads the whole answer; its status.
    fn call(&mut self) -> u16 {
        self.stream.write_all(&self.request).unwrap();
        self.buffer.clear();
        loop {
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "the gateway closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
            let Some(head_end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let head = std::str::from_utf8(&self.buffer[..head_end]).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .expect("a whole answer has a content-length");
            if self.buffer.len() >= head_end + 4 + length {
                return head[9..12].parse().unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_proxied_call_stays_within_its_allocation_budget() {
    let upstream = Upstream::start();
    let data_dir = TempDir::new().unwrap();
    let env = [
        ("OPENAI_BASE_URL", upstream.1.clone()),
        ("OPENAI_API_KEY", "sk-operator".to_string()),
        ("MOCK_PROVIDER", "off".to_string()),
        // One batch after the measurement: the writer does not run during it.
        ("EVENT_FLUSH_MS", "600000".to_string()),
        ("EVENT_BATCH_ROWS", "100000".to_string()),
    ];
    let app = Tollgate::start(Config::for_tests(data_dir.path().into(), &env).unwrap(), false).await.unwrap();
    let http = reqwest::Client::new();
    let joined: Value = http.post(format!("{}/auth/join", app.url())).send().await.unwrap().json().await.unwrap();
    let token = joined["token"].as_str().unwrap();
    let gateway: Value = http
        .post(format!("{}/gateways", app.url()))
        .bearer_auth(token)
        .json(&json!({"name": "budget"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello to the allocation budget."}
        ],
        "temperature": 0.2
    })
    .to_string();
    let mut client = Client::new(app.addr, gateway["secret"].as_str().unwrap(), &body);

    let per_call = tokio::task::spawn_blocking(move || {
        // Warm: the gateway cached, the provider's connection pooled, lazy tables built.
        for _ in 0..50 {
            assert_eq!(client.call(), 200);
        }
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..CALLS {
            assert_eq!(client.call(), 200);
        }
        (ALLOCATIONS.load(Ordering::Relaxed) - before) / CALLS
    })
    .await
    .unwrap();
    println!("one proxied call: {per_call} allocations (budget {BUDGET_PER_CALL})");
    assert!(
        per_call <= BUDGET_PER_CALL,
        "one proxied call made {per_call} heap allocations, over its budget of {BUDGET_PER_CALL}"
    );
    app.stop().await.unwrap();
}
