use postagram_core::keys::parse_object_key;
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::{LabelOutcome, PostStore};
use postagram_core::{parse_post_id, Label};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, jpeg_bytes, png_bytes, process_pictures, TestApp};

#[tokio::test]
async fn signed_url_for_own_post_and_both_aliases() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "pic", "b").await;
    let id = post["id"].as_str().unwrap();
    for path in ["/signedUrlPut", "/getSignedUrlPut"] {
        let r = app
            .signed_url_request(
                path,
                &[
                    ("filename", "cat.jpg"),
                    ("filetype", "image/jpeg"),
                    ("postId", id),
                ],
                Some(&token),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let v: Value = r.json().await.unwrap();
        let key = v["objectName"].as_str().unwrap();
        let (user, post_id) = parse_object_key(key).expect("well-formed key");
        assert_eq!(user, "alice");
        assert_eq!(post_id.wire(), id);
        assert!(key.ends_with("cat.jpg"));
        assert!(v["uploadURL"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/objects/alice/", app.url)));
    }
}

#[tokio::test]
async fn signed_url_errors() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "pic", "b").await;
    let id = post["id"].as_str().unwrap();
    assert_error(
        app.signed_url(&bob, id, "a.png", "image/png").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.signed_url(&alice, id, "a.txt", "text/plain").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        app.signed_url(&alice, id, "a.svg", "image/svg+xml").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let unknown = format!("POST#{}", uuid::Uuid::now_v7());
    assert_error(
        app.signed_url(&alice, &unknown, "a.png", "image/png").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.signed_url(&alice, "nope", "a.png", "image/png").await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
    let r = app
        .signed_url_request("/signedUrlPut", &[("postId", id)], Some(&alice))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "missing_parameter").await;
    let r = app
        .signed_url_request(
            "/signedUrlPut",
            &[
                ("postId", id),
                ("filename", "a.png"),
                ("filetype", "image/png"),
            ],
            None,
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn path_tricks_in_filenames_are_sanitized() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "pic", "b").await;
    let id = post["id"].as_str().unwrap();
    let long = format!("{}.png", "a".repeat(3000));
    for name in [
        "../../etc/passwd",
        "a/b",
        "x\0y.png",
        "..",
        "..\\..\\win.ini",
        long.as_str(),
        "my photo (1).PNG",
    ] {
        let r = app.signed_url(&token, id, name, "image/png").await;
        assert_eq!(r.status(), StatusCode::OK, "{name:?}");
        let v: Value = r.json().await.unwrap();
        let key = v["objectName"].as_str().unwrap();
        assert!(parse_object_key(key).is_some(), "{key}");
        assert_eq!(key.matches('/').count(), 2, "{key}");
        assert!(!key.contains(".."), "{key}");
        assert!(!key.contains('\0') && !key.contains('\\'), "{key}");
        assert!(key.len() < 200, "{key}");
        // And the upload really lands inside the post's folder.
        let url = v["uploadURL"].as_str().unwrap();
        let put = app.put_object(url, "image/png", png_bytes()).await;
        assert_eq!(put.status(), StatusCode::OK, "{name:?}");
    }
    let dir = app
        .data_dir
        .join("pictures")
        .join("alice")
        .join(id.trim_start_matches("POST#"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 7);
    assert!(!app.data_dir.join("etc").exists());
}

#[tokio::test]
async fn upload_then_picture_is_served_and_labels_show_up() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "pic", "b").await;
    let id = post["id"].as_str().unwrap();
    let (put, key) = app.upload(&token, id, "image/png", png_bytes()).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert!(put.headers().get("etag").is_some());

    let v: Value = app.get_post(id).await.json().await.unwrap();
    assert_eq!(v["label_status"], "pending");
    assert!(v.get("labels").is_none());
    // Until the labeler made the derived sizes, nothing of the picture is handed out.
    assert_eq!(v["image"], Value::Null, "{v}");
    assert!(v.get("thumbnail").is_none(), "{v}");
    assert_eq!(process_pictures(&app).await, 1);
    let v: Value = app.get_post(id).await.json().await.unwrap();
    let image = v["image"].as_str().expect("image URL");
    assert!(image.contains("~display.jpg"), "{image}");
    assert!(v["thumbnail"]
        .as_str()
        .expect("thumbnail URL")
        .contains("~thumb.jpg"));
    let r = app.get_url(image).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let shown = image::load_from_memory(&r.bytes().await.unwrap()).expect("a JPEG");
    assert_eq!((shown.width(), shown.height()), (8, 8), "never upscaled");
    let r = app
        .get_url_with(image, &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // A labeler writes labels (through the store, as the in-process workers do).
    let store = SqliteStore::open(&app.data_dir.join("postagram.db")).unwrap();
    let labels = vec![
        Label {
            name: "golden retriever".into(),
            confidence: 71.5,
        },
        Label {
            name: "dog".into(),
            confidence: 90.0,
        },
    ];
    assert!(store
        .set_labels(
            parse_post_id(id).unwrap(),
            &key,
            LabelOutcome::Labelled(labels.clone())
        )
        .await
        .unwrap());
    let v: Value = app.get_post(id).await.json().await.unwrap();
    assert_eq!(v["label_status"], "done");
    assert_eq!(v["labels"], serde_json::json!(["golden retriever", "dog"]));
    assert_eq!(v["label"], v["labels"]);
    assert_eq!(v["label_details"][1]["confidence"], 90.0);

    let r: Vec<Value> = app.list("/posts?label=dog").await;
    assert_eq!(r.len(), 1);
    let r: Vec<Value> = app.list("/posts?label=DOG").await;
    assert_eq!(r.len(), 1, "label filter is case-insensitive");
    let r: Vec<Value> = app.list("/posts?label=cat").await;
    assert!(r.is_empty());
    let r: Vec<Value> = app.list("/posts?q=retriever").await;
    assert_eq!(r.len(), 1, "text search covers labels");
}

#[tokio::test]
async fn delete_removes_the_pictures() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "pic", "b").await;
    let id = post["id"].as_str().unwrap();
    let (put, key) = app.upload(&token, id, "image/jpeg", jpeg_bytes()).await;
    assert_eq!(put.status(), StatusCode::OK);
    let file = app.data_dir.join("pictures").join(&key);
    assert!(file.exists());
    assert_eq!(process_pictures(&app).await, 1);
    let dir = file.parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        3,
        "the original and its two derived sizes"
    );
    let image = app.get_post(id).await.json::<Value>().await.unwrap()["image"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.delete_post(id, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(!file.exists());
    assert!(
        !dir.exists(),
        "the derived sizes went with the post's folder"
    );
    assert_error(
        app.get_url(&image).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
