//! End to end with the real model: upload a real photo, labels appear, label search
//! finds it; bad pictures fail cleanly; a killed server finishes its jobs on restart.

use postagram_core::settings::env;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use postagram_core::jobs::LabelJobQueue;
use postagram_core::sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, API_BIN};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_path() -> PathBuf {
    let p = root().join("models/efficientnet-lite0.safetensors");
    assert!(
        p.exists(),
        "model weights missing at {}: run `make model`",
        p.display()
    );
    p
}

fn photo(name: &str) -> Vec<u8> {
    let p = root().join("labeler/testdata/photos").join(name);
    std::fs::read(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-photos.sh)", p.display()))
}

async fn labelled_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.labeler_workers = Some(1);
        c.model.model_path = model_path();
    })
    .await
}

/// Polls a post until its labels are no longer pending.
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

fn names(v: &Value) -> Vec<String> {
    v["labels"]
        .as_array()
        .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_real_photo_gets_real_labels_and_is_found_by_category() {
    let app = labelled_app().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "Chelsea", "my cat").await;
    let id = post["id"].as_str().unwrap();
    let (put, _) = app
        .upload(&token, id, "image/png", photo("chelsea.png"))
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let v = wait_labelled(&app, id).await;
    assert_eq!(v["label_status"], "done", "{v}");
    let labels = names(&v);
    assert!(labels.iter().any(|l| l == "cat"), "{labels:?}");
    assert!(
        labels.iter().any(|l| l.contains("cat") && l != "cat"),
        "a cat class too: {labels:?}"
    );
    assert_eq!(v["label"], v["labels"]);
    for d in v["label_details"].as_array().unwrap() {
        let c = d["confidence"].as_f64().unwrap();
        assert!((10.0..=100.0).contains(&c), "{d}");
    }
    let found: Vec<Value> = app.list("/posts?label=cat").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id);
    let none: Vec<Value> = app.list("/posts?label=dog").await;
    assert!(none.is_empty());
    let text: Vec<Value> = app.list("/posts?q=cat").await;
    assert_eq!(text.len(), 1);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("postagram_label_results_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("postagram_detection_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("postagram_label_jobs{state=\"done\"} 1"),
        "{metrics}"
    );
}

/// A header-mode name with a space, `/`, `..`, `#` and `@` (the course web app's users):
/// its upload goes through the local job queue like any other, the labeler parses the
/// escaped key back to the post, and the label filter finds it.
#[tokio::test]
async fn a_header_mode_name_with_key_tricks_gets_labels() {
    let app = TestApp::spawn_with(|c| {
        postagram_testkit::header_mode(c);
        c.labeler_workers = Some(1);
        c.model.model_path = model_path();
    })
    .await;
    let name = "Jean Dupont/../#x@ensai.fr";
    let r = app
        .post_json_as(
            "/posts",
            &serde_json::json!({"title": "Chelsea", "body": "my cat"}),
            name.as_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let post: Value = r.json().await.unwrap();
    let id = post["id"].as_str().unwrap();
    let (put, key) = app
        .upload_as(name.as_bytes(), id, "image/png", photo("chelsea.png"))
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    assert!(
        key.starts_with("Jean~20Dupont~2f..~2f~23x~40ensai.fr/"),
        "{key}"
    );
    let v = wait_labelled(&app, id).await;
    assert_eq!(v["label_status"], "done", "{v}");
    assert_eq!(v["user"], name);
    assert!(names(&v).iter().any(|l| l == "cat"), "{v}");
    let found = app.list("/posts?label=cat").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id);
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    // A PNG whose header claims huge dimensions, followed by a tiny IDAT: a decompression bomb.
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&ihdr);
    v.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(b"IEND");
    v.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    v
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn bad_pictures_end_failed_with_a_reason_and_the_server_stays_healthy() {
    let app = labelled_app().await;
    let token = app.user("alice").await;
    let mut truncated = photo("rocket.jpg");
    truncated.truncate(truncated.len() / 3);
    let tiny = crate::helpers::png_bytes(); // 8×8
    let mut one = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(1, 1, image::Rgb([1, 2, 3])))
        .write_to(&mut std::io::Cursor::new(&mut one), image::ImageFormat::Png)
        .unwrap();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("truncated jpeg", "image/jpeg", truncated, "failed"),
        (
            "png bomb",
            "image/png",
            png_header(100_000, 100_000),
            "failed",
        ),
        ("1x1 png", "image/png", one, "done"),
        ("8x8 png", "image/png", tiny, "done"),
    ];
    for (what, ty, bytes, expected) in cases {
        let post = app.new_post(&token, what, "b").await;
        let id = post["id"].as_str().unwrap();
        let (put, _) = app.upload(&token, id, ty, bytes).await;
        assert_eq!(put.status(), StatusCode::OK, "{what}");
        let v = wait_labelled(&app, id).await;
        assert_eq!(v["label_status"], expected, "{what}: {v}");
        if expected == "failed" {
            assert!(
                v["label_error"].as_str().is_some_and(|r| !r.is_empty()),
                "{what}: {v}"
            );
            assert!(v.get("labels").is_none(), "{what}");
        }
    }
    // A text file renamed .jpg never gets that far: the upload refuses it.
    let post = app.new_post(&token, "text", "b").await;
    let (put, _) = app
        .upload(
            &token,
            post["id"].as_str().unwrap(),
            "image/jpeg",
            b"hello, I am text".to_vec(),
        )
        .await;
    assert_eq!(put.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_killed_server_finishes_its_label_jobs_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_path();
    let model = model.to_str().unwrap();
    // Workers off: the job stays queued, as if the server died before labelling.
    let env = [(env::LABELER_WORKERS, "0"), (env::MODEL_PATH, model)];
    let mut app = TestApp::binary(API_BIN, tmp.path(), &env, Stdio::null()).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "coffee", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    let (put, _) = app
        .upload(&token, &id, "image/png", photo("coffee.png"))
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    // A worker takes the job (it is now `running`), then the process is killed hard.
    let store = SqliteStore::open(&tmp.path().join("postagram.db")).unwrap();
    let job = store
        .claim(Duration::from_secs(3600))
        .await
        .unwrap()
        .expect("a queued job");
    assert_eq!(store.counts().await.unwrap().running, 1);
    drop(job);
    app.process().kill().unwrap(); // SIGKILL
    app.process().wait().unwrap();

    let env = [(env::LABELER_WORKERS, "1"), (env::MODEL_PATH, model)];
    let app = TestApp::binary(API_BIN, tmp.path(), &env, Stdio::null()).await;
    let v = wait_labelled(&app, &id).await;
    assert_eq!(v["label_status"], "done", "{v}");
    let labels = names(&v);
    let unique: std::collections::HashSet<_> = labels.iter().collect();
    assert_eq!(
        unique.len(),
        labels.len(),
        "no duplicated labels: {labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|l| l == "espresso" || l == "cup" || l == "drink"),
        "{labels:?}"
    );
    let c = store.counts().await.unwrap();
    assert_eq!((c.pending, c.running, c.done, c.failed), (0, 0, 1, 0));
    let all = app.list("/posts").await;
    assert_eq!(all.len(), 1, "nothing lost or duplicated");
}
