use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{png_bytes, process_pictures, TestApp};

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
    assert_eq!(
        v["image"],
        Value::Null,
        "not processed yet: nothing is served"
    );
    // The queued job survived the restart; the derived sizes are served after it ran.
    assert_eq!(process_pictures(&app).await, 1);
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    let image = v["image"].as_str().unwrap();
    assert!(image.contains(&key));
    let bytes = app.get_url(image).await.bytes().await.unwrap();
    let shown = image::load_from_memory(&bytes).expect("the display size decodes");
    let sent = image::load_from_memory(&png_bytes()).expect("png");
    assert_eq!(
        (shown.width(), shown.height()),
        (sent.width(), sent.height())
    );
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
