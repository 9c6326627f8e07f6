//! End to end with the real model: upload a real photo, labels appear, label search
//! finds it; bad pictures fail cleanly; a killed server finishes its jobs on restart.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postagram_core::jobs::LabelJobQueue;
use postagram_core::sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

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
        c.model_path = model_path();
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
    let metrics = app
        .client
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    assert_eq!(
        app.client
            .get(app.at("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_binary(dir: &std::path::Path, port: u16, workers: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postagram-api"))
        .env("POSTAGRAM_ADDR", format!("127.0.0.1:{port}"))
        .env("POSTAGRAM_DATA_DIR", dir)
        .env("POSTAGRAM_LABELER_WORKERS", workers.to_string())
        .env("POSTAGRAM_MODEL_PATH", model_path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start postagram-api")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} never became ready");
}

#[tokio::test]
async fn a_killed_server_finishes_its_label_jobs_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Workers off: the job stays queued, as if the server died before labelling.
    let mut server = start_binary(tmp.path(), port, 0);
    wait_ready(&client, &base).await;
    client
        .post(format!("{base}/auth/signup"))
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let token: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let post: Value = client
        .post(format!("{base}/posts"))
        .bearer_auth(&token)
        .json(&json!({"title": "coffee", "body": "b"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = post["id"].as_str().unwrap().to_string();
    let signed: Value = client
        .get(format!("{base}/signedUrlPut"))
        .query(&[
            ("filename", "coffee.png"),
            ("filetype", "image/png"),
            ("postId", id.as_str()),
        ])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = client
        .put(signed["uploadURL"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(photo("coffee.png"))
        .send()
        .await
        .unwrap();
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
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let mut server = start_binary(tmp.path(), port, 1);
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let v = loop {
        let v: Value = client
            .get(format!("{base}/posts/{}", urlencoding::encode(&id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["label_status"] != "pending" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "job never finished after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
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
    let all: Vec<Value> = client
        .get(format!("{base}/posts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "nothing lost or duplicated");
    server.kill().unwrap();
    server.wait().unwrap();
}
