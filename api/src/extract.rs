//! Path and query extractors whose rejections follow the error contract: axum's own
//! `Path` and `Query` answer `text/plain`; these answer the JSON error body.
//!
//! Hand-written (a few lines each) rather than `axum-extra`'s `WithRejection`: that
//! would add a dependency for the same two `map_err`s, and make every handler
//! destructure `WithRejection(Path(x), _)`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Path<T>` whose failures are JSON: 400 `bad_path` for a segment that is not valid
/// (percent-decodes to invalid UTF-8, or does not parse as `T`); a route/extractor
/// mismatch (a bug, axum's 500) is a 500 `internal` with the detail in the log only.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

/// `Query<T>` whose failures are JSON: 400 `bad_query` (a parameter of the wrong type,
/// a repeated one, a query string that does not decode). Unknown parameters are
/// ignored, as with `Query`, unless `T` denies them.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        if e.status().is_server_error() {
            ApiError::Internal(format!("path extractor: {}", e.body_text()))
        } else {
            ApiError::bad_request("bad_path", e.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        if e.status().is_server_error() {
            ApiError::Internal(format!("query extractor: {}", e.body_text()))
        } else {
            ApiError::bad_request("bad_query", e.body_text())
        }
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use serde::Deserialize;
    use tower::ServiceExt;

    use super::*;

    #[derive(Deserialize)]
    struct Page {
        limit: Option<u32>,
    }

    async fn call(app: Router, uri: &str) -> (StatusCode, String, serde_json::Value) {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        (
            status,
            ct,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn rejections_are_the_json_error_body() {
        let app = Router::new()
            .route(
                "/s/{id}",
                get(|ApiPath(id): ApiPath<String>| async move { id }),
            )
            .route(
                "/n/{n}",
                get(|ApiPath(n): ApiPath<u32>| async move { n.to_string() }),
            )
            .route(
                "/two/{a}",
                get(|ApiPath(p): ApiPath<(String, String)>| async move { p.0 }),
            )
            .route(
                "/q",
                get(|ApiQuery(p): ApiQuery<Page>| async move {
                    p.limit.unwrap_or(0).to_string().into_response()
                }),
            );
        for (uri, status, code) in [
            ("/s/%FF", StatusCode::BAD_REQUEST, "bad_path"),
            ("/n/abc", StatusCode::BAD_REQUEST, "bad_path"),
            ("/q?limit=abc", StatusCode::BAD_REQUEST, "bad_query"),
            ("/q?limit=1&limit=2", StatusCode::BAD_REQUEST, "bad_query"),
            ("/q?limit=%FF", StatusCode::BAD_REQUEST, "bad_query"),
            // The handler asks for two segments of a one-segment route: a bug, a 500.
            ("/two/x", StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ] {
            let (got, ct, body) = call(app.clone(), uri).await;
            assert_eq!(got, status, "{uri}");
            assert_eq!(ct, "application/json", "{uri}");
            assert_eq!(body["error"], code, "{uri}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (ok, _, _) = call(app.clone(), "/q?limit=3&unknown=1").await;
        assert_eq!(ok, StatusCode::OK, "unknown parameters are ignored");
        let (internal, _, body) = call(app, "/two/x").await;
        assert_eq!(internal, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body["message"], "internal server error",
            "no detail: {body}"
        );
    }
}
