//! The built `postagram-labeler-lambda` binary started as the Lambda service starts a
//! `provided.al2023` function's `bootstrap`: a child process with only the environment
//! the service sets (plus the function's own variables), killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use postagram_core::settings::env;

/// Function name the runtime is told.
pub const FUNCTION_NAME: &str = "postagram-labeler";

/// A running function process.
pub struct Function {
    child: Child,
    log: PathBuf,
}

/// The variables the Lambda service sets for every function (reserved names), pointing
/// the runtime at `runtime_api` (`host:port`). Credentials are those of the execution
/// role (here the emulator's), region is the function's.
pub fn service_env(runtime_api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/postagram-labeler"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/02/[$LATEST]6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a",
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        (env::AWS_REGION, "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        (env::AWS_ACCESS_KEY_ID, "testing"),
        (env::AWS_SECRET_ACCESS_KEY, "testing"),
        (env::AWS_SESSION_TOKEN, "testing"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Function {
    /// Starts the binary with exactly `vars` as its environment, its output in a log file.
    pub fn start(vars: &[(String, String)], log_dir: &Path) -> Function {
        let bin = env!("CARGO_BIN_EXE_postagram-labeler-lambda");
        let log = log_dir.join("function.log");
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log handle");
        let child = Command::new(bin)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // the service starts bootstrap in the function's folder
            .current_dir(log_dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        Function { child, log }
    }

    /// What the function printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the function process")
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
