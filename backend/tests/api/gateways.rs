//! Gateways: one per project, each with a secret shown once; rotation and deletion
//! take effect on the very next data-plane request; one user never sees another's.

use serde_json::{json, Value};

use crate::helpers::{hello, TestApp};

#[tokio::test]
async fn a_gateway_is_created_listed_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let user = app.join().await;

    let response = app.post_json(&user, "/gateways", json!({"name": "  Production  "})).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("tg-") && secret.len() >= 40);
    assert_eq!(created["name"], "Production");
    assert_eq!(created["secret_hint"], format!("tg-…{}", &secret[secret.len() - 4..]));
    let id = created["id"].as_str().unwrap();

    app.create_gateway(&user, "Staging").await;
    let list = app.get_json(&user, "/gateways").await;
    let names: Vec<&str> = list["gateways"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Staging", "Production"], "newest first");
    assert!(!list.to_string().contains(secret), "the secret is never shown again");
    assert!(list["gateways"][0].get("secret").is_none());

    let fetched = app.get_json(&user, &format!("/gateways/{id}")).await;
    assert_eq!(fetched["name"], "Production");
    assert!(fetched.get("secret").is_none());

    let response = app
        .client
        .patch(app.at(&format!("/gateways/{id}")))
        .bearer_auth(&user.token)
        .json(&json!({"name": "Prod EU"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["name"], "Prod EU");
    for bad in ["", "   ", &"x".repeat(101), "tab\tname"] {
        let response = app
            .client
            .patch(app.at(&format!("/gateways/{id}")))
            .bearer_auth(&user.token)
            .json(&json!({"name": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad:?}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_name");
    }

    let response = app.client.delete(app.at(&format!("/gateways/{id}"))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.get(&user, &format!("/gateways/{id}")).await.status(), 404);
    let response = app.client.delete(app.at(&format!("/gateways/{id}"))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn rotation_and_deletion_take_effect_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let user = app.join().await;
    let gateway = app.create_gateway(&user, "rotating").await;
    // Used once, so the secret sits in the data plane's cache.
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);

    let response = app.post_json(&user, &format!("/gateways/{}/secret", gateway.id), json!({})).await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, gateway.secret);
    assert_eq!(rotated["id"], gateway.id.as_str());

    let old = app.chat(&gateway, hello("mock/echo")).await;
    assert_eq!(old.status(), 401, "the old secret fails at once");
    assert_eq!(old.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    let rotated_gateway = crate::helpers::Gateway { id: gateway.id.clone(), secret: new_secret };
    assert_eq!(app.chat(&rotated_gateway, hello("mock/echo")).await.status(), 200);
    let by_id = app
        .client
        .post(app.at("/v1/chat/completions"))
        .header("x-gateway-id", &gateway.id)
        .header("x-gateway-authorization", &gateway.secret)
        .json(&hello("mock/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status(), 401, "the old secret fails in the header form too");

    let response =
        app.client.delete(app.at(&format!("/gateways/{}", gateway.id))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.chat(&rotated_gateway, hello("mock/echo")).await.status(),
        401,
        "a deleted gateway's secret fails at once"
    );
}

#[tokio::test]
async fn another_users_gateway_is_indistinguishable_from_a_missing_one() {
    let app = TestApp::spawn().await;
    let owner = app.join().await;
    let stranger = app.join().await;
    let gateway = app.create_gateway(&owner, "private").await;
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
    let missing = uuid::Uuid::now_v7().to_string();

    for id in [gateway.id.as_str(), missing.as_str(), "not-a-uuid"] {
        let paths = [
            format!("/gateways/{id}"),
            format!("/gateways/{id}/analytics?days=7"),
            format!("/gateways/{id}/logs"),
            format!("/gateways/{id}/logs/export?format=csv"),
        ];
        for path in &paths {
            let response = app.get(&stranger, path).await;
            assert_eq!(response.status(), 404, "GET {path}");
            assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "not_found");
        }
        let rename = app
            .client
            .patch(app.at(&format!("/gateways/{id}")))
            .bearer_auth(&stranger.token)
            .json(&json!({"name": "mine now"}))
            .send()
            .await
            .unwrap();
        assert_eq!(rename.status(), 404);
        let rotate = app.post_json(&stranger, &format!("/gateways/{id}/secret"), json!({})).await;
        assert_eq!(rotate.status(), 404);
        let delete =
            app.client.delete(app.at(&format!("/gateways/{id}"))).bearer_auth(&stranger.token).send().await.unwrap();
        assert_eq!(delete.status(), 404);
    }
    assert!(app.get_json(&stranger, "/gateways").await["gateways"].as_array().unwrap().is_empty());

    // Nothing the stranger tried changed the owner's gateway.
    let still = app.get_json(&owner, &format!("/gateways/{}", gateway.id)).await;
    assert_eq!(still["name"], "private");
    assert_eq!(app.chat(&gateway, hello("mock/echo")).await.status(), 200);
}
