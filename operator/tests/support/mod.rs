//! Shared test support: the scripted API server (tower-test) and the loopback API server.
#![allow(dead_code)]

pub mod apiserver;
pub mod scripted;

use std::time::Duration;

/// Polls `check` every 20 ms until it returns `Some`, or panics after `secs` seconds.
pub async fn eventually<T>(what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
