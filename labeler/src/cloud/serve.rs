//! The worker's HTTP side: `/healthz` (the process runs), `/readyz` (its queue and store
//! answer), `/metrics`, and with `--source http` the `POST /events` webhook (MinIO bucket
//! notifications: the same S3 event JSON). The same probe paths as the API, so the
//! operator probes both the same way.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use postagram_core::store::PostStore;
use serde_json::json;

use super::events::{parse, S3Notification};
use super::jobs::label_records;
use super::metrics::WorkerMetrics;
use super::sqs::SqsJobQueue;
use crate::pipeline::Pipeline;

/// Header carrying the webhook's shared secret (`Authorization: Bearer <secret>` works
/// too: MinIO's `auth_token`).
pub const SECRET_HEADER: &str = "x-postagram-secret";

/// What the webhook needs.
#[derive(Clone)]
pub struct EventsState {
    /// Labels pictures (its queue writes results to the store).
    pub pipeline: Arc<Pipeline>,
    /// The post store.
    pub store: Arc<dyn PostStore>,
    /// Shared secret every request must carry.
    pub secret: Arc<str>,
    /// Counters.
    pub metrics: Arc<WorkerMetrics>,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

/// Compares in time independent of where the strings differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorised(headers: &HeaderMap, secret: &str) -> bool {
    let given = headers
        .get(SECRET_HEADER)
        .or_else(|| headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v));
    given.is_some_and(|g| !secret.is_empty() && same_secret(g.as_bytes(), secret.as_bytes()))
}

async fn events(State(s): State<EventsState>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&headers, &s.secret) {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_secret",
            "missing or wrong webhook secret",
        );
    }
    s.metrics.events.inc();
    let text = String::from_utf8_lossy(&body);
    let records = match parse(&text) {
        Ok(S3Notification::Test) => {
            return Json(json!({"labelled": 0, "failed": 0})).into_response()
        }
        Ok(S3Notification::Created(r)) => r,
        Err(e) => {
            s.metrics.poison.inc();
            return error(StatusCode::BAD_REQUEST, "bad_event", e.to_string());
        }
    };
    match label_records(&*s.store, &s.pipeline, records).await {
        Ok(done) => Json(json!({"labelled": done.labelled, "failed": done.failed})).into_response(),
        // An error makes the sender deliver the event again. The detail (SDK messages,
        // hosts) goes to the log only.
        Err(e) => {
            tracing::warn!(error = %e, "cannot label the event's pictures; it will be delivered again");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the pictures cannot be labelled now; deliver the event again",
            )
        }
    }
}

/// What `/readyz` checks: the post store always, the SQS queue with `--source sqs`.
#[derive(Clone)]
pub struct Readiness {
    /// The DynamoDB store labels are written to.
    pub store: Arc<dyn PostStore>,
    /// The upload-event queue, when the worker reads one.
    pub queue: Option<Arc<SqsJobQueue>>,
    /// Its gauge follows every answer.
    pub metrics: Arc<WorkerMetrics>,
}

/// How long one dependency may take to answer a readiness check.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Which dependency failed a readiness check, and how (the detail goes to the log only).
#[derive(Debug)]
pub struct NotReady {
    /// `store` or `queue`.
    pub what: &'static str,
    /// The error or the timeout.
    pub detail: String,
}

impl Readiness {
    /// `Ok` when every dependency answers within [`PROBE_TIMEOUT`], else the first that
    /// did not.
    pub async fn check(&self) -> Result<(), NotReady> {
        let within =
            |what: &'static str, r: Result<Result<(), postagram_core::store::StoreError>, _>| {
                match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(NotReady {
                        what,
                        detail: e.to_string(),
                    }),
                    Err(_) => Err(NotReady {
                        what,
                        detail: format!("no answer within {PROBE_TIMEOUT:?}"),
                    }),
                }
            };
        within(
            "store",
            tokio::time::timeout(PROBE_TIMEOUT, self.store.ping()).await,
        )?;
        if let Some(q) = &self.queue {
            within("queue", tokio::time::timeout(PROBE_TIMEOUT, q.ping()).await)?;
        }
        Ok(())
    }
}

async fn readyz(State(r): State<Readiness>) -> Response {
    match r.check().await {
        Ok(()) => {
            r.metrics.ready.set(1);
            Json(json!({"status": "ready"})).into_response()
        }
        Err(e) => {
            r.metrics.ready.set(0);
            tracing::warn!(dependency = e.what, error = %e.detail, "not ready");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("the {} does not answer", e.what),
            )
        }
    }
}

/// `/healthz`, `/readyz` and `/metrics`, plus `POST /events` when `events` is given.
pub fn router(
    metrics: Arc<WorkerMetrics>,
    readiness: Readiness,
    events_state: Option<EventsState>,
) -> Router {
    let m = metrics.clone();
    let base = Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz).with_state(readiness))
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        m.render(),
                    )
                }
            }),
        );
    match events_state {
        Some(s) => base.merge(Router::new().route("/events", post(events)).with_state(s)),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let mut h = HeaderMap::new();
        assert!(!authorised(&h, "s3cret"));
        h.insert(SECRET_HEADER, "s3cret".parse().expect("header"));
        assert!(authorised(&h, "s3cret"));
        assert!(!authorised(&h, "other!"));
        assert!(!authorised(&h, ""));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Bearer s3cret".parse().expect("header"),
        );
        assert!(authorised(&h, "s3cret"));
    }
}
