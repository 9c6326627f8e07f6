//! Request bodies (issue 10): a `Content-Length` over the route's limit is answered 413
//! before a byte of the body is read — so before hyper sends `100 Continue`, which it only
//! does when the body is polled — and a body that stalls longer than the body read timeout
//! between two chunks ends the request with 408. Both are the JSON error body and carry
//! `Connection: close`: the rest of the body is never read, and `crate::serve` lingers on
//! close so the answer reaches the client instead of a reset.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Body as _, Frame, SizeHint};
use tower::{Layer, Service};
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::error::{error_response, ApiError};
use crate::middleware::take_ready;

/// The layer: `limit` bytes for every route but those given a limit of their own with
/// [`BodyGuardLayer::route_limit`], and `timeout` between body chunks. Apply it with
/// `Router::layer`, so the matched route is known.
#[derive(Debug, Clone)]
pub struct BodyGuardLayer {
    limit: usize,
    routes: Arc<Vec<(&'static str, usize)>>,
    timeout: Duration,
}

impl BodyGuardLayer {
    /// Bodies of at most `limit` bytes that never stall longer than `timeout`.
    pub fn new(limit: usize, timeout: Duration) -> Self {
        BodyGuardLayer {
            limit,
            routes: Arc::new(Vec::new()),
            timeout,
        }
    }

    /// Another limit for the route `path` (axum syntax, as in the route table).
    pub fn route_limit(mut self, path: &'static str, limit: usize) -> Self {
        Arc::make_mut(&mut self.routes).push((path, limit));
        self
    }
}

impl<S> Layer<S> for BodyGuardLayer {
    type Service = BodyGuard<S>;
    fn layer(&self, inner: S) -> BodyGuard<S> {
        BodyGuard {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service of [`BodyGuardLayer`].
#[derive(Debug, Clone)]
pub struct BodyGuard<S> {
    inner: S,
    guard: BodyGuardLayer,
}

/// Adds `Connection: close`: the unread rest of the body cannot be skipped to the next
/// request.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

impl<S> Service<Request> for BodyGuard<S>
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

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str());
        let limit = self
            .guard
            .routes
            .iter()
            .find(|(path, _)| Some(*path) == route)
            .map_or(self.guard.limit, |(_, limit)| *limit);
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|len| len > limit as u64) {
            let resp = ApiError::TooLarge(format!("the request body is limited to {limit} bytes"))
                .into_response();
            return Box::pin(std::future::ready(Ok(closing(resp))));
        }
        if req.body().is_end_stream() {
            // No body (a GET, `Content-Length: 0`): nothing to time or flag, and the
            // wrapping below costs allocations on every such request.
            return Box::pin(take_ready(&mut self.inner).call(req));
        }
        let timed_out = Arc::new(AtomicBool::new(false));
        let timeout = self.guard.timeout;
        let req = req.map(|body| {
            Body::new(FlaggedBody {
                inner: Box::pin(TimeoutBody::new(timeout, body)),
                timed_out: timed_out.clone(),
            })
        });
        let mut inner = take_ready(&mut self.inner);
        Box::pin(async move {
            let resp = inner.call(req).await?;
            if !timed_out.load(Ordering::Acquire) {
                return Ok(resp);
            }
            // Whatever the handler made of the failed read (400 `bad_body` …), the
            // cause is the stalled client.
            Ok(closing(error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body stalled for more than {} s",
                    timeout.as_secs()
                ),
            )))
        })
    }
}

/// A request body with a read timeout that remembers whether it expired.
struct FlaggedBody {
    inner: Pin<Box<TimeoutBody<Body>>>,
    timed_out: Arc<AtomicBool>,
}

impl hyper::body::Body for FlaggedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = std::task::ready!(self.inner.as_mut().poll_frame(cx));
        if let Some(Err(e)) = &frame {
            if e.is::<TimeoutError>() {
                self.timed_out.store(true, Ordering::Release);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
