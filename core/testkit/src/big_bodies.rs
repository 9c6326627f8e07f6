//! Too-large JSON bodies: each must get its 413 as a response the client reads, not a
//! connection reset (issue 10), in every store mode.

use std::time::Duration;

use reqwest::StatusCode;

use crate::{assert_error, read_response, TestApp};

/// A JSON body of `size` bytes for `POST /posts` or `/auth/signup` (well-formed, so
/// only its size can be wrong).
pub fn big_json(size: usize) -> Vec<u8> {
    let mut body = br#"{"username":"big","password":"correct horse","title":"t","body":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

/// 3 MB JSON bodies to `POST /posts` and `POST /auth/signup` are answered 413 with the
/// JSON error body, read completely by the client (not a reset): announced with
/// `Content-Length`, streamed without one, and with `Expect: 100-continue` (the 413 comes
/// instead of `100 Continue`). Several rounds, since a reset is a race.
pub async fn assert_big_bodies_get_413(app: &TestApp, token: &str) {
    const SIZE: usize = 3 * 1024 * 1024;
    for round in 0..3 {
        for path in ["/posts", "/auth/signup"] {
            let r = app
                .client
                .post(app.at(path))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(big_json(SIZE))
                .send()
                .await
                .unwrap_or_else(|e| panic!("round {round}, {path} with Content-Length: {e:?}"));
            assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big_json(SIZE)
                .chunks(64 * 1024)
                .map(|c| Ok(c.to_vec()))
                .collect();
            let r = app
                .client
                .post(app.at(path))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
                .send()
                .await
                .unwrap_or_else(|e| panic!("round {round}, {path} chunked: {e:?}"));
            assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

            expect_continue_gets_413(app, token, path, SIZE).await;
        }
    }
}

/// `Expect: 100-continue` with a too-large `Content-Length`: the answer is the 413, not
/// `100 Continue`; a client that sends the body anyway still reads the whole answer.
async fn expect_continue_gets_413(app: &TestApp, token: &str, path: &str, size: usize) {
    use tokio::io::AsyncWriteExt;
    let mut s = app.raw().await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {size}\r\nexpect: 100-continue\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    let resp = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s))
        .await
        .expect("an answer within 10 s")
        .expect("a complete answer");
    assert_eq!(resp.status, 413, "{path}: {resp:?}");
    assert_eq!(resp.json()["error"], "payload_too_large", "{resp:?}");
    assert_eq!(resp.header("connection"), Some("close"), "{resp:?}");
    // A client that does not wait for 100 Continue: the body goes out while it reads.
    let mut s = app.raw().await;
    let (mut rd, mut wr) = s.split();
    let body = big_json(size);
    let send = async {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
    };
    let read = async {
        let mut buf = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut rd, &mut buf).await;
        buf
    };
    let ((), got) =
        tokio::time::timeout(Duration::from_secs(20), futures::future::join(send, read))
            .await
            .expect("done within 20 s");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
    assert!(text.contains("payload_too_large"), "{path}: {text}");
}
