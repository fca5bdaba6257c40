//! Starting the real app for a test: a real HTTP server on an ephemeral port, its
//! own database (a SQLite file, or a PostgreSQL schema), and the project's
//! mock-upstream on another port standing in for every provider.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};
use tempfile::TempDir;
use tollgate::{
    config::Config,
    mock_upstream::{MockOptions, MockUpstream},
    Tollgate,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a test needing an outside service must fail (CI) rather than skip.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The test virtualenv's Python (`scripts/setup-python.sh`; `make test` exports
/// TOLLGATE_TEST_PYTHON) when it can import `module`, or `None` (skip) outside CI.
pub fn test_python(module: &str) -> Option<std::path::PathBuf> {
    let python = std::env::var("TOLLGATE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let imports = |python: &std::path::Path| {
        std::process::Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if python.exists() && imports(&python) {
        return Some(python);
    }
    assert!(
        !required(),
        "CI=true but the test virtualenv ({}) cannot import {module}: run scripts/setup-python.sh",
        python.display()
    );
    eprintln!("{} cannot import {module}: skipping (make test sets up the virtualenv)", python.display());
    None
}

/// Runs `tests/python/<script>` with the test virtualenv's `python`, the gateway's
/// base URL in `TOLLGATE_URL` (`/v1` in `TOLLGATE_BASE_URL`, as OpenAI's SDK wants it)
/// and its secret in `TOLLGATE_GATEWAY_SECRET`: the JSON line the script printed for each call.
pub async fn run_sdk_script(python: &std::path::Path, script: &str, app: &TestApp, gateway: &Gateway) -> Vec<Value> {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let output = tokio::process::Command::new(python)
        .arg(script)
        .env("TOLLGATE_URL", app.at(""))
        .env("TOLLGATE_BASE_URL", app.at("/v1"))
        .env("TOLLGATE_GATEWAY_SECRET", &gateway.secret)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "SDK script failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The URL of an outside service in `variable` (`make test` sets it), or `None` (skip)
/// outside CI; under CI a missing service fails the test.
fn service_url(variable: &str, service: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("CI=true but {variable} is not set: {service} tests cannot be skipped"),
        _ => {
            eprintln!("{variable} not set: skipping a {service} test (make test provides one)");
            None
        }
    }
}

/// The PostgreSQL server tests use, or `None` (skip) outside CI.
pub fn postgres_url() -> Option<String> {
    service_url("TEST_DATABASE_URL", "PostgreSQL")
}

/// A schema of its own on the test PostgreSQL server, dropped afterwards.
pub struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    pub fn create(base_url: &str) -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(base_url).expect("TEST_DATABASE_URL must accept connections");
        diesel::sql_query(format!("CREATE SCHEMA {name}")).execute(&mut conn).expect("create test schema");
        Self { base_url: base_url.to_string(), name }
    }

    /// A URL whose connections use this schema.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-csearch_path%3D{}", self.base_url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.base_url) {
            let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)).execute(&mut conn);
        }
    }
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub mock: MockUpstream,
    pub data_dir: TempDir,
    app: Option<Tollgate>,
    _schema: Option<PgSchema>,
}

pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

pub struct Gateway {
    pub id: String,
    pub secret: String,
}

/// The operator keys the tests configure for OpenAI (pointed at the mock).
pub const OPERATOR_KEYS: &str = "sk-operator-one,sk-operator-two";
pub const ANTHROPIC_OPERATOR_KEY: &str = "sk-ant-operator";

pub struct Builder {
    backend: Backend,
    clickhouse: Option<tollgate::config::ClickHouseSettings>,
    env: Vec<(&'static str, String)>,
    mock: MockOptions,
    data_dir: Option<TempDir>,
}

impl Builder {
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Analytics in this ClickHouse database instead of the embedded store.
    pub fn clickhouse(mut self, database: &ClickHouseDatabase) -> Self {
        self.clickhouse = Some(database.settings());
        self
    }

    pub fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// How the mock provider behaves (its latency, its failures).
    pub fn mock(mut self, options: MockOptions) -> Self {
        self.mock = options;
        self
    }

    /// Reuses a data dir (to restart on the same files).
    pub fn data_dir(mut self, dir: TempDir) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// `None` when the backend is PostgreSQL and no server is configured (outside CI).
    pub async fn try_start(self) -> Option<TestApp> {
        let mock = MockUpstream::start("127.0.0.1:0".parse::<SocketAddr>().unwrap(), self.mock, 1)
            .await
            .expect("mock upstream starts");
        let schema = match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgSchema::create(&postgres_url()?)),
        };
        let data_dir = self.data_dir.unwrap_or_else(|| TempDir::new().expect("temp dir"));
        let mut env: Vec<(&str, String)> = self.env;
        for provider in ["OPENAI", "MISTRAL", "GROQ", "DEEPSEEK", "OPENROUTER", "TOGETHER", "XAI", "GEMINI", "OLLAMA"] {
            let base: &'static str = Box::leak(format!("{provider}_BASE_URL").into_boxed_str());
            env.push((base, mock.base_url()));
        }
        // Anthropic's SDK convention: the base URL has no version path.
        env.push(("ANTHROPIC_BASE_URL", format!("http://{}", mock.addr)));
        env.push(("ANTHROPIC_API_KEY", ANTHROPIC_OPERATOR_KEY.into()));
        env.push(("OPENAI_API_KEY", OPERATOR_KEYS.into()));
        env.push(("GROQ_API_KEY", "gsk-operator".into()));
        if let Some(schema) = &schema {
            env.push(("DATABASE_URL", schema.url()));
        }
        if let Some(clickhouse) = &self.clickhouse {
            env.push(("CLICKHOUSE_URL", clickhouse.url.clone()));
            env.push(("CLICKHOUSE_DATABASE", clickhouse.database.clone()));
        }
        let config = Config::for_tests(data_dir.path().to_path_buf(), &env).expect("valid test config");
        let app = Tollgate::start(config, false).await.expect("app starts");
        Some(TestApp {
            url: app.url(),
            client: reqwest::Client::new(),
            mock,
            data_dir,
            app: Some(app),
            _schema: schema,
        })
    }

    pub async fn start(self) -> TestApp {
        self.try_start().await.expect("backend available")
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            backend: Backend::Sqlite,
            clickhouse: None,
            env: Vec::new(),
            mock: MockOptions::default(),
            data_dir: None,
        }
    }

    pub async fn spawn() -> Self {
        Self::builder().start().await
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Stops gracefully (events drained), keeping the data dir for a restart.
    pub async fn stop(mut self) -> TempDir {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
        self.data_dir
    }

    pub async fn join(&self) -> User {
        let response = self.client.post(self.at("/auth/join")).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        User {
            id: body["id"].as_str().unwrap().into(),
            username: body["username"].as_str().unwrap().into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    pub async fn create_gateway(&self, user: &User, name: &str) -> Gateway {
        let response = self.post_json(user, "/gateways", json!({ "name": name })).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        Gateway { id: body["id"].as_str().unwrap().into(), secret: body["secret"].as_str().unwrap().into() }
    }

    pub async fn get(&self, user: &User, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).bearer_auth(&user.token).send().await.unwrap()
    }

    pub async fn get_json(&self, user: &User, path: &str) -> Value {
        let response = self.get(user, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn post_json(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.at(path)).bearer_auth(&user.token).json(&body).send().await.unwrap()
    }

    /// A chat completion with the gateway secret as the OpenAI SDK sends it.
    pub async fn chat(&self, gateway: &Gateway, body: Value) -> reqwest::Response {
        self.client.post(self.at("/v1/chat/completions")).bearer_auth(&gateway.secret).json(&body).send().await.unwrap()
    }

    /// A Messages API call as Anthropic's SDKs make it: the gateway secret in `x-api-key`.
    pub async fn messages(&self, gateway: &Gateway, body: &Value) -> reqwest::Response {
        self.client
            .post(self.at("/v1/messages"))
            .header("x-api-key", &gateway.secret)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits until the gateway's logs hold `count` calls (the writer flushes every 50 ms in tests).
    pub async fn wait_for_logs(&self, user: &User, gateway: &Gateway, count: usize) -> Vec<Value> {
        self.wait_for_logs_where(user, gateway, "", count).await
    }

    /// The same, for the calls matching a logs query such as `model=gpt-4o`.
    pub async fn wait_for_logs_where(&self, user: &User, gateway: &Gateway, query: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = self.get_json(user, &format!("/gateways/{}/logs?limit=500&{query}", gateway.id)).await;
            let logs = page["logs"].as_array().unwrap().clone();
            if logs.len() >= count {
                assert_eq!(logs.len(), count, "more events than calls");
                return logs;
            }
            assert!(Instant::now() < deadline, "only {} of {count} events arrived", logs.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello, gateway!"}]})
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")).map(String::from))
        .collect()
}

/// The ClickHouse server tests share (`scripts/test.sh` starts one), or `None` (skip) outside CI.
pub fn clickhouse_url() -> Option<String> {
    service_url("TEST_CLICKHOUSE_URL", "ClickHouse")
}

/// Runs one statement over ClickHouse's HTTP interface.
pub async fn clickhouse_sql(url: &str, sql: &str) -> String {
    let response = reqwest::Client::new().post(url).body(sql.to_string()).send().await.expect("ClickHouse answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{sql}: {text}");
    text
}

/// A database of its own on a ClickHouse server, dropped afterwards.
pub struct ClickHouseDatabase {
    pub url: String,
    pub name: String,
}

impl ClickHouseDatabase {
    pub fn new(url: &str) -> Self {
        Self { url: url.to_string(), name: format!("t_{}", uuid::Uuid::new_v4().simple()) }
    }

    pub fn settings(&self) -> tollgate::config::ClickHouseSettings {
        tollgate::config::ClickHouseSettings {
            url: self.url.clone(),
            database: self.name.clone(),
            user: None,
            password: None,
        }
    }
}

impl Drop for ClickHouseDatabase {
    fn drop(&mut self) {
        let (url, sql) = (self.url.clone(), format!("DROP DATABASE IF EXISTS {}", self.name));
        // Drop cannot await: a short-lived runtime on its own thread does the request.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async { reqwest::Client::new().post(&url).body(sql).send().await.map(drop) })
        })
        .join();
    }
}

/// A ClickHouse server of a test's own, for tests that stop and restart it.
pub struct ClickHouseServer {
    dir: TempDir,
    pub url: String,
}

fn clickhouse_script(args: &[&str]) -> std::process::Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/clickhouse.sh");
    std::process::Command::new(script).args(args).output().expect("scripts/clickhouse.sh runs")
}

impl ClickHouseServer {
    /// `None` (skip) when there is no ClickHouse to run outside CI.
    pub fn start() -> Option<Self> {
        clickhouse_url()?;
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("ch");
        let output = clickhouse_script(&["start", path.to_str().unwrap()]);
        assert!(output.status.success(), "ClickHouse did not start: {}", String::from_utf8_lossy(&output.stderr));
        let url = String::from_utf8(output.stdout).unwrap().trim().to_string();
        Some(Self { dir, url })
    }

    fn path(&self) -> String {
        self.dir.path().join("ch").display().to_string()
    }

    /// Stops the server, keeping its data.
    pub fn pause(&self) {
        assert!(clickhouse_script(&["pause", &self.path()]).status.success());
    }

    pub fn resume(&self) {
        let output = clickhouse_script(&["resume", &self.path()]);
        assert!(output.status.success(), "ClickHouse did not restart: {}", String::from_utf8_lossy(&output.stderr));
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        clickhouse_script(&["stop", &self.path()]);
    }
}

/// The Redis tests share (`make test` starts one when none answers), or `None` (skip) outside CI.
pub fn redis_url() -> Option<String> {
    service_url("TEST_REDIS_URL", "Redis")
}

/// A Redis server of a test's own, for tests that stop it.
pub struct RedisServer {
    child: std::process::Child,
    pub url: String,
    _dir: TempDir,
}

impl RedisServer {
    /// `None` (skip) when there is no Redis to run outside CI.
    pub fn start() -> Option<Self> {
        redis_url()?;
        let dir = TempDir::new().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/redis.sh install)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, url: format!("redis://127.0.0.1:{port}"), _dir: dir })
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A LiteLLM price map with a model priced on output only, so a call's worst case
/// (its max_tokens) is exactly what it costs when it answers that many tokens.
pub fn output_priced_model(dir: &std::path::Path) -> String {
    let path = dir.join("prices.json");
    let map = json!({"budget-echo": {"litellm_provider": "openai", "mode": "chat",
        "input_cost_per_token": 0.0, "output_cost_per_token": 0.001}});
    std::fs::write(&path, map.to_string()).unwrap();
    path.display().to_string()
}

/// A new account with one gateway on a Tollgate at `base` (a process of its own):
/// the session token, the gateway id and its secret.
pub async fn join_with_gateway(client: &reqwest::Client, base: &str, name: &str) -> (String, String, String) {
    let session: Value = client.post(format!("{base}/auth/join")).send().await.unwrap().json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    let created = client.post(format!("{base}/gateways")).bearer_auth(&token).json(&json!({ "name": name }));
    let gateway: Value = created.send().await.unwrap().json().await.unwrap();
    let id = gateway["id"].as_str().unwrap().to_string();
    (token, id, gateway["secret"].as_str().unwrap().to_string())
}
