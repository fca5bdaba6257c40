//! Accounts: one-click anonymous join, an optional password to come back with,
//! and user tokens that cannot be forged, replayed after expiry, or downgraded.

use actix_web::{body::to_bytes, ResponseError};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use tollgate::{db::Db, error::ApiError, ids::UserId, users::store as users};

use crate::helpers::{postgres_url, PgSchema, TestApp};

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
    let set = |body: Value| app.client.put(app.at("/auth/password")).bearer_auth(&user.token).json(&body).send();

    let response = set(json!({"new_password": "short"})).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "weak_password");

    assert_eq!(set(json!({"new_password": "first password"})).await.unwrap().status(), 200);
    for body in [
        json!({"new_password": "second password"}),
        json!({"new_password": "second password", "current_password": "nope nope"}),
    ] {
        let response = set(body).await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_current_password");
    }
    let response = set(json!({"new_password": "second password", "current_password": "first password"})).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    sub: &'a str,
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

    let expired = sign(&Claims { sub: &user.id, iat: now - 7200, exp: now - 60, iss: "tollgate" }, TEST_JWT_SECRET);
    let wrong_key = sign(
        &Claims { sub: &user.id, iat: now, exp: now + 3600, iss: "tollgate" },
        "another-secret-another-secret-another",
    );
    let wrong_issuer = sign(&Claims { sub: &user.id, iat: now, exp: now + 3600, iss: "someone-else" }, TEST_JWT_SECRET);
    // The user's own valid token with the subject swapped for another user's id.
    let mut parts: Vec<String> = user.token.split('.').map(String::from).collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(victim.id);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({"sub": victim.id, "iat": now, "exp": now + 3600, "iss": "tollgate"}).to_string())
    );

    for (what, token) in [
        ("expired", expired),
        ("wrong key", wrong_key),
        ("wrong issuer", wrong_issuer),
        ("tampered", tampered),
        ("alg none", unsigned),
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
