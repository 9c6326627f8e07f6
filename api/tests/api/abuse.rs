//! Bounded abuse (issue 10), each attack capped in count and time, on 127.0.0.1: junk
//! query floods against the list cache's byte bound, concurrent sign-ups against the
//! hashing cap, rate limits with `Retry-After`, trusted-proxy handling, login backoff
//! that spares the right password elsewhere, and a big-dimension PNG against the decode
//! memory budget.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

/// A 429 or 503 with a whole-seconds `Retry-After` and the JSON error body `code`.
async fn assert_retry_after(r: Response, status: StatusCode, code: &str) {
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|s| s >= 1),
        "Retry-After missing: {:?}",
        r.headers()
    );
    assert_error(r, status, code).await;
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address works on Linux).
fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .expect("client")
}

async fn login(client: &Client, app: &TestApp, user: &str, password: &str) -> Response {
    client
        .post(app.at("/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn junk_parameter_flood_stays_within_the_cache_byte_bound() {
    const BOUND: u64 = 128 * 1024;
    let app = TestApp::spawn_with(|c| c.limits.list_cache_bytes = BOUND).await;
    let token = app.user("alice").await;
    let body = "x".repeat(9_000);
    for i in 0..12 {
        app.new_post(&token, &format!("post {i}"), &body).await;
    }
    let cache = app.state.as_ref().expect("state").list_cache.clone();
    // 300 junk parameters: one normalised query, one entry.
    let started = Instant::now();
    for i in 0..300 {
        let r = app
            .get(&format!("/posts?limit=100&x{i}={i}&junk={i}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        cache.entry_count().await,
        1,
        "junk parameters share one key"
    );
    // 100 distinct valid queries of ~108 KB answers each: the bound holds.
    for limit in 1..=100 {
        let page = app.list(&format!("/posts?limit={limit}")).await;
        assert_eq!(page.len(), limit.min(12));
    }
    let held = cache.weighted_size().await;
    assert!(held <= BOUND, "{held} bytes cached, bound {BOUND}");
    assert!(held > 0, "the cache is used");
    assert_eq!(cache.max_bytes(), BOUND);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signups_never_exceed_the_hashing_cap() {
    let app = TestApp::spawn_with(|c| {
        c.limits.password_hash_concurrency = Some(1);
        c.limits.password_hash_wait_ms = 1;
    })
    .await;
    let asks = (0..32).map(|i| app.signup_as(format!("crowd{i}")));
    let mut created = 0;
    let mut overloaded = 0;
    for r in join_all(asks).await {
        match r.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                overloaded += 1;
                assert_retry_after(r, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap_or_default()),
        }
    }
    let hashing = &app.state.as_ref().expect("state").limits.hashing;
    assert_eq!(
        hashing.peak_in_flight(),
        1,
        "never more than the cap at once"
    );
    assert_eq!(created + overloaded, 32);
    assert!(created >= 1, "some get through");
    assert!(
        overloaded >= 1,
        "32 at once with one slot and 1 ms of patience: some wait out"
    );
    assert_eq!(hashing.in_flight(), 0);
}

/// A line of this process's `/proc/self/status` in MiB (`VmRSS`, `VmHWM`).
fn status_mib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect(key);
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_hashes_hold_at_most_one_working_memory_per_slot() {
    // nextest runs each test in its own process, so this process's peak RSS is the
    // server's. Allocating Argon2's 19 MiB per hash left ~15 MiB behind per hash in
    // glibc's heaps (1.9 GB after 200 sign-ups in bench/abuse.sh); reused slot memory
    // holds 2 × 19 MiB whatever the number of hashes.
    let app = TestApp::spawn_with(|c| {
        c.limits.password_hash_concurrency = Some(2);
        c.limits.password_hash_wait_ms = 120_000;
        c.limits.signup_rate_per_minute = 0;
    })
    .await;
    let before = status_mib("VmRSS");
    let asks = (0..24).map(|i| app.signup_as(format!("many{i}")));
    for r in join_all(asks).await {
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let grown = status_mib("VmHWM").saturating_sub(before);
    let hashing = &app.state.as_ref().expect("state").limits.hashing;
    assert_eq!(hashing.memories(), 2, "one working memory per slot");
    assert!(
        grown <= 2 * 19 + 40,
        "24 sign-ups grew the peak RSS by {grown} MiB (bound: 2 slots × 19 MiB + 40)"
    );
}

#[tokio::test]
async fn signups_are_limited_per_address_and_forwarded_for_is_ignored_from_untrusted_peers() {
    let app = TestApp::spawn_with(|c| c.limits.signup_rate_per_minute = 3).await;
    let signup = |i: usize| {
        app.client
            .post(app.at("/auth/signup"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({"username": format!("spoof{i}"), "password": "correct horse"}))
            .send()
    };
    for i in 0..3 {
        assert_eq!(
            signup(i).await.expect("signup").status(),
            StatusCode::CREATED
        );
    }
    // Another forged address changes nothing: the peer is not a trusted proxy.
    let r = signup(9).await.expect("signup");
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = TestApp::spawn_with(|c| {
        c.limits.signup_rate_per_minute = 2;
        c.limits.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let signup = |name: String, client: &str| {
        app.client
            .post(app.at("/auth/signup"))
            .header("x-forwarded-for", format!("{client}, 127.0.0.9"))
            .json(&json!({"username": name, "password": "correct horse"}))
            .send()
    };
    // Six clients behind the proxy, two sign-ups each: nobody limited.
    for i in 0..6 {
        for j in 0..2 {
            let r = signup(format!("c{i}x{j}"), &format!("198.51.100.{i}"))
                .await
                .expect("signup");
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    }
    // A third from one of them is.
    let r = signup("c0x2".into(), "198.51.100.0").await.expect("signup");
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn login_backoff_does_not_lock_the_right_password_out_of_other_addresses() {
    let app = TestApp::spawn_with(|c| c.limits.login_rate_per_minute = 3).await;
    app.signup("alice").await;
    app.signup("bobby").await;
    let attacker = client_from([127, 0, 0, 2]);
    let owner = client_from([127, 0, 0, 3]);
    for _ in 0..3 {
        let r = login(&attacker, &app, "alice", "wrong horse").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login(&attacker, &app, "alice", "wrong horse").await;
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The guessing pair waits even with the right password ...
    let r = login(&attacker, &app, "alice", "correct horse").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // ... but the owner elsewhere, and other accounts from the same address, do not.
    let r = login(&owner, &app, "alice", "correct horse").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = login(&attacker, &app, "bobby", "correct horse").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn posts_upload_urls_and_uploads_are_limited_per_user() {
    let app = TestApp::spawn_with(|c| {
        c.limits.post_rate_per_minute = 2;
        c.limits.upload_rate_per_minute = 2;
    })
    .await;
    let alice = app.user("alice").await;
    let bobby = app.user("bobby").await;
    let first = app.new_post(&alice, "one", "b").await;
    app.new_post(&alice, "two", "b").await;
    let r = app
        .post_json(
            "/posts",
            &json!({"title": "three", "body": "b"}),
            Some(&alice),
        )
        .await;
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.new_post(&bobby, "bob's", "b").await;

    let id = first["id"].as_str().expect("id");
    let png = crate::helpers::png_bytes();
    let (put, _) = app.upload(&alice, id, "image/png", png.clone()).await;
    assert_eq!(put.status(), StatusCode::OK);
    // Second URL (the last one allowed); its upload is the second, and a retry of the
    // same URL is the third upload.
    let r = app.signed_url(&alice, id, "again.png", "image/png").await;
    assert_eq!(r.status(), StatusCode::OK);
    let url = r.json::<Value>().await.expect("json")["uploadURL"]
        .as_str()
        .expect("url")
        .to_string();
    let put = |url: String| {
        app.client
            .put(url)
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
    };
    assert_eq!(
        put(url.clone()).await.expect("put").status(),
        StatusCode::OK
    );
    let r = put(url).await.expect("put");
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let r = app.signed_url(&alice, id, "third.png", "image/png").await;
    assert_retry_after(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// An 8000×8000 16-bit RGB PNG (all black): ~0.4 MB on disk, ~576 MB to decode and
/// convert. Written chunk by chunk (the `image` encoder takes ~40 s for this in a debug
/// test build; fdeflate takes well under a second).
pub fn huge_png() -> Vec<u8> {
    const W: u32 = 8000;
    const H: u32 = 8000;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&W.to_be_bytes());
    ihdr.extend_from_slice(&H.to_be_bytes());
    ihdr.extend_from_slice(&[16, 2, 0, 0, 0]); // 16-bit, RGB, deflate, no filter method, no interlace
                                               // Each row: filter byte 0 then 6 bytes per pixel.
    let raw = vec![0u8; H as usize * (1 + W as usize * 6)];
    let idat = fdeflate::compress_to_vec(&raw);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn the_huge_png_is_what_it_claims() {
    let png = huge_png();
    let reader = image::ImageReader::new(std::io::Cursor::new(&png))
        .with_guessed_format()
        .expect("format");
    assert_eq!(reader.into_dimensions().expect("header"), (8000, 8000));
}

#[tokio::test]
async fn a_big_dimension_png_fails_against_the_decode_budget_and_the_server_stays_up() {
    let model =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/efficientnet-lite0.safetensors");
    assert!(model.exists(), "model weights missing: run `make model`");
    let app = TestApp::spawn_with(|c| {
        c.labeler_workers = Some(2);
        c.model.model_path = model;
        c.limits.decode.decode_budget_mib = 512;
    })
    .await;
    let token = app.user("alice").await;
    let t = Instant::now();
    let png = huge_png();
    eprintln!("huge png: {} bytes in {:?}", png.len(), t.elapsed());
    assert!(png.len() < 8 * 1024 * 1024, "{} bytes", png.len());
    let mut ids = Vec::new();
    for i in 0..2 {
        let post = app.new_post(&token, &format!("huge {i}"), "b").await;
        let id = post["id"].as_str().expect("id").to_string();
        let (put, _) = app.upload(&token, &id, "image/png", png.clone()).await;
        assert_eq!(put.status(), StatusCode::OK);
        ids.push(id);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in ids {
        let v = loop {
            let v: Value = app.get_post(&id).await.json().await.expect("json");
            if v["label_status"] != "pending" {
                break v;
            }
            assert!(Instant::now() < deadline, "never labelled: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(v["label_status"], "failed", "{v}");
        let reason = v["label_error"].as_str().unwrap_or_default();
        assert!(reason.contains("decode memory budget"), "{reason}");
    }
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
}
