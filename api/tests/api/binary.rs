//! The `postagram-api` binary itself: `--help`, JSON logs with request ids, SIGTERM.

use postagram_core::settings::env;
use std::io::Read;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::helpers::{TestApp, API_BIN};

#[test]
fn help_documents_every_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_postagram-api"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        env::ADDR,
        env::PUBLIC_URL,
        env::STORE,
        env::DATA_DIR,
        env::AUTH,
        env::JWT_SECRET,
        env::TABLE,
        env::BUCKET,
        env::QUEUE_URL,
        env::AWS_ENDPOINT_URL,
        "AWS_REGION",
        env::DETECTOR,
        env::MODEL_PATH,
        env::MAX_LABELS,
        env::MIN_CONFIDENCE,
        env::CORS_ORIGINS,
        env::LOG_FORMAT,
        env::MAX_UPLOAD_BYTES,
        env::LABELER_WORKERS,
    ] {
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
    }
}

#[test]
fn bad_configuration_fails_at_start_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_postagram-api"))
        .env(env::AUTH, "magic")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic"));
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_postagram-api"))
        .env(env::DATA_DIR, tmp.path())
        .env(env::ADDR, "127.0.0.1:0")
        .env(env::MODEL_PATH, tmp.path().join("missing.safetensors"))
        .env(env::LABELER_WORKERS, "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("make model"), "{err}");
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let env = [
        (env::LABELER_WORKERS, "0"),
        (env::LOG_FORMAT, "json"),
        ("RUST_LOG", "info"),
    ];
    let mut app = TestApp::binary(API_BIN, tmp.path(), &env, Stdio::piped()).await;
    let r = app
        .get_with("/healthz", &[("x-request-id", "trace-me-123")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let child = app.process();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM ends with status 0, got {exit:?}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l.to_string().contains("trace-me-123")),
        "a log line of the request carries its id: {out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "postagram-api stopped"),
        "{out}"
    );
}
