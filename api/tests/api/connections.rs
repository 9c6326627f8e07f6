//! What one connection can hold (issue 10), through real sockets: half-sent headers and
//! silent connections are closed after the header read timeout, idle keep-alive
//! connections after the keep-alive timeout (and not at the header timeout), the
//! connection cap holds while the server keeps answering, a stalled body ends with a JSON
//! 408, and too-large bodies get their 413 as a response, not a reset.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::helpers::{
    assert_big_bodies_get_413, closed_within, read_response, RawResponse, TestApp,
};

async fn request(s: &mut tokio::net::TcpStream, text: &str) -> RawResponse {
    s.write_all(text.as_bytes()).await.expect("write");
    tokio::time::timeout(Duration::from_secs(10), read_response(s))
        .await
        .expect("an answer within 10 s")
        .expect("a complete answer")
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";

#[tokio::test]
async fn half_sent_headers_and_silent_connections_are_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.limits.connections.header_read_timeout_secs = 1).await;
    let started = Instant::now();
    let mut conns = Vec::new();
    for i in 0..20 {
        let mut s = app.raw().await;
        if i % 2 == 0 {
            // Half a request head, never finished.
            s.write_all(b"POST /posts HTTP/1.1\r\nhost: test\r\ncontent-type: app")
                .await
                .expect("write");
        }
        conns.push(s);
    }
    let closed = join_all(
        conns
            .iter_mut()
            .map(|s| closed_within(s, Duration::from_secs(10))),
    )
    .await;
    assert!(closed.iter().all(|c| *c), "still open: {closed:?}");
    // Closed by the timeout, not turned away at once.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}",
        started.elapsed()
    );
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_lives_past_the_header_timeout_and_closes_at_its_own() {
    let app = TestApp::spawn_with(|c| {
        c.limits.connections.header_read_timeout_secs = 1;
        c.limits.connections.keep_alive_secs = 3;
    })
    .await;
    let mut s = app.raw().await;
    assert_eq!(request(&mut s, HEALTHZ).await.status, 200);
    // Idle for longer than the header timeout: still usable.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(request(&mut s, HEALTHZ).await.status, 200);
    // Then idle for good: closed after the keep-alive timeout.
    let idle = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(10)).await,
        "an idle connection stays open"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(2500),
        "closed after {:?}, before the keep-alive timeout",
        idle.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_and_the_server_answers_once_connections_end() {
    const CAP: usize = 4;
    let app = TestApp::spawn_with(|c| {
        c.limits.connections.max_connections = CAP;
        c.limits.connections.header_read_timeout_secs = 30;
    })
    .await;
    let metrics = app.state.as_ref().expect("state").metrics.clone();
    let open = move || metrics.http_connections_open.get();
    // CAP + 4 silent connections: the kernel completes every connect, the server takes CAP.
    let mut held = Vec::new();
    for _ in 0..CAP + 4 {
        held.push(app.raw().await);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while open() < CAP as i64 {
        assert!(
            Instant::now() < deadline,
            "only {} connections taken",
            open()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A real request waits while the cap is held.
    let client = app.client.clone();
    let url = app.at("/healthz");
    let pending = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    for _ in 0..25 {
        assert!(open() <= CAP as i64, "{} connections open", open());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!pending.is_finished(), "answered past the connection cap");
    // The silent connections go away: the waiting ones are accepted, the request answered.
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("answered within 10 s of the connections closing")
        .expect("join")
        .expect("request");
    assert_eq!(status, StatusCode::OK);
    assert!(open() <= CAP as i64, "{} connections open", open());
    let text = app.metrics().await;
    assert!(text.contains("http_connections_open"), "{text}");
}

#[tokio::test]
async fn a_stalled_body_ends_with_a_json_408() {
    let app = TestApp::spawn_with(|c| c.limits.connections.body_read_timeout_secs = 1).await;
    let token = app.user("alice").await;
    for (path, auth) in [
        ("/auth/signup", String::new()),
        ("/posts", format!("authorization: Bearer {token}\r\n")),
    ] {
        let mut s = app.raw().await;
        let started = Instant::now();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\n{auth}content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"title\":"
        );
        let resp = request(&mut s, &head).await;
        assert_eq!(resp.status, 408, "{path}: {resp:?}");
        assert_eq!(resp.json()["error"], "request_timeout", "{resp:?}");
        assert_eq!(resp.header("connection"), Some("close"), "{resp:?}");
        assert!(resp.header("x-request-id").is_some(), "{resp:?}");
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(closed_within(&mut s, Duration::from_secs(10)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_megabyte_bodies_get_a_413_response_not_a_reset() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    assert_big_bodies_get_413(&app, &token).await;
    // The server is fine afterwards, and nothing was created.
    let posts = app.list("/posts").await;
    assert!(posts.is_empty(), "{posts:?}");
}

#[tokio::test]
async fn the_openapi_document_declares_the_408_of_every_body_reading_route() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/auth/signup", "post"),
        ("/auth/login", "post"),
        ("/posts", "post"),
        ("/objects/{key}", "put"),
    ] {
        let r = &doc["paths"][path][method]["responses"]["408"];
        assert!(r.is_object(), "{method} {path}: no 408");
    }
    assert!(doc["paths"]["/posts"]["get"]["responses"]["408"].is_null());
}
