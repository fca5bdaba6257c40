//! A gateway's own provider keys (BYOK): stored sealed, shown only as hints, used
//! before the operator's keys and after the caller's own, marked invalid when the
//! provider refuses them, and gone at once when deleted.

use serde_json::{json, Value};

use tollgate::{
    db::Db,
    gateways::provider_keys::{store, Vault},
    ids::{GatewayId, ProviderKeyId},
};

use crate::helpers::{hello, Backend, Gateway, TestApp, User};

async fn add_key(app: &TestApp, user: &User, gateway: &Gateway, provider: &str, key: &str, label: &str) -> Value {
    let path = format!("/gateways/{}/provider-keys", gateway.id);
    let response = app.post_json(user, &path, json!({"provider": provider, "api_key": key, "label": label})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn keys_of(app: &TestApp, user: &User, gateway: &Gateway) -> Vec<Value> {
    let list = app.get_json(user, &format!("/gateways/{}/provider-keys", gateway.id)).await;
    list["keys"].as_array().unwrap().clone()
}

/// The key the mock provider saw on the last call.
fn last_key(app: &TestApp) -> String {
    let seen = app.mock.requests().pop().expect("the provider was called");
    seen.authorization.or(seen.api_key).unwrap()
}

#[tokio::test]
async fn a_gateways_own_key_serves_before_the_operators_and_the_callers_before_both() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "byok").await;

    assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
    assert!(last_key(&app).starts_with("Bearer sk-operator-"), "no key of its own yet: the operator's");

    let added = add_key(&app, &user, &gateway, "openai", "sk-tenant-own-key-7f3a", "production").await;
    assert_eq!(added["key_hint"], "…7f3a");
    assert_eq!(added["status"], "active");
    assert_eq!(added["label"], "production");
    assert!(added.get("api_key").is_none() && !added.to_string().contains("sk-tenant-own"), "{added}");

    // Used at once: adding a key reloads the gateway.
    for _ in 0..3 {
        assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
        assert_eq!(last_key(&app), "Bearer sk-tenant-own-key-7f3a");
    }
    // Other providers still use the operator's keys.
    assert_eq!(app.chat(&gateway, hello("groq/llama-3.3-70b-versatile")).await.status(), 200);
    assert_eq!(last_key(&app), "Bearer gsk-operator");
    // Anthropic's keys go in x-api-key.
    add_key(&app, &user, &gateway, "anthropic", "sk-ant-tenant-0042", "").await;
    let claude =
        json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(app.messages(&gateway, &claude).await.status(), 200);
    assert_eq!(app.mock.requests().pop().unwrap().api_key.as_deref(), Some("sk-ant-tenant-0042"));

    // The caller's own key (beside the x-gateway-* pair) wins over both.
    let response = app
        .client
        .post(app.at("/v1/chat/completions"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .bearer_auth("sk-callers-own-5555")
        .json(&hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(last_key(&app), "Bearer sk-callers-own-5555");

    assert!(keys_of(&app, &user, &gateway).await.iter().all(|k| !k["last_used_at"].is_null()), "last use is shown");
}

#[tokio::test]
async fn the_stored_row_holds_the_key_sealed_and_only_its_hint_in_clear() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "sealed").await;
    let added = add_key(&app, &user, &gateway, "openai", "sk-row-secret-value-77aa", "row").await;

    let url = format!("sqlite://{}", app.data_dir.path().join("tollgate.db").display());
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 1)).await.unwrap().unwrap();
    let id: GatewayId = gateway.id.parse().unwrap();
    let rows = db.run(move |conn| store::for_gateway(conn, id)).await.unwrap();
    let [row] = &rows[..] else { panic!("one row: {rows:?}") };
    assert_eq!((row.id.as_str(), row.key_hint.as_str()), (added["id"].as_str().unwrap(), "…77aa"));
    assert!(!row.sealed_key.contains("row-secret") && !row.label.contains("sk-"), "{row:?}");
    // Sealed under the test MASTER_KEY, bound to the row's id.
    let vault = Vault::new(&[7; 32]);
    assert_eq!(vault.open(row.id.parse().unwrap(), &row.sealed_key).unwrap(), "sk-row-secret-value-77aa");
    assert!(vault.open(ProviderKeyId::new(), &row.sealed_key).is_err(), "not under another id");
}

#[tokio::test]
async fn a_key_the_provider_refuses_is_marked_invalid_and_the_next_key_serves() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "revoked").await;
    let revoked = add_key(&app, &user, &gateway, "openai", "sk-revoked-invalid-0001", "old").await;
    add_key(&app, &user, &gateway, "openai", "sk-fresh-0002", "new").await;

    for _ in 0..4 {
        let response = app.chat(&gateway, hello("gpt-4o-mini")).await;
        assert_eq!(response.status(), 200, "the refused key never fails a call: the next key answers");
        assert_eq!(last_key(&app), "Bearer sk-fresh-0002");
    }
    let refused: Vec<_> = app
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.authorization.as_deref() == Some("Bearer sk-revoked-invalid-0001"))
        .collect();
    assert!(refused.len() <= 1, "a refused key is not tried again: {}", refused.len());

    let keys = keys_of(&app, &user, &gateway).await;
    let status = |id: &Value| keys.iter().find(|k| k["id"] == *id).unwrap()["status"].clone();
    assert_eq!(status(&revoked["id"]), "invalid");
    assert_eq!(keys.iter().filter(|k| k["status"] == "active").count(), 1);

    // Once all of a gateway's keys for a provider are refused, the operator's serve again.
    let only = app.create_gateway(&user, "only-revoked").await;
    add_key(&app, &user, &only, "openai", "sk-only-invalid-0003", "").await;
    let response = app.chat(&only, hello("gpt-4o-mini")).await;
    assert_eq!(response.status(), 401, "the provider's refusal is the answer of this call");
    assert_eq!(app.chat(&only, hello("gpt-4o-mini")).await.status(), 200);
    assert!(last_key(&app).starts_with("Bearer sk-operator-"));
}

#[tokio::test]
async fn a_deleted_key_is_never_used_again() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "delete").await;
    let key = add_key(&app, &user, &gateway, "openai", "sk-short-lived-9999", "").await;
    assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
    assert_eq!(last_key(&app), "Bearer sk-short-lived-9999");

    let path = format!("/gateways/{}/provider-keys/{}", gateway.id, key["id"].as_str().unwrap());
    let response = app.client.delete(app.at(&path)).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
    assert!(last_key(&app).starts_with("Bearer sk-operator-"), "the very next call");
    assert!(keys_of(&app, &user, &gateway).await.is_empty());
    let again = app.client.delete(app.at(&path)).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn another_user_gets_404_on_every_provider_keys_route() {
    let app = TestApp::spawn().await;
    let (owner, stranger) = (app.join().await, app.join().await);
    let gateway = app.create_gateway(&owner, "mine").await;
    let key = add_key(&app, &owner, &gateway, "openai", "sk-owners-key-1111", "").await;
    let base = format!("/gateways/{}/provider-keys", gateway.id);

    assert_eq!(app.get(&stranger, &base).await.status(), 404);
    let add = app.post_json(&stranger, &base, json!({"provider": "openai", "api_key": "sk-x", "label": ""})).await;
    assert_eq!(add.status(), 404);
    let delete = format!("{base}/{}", key["id"].as_str().unwrap());
    let response = app.client.delete(app.at(&delete)).bearer_auth(&stranger.token).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(keys_of(&app, &owner, &gateway).await.len(), 1, "the owner's key is untouched");
    let unknown = format!("/gateways/{}/provider-keys", uuid::Uuid::now_v7());
    assert_eq!(app.get(&owner, &unknown).await.status(), 404);
}

#[tokio::test]
async fn bad_keys_get_clear_errors() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "checks").await;
    let path = format!("/gateways/{}/provider-keys", gateway.id);
    for (body, code) in [
        (json!({"provider": "acme", "api_key": "sk-1"}), "invalid_provider"),
        (json!({"provider": "mock", "api_key": "sk-1"}), "invalid_provider"),
        (json!({"provider": "openai", "api_key": ""}), "invalid_api_key"),
        (json!({"provider": "openai", "api_key": "sk with spaces"}), "invalid_api_key"),
        (json!({"provider": "openai", "api_key": gateway.secret}), "invalid_api_key"),
        (json!({"provider": "openai", "api_key": "sk-1", "label": "x".repeat(101)}), "invalid_label"),
    ] {
        let response = app.post_json(&user, &path, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
    }
    let list = app.get_json(&user, &path).await;
    let providers: Vec<&str> =
        list["providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(providers.contains(&"openai") && providers.contains(&"anthropic") && !providers.contains(&"mock"));
    assert!(list["providers"].as_array().unwrap().iter().all(|p| p["operator_keys"] == true), "OPERATOR_KEYS=all");

    // A gateway holds at most 50 keys.
    for i in 0..50 {
        add_key(&app, &user, &gateway, "openai", &format!("sk-many-{i:04}"), "").await;
    }
    let response = app.post_json(&user, &path, json!({"provider": "groq", "api_key": "sk-one-more"})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "too_many_keys");
    assert_eq!(keys_of(&app, &user, &gateway).await.len(), 50);
}

#[tokio::test]
async fn with_operator_keys_none_a_gateway_must_bring_its_own() {
    let app = TestApp::builder().env("OPERATOR_KEYS", "groq").start().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "own keys only").await;

    let response = app.chat(&gateway, hello("gpt-4o-mini")).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "provider_key_required");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`openai`") && message.contains(&format!("/gateways/{}/provider-keys", gateway.id)),
        "{message}"
    );
    assert!(app.mock.requests().is_empty(), "no operator key was spent");
    // The same on the Messages surface, in Anthropic's shape.
    let claude =
        json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let response = app.messages(&gateway, &claude).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "invalid_request_error");

    // Providers the operator lends still work; the list says which.
    assert_eq!(app.chat(&gateway, hello("groq/llama-3.3-70b-versatile")).await.status(), 200);
    let list = app.get_json(&user, &format!("/gateways/{}/provider-keys", gateway.id)).await;
    let lent = |name: &str| {
        list["providers"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["operator_keys"].clone()
    };
    assert_eq!((lent("groq"), lent("openai")), (json!(true), json!(false)));

    add_key(&app, &user, &gateway, "openai", "sk-brought-own-1234", "").await;
    assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
    assert_eq!(last_key(&app), "Bearer sk-brought-own-1234");
    // The model list still offers every model; mock/echo needs no key at all.
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
}

#[tokio::test]
async fn provider_keys_live_in_postgresql_too() {
    let Some(app) = TestApp::builder().backend(Backend::Postgres).try_start().await else { return };
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "pg").await;
    let key = add_key(&app, &user, &gateway, "openai", "sk-in-postgres-4321", "pg").await;
    add_key(&app, &user, &gateway, "openai", "sk-pg-invalid-8765", "").await;
    for _ in 0..3 {
        assert_eq!(app.chat(&gateway, hello("gpt-4o-mini")).await.status(), 200);
        assert_eq!(last_key(&app), "Bearer sk-in-postgres-4321");
    }
    let keys = keys_of(&app, &user, &gateway).await;
    assert_eq!(keys.iter().map(|k| k["status"].as_str().unwrap()).collect::<Vec<_>>(), ["active", "invalid"]);
    let path = format!("/gateways/{}/provider-keys/{}", gateway.id, key["id"].as_str().unwrap());
    assert_eq!(app.client.delete(app.at(&path)).bearer_auth(&user.token).send().await.unwrap().status(), 204);
    assert_eq!(keys_of(&app, &user, &gateway).await.len(), 1);
}
