//! Starts a real AWS API emulator (`moto_server`, pinned in scripts/requirements-aws.txt
//! and installed into the test venv by scripts/venv.sh) on 127.0.0.1 on a free port.
//! No AWS account and no SDK mocks: the tests talk HTTP to it like to AWS.
//! If it cannot start, the test fails with a message saying how to install it.

use postagram_core::settings::env;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator; killed on drop.
pub struct Moto {
    child: Option<Child>,
    port: u16,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// The repository root: this crate is `core/testkit/`.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Where `moto_server` is: `POSTAGRAM_MOTO_SERVER`, else the test venv.
pub fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var(env::MOTO_SERVER) {
        return PathBuf::from(p);
    }
    let venv = std::env::var(env::VENV)
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv"));
    venv.join("bin").join("moto_server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

impl Moto {
    /// Starts the emulator and waits until it answers.
    pub fn start() -> Moto {
        let port = free_port();
        let mut m = Moto {
            child: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let bin = moto_binary();
        if !bin.exists() {
            panic!(
                "AWS emulator not found at {}: run scripts/venv.sh (installs moto[server] from \
                 scripts/requirements-aws.txt) or set {}",
                bin.display(),
                env::MOTO_SERVER
            );
        }
        let log = std::env::temp_dir().join(format!("postagram-moto-{}.log", self.port));
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone log handle: {e}"));
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "moto_server exited with {status} before listening; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not listen on {addr} within 60 s; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the emulator (its state is lost), as an outage.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (empty state).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Settings that point every client at the emulator.
    #[cfg(feature = "aws")]
    pub fn settings(&self) -> postagram_core::aws::AwsSettings {
        postagram_core::aws::AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.url.clone()),
            static_credentials: Some(("testing".into(), "testing".into())),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
