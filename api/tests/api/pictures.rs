//! What viewers get of a picture: a real phone-like photo (scikit-image's rocket with GPS,
//! camera, serial, date, creator tags written by ExifTool) uploaded through the API and
//! labelled by the in-process workers with the real model. Every URL anyone but the
//! author — and the author too — can get serves a metadata-free JPEG (read back with
//! ExifTool); the original is never handed out; replacing the picture leaves only the new
//! files in the folder.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use postagram_labeler::derive::fit;
use postagram_testkit::exiftool;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, process_pictures, TestApp};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tagged_photo(dir: &std::path::Path) -> Vec<u8> {
    let src = root().join("labeler/testdata/photos/rocket.jpg");
    let dst = dir.join("phone.jpg");
    std::fs::copy(&src, &dst)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-photos.sh)", src.display()));
    // Taken with the phone held upright: the pixels are stored sideways.
    exiftool::write_private_tags(&dst, &["-Orientation#=6"]);
    std::fs::read(&dst).expect("read")
}

async fn labelled_app() -> TestApp {
    let model = root().join("models/efficientnet-lite0.safetensors");
    assert!(model.exists(), "{}: run `make model`", model.display());
    TestApp::spawn_with(|c| {
        c.labeler_workers = Some(1);
        c.model.model_path = model;
    })
    .await
}

async fn wait_labelled(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v: Value = app.get_post(id).await.json().await.unwrap();
        if v["label_status"] != "pending" {
            return v;
        }
        assert!(Instant::now() < deadline, "labels never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every string in `v` that looks like a URL.
fn urls(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("http") => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| urls(x, out)),
        Value::Object(o) => o.values().for_each(|x| urls(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn no_url_anyone_gets_carries_the_photos_metadata() {
    let app = labelled_app().await;
    let tmp = tempfile::tempdir().unwrap();
    let photo = tagged_photo(tmp.path());
    let written = exiftool::private_tags(&photo);
    for tag in [
        "GPSLatitude",
        "GPSLongitude",
        "Make",
        "Model",
        "SerialNumber",
        "DateTimeOriginal",
    ] {
        assert!(
            written.iter().any(|t| t == tag),
            "{tag} written: {written:?}"
        );
    }
    let (w, h) = image::load_from_memory(&photo)
        .unwrap()
        .into_rgb8()
        .dimensions();

    let alice = app.user("alice").await;
    let bob = app.user("bobby").await;
    let post = app.new_post(&alice, "Launch", "from the roof").await;
    let id = post["id"].as_str().unwrap().to_string();
    let (put, key) = app.upload(&alice, &id, "image/jpeg", photo.clone()).await;
    assert_eq!(put.status(), StatusCode::OK);
    let v = wait_labelled(&app, &id).await;
    assert_eq!(v["label_status"], "done", "{v}");

    // Anonymous, another user, the author; the post, the feed, the author's page.
    let mut answers: Vec<Value> = Vec::new();
    answers.push(app.get_post(&id).await.json().await.unwrap());
    for path in ["/posts", "/posts?user=alice"] {
        answers.push(Value::Array(app.list(path).await));
    }
    for token in [&bob, &alice] {
        let r = app
            .client
            .get(app.at(&format!("/posts/{}", urlencoding::encode(&id))))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        answers.push(r.json().await.unwrap());
    }
    let mut found = Vec::new();
    for a in &answers {
        urls(a, &mut found);
        let text = a.to_string();
        // The original's key appears only as the start of its derived keys.
        assert_eq!(
            text.matches(key.as_str()).count(),
            text.matches(&format!("{key}~")).count(),
            "the original is never on the wire: {text}"
        );
    }
    found.sort();
    found.dedup();
    let image = v["image"].as_str().expect("image");
    let thumbnail = v["thumbnail"].as_str().expect("thumbnail");
    assert_eq!(found.len(), 2, "only image and thumbnail: {found:?}");
    for url in &found {
        let r = app.get_url(url).await;
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            exiftool::private_tags(&bytes),
            Vec::<String>::new(),
            "{url}"
        );
        let shown = image::load_from_memory(&bytes).unwrap();
        // Upright (orientation 6 turns it a quarter), shrunk to its size, never grown.
        let long = if url == thumbnail { 320 } else { 1280 };
        assert!(url == thumbnail || url == image);
        assert_eq!(
            (shown.width(), shown.height()),
            fit(h, w, long),
            "{url}: {w}x{h} turned upright"
        );
    }

    // The original is not served, even under a validly signed URL (such as one handed
    // out before this version).
    let state = app.state.as_ref().unwrap();
    let original = state
        .blobs
        .presign_get(&key, Duration::from_secs(60))
        .await
        .unwrap();
    assert_error(
        app.get_url(&original).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unsigned = image.replace("~display.jpg", "");
    assert_error(
        app.get_url(&unsigned).await,
        StatusCode::FORBIDDEN,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn replacing_a_picture_leaves_only_the_new_files() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "pic", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    let photo = std::fs::read(root().join("labeler/testdata/photos/rocket.jpg"))
        .expect("rocket.jpg (run scripts/fetch-test-photos.sh)");
    let dir = app
        .data_dir
        .join("pictures/alice")
        .join(id.trim_start_matches("POST#"));
    let mut keys = Vec::new();
    for _ in 0..3 {
        let (put, key) = app.upload(&alice, &id, "image/jpeg", photo.clone()).await;
        assert_eq!(put.status(), StatusCode::OK);
        assert_eq!(process_pictures(&app).await, 1);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            3,
            "the picture and its two sizes"
        );
        keys.push(key);
    }
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    let last = keys.last().unwrap();
    assert!(v["image"].as_str().unwrap().contains(last.as_str()), "{v}");
    for old in &keys[..2] {
        assert!(!app.data_dir.join("pictures").join(old).exists(), "{old}");
    }
    assert_eq!(
        app.delete_post(&id, Some(&alice)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!dir.exists(), "deleting the post deletes every file");
}

#[tokio::test]
async fn a_picture_that_cannot_be_decoded_is_shown_to_nobody() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "pic", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    // A PNG signature (it passes the upload's sniffing) with nothing decodable after it.
    let broken = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let (put, _) = app.upload(&alice, &id, "image/png", broken).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(process_pictures(&app).await, 1);
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(v["image"], Value::Null, "{v}");
    assert!(v.get("thumbnail").is_none(), "{v}");
}
