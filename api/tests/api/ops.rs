use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, png_bytes, TestApp};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_posts_uploads_and_jobs() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "t", "b").await;
    let (put, _) = app
        .upload(
            &token,
            post["id"].as_str().unwrap(),
            "image/png",
            png_bytes(),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    app.get("/posts").await;
    let text = app.metrics().await;
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/posts\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "http_request_duration_seconds_bucket{method=\"POST\",route=\"/posts\",status=\"201\""
        ),
        "{text}"
    );
    assert!(text.contains("postagram_posts_created_total 1"), "{text}");
    assert!(text.contains("postagram_uploads_total 1"), "{text}");
    // Workers are off in these tests, so the job waits.
    assert!(
        text.contains("postagram_label_jobs{state=\"pending\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn request_ids_are_generated_and_echoed() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    let generated = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok());
    let r = app
        .get_with("/healthz", &[("x-request-id", "my-trace-42")])
        .await;
    assert_eq!(r.headers()["x-request-id"], "my-trace-42");
    // Errors carry it too.
    let r = app.get_with("/nope", &[("x-request-id", "err-1")]).await;
    assert_eq!(r.headers()["x-request-id"], "err-1");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let app = TestApp::spawn().await;
    assert_error(app.get("/nope").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        app.client.patch(app.at("/posts")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn cors_preflight_allows_the_web_app() {
    let app = TestApp::spawn().await;
    for (path, method) in [
        ("/posts", "POST"),
        ("/posts/x", "DELETE"),
        ("/objects/a/b/c", "PUT"),
        ("/signedUrlPut", "GET"),
    ] {
        let r = app
            .client
            .request(reqwest::Method::OPTIONS, app.at(path))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{path}");
        let methods = h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .to_uppercase();
        assert!(methods.contains(method), "{path}: {methods}");
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
    }
}

#[tokio::test]
async fn cors_origins_from_config() {
    let app =
        TestApp::spawn_with(|c| c.cors_origins = Some("https://photos.example.com".into())).await;
    let r = app
        .get_with("/posts", &[("origin", "https://photos.example.com")])
        .await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://photos.example.com"
    );
    let r = app
        .get_with("/posts", &[("origin", "https://evil.example")])
        .await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn responses_are_compressed_on_request() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    for i in 0..20 {
        app.new_post(
            &token,
            &format!("title {i}"),
            &"a fairly long body ".repeat(20),
        )
        .await;
    }
    let r = app.get_with("/posts", &[("accept-encoding", "gzip")]).await;
    assert_eq!(r.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn openapi_lists_every_route_the_router_serves() {
    let app = TestApp::spawn().await;
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = postagram_api::routes::table(1)
        .routes()
        .iter()
        .map(|(m, p)| (m.to_string(), p.replace("{*", "{")))
        .collect();
    assert_eq!(documented, served);
    for schema in [
        "PostView",
        "NewPost",
        "Credentials",
        "TokenView",
        "SignedUrlView",
        "ErrorBody",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    // Every documented route answers something other than "no such route".
    for (method, path) in &documented {
        let path = path.replace("{id}", "POST%23x").replace("{key}", "a/b/c");
        let r = app
            .client
            .request(method.parse().unwrap(), app.at(&path))
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(!body.contains("no such route"), "{method} {path}");
    }
    let r = app.get("/docs").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("openapi.json"));
}

/// `http_requests_in_flight` from `/metrics`.
async fn in_flight(app: &TestApp) -> i64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no http_requests_in_flight in {text}"))
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_uploads() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "t", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    let v: Value = app
        .signed_url(&token, &id, "a.png", "image/png")
        .await
        .json()
        .await
        .unwrap();
    let url = v["uploadURL"].as_str().unwrap().to_string();
    // A slow upload: the picture arrives in pieces over ~1 s.
    let bytes = png_bytes();
    let pieces: Vec<Vec<u8>> = bytes
        .chunks(bytes.len().div_ceil(5))
        .map(|c| c.to_vec())
        .collect();
    let stream = futures::stream::unfold(pieces.into_iter(), |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(next), it))
    });
    let client = app.client.clone();
    let upload = tokio::spawn(async move {
        client
            .put(url)
            .header("content-type", "image/png")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
    });
    // Stop only once the server is handling the upload (the scrape counts itself too).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while in_flight(&app).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let data_dir = app.data_dir.clone();
    let tmp = app.stop().await; // returns only after the in-flight request finished
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let again = TestApp::start_in(data_dir, |_| {}).await;
    let v: Value = again.get_post(&id).await.json().await.unwrap();
    assert_eq!(v["label_status"], "pending");
    again.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn a_locked_database_gives_503_json_and_recovers() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    // Another process holds the write lock: writes cannot get through within the busy timeout.
    let conn = rusqlite::Connection::open(app.data_dir.join("postagram.db")).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = app
        .post_json(
            "/posts",
            &serde_json::json!({"title": "t", "body": "b"}),
            Some(&token),
        )
        .await;
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    // Reads still work in WAL mode.
    app.list("/posts").await;
    conn.execute_batch("ROLLBACK").unwrap();
    let r = app
        .post_json(
            "/posts",
            &serde_json::json!({"title": "t", "body": "b"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}
