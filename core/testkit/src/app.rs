//! [`TestApp`]: the real server on a random port with its own data directory, in-process
//! or as the `postagram-api` binary, and a client for it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postagram_api::config::{AuthMode, Config};
use postagram_api::startup::Application;
use postagram_api::state::AppState;
use postagram_core::settings::env;
use reqwest::{Client, StatusCode};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and a client for it.
pub struct TestApp {
    /// Where the server is reached (`http://127.0.0.1:<port>`).
    pub url: String,
    /// The client every request helper uses (in-process servers: redirects not followed).
    pub client: Client,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// The in-process server's shared state (None for [`TestApp::binary`]).
    pub state: Option<AppState>,
    tmp: Option<tempfile::TempDir>,
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
        app.tmp = Some(tmp);
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
            tmp: None,
            stop: Some(tx),
            handle: Some(handle),
            process: None,
        }
    }

    /// The `postagram-api` binary `exe` (its tests pass `env!("CARGO_BIN_EXE_postagram-api")`,
    /// which only they can name) as its own process on `dir` and a free port, with `env`
    /// added (for kill -9, signals and log output); returns once `/readyz` is 200.
    pub async fn binary(
        exe: impl AsRef<Path>,
        dir: &Path,
        env: &[(&str, &str)],
        stdout: Stdio,
    ) -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(exe.as_ref())
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
            tmp: None,
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

    /// Stops the server gracefully and waits for it; hands back its temporary directory
    /// (if it made one) so a restart test can reuse it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("server result");
        }
        self.tmp.take()
    }

    /// The absolute URL of `path` on this server.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// A raw TCP connection to the server (for what an HTTP client will not do).
    pub async fn raw(&self) -> tokio::net::TcpStream {
        let addr = self
            .url
            .trim_start_matches("http://")
            .replace("localhost", "127.0.0.1");
        tokio::net::TcpStream::connect(addr).await.expect("connect")
    }
}

/// Header mode config helper (`POSTAGRAM_AUTH=header`), for [`TestApp::spawn_with`].
pub fn header_mode(c: &mut Config) {
    c.auth = AuthMode::Header;
}
