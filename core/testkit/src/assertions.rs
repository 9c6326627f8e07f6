//! The one assertion on error answers every API test makes.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts an error answer: status, stable code and a non-empty message (the JSON error
/// body of the REST contract); returns the body for further checks.
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
