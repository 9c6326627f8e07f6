//! Reports a failed start of the Lambda function to the Runtime API's
//! `POST /runtime/init/error`, as the Runtime API asks a custom runtime to do, so Lambda
//! shows the cause (`Runtime.InitError` and the message) instead of only "Runtime exited".
//! The `lambda_runtime` crate reports init errors only for SnapStart hooks, not for the
//! function's own setup (settings, clients, model), which happens before its loop starts.

use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use serde_json::json;

/// The Runtime API's address variable, set by the Lambda service.
const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Posts `error` to `/runtime/init/error`; does nothing outside Lambda (no
/// `AWS_LAMBDA_RUNTIME_API`). A failure to report is logged: the process exits with the
/// original error either way.
pub async fn report(error: &anyhow::Error) {
    if std::env::var_os(RUNTIME_API).is_none() {
        return;
    }
    let body = json!({
        "errorType": "Runtime.InitError",
        "errorMessage": format!("{error:#}"),
        "stackTrace": [],
    });
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()));
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the init error report");
            return;
        }
    };
    match PooledClient::builder().build().call(request).await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            tracing::error!(status = %r.status(), "the Runtime API refused the init error report")
        }
        Err(e) => tracing::error!(error = %e, "cannot report the init error to the Runtime API"),
    }
}
