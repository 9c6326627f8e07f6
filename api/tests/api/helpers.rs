//! Spawns the real server on a random port with its own data directory.

use postagram_core::settings::env;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postagram_api::config::{AuthMode, Config};
use postagram_api::startup::Application;
use postagram_api::state::AppState;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and a client for it.
pub struct TestApp {
    pub url: String,
    pub client: Client,
    pub data_dir: PathBuf,
    /// The in-process server's shared state (None for [`TestApp::binary`]).
    pub state: Option<AppState>,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    process: Option<Child>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A failing test must not leave a server process behind.
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A tiny valid PNG (1×1, red).
pub fn png_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 30]));
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode png");
    out
}

/// A tiny valid JPEG.
pub fn jpeg_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([30, 200, 30]));
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .expect("encode jpeg");
    out
}

impl TestApp {
    /// A fresh server in a temporary directory.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A fresh server, configured by `f`.
    pub async fn spawn_with(f: impl FnOnce(&mut Config)) -> TestApp {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut app = Self::start_in(dir, f).await;
        app._tmp = Some(tmp);
        app
    }

    /// A server on an existing data directory (restart tests).
    pub async fn start_in(dir: PathBuf, f: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::for_tests(&dir);
        f(&mut config);
        let app = Application::build(config).await.expect("build app");
        let url = app.public_url().to_string();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            url,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            data_dir: dir,
            state: Some(state),
            _tmp: None,
            stop: Some(tx),
            handle: Some(handle),
            process: None,
        }
    }

    /// The `postagram-api` binary as its own process on `dir` and a free port, with
    /// `env` added (for kill -9, signals and log output); returns once `/readyz` is 200.
    pub async fn binary(dir: &Path, env: &[(&str, &str)], stdout: Stdio) -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_postagram-api"))
            .env(env::ADDR, format!("127.0.0.1:{port}"))
            .env(env::DATA_DIR, dir)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start postagram-api");
        let app = TestApp {
            url: format!("http://127.0.0.1:{port}"),
            client: Client::new(),
            data_dir: dir.to_path_buf(),
            state: None,
            _tmp: None,
            stop: None,
            handle: None,
            process: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = app.client.get(app.at("/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    return app;
                }
            }
            assert!(Instant::now() < deadline, "{} never became ready", app.url);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server process of [`TestApp::binary`].
    pub fn process(&mut self) -> &mut Child {
        self.process.as_mut().expect("a TestApp::binary server")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("server result");
        }
        self._tmp.take()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.at(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn signup(&self, user: &str) -> Response {
        self.post_json(
            "/auth/signup",
            &json!({"username": user, "password": "correct horse"}),
            None,
        )
        .await
    }

    /// Signs up `user` (owned, for many concurrent sign-ups).
    pub async fn signup_as(&self, user: String) -> Response {
        self.signup(&user).await
    }

    /// Signs up and logs in; returns the token.
    pub async fn user(&self, user: &str) -> String {
        let r = self.signup(user).await;
        assert_eq!(r.status(), StatusCode::CREATED, "signup {user}");
        let r = self
            .post_json(
                "/auth/login",
                &json!({"username": user, "password": "correct horse"}),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let v: Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    /// Creates a post; returns its JSON.
    pub async fn new_post(&self, token: &str, title: &str, body: &str) -> Value {
        let r = self
            .post_json(
                "/posts",
                &json!({"title": title, "body": body}),
                Some(token),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.expect("json")
    }

    /// Asks for an upload URL.
    pub async fn signed_url(
        &self,
        token: &str,
        post_id: &str,
        filename: &str,
        filetype: &str,
    ) -> Response {
        self.client
            .get(self.at("/signedUrlPut"))
            .query(&[
                ("filename", filename),
                ("filetype", filetype),
                ("postId", post_id),
            ])
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Uploads bytes to a fresh upload URL; returns the PUT response and the object key.
    pub async fn upload(
        &self,
        token: &str,
        post_id: &str,
        filetype: &str,
        bytes: Vec<u8>,
    ) -> (Response, String) {
        let r = self.signed_url(token, post_id, "pic.bin", filetype).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.expect("json");
        let url = v["uploadURL"].as_str().expect("url").to_string();
        let key = v["objectName"].as_str().expect("key").to_string();
        let put = self
            .client
            .put(url)
            .header("content-type", filetype)
            .body(bytes)
            .send()
            .await
            .expect("put");
        (put, key)
    }

    /// `GET path` answered 200 with a JSON array of posts.
    pub async fn list(&self, path: &str) -> Vec<Value> {
        let r = self
            .client
            .get(self.at(path))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json array")
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = self
            .client
            .get(self.at("/metrics"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "GET /metrics");
        r.text().await.expect("text")
    }

    pub async fn get_post(&self, id: &str) -> Response {
        self.client
            .get(self.at(&format!("/posts/{}", urlencoding::encode(id))))
            .send()
            .await
            .expect("request")
    }
}

/// Asserts an error answer: status and stable code.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let v: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(v["error"], code, "error code in {v}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {v}"
    );
    v
}

/// Header mode config helper.
pub fn header_mode(c: &mut Config) {
    c.auth = AuthMode::Header;
}

/// One HTTP/1.1 response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self))
    }

    /// A header value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

impl TestApp {
    /// A raw TCP connection to the server (for what an HTTP client will not do).
    pub async fn raw(&self) -> tokio::net::TcpStream {
        let addr = self
            .url
            .trim_start_matches("http://")
            .replace("localhost", "127.0.0.1");
        tokio::net::TcpStream::connect(addr).await.expect("connect")
    }
}

/// Reads one response (head and `Content-Length` body; a `100 Continue` is returned as
/// a response too) from `stream`.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> std::io::Result<RawResponse> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("not an HTTP response: {head}"));
            let mut resp = RawResponse {
                status,
                head,
                body: Vec::new(),
            };
            let len: usize = resp
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            resp.body = buf[end + 4..end + 4 + len].to_vec();
            return Ok(resp);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits at most `bound` for the server to close `stream` (end of stream or reset);
/// false when it is still open then. Bytes the server sends meanwhile are skipped.
pub async fn closed_within(stream: &mut tokio::net::TcpStream, bound: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(bound, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

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
