//! Cross-cutting request handling: request ids in logs, metrics, timeouts, panics.
//!
//! [`RequestLayer`] is one hand-written tower layer for everything that wraps every
//! request (request id, log span, timeout, metrics, the closing log line): five generic
//! layers cost five boxed services and futures per request, this one costs one.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use postagram_core::settings::log::user_value;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::error_response;
use crate::metrics::Metrics;

/// Header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID);

/// A new request id: a UUIDv4, hyphenated.
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Wraps every request: takes or makes its `x-request-id` (echoed on the response and
/// in every log line through the `request` span), cuts it off after the configured time
/// with a JSON 503, counts it by route, method and status, and logs its end.
#[derive(Clone)]
pub struct RequestLayer {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl RequestLayer {
    /// A layer recording into `metrics` and stopping requests after `timeout`.
    pub fn new(metrics: Arc<Metrics>, timeout: Duration) -> Self {
        RequestLayer { metrics, timeout }
    }
}

impl<S> Layer<S> for RequestLayer {
    type Service = RequestService<S>;
    fn layer(&self, inner: S) -> RequestService<S> {
        RequestService {
            inner,
            metrics: self.metrics.clone(),
            timeout: self.timeout,
        }
    }
}

/// The service made ready by `poll_ready`, leaving a clone in its place: a clone is
/// ready only after its own `poll_ready`, so a middleware calls the one it polled.
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// The service of [`RequestLayer`].
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl<S> Service<Request> for RequestService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let start = Instant::now();
        let id = match req.headers().get(&REQUEST_ID_HEADER) {
            Some(v) => v.clone(),
            None => {
                let v = new_request_id();
                req.headers_mut().insert(REQUEST_ID_HEADER, v.clone());
                v
            }
        };
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        // Method, path and request id are the client's: quoted, escaped and clipped
        // (`&str` fields, see `postagram_core::settings::log`).
        let span = tracing::info_span!(
            "request",
            method = &*user_value(method.as_str()),
            path = &*user_value(req.uri().path()),
            request_id = &*user_value(id.to_str().unwrap_or("-")),
        );
        let mut inner = take_ready(&mut self.inner);
        let metrics = self.metrics.clone();
        let limit = self.timeout;
        let in_flight = InFlight::start(&metrics);
        Box::pin(
            async move {
                let _in_flight = in_flight;
                let mut resp = match tokio::time::timeout(limit, inner.call(req)).await {
                    Ok(Ok(resp)) => resp,
                    Ok(Err(never)) => match never {},
                    Err(_) => error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "timeout",
                        format!("the request took longer than {} s", limit.as_secs()),
                    ),
                };
                resp.headers_mut().insert(REQUEST_ID_HEADER, id);
                let status = resp.status();
                let elapsed = start.elapsed();
                metrics.observe_request(
                    route.as_ref().map_or("unmatched", |r| r.as_str()),
                    method.as_str(),
                    status.as_str(),
                    elapsed.as_secs_f64(),
                );
                let latency_us = elapsed.as_micros() as u64;
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), latency_us, "request failed");
                } else {
                    tracing::info!(
                        status = status.as_u16(),
                        latency_us,
                        "finished processing request"
                    );
                }
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

/// Counts a request in `http_requests_in_flight` until it is answered or abandoned.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn start(metrics: &Metrics) -> Self {
        metrics.http_in_flight.inc();
        InFlight(metrics.http_in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Turns a panic in a handler into a JSON 500 (the details go to the log only).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = detail.as_str(), "handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal server error",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_json_500() {
        let app: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("kaboom");
                    }
                    "unreachable"
                }),
            )
            .layer(CatchPanicLayer::custom(panic_response));
        let req = axum::http::Request::builder()
            .uri("/boom")
            .body(Body::empty())
            .expect("request");
        let resp = app.oneshot(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(resp.into_body(), 1024)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["error"], "internal");
        assert!(
            !v["message"].as_str().expect("message").contains("kaboom"),
            "no details leak"
        );
    }

    #[tokio::test]
    async fn slow_requests_time_out_with_json() {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(RequestLayer::new(
                Arc::new(Metrics::new()),
                Duration::from_millis(50),
            ));
        let req = axum::http::Request::builder()
            .uri("/slow")
            .body(Body::empty())
            .expect("request");
        let resp = app.oneshot(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = axum::body::to_bytes(resp.into_body(), 1024)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["error"], "timeout");
    }
}
