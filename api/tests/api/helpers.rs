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
