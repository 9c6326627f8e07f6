use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, header_mode, TestApp};

#[tokio::test]
async fn signup_creates_user_and_refuses_duplicates() {
    let app = TestApp::spawn().await;
    let r = app.signup("alice").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["username"], "alice");
    assert!(v.get("password_hash").is_none());
    assert_error(app.signup("alice").await, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn signup_validates_fields() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"username": "ab", "password": "long enough"}),
        json!({"username": "bad name", "password": "long enough"}),
        json!({"username": "../../etc", "password": "long enough"}),
        json!({"username": "alice", "password": "short"}),
        json!({"username": 5, "password": "long enough"}),
        json!({"username": "alice"}),
    ] {
        let r = app.post_json("/auth/signup", &body, None).await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
}

#[tokio::test]
async fn malformed_json_and_wrong_media_type() {
    let app = TestApp::spawn().await;
    let r = app
        .post_body(
            "/auth/signup",
            "application/json",
            "{\"username\": \"alice\",",
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let r = app.post_body("/auth/signup", "text/plain", "{}").await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let huge = "x".repeat(200 * 1024);
    let r = app
        .post_json("/posts", &json!({"title": "t", "body": huge}), Some(&token))
        .await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn login_issues_token_and_rejects_bad_credentials() {
    let app = TestApp::spawn().await;
    app.signup("alice").await;
    let r = app.login("alice", "correct horse").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(v["token"].as_str().unwrap().split('.').count() == 3);
    assert!(v["expires_at"].as_str().is_some());
    let r = app.login("alice", "wrong horse").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = app.login("nobody", "wrong horse").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.limits.login_rate_per_minute = 3).await;
    app.signup("alice").await;
    for _ in 0..3 {
        let r = app.login("alice", "wrong horse").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login("alice", "correct horse").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_401() {
    let app = TestApp::spawn_with(|c| c.jwt_ttl_secs = 1).await;
    let token = app.user("alice").await;
    let body = json!({"title": "t", "body": "b"});
    assert_error(
        app.post_json("/posts", &body, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_error(
        app.post_json("/posts", &body, Some("garbage")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Same claims, signed with another key.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
    let forged = parts.join(".");
    assert_error(
        app.post_json("/posts", &body, Some(&forged)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // A token from a server with another secret.
    let other =
        TestApp::spawn_with(|c| c.jwt_secret = Some("another-secret-another-secret".into())).await;
    let foreign = other.user("alice").await;
    assert_error(
        app.post_json("/posts", &body, Some(&foreign)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Username in the header is not a token in jwt mode.
    let r = app.post_json_authorization("/posts", &body, "alice").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        app.post_json("/posts", &body, Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn header_mode_trusts_the_username() {
    let app = TestApp::spawn_with(header_mode).await;
    let r = app
        .post_json_authorization(
            "/posts",
            &json!({"title": "from the web app", "body": "hi"}),
            "webapp_user",
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"], "webapp_user");
    // `../etc` was refused here before header mode took any name the course web app
    // sends (issue #12); it is now a name like any other, escaped in keys (see
    // `names.rs`). A control character is what is refused now.
    let r = app
        .post_json_authorization("/posts", &json!({"title": "t", "body": "b"}), "../etc")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post_json_authorization("/posts", &json!({"title": "t", "body": "b"}), "bad	name")
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_user").await;
    let r = app
        .post_json("/posts", &json!({"title": "t", "body": "b"}), None)
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "missing_token").await;
    // Another user cannot delete it.
    let id = v["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.at(&format!("/posts/{}", urlencoding::encode(id))))
        .header("authorization", "mallory")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}
