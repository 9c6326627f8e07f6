//! A JSON body extractor whose failures follow the error contract:
//! wrong media type → 415, too large → 413, malformed → 400, wrong field types → 422.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Json<T>` with contract-conforming rejections.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::UnsupportedMediaType {
                code: "unsupported_media_type",
                message: "expected a JSON body with `Content-Type: application/json`".into(),
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("request body is too large".into())
            } else {
                ApiError::bad_request("bad_body", format!("cannot read the request body: {e}"))
            }
        })?;
        match serde_json::from_slice::<T>(&bytes) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => match e.classify() {
                serde_json::error::Category::Data => Err(ApiError::InvalidField(e.to_string())),
                _ => Err(ApiError::bad_request(
                    "malformed_json",
                    format!("malformed JSON: {e}"),
                )),
            },
        }
    }
}
