//! Errors, logs and files under hostile input (issue 10): every path and query
//! rejection is the JSON error body; a 503 from a broken store says what failed and
//! nothing more (the detail is in the log, with the request id); client-chosen values
//! cannot forge log lines; the database, its WAL and shared memory, the pictures and
//! the secret are the server user's only.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use postagram_core::settings::env;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_error, png_bytes, TestApp, API_BIN};

/// An error answer that is the JSON error body with `status` and `code`.
async fn assert_json_error(r: Response, status: StatusCode, code: &str) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(ct, "application/json", "content type of a {status} {code}");
    assert_error(r, status, code).await
}

#[tokio::test]
async fn every_path_and_query_rejection_is_the_json_error_body() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "t", "b").await;
    let id = post["id"].as_str().unwrap();

    let send = |method: Method, path: &str| {
        app.client
            .request(method, app.at(path))
            .bearer_auth(&token)
            .header("content-type", "image/png")
    };
    // Path segments that do not decode to UTF-8: 400 bad_path, JSON (axum: text/plain).
    for (method, path) in [
        (Method::GET, "/posts/%FF"),
        (Method::DELETE, "/posts/%FF"),
        (Method::GET, "/objects/%FF"),
        (Method::PUT, "/objects/%FF"),
        (Method::GET, "/objects/alice/%C3%28/x.png?expires=1&sig=00"),
    ] {
        let r = send(method.clone(), path).send().await.unwrap();
        assert_json_error(r, StatusCode::BAD_REQUEST, "bad_path").await;
    }
    // Query strings that do not deserialize: 400 bad_query.
    for (method, path) in [
        (Method::GET, "/objects/alice/x/y.png?expires=soon&sig=00"),
        (Method::PUT, "/objects/alice/x/y.png?expires=soon&sig=00"),
        (Method::GET, "/posts?limit=5&limit=6"),
        (Method::GET, "/posts?user=a&user=b"),
    ] {
        let r = send(method.clone(), path).send().await.unwrap();
        assert_json_error(r, StatusCode::BAD_REQUEST, "bad_query").await;
    }
    let enc = urlencoding::encode(id);
    for path in [
        format!("/signedUrlPut?postId={enc}&postId={enc}&filename=a.png&filetype=image/png"),
        format!("/getSignedUrlPut?postId={enc}&filename=a.png&filename=b.png&filetype=image/png"),
    ] {
        let r = send(Method::GET, &path).send().await.unwrap();
        assert_json_error(r, StatusCode::BAD_REQUEST, "bad_query").await;
    }
    // Missing parameters keep their code; a malformed post id keeps `invalid_id`.
    let r = send(
        Method::GET,
        "/signedUrlPut?filename=a.png&filetype=image/png",
    )
    .send()
    .await
    .unwrap();
    assert_json_error(r, StatusCode::BAD_REQUEST, "missing_parameter").await;
    let r = send(Method::GET, "/posts/not-a-uuid").send().await.unwrap();
    assert_json_error(r, StatusCode::BAD_REQUEST, "invalid_id").await;
    // A bad `limit` is an invalid field (422), as the list route has always answered.
    for limit in ["abc", "0", "101", "-1", "1.5"] {
        let r = send(Method::GET, &format!("/posts?limit={limit}"))
            .send()
            .await
            .unwrap();
        assert_json_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    // Unknown parameters are ignored (and never make a new list-cache entry).
    let page = app.list("/posts?limit=5&utm_source=x&x%FF=%FF").await;
    assert_eq!(page.len(), 1);
    // An unsigned object URL is still a 403, not a 400.
    let r = send(Method::GET, "/objects/alice/x/y.png")
        .send()
        .await
        .unwrap();
    assert_json_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
}

/// Sends SIGTERM to the binary, waits for it and returns everything it logged.
fn stop_and_read_log(app: &mut TestApp) -> String {
    let child = app.process();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The text log lines of the request with id `id`.
fn lines_of<'a>(log: &'a str, id: &str) -> Vec<&'a str> {
    let needle = format!("request_id=\"{id}\"");
    log.lines().filter(|l| l.contains(&needle)).collect()
}

#[tokio::test]
async fn a_broken_store_answers_503_without_details_and_logs_them_with_the_request_id() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let envs = [
        (env::LABELER_WORKERS, "0"),
        (env::LOG_FORMAT, "text"),
        ("RUST_LOG", "info"),
    ];
    let mut app = TestApp::binary(API_BIN, &data, &envs, Stdio::piped()).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "t", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    let leaks = [
        "sqlite",
        "locked",
        "SQLITE",
        "os error",
        "directory",
        "File exists",
    ];
    let data_path = data.display().to_string();

    // 1. Another process holds the database's write lock past the busy timeout.
    let conn = rusqlite::Connection::open(data.join("postagram.db")).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = app
        .client
        .post(app.at("/posts"))
        .bearer_auth(&token)
        .header("x-request-id", "broken-db-1")
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    let v = assert_json_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(
        v["message"],
        "the post store is unavailable, try again later"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);

    // 2. The picture folder is replaced by a file: storing a picture fails.
    std::fs::remove_dir_all(data.join("pictures")).unwrap();
    std::fs::write(data.join("pictures"), b"not a folder").unwrap();
    let r = app.signed_url(&token, &id, "a.png", "image/png").await;
    assert_eq!(r.status(), StatusCode::OK);
    let url = r.json::<Value>().await.unwrap()["uploadURL"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .client
        .put(url)
        .header("content-type", "image/png")
        .header("x-request-id", "broken-pictures-2")
        .body(png_bytes())
        .send()
        .await
        .unwrap();
    let v = assert_json_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(
        v["message"],
        "the picture store is unavailable, try again later"
    );
    let message = v["message"].as_str().unwrap();
    for leak in leaks.iter().copied().chain([data_path.as_str()]) {
        assert!(!message.contains(leak), "`{leak}` in {v}");
    }

    let log = stop_and_read_log(&mut app);
    let db = lines_of(&log, "broken-db-1");
    assert!(
        db.iter()
            .any(|l| l.contains("backend unavailable") && l.contains("database is locked")),
        "the SQLite detail is logged with the request id: {log}"
    );
    let pictures = lines_of(&log, "broken-pictures-2");
    assert!(
        pictures
            .iter()
            .any(|l| l.contains("backend unavailable") && l.contains("os error")),
        "the file-system detail is logged with the request id: {log}"
    );
}

/// Sends `head` (a raw request without body) and returns the status line.
async fn raw_request(url: &str, head: &[u8]) -> String {
    let addr = url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn client_chosen_values_cannot_forge_log_lines_and_are_clipped() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = [
        (env::LABELER_WORKERS, "0"),
        (env::LOG_FORMAT, "text"),
        ("RUST_LOG", "info"),
    ];
    let mut app = TestApp::binary(API_BIN, tmp.path(), &envs, Stdio::piped()).await;
    // A username with a newline and a fake log line after it.
    let forged = "2026-12-03T00:00:00.000000Z  INFO user=\"admin\" forged: login ok";
    let r = app
        .client
        .post(app.at("/auth/login"))
        .header("x-request-id", "inject-user")
        .json(&json!({"username": format!("eve\n{forged}"), "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_json_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // A path with a C1 "next line" and a line separator (raw UTF-8 on the wire), and a
    // 5000-byte path with a 1000-byte request id.
    let status = raw_request(
        &app.url,
        "GET /posts/x\u{85}y\u{2028}z HTTP/1.1\r\nhost: x\r\nx-request-id: inject-path\r\nconnection: close\r\n\r\n"
            .as_bytes(),
    )
    .await;
    let long_id = "i".repeat(1000);
    let long_path = format!("/posts/{}", "p".repeat(5000));
    let r = app
        .get_with(&long_path, &[("x-request-id", long_id.as_str())])
        .await;
    assert_json_error(r, StatusCode::BAD_REQUEST, "invalid_id").await;

    let log = stop_and_read_log(&mut app);
    for line in log.lines() {
        assert!(
            line.len() >= 4 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit),
            "every line starts with its own timestamp: {line:?}\n{log}"
        );
        assert!(
            !line.contains('\u{85}') && !line.contains('\u{2028}'),
            "{line:?}"
        );
    }
    let login = lines_of(&log, "inject-user");
    let failed: Vec<_> = login
        .iter()
        .filter(|l| l.contains("failed login"))
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0].contains(&format!("user=\"eve\\n{}\"", forged.replace('"', "\\\""))),
        "the username is quoted and escaped: {}",
        failed[0]
    );
    // hyper lets raw UTF-8 through to the router (a 400 `invalid_id`): logged escaped.
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    let path = lines_of(&log, "inject-path");
    assert!(
        path.iter()
            .any(|l| l.contains(r#"path="/posts/x\u{85}y\u{2028}z""#)),
        "{log}"
    );
    let long = log
        .lines()
        .find(|l| l.contains("finished processing request") && l.contains("pppp"))
        .expect("the long request's line");
    assert!(long.len() < 1000, "clipped: {} bytes", long.len());
    assert!(
        long.contains(&format!("…({} bytes)", long_path.len())),
        "{long}"
    );
    assert!(
        long.contains("…(1000 bytes)"),
        "the request id is clipped: {long}"
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_dir_database_pictures_and_secret_are_private_and_exposed_ones_warned() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("data");
    let envs = [(env::LABELER_WORKERS, "0"), (env::LOG_FORMAT, "text")];
    let mut app = TestApp::binary(API_BIN, &data, &envs, Stdio::piped()).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "t", "b").await;
    let (put, key) = app
        .upload(
            &token,
            post["id"].as_str().unwrap(),
            "image/png",
            png_bytes(),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let picture = data.join("pictures").join(&key);
    let (user_dir, post_dir) = (
        data.join("pictures/alice"),
        picture.parent().unwrap().to_path_buf(),
    );
    // While it runs (WAL and shared memory exist only then).
    for (path, want) in [
        (data.clone(), 0o700),
        (data.join("postagram.db"), 0o600),
        (data.join("postagram.db-wal"), 0o600),
        (data.join("postagram.db-shm"), 0o600),
        (data.join("secret.key"), 0o600),
        (data.join("pictures"), 0o700),
        (user_dir, 0o700),
        (post_dir.clone(), 0o700),
        (picture.clone(), 0o600),
    ] {
        assert_eq!(mode(&path), want, "{}", path.display());
    }
    let names: Vec<_> = std::fs::read_dir(&post_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    let first_log = stop_and_read_log(&mut app);
    assert!(
        !first_log.contains("accessible to other users"),
        "nothing to warn about: {first_log}"
    );

    // Widened by someone else: the next start warns about each and changes nothing.
    let widened = [
        (data.clone(), 0o755),
        (data.join("postagram.db"), 0o644),
        (data.join("secret.key"), 0o640),
        (data.join("pictures"), 0o750),
    ];
    for (path, m) in &widened {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(*m)).unwrap();
    }
    let mut again = TestApp::binary(API_BIN, &data, &envs, Stdio::piped()).await;
    let log = stop_and_read_log(&mut again);
    for (path, m) in &widened {
        let shown = format!("path={}", path.display());
        assert!(
            log.lines().any(|l| l.contains("WARN")
                && l.contains("accessible to other users")
                && l.contains(&shown)
                && l.contains(&format!("mode={m:04o}"))),
            "a warning for {shown}: {log}"
        );
        assert_eq!(mode(path), *m, "{} warned, not changed", path.display());
    }
}
