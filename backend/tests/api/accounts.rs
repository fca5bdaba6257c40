//! Accounts: one-click anonymous join, an optional password to come back with,
//! user tokens that cannot be forged, replayed after expiry, or downgraded, sessions
//! that end when they are signed out of or the password changes, and sign-ins that
//! no caller can use to exhaust the server or to guess passwords at leisure.

use actix_web::{body::to_bytes, ResponseError};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use tollgate::{db::Db, error::ApiError, ids::UserId, users::store as users};

use crate::helpers::{postgres_url, Backend, PgSchema, TestApp, User};

const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret!";

#[tokio::test]
async fn join_creates_an_anonymous_account_with_a_friendly_name() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let parts: Vec<&str> = user.username.split('_').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.starts_with(|c: char| c.is_ascii_uppercase())),
        "username like Brave_Teal_Fox: {}",
        user.username
    );

    let me = app.get_json(&user, "/auth/me").await;
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["username"], user.username.as_str());
    assert_eq!(me["has_password"], false);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));

    let other = app.join().await;
    assert_ne!(other.id, user.id);
    assert_ne!(other.username, user.username);
}

#[tokio::test]
async fn a_password_lets_the_account_sign_in_again_elsewhere() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let login = |password: &str| {
        app.client.post(app.at("/auth/login")).json(&json!({"username": user.username, "password": password})).send()
    };
    assert_eq!(login("correct horse battery").await.unwrap().status(), 401, "no password set yet");

    let response = app
        .client
        .put(app.at("/auth/password"))
        .bearer_auth(&user.token)
        .json(&json!({"new_password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["has_password"], true);

    let response = login("correct horse battery").await.unwrap();
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["id"], user.id.as_str());
    let again = crate::helpers::User {
        id: user.id.clone(),
        username: user.username.clone(),
        token: session["token"].as_str().unwrap().into(),
    };
    assert_eq!(app.get_json(&again, "/auth/me").await["username"], user.username.as_str());

    let response = login("wrong horse battery").await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_credentials");
    let response = app
        .client
        .post(app.at("/auth/login"))
        .json(&json!({"username": "No_Such_User", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "unknown users look like wrong passwords");
}

#[tokio::test]
async fn changing_a_password_needs_the_current_one_and_a_long_enough_new_one() {
    let app = TestApp::spawn().await;
    let user = app.join().await;

    let response = set_password(&app, &user.token, json!({"new_password": "short"})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "weak_password");

    let response = set_password(&app, &user.token, json!({"new_password": "first password"})).await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    for body in [
        json!({"new_password": "second password"}),
        json!({"new_password": "second password", "current_password": "nope nope"}),
    ] {
        let response = set_password(&app, &token, body).await;
        assert_eq!(response.status(), 400);
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_current_password");
    }
    let response =
        set_password(&app, &token, json!({"new_password": "second password", "current_password": "first password"}))
            .await;
    assert_eq!(response.status(), 200);
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    iat: i64,
    exp: i64,
    iss: &'a str,
}

#[tokio::test]
async fn expired_tampered_and_unsigned_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let victim = app.join().await;
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: &Claims, secret: &str| {
        encode(&Header::default(), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };

    let sid = user_session(&user);
    let sid = Some(sid.as_str());
    let claims = |sub, sid, exp, iss| Claims { sub, sid, iat: now, exp, iss };
    let expired = sign(&claims(&user.id, sid, now - 60, "tollgate"), TEST_JWT_SECRET);
    let wrong_key = sign(&claims(&user.id, sid, now + 3600, "tollgate"), "another-secret-another-secret-another");
    let wrong_issuer = sign(&claims(&user.id, sid, now + 3600, "someone-else"), TEST_JWT_SECRET);
    // Well signed, but naming no session that was ever started, or none at all.
    let made_up_session =
        sign(&claims(&user.id, Some("0192f000-0000-7000-8000-000000000000"), now + 3600, "tollgate"), TEST_JWT_SECRET);
    let no_session = sign(&claims(&user.id, None, now + 3600, "tollgate"), TEST_JWT_SECRET);
    // Another user's live session under this user's id.
    let borrowed_session =
        sign(&claims(&user.id, Some(&user_session(&victim)), now + 3600, "tollgate"), TEST_JWT_SECRET);
    // The user's own valid token with the subject swapped for another user's id.
    let mut parts: Vec<String> = user.token.split('.').map(String::from).collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(victim.id);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(
            json!({"sub": victim.id, "sid": user_session(&victim), "iat": now, "exp": now + 3600, "iss": "tollgate"})
                .to_string()
        )
    );

    for (what, token) in [
        ("expired", expired),
        ("wrong key", wrong_key),
        ("wrong issuer", wrong_issuer),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("made-up session", made_up_session),
        ("no session", no_session),
        ("borrowed session", borrowed_session),
        ("garbage", "abc.def".into()),
    ] {
        for path in ["/auth/me", "/gateways"] {
            let response = app.client.get(app.at(path)).bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), 401, "{what} token on {path}");
            assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "unauthorized");
        }
    }
    let response = app.client.get(app.at("/gateways")).send().await.unwrap();
    assert_eq!(response.status(), 401, "no token at all");
}

#[tokio::test]
async fn control_plane_bodies_are_checked() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    for (body, content_type) in [
        ("{not json", "application/json"),
        (r#"{"name": 42}"#, "application/json"),
        ("name=x", "application/x-www-form-urlencoded"),
    ] {
        let response = app
            .client
            .post(app.at("/gateways"))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["code"].is_string() && error["error"]["message"].is_string());
    }
    let huge = json!({"name": "x".repeat(100_000)});
    let response = app.post_json(&user, "/gateways", huge).await;
    assert_eq!(response.status(), 413);
}

/// The session id a user's token carries.
fn user_session(user: &User) -> String {
    let payload = user.token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().expect("tokens name their session").to_string()
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.at("/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn set_password(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client.put(app.at("/auth/password")).bearer_auth(token).json(&body).send().await.unwrap()
}

/// Gives `user` a password; returns the token of the one session the account then has.
async fn with_password(app: &TestApp, user: &User, password: &str) -> String {
    let response = set_password(app, &user.token, json!({ "new_password": password })).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

async fn status_with(app: &TestApp, token: &str, method: reqwest::Method, path: &str) -> u16 {
    let request = app.client.request(method.clone(), app.at(path)).bearer_auth(token);
    let request = match method {
        reqwest::Method::POST | reqwest::Method::PATCH | reqwest::Method::PUT => request.json(&json!({})),
        _ => request,
    };
    request.send().await.unwrap().status().as_u16()
}

/// A 429 in the control-plane shape with the given code, and the seconds its Retry-After asks for.
async fn too_many(response: reqwest::Response, code: &str) -> u64 {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code);
    assert!(body["error"]["message"].is_string());
    assert!(retry_after >= 1);
    retry_after
}

/// A value from `/metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere_and_only_that_session() {
    signing_out_ends_the_session(Backend::Sqlite).await;
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere_and_only_that_session_on_postgres() {
    signing_out_ends_the_session(Backend::Postgres).await;
}

async fn signing_out_ends_the_session(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_start().await else { return };
    let user = app.join().await;
    let browser = with_password(&app, &user, "correct horse battery").await;
    let laptop = token_of(login(&app, &user.username, "correct horse battery").await).await;
    let gateway = app.create_gateway(&User { token: laptop.clone(), ..user }, "kept").await;
    assert_eq!(status_with(&app, &browser, reqwest::Method::GET, "/gateways").await, 200, "known to be live");

    let response = app.client.post(app.at("/auth/logout")).bearer_auth(&browser).send().await.unwrap();
    assert_eq!(response.status(), 204);

    use reqwest::Method;
    let id = &gateway.id;
    for (method, path) in [
        (Method::GET, "/auth/me".to_string()),
        (Method::PUT, "/auth/password".into()),
        (Method::POST, "/auth/logout".into()),
        (Method::GET, "/gateways".into()),
        (Method::POST, "/gateways".into()),
        (Method::GET, format!("/gateways/{id}")),
        (Method::PATCH, format!("/gateways/{id}")),
        (Method::DELETE, format!("/gateways/{id}")),
        (Method::POST, format!("/gateways/{id}/secret")),
        (Method::GET, format!("/gateways/{id}/analytics")),
        (Method::GET, format!("/gateways/{id}/logs")),
        (Method::GET, format!("/gateways/{id}/logs/export?format=csv")),
    ] {
        assert_eq!(
            status_with(&app, &browser, method.clone(), &path).await,
            401,
            "signed-out token on {method} {path}"
        );
    }
    assert_eq!(status_with(&app, &laptop, Method::GET, "/auth/me").await, 200, "the other session goes on");
    assert_eq!(status_with(&app, &laptop, Method::GET, &format!("/gateways/{id}")).await, 200);
    let response = app.client.post(app.at("/auth/logout")).send().await.unwrap();
    assert_eq!(response.status(), 401, "signing out needs a session");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    password_change_ends_other_sessions(Backend::Sqlite).await;
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_on_postgres() {
    password_change_ends_other_sessions(Backend::Postgres).await;
}

async fn password_change_ends_other_sessions(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_start().await else { return };
    let user = app.join().await;
    let response = set_password(&app, &user.token, json!({"new_password": "first password"})).await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["id"], user.id.as_str());
    assert_eq!(changed["username"], user.username.as_str());
    assert_eq!(changed["has_password"], true);
    assert!(changed["created_at"].is_string() && changed["expires_at"].is_string());
    let browser = changed["token"].as_str().unwrap().to_string();
    let laptop = token_of(login(&app, &user.username, "first password").await).await;
    assert_eq!(status_with(&app, &laptop, reqwest::Method::GET, "/gateways").await, 200, "known to be live");

    let response =
        set_password(&app, &browser, json!({"new_password": "second password", "current_password": "first password"}))
            .await;
    let current = token_of(response).await;

    for (what, ended) in
        [("the join token", &user.token), ("the laptop", &laptop), ("the browser's old token", &browser)]
    {
        for path in ["/auth/me", "/gateways"] {
            assert_eq!(status_with(&app, ended, reqwest::Method::GET, path).await, 401, "{what} on {path}");
        }
    }
    assert_eq!(status_with(&app, &current, reqwest::Method::GET, "/auth/me").await, 200, "the caller goes on");
    assert_eq!(status_with(&app, &current, reqwest::Method::GET, "/gateways").await, 200);
    assert_eq!(login(&app, &user.username, "first password").await.status(), 401);
    assert_eq!(login(&app, &user.username, "second password").await.status(), 200);
}

#[tokio::test]
async fn after_ten_failed_logins_a_username_answers_429_with_retry_after() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    with_password(&app, &user, "correct horse battery").await;
    for attempt in 1..=10 {
        assert_eq!(login(&app, &user.username, "wrong horse battery").await.status(), 401, "attempt {attempt}");
    }
    let wait = too_many(login(&app, &user.username, "wrong horse battery").await, "too_many_attempts").await;
    assert!(wait <= 15 * 60, "within the 15-minute window: {wait}");
    let wait = too_many(login(&app, &user.username, "correct horse battery").await, "too_many_attempts").await;
    assert!(wait <= 15 * 60, "the right password waits too: guessing gains nothing");
    assert_eq!(metric(&app, r#"tollgate_logins_throttled_total{limit="username"}"#).await, 2.0);

    let other = app.join().await;
    with_password(&app, &other, "another good one").await;
    assert_eq!(login(&app, &other.username, "another good one").await.status(), 200, "other usernames are not held up");
}

#[tokio::test]
async fn a_successful_login_clears_the_usernames_failures() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    with_password(&app, &user, "correct horse battery").await;
    for _ in 0..9 {
        assert_eq!(login(&app, &user.username, "wrong horse battery").await.status(), 401);
    }
    assert_eq!(login(&app, &user.username, "correct horse battery").await.status(), 200);
    for attempt in 1..=10 {
        assert_eq!(login(&app, &user.username, "wrong horse battery").await.status(), 401, "attempt {attempt} after");
    }
    too_many(login(&app, &user.username, "wrong horse battery").await, "too_many_attempts").await;
}

#[tokio::test]
async fn one_client_address_gets_30_login_attempts_a_minute_whatever_x_forwarded_for_says() {
    let app = TestApp::spawn().await;
    let attempt = |i: u32| {
        app.client
            .post(app.at("/auth/login"))
            .header("x-forwarded-for", format!("10.0.0.{i}"))
            .json(&json!({"username": format!("Nobody_Here_{i}"), "password": "whatever1"}))
            .send()
    };
    for i in 1..=30 {
        assert_eq!(attempt(i).await.unwrap().status(), 401, "attempt {i}");
    }
    let wait = too_many(attempt(31).await.unwrap(), "too_many_attempts").await;
    assert!(wait <= 60, "within the one-minute window: {wait}");
    assert_eq!(metric(&app, r#"tollgate_logins_throttled_total{limit="address"}"#).await, 1.0);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    let app = TestApp::builder().env("TRUSTED_PROXIES", "127.0.0.1").start().await;
    let attempt = |forwarded_for: String, i: u32| {
        app.client
            .post(app.at("/auth/login"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({"username": format!("Nobody_Here_{i}"), "password": "whatever1"}))
            .send()
    };
    // The proxy appends the address it was called from; what the client wrote before it is not believed.
    for i in 1..=30 {
        assert_eq!(attempt(format!("192.0.2.{i}, 198.51.100.7"), i).await.unwrap().status(), 401, "attempt {i}");
    }
    too_many(attempt("198.51.100.7".into(), 31).await.unwrap(), "too_many_attempts").await;
    assert_eq!(attempt("198.51.100.8".into(), 32).await.unwrap().status(), 401, "another client behind the proxy");
}

#[tokio::test]
async fn concurrent_logins_never_run_more_password_hashes_than_the_slots_allow() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for _ in 0..4 {
        let user = app.join().await;
        with_password(&app, &user, "correct horse battery").await;
        users.push(user);
    }
    let logins = (0..16).map(|i| login(&app, &users[i % 4].username, "correct horse battery"));
    let mut signed_in = 0;
    for response in futures_util::future::join_all(logins).await {
        if response.status() == 429 {
            too_many(response, "busy").await;
        } else {
            token_of(response).await;
            signed_in += 1;
        }
    }
    assert!(signed_in > 0);

    let slots = metric(&app, "tollgate_password_hash_slots").await;
    let peak = metric(&app, "tollgate_password_hashes_in_flight_max").await;
    assert!((1.0..=4.0).contains(&slots), "a few slots, from the cores: {slots}");
    assert!(peak >= 1.0 && peak <= slots, "at most {slots} hashes ran at once, not {peak}");
    assert_eq!(metric(&app, "tollgate_password_hashes_in_flight").await, 0.0);
}

#[tokio::test]
async fn a_conflict_never_names_a_table_or_constraint() {
    let dir = tempfile::TempDir::new().unwrap();
    database_conflicts_stay_inside(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test]
async fn a_conflict_never_names_a_table_or_constraint_on_postgres() {
    let Some(url) = postgres_url() else { return };
    let schema = PgSchema::create(&url);
    database_conflicts_stay_inside(&schema.url()).await;
}

async fn database_conflicts_stay_inside(url: &str) {
    let url = url.to_string();
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap();
    let (first, second) = (UserId::new(), UserId::new());
    db.run(move |c| users::insert(c, first, "Taken_Teal_Name")).await.unwrap();
    let clash = db.run(move |c| users::insert(c, second, "Taken_Teal_Name")).await.unwrap_err();

    let response = ApiError::from(clash).error_response();
    assert_eq!(response.status(), 409);
    let body = String::from_utf8(to_bytes(response.into_body()).await.unwrap().to_vec()).unwrap();
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "conflict");
    for internal in ["users", "username", "constraint", "unique", "duplicate", "key", "sqlite", "violat"] {
        assert!(!body.to_lowercase().contains(internal), "{internal:?} leaks in {body}");
    }
}
