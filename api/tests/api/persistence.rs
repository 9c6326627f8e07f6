use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{png_bytes, TestApp};

#[tokio::test]
async fn users_posts_pictures_and_tokens_survive_a_restart() {
    // No configured secret: the server generates one and keeps it in the data dir.
    let app = TestApp::spawn_with(|c| c.jwt_secret = None).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "kept", "across restarts").await;
    let id = post["id"].as_str().unwrap().to_string();
    let (put, key) = app.upload(&token, &id, "image/png", png_bytes()).await;
    assert_eq!(put.status(), StatusCode::OK);
    let data_dir = app.data_dir.clone();
    let tmp = app.stop().await;

    let app = TestApp::start_in(data_dir.clone(), |c| c.jwt_secret = None).await;
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(v["title"], "kept");
    assert_eq!(v["label_status"], "pending");
    let image = v["image"].as_str().unwrap();
    assert!(image.contains(&key));
    let bytes = app.get_url(image).await.bytes().await.unwrap();
    assert_eq!(bytes.to_vec(), png_bytes());
    // The old token still works, and the password too.
    let r = app
        .post_json(
            "/posts",
            &json!({"title": "after", "body": "restart"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app.login("alice", "correct horse").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.signup("alice").await.status(), StatusCode::CONFLICT);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    app.stop().await;
    drop(tmp);
}
