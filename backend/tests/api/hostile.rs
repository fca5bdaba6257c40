//! Open sign-up means any caller may be hostile. These tests are the attacks that
//! once worked, each now refused or bounded: no tenant can cheat the meter, crash
//! the server, or touch another tenant's figures.

use std::{sync::Arc, time::Duration};

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use tollgate::{
    auth::secrets,
    db::Db,
    gateways::{
        provider_keys::{KeyLoader, Vault},
        store as gateways, GatewayCache,
    },
    ids::{GatewayId, UserId},
    users::store as users,
};

use crate::helpers::{hello, sse_data, TestApp};

async fn raw_chat(app: &TestApp, secret: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.at("/v1/chat/completions"))
        .bearer_auth(secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeated_key_cannot_make_the_meter_read_another_request_than_the_provider() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "honest").await;
    let messages = r#"[{"role":"user","content":"hi"}]"#;
    for (body, key) in [
        // The provider would stream; the meter would have seen a whole answer and billed nothing.
        (format!(r#"{{"model":"gpt-4o-mini","messages":{messages},"stream":false,"stream":true}}"#), "stream"),
        // The provider would run gpt-4o; the meter would have billed gpt-4o-mini.
        (format!(r#"{{"model":"gpt-4o-mini","messages":{messages},"model":"gpt-4o"}}"#), "model"),
    ] {
        let response = raw_chat(&app, &gateway.secret, body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("\"{key}\"")), "the message names the key: {message}");
    }
    assert!(app.mock.requests().is_empty(), "nothing reached a provider");
    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    assert!(logs.iter().all(|l| l["status_code"] == 400 && l["ok"] == false));
}

#[tokio::test]
async fn a_huge_request_to_the_mock_gets_a_bounded_answer() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "huge").await;
    let prompt = "lorem ipsum ".repeat(2 * 1024 * 1024 / 12);
    let body = json!({"model": "mock/echo", "messages": [{"role": "user", "content": prompt}]});

    let whole: Value = app.chat(&gateway, body.clone()).await.json().await.unwrap();
    let answer = whole["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.len() <= 2000 && prompt.starts_with(answer), "a prefix of the prompt, at most 2000 characters");
    assert!(whole["usage"]["prompt_tokens"].as_u64().unwrap() > 500_000, "the prompt is still counted in full");

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let text = app.chat(&gateway, streamed).await.text().await.unwrap();
    let content: String = sse_data(&text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(String::from))
        .collect();
    assert_eq!(content, answer, "the stream carries the same bounded answer");
}

#[tokio::test]
async fn an_oversized_stream_event_ends_the_stream_with_an_error() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "big-events").await;
    let response = app
        .chat(
            &gateway,
            json!({"model": "openai/huge-event", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 200, "the stream had begun");
    let data = sse_data(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_too_large");
    assert!(data.iter().all(|d| d.len() < 1024 * 1024), "the big event was never relayed");

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(
        (logs[0]["status_code"].as_u64(), logs[0]["error_code"].as_str()),
        (Some(502), Some("upstream_too_large"))
    );
}

#[tokio::test]
async fn a_provider_that_stalls_mid_stream_ends_as_a_timeout() {
    let app = TestApp::builder().env("STREAM_IDLE_TIMEOUT_SECS", "1").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "stalled").await;
    let started = std::time::Instant::now();
    let response = app
        .chat(
            &gateway,
            json!({"model": "openai/stall", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]}),
        )
        .await;
    let data = sse_data(&response.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(10), "the stall is noticed, not waited out");
    assert!(data.len() > 1, "what the provider sent before it stalled was relayed");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(
        (last["error"]["type"].as_str(), last["error"]["code"].as_str()),
        (Some("api_error"), Some("upstream_timeout"))
    );

    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(
        (logs[0]["status_code"].as_u64(), logs[0]["error_code"].as_str()),
        (Some(504), Some("upstream_timeout"))
    );
}

#[tokio::test]
async fn nothing_sent_without_the_secret_reaches_a_tenants_figures() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "mine").await;
    // Gateway ids are in the web app's URLs: anyone may know one.
    for secret in ["tg-wrong", &secrets::generate(), ""] {
        let response = app
            .client
            .post(app.at("/v1/chat/completions"))
            .header("x-gateway-id", &gateway.id)
            .header("x-gateway-authorization", secret)
            .json(&hello("mock/echo"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(logs[0]["status_code"], 200, "only the owner's own call is in the logs");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let analytics = app.get_json(&user, &format!("/gateways/{}/analytics?days=1", gateway.id)).await;
    assert_eq!(analytics["summary"]["total_requests"], 1);
    assert_eq!(analytics["summary"]["error_count"], 0);

    let metrics = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    let failures: Vec<&str> = metrics.lines().filter(|l| l.starts_with("tollgate_auth_failures_total")).collect();
    assert!(failures.iter().any(|l| l.contains(r#"reason="wrong_secret""#) && l.ends_with(" 2")), "{failures:?}");
    assert!(failures.iter().any(|l| l.contains(r#"reason="incomplete""#)), "{failures:?}");
    assert!(!metrics.contains(&gateway.id), "no gateway label in /metrics");
}

#[tokio::test]
async fn an_unknown_price_is_recorded_as_unpriced_never_as_free() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "prices").await;
    assert_eq!(app.chat(&gateway, hello("openai/gpt-4o-2099-01-01")).await.status(), 200);
    assert_eq!(app.chat(&gateway, hello("gpt-4o-2024-05-13")).await.status(), 200);
    let logs = app.wait_for_logs(&user, &gateway, 2).await;
    let by_model = |m: &str| logs.iter().find(|l| l["model"] == m).unwrap().clone();

    let unknown = by_model("openai/gpt-4o-2099-01-01");
    assert_eq!((unknown["priced"].as_bool(), unknown["ok"].as_bool()), (Some(false), Some(true)));
    assert!(unknown["cost"].is_null() && unknown["cost_nanousd"].is_null(), "no cost, not a cost of 0: {unknown}");
    // A dated snapshot the catalog lists is billed at its own price ($5 / $15 per million tokens).
    let snapshot = by_model("gpt-4o-2024-05-13");
    let expected =
        snapshot["tokens_prompt"].as_u64().unwrap() * 5000 + snapshot["tokens_completion"].as_u64().unwrap() * 15000;
    assert_eq!((snapshot["priced"].as_bool(), snapshot["cost_nanousd"].as_u64()), (Some(true), Some(expected)));

    let analytics = app.get_json(&user, &format!("/gateways/{}/analytics?days=1", gateway.id)).await;
    assert_eq!(analytics["summary"]["unpriced_requests"], 1);
    let csv = app.get(&user, &format!("/gateways/{}/logs/export?format=csv", gateway.id)).await.text().await.unwrap();
    let row = csv.lines().find(|l| l.contains("gpt-4o-2099-01-01")).unwrap();
    assert!(row.contains(",unpriced,"), "the export says unpriced: {row}");
}

#[tokio::test]
async fn an_operator_may_refuse_unpriced_models() {
    let app = TestApp::builder().env("UNPRICED_MODELS", "reject").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "strict-prices").await;
    let response = app.chat(&gateway, hello("openai/gpt-4o-2099-01-01")).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        (error["error"]["code"].as_str(), error["error"]["param"].as_str()),
        (Some("unpriced_model"), Some("model"))
    );
    assert!(error["error"]["message"].as_str().unwrap().contains("PRICING_FILE"));
    assert!(app.mock.requests().is_empty());
    assert_eq!(app.chat(&gateway, hello("gpt-4o-2024-08-06")).await.status(), 200, "priced models still pass");
}

#[tokio::test]
async fn a_flood_of_made_up_secrets_does_not_reach_the_tenants() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "steady").await;
    let flood = stream::iter(0..50_000)
        .map(|i| {
            let (client, url) = (app.client.clone(), app.at("/v1/chat/completions"));
            // Most in the issued format (each costs one lookup), some not (they cost none).
            let secret = if i % 10 == 0 { format!("sk-{i}") } else { secrets::generate() };
            async move { client.post(url).bearer_auth(secret).json(&hello("mock/echo")).send().await.unwrap().status() }
        })
        .buffer_unordered(24)
        .collect::<Vec<_>>();
    let tenant = async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(app.chat(&gateway, hello("mock/echo")).await.status().as_u16());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        statuses
    };
    let (flood, tenant) = tokio::join!(flood, tenant);
    assert!(flood.iter().all(|s| *s == 401), "made-up secrets are refused, never a 5xx");
    assert!(tenant.iter().all(|s| *s == 200), "the tenant kept being served: {tenant:?}");
}

async fn sqlite_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (tokio::task::spawn_blocking(move || Db::connect(&url, 4)).await.unwrap().unwrap(), dir)
}

#[tokio::test]
async fn the_gateway_cache_pays_for_a_miss_once_and_keeps_its_gateways() {
    let (db, _dir) = sqlite_db().await;
    let (owner, id, secret) = (UserId::new(), GatewayId::new(), secrets::generate());
    let hash = tollgate::auth::secrets::SecretHash::of(&secret);
    db.run(move |c| users::insert(c, owner, "Cache_Owner")).await.unwrap();
    db.run(move |c| gateways::insert(c, owner, id, "live", hash, "tg-…".into(), "{}".into())).await.unwrap();
    let keys = KeyLoader { vault: Vault::new(&[7; 32]), states: Default::default() };
    let cache = Arc::new(GatewayCache::new(db, keys, Duration::from_secs(60), 100, 50));

    assert!(cache.by_secret(&secret).await.unwrap().is_some());
    assert_eq!(cache.lookups_made(), 1);

    // Not in the issued format: refused without a lookup.
    for bad in ["sk-proj-abc", "tg-short", "Bearer tg-", &format!("{secret}x")] {
        assert!(cache.by_secret(bad).await.unwrap().is_none());
    }
    assert_eq!(cache.lookups_made(), 1);

    // Many callers missing on the same secret at once share one lookup.
    let guess = secrets::generate();
    let misses = futures_util::future::join_all((0..64).map(|_| cache.by_secret(&guess))).await;
    assert!(misses.iter().all(|m| matches!(m, Ok(None))));
    assert_eq!(cache.lookups_made(), 2);

    // Far more misses than the negative bound: the live gateway is never evicted.
    for _ in 0..500 {
        assert!(cache.by_secret(&secrets::generate()).await.unwrap().is_none());
    }
    let (found, missing) = cache.sizes();
    assert_eq!(found, 1);
    assert!(missing <= 50, "misses stay within their own bound ({missing})");
    let before = cache.lookups_made();
    assert!(cache.by_secret(&secret).await.unwrap().is_some());
    assert_eq!(cache.lookups_made(), before, "still served from memory");
}

#[tokio::test]
async fn made_up_http_methods_share_one_metrics_label() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("R{i}").as_bytes()).unwrap();
        app.client.request(method, app.at(&format!("/made-up/{i}"))).send().await.unwrap();
    }
    let metrics = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("method=\"R1\""), "no series per made-up method");
    assert!(!metrics.contains("/made-up"), "no series per unmatched path");
    assert!(metrics.lines().any(|l| l.contains(r#"route="other""#) && l.contains(r#"method="other""#)));
}

#[tokio::test]
async fn a_client_that_hangs_up_on_a_whole_answer_is_metered_as_499() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "hang-up").await;
    let call = app
        .client
        .post(app.at("/v1/chat/completions"))
        .bearer_auth(&gateway.secret)
        .timeout(Duration::from_millis(300))
        .json(&hello("openai/hang"))
        .send()
        .await;
    assert!(call.unwrap_err().is_timeout());
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!(
        (logs[0]["status_code"].as_u64(), logs[0]["error_code"].as_str()),
        (Some(499), Some("client_closed_request"))
    );
    assert_eq!(logs[0]["model"], "openai/hang", "what was known of the call is kept");
}

#[tokio::test]
async fn a_call_cut_short_by_shutdown_is_metered() {
    let app = TestApp::builder().env("SHUTDOWN_GRACE_SECS", "1").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "cut").await;
    let words = "word ".repeat(200);
    let response = app
        .chat(
            &gateway,
            json!({"model": "mock/slow-echo", "stream": true, "messages": [{"role": "user", "content": words}]}),
        )
        .await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    let reading = tokio::spawn(async move { while let Some(Ok(_)) = body.next().await {} });
    let data_dir = app.stop().await;
    reading.await.unwrap();

    let app = TestApp::builder().data_dir(data_dir).start().await;
    let logs = app.wait_for_logs(&user, &gateway, 1).await;
    assert_eq!((logs[0]["status_code"].as_u64(), logs[0]["error_code"].as_str()), (Some(503), Some("server_shutdown")));
}

#[tokio::test]
async fn the_gateway_secret_never_leaves_for_a_provider() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "sdk").await;
    // An OpenAI SDK given api_key=<secret> plus the x-gateway headers sends exactly this.
    let response = app
        .client
        .post(app.at("/v1/chat/completions"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .bearer_auth(&gateway.secret)
        .json(&hello("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = app.mock.requests();
    let sent = seen[0].authorization.as_deref().unwrap();
    assert!(!sent.contains(&gateway.secret) && sent.starts_with("Bearer sk-operator"), "{sent}");
}

#[tokio::test]
async fn local_providers_and_the_mock_are_opt_in() {
    // Without OLLAMA_BASE_URL (vLLM has none either), no tenant can make the server call its own host.
    let app = TestApp::builder().env("OLLAMA_BASE_URL", "").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "local").await;
    for model in ["ollama/llama3.2", "vllm/meta-llama/Llama-3.1-8B"] {
        let response = app.chat(&gateway, hello(model)).await;
        assert_eq!(response.status(), 404, "{model}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "model_not_found");
    }
    let list: Value =
        app.client.get(app.at("/v1/models")).bearer_auth(&gateway.secret).send().await.unwrap().json().await.unwrap();
    assert!(list["data"].as_array().unwrap().iter().all(|m| m["owned_by"] != "ollama" && m["owned_by"] != "vllm"));
    drop(app);

    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "local").await;
    assert_eq!(app.chat(&gateway, hello("ollama/llama3.2")).await.status(), 200, "routable once the operator names it");

    // In production the built-in mock answers only when the operator turns it on.
    let production = TestApp::builder().env("TOLLGATE_ENV", "production").start().await;
    let user = production.join().await;
    let gateway = production.create_gateway(&user, "prod").await;
    assert_eq!(production.chat(&gateway, hello("mock/echo")).await.status(), 404);
    let opted_in = TestApp::builder().env("TOLLGATE_ENV", "production").env("MOCK_PROVIDER", "on").start().await;
    let user = opted_in.join().await;
    let gateway = opted_in.create_gateway(&user, "prod").await;
    assert_eq!(opted_in.chat(&gateway, hello("mock/echo")).await.status(), 200);
}

#[tokio::test]
async fn request_bodies_wait_for_their_share_of_memory() {
    // 1 MiB for all bodies: a 450 KiB call holds 772 KiB (what it has beyond the free
    // 64 KiB, twice: its body and room for a copy), so two cannot be read at once.
    let app = TestApp::builder().env("REQUEST_MEMORY_MB", "1").env("MAX_BODY_BYTES", "524288").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "budget").await;
    let big = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "x".repeat(450 * 1024)}]});
    let order = std::sync::Mutex::new(Vec::new());
    let done = |name: &'static str| order.lock().unwrap().push(name);
    // The first holds its share while its provider keeps it waiting, until its client gives up.
    let first = async {
        let request = app.client.post(app.at("/v1/chat/completions")).bearer_auth(&gateway.secret);
        let result = request.timeout(Duration::from_millis(1500)).json(&big("openai/hang")).send().await;
        done("first");
        result.map(|r| r.status().as_u16()).map_err(|e| e.is_timeout())
    };
    // The second must wait for that share; a small body fits beside it meanwhile.
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let status = app.chat(&gateway, big("gpt-4o")).await.status().as_u16();
        done("second");
        status
    };
    let small = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = app.chat(&gateway, hello("gpt-4o")).await.status().as_u16();
        done("small");
        status
    };
    let (first, second, small) = tokio::join!(first, second, small);
    assert_eq!((first, second, small), (Err(true), 200, 200));
    assert_eq!(*order.lock().unwrap(), ["small", "first", "second"]);
}
