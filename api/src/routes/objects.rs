//! `PUT`/`GET /objects/{key}`: the embedded store's signed picture upload and download.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use postagram_core::keys::{derived_of, parse_object_key, post_prefix};
use postagram_core::media::{ImageType, ACCEPTED};
use postagram_core::settings::log::user_value;
use postagram_core::signing::{now_unix, SignatureError, UrlSigner};
use postagram_core::store::{now_millis, StoreError};
use postagram_core::wire::ErrorBody;
use serde::Deserialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::http_cache::{etag_of, not_modified};
use crate::state::AppState;

/// The path of both routes, in axum's syntax: a key has several segments
/// (`<user>/<post>/<file>`). The document spells it `/objects/{key}`
/// (`crate::openapi::CatchAllPaths`); the body limit of uploads is keyed by it
/// (`crate::startup::router`).
pub const PATH: &str = "/objects/{*key}";

/// The routes of this file: each is declared once, by its handler's `#[utoipa::path]`.
/// `max_upload` bounds uploads, which skip the JSON body limit.
pub fn router(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(put_object).layer(DefaultBodyLimit::max(max_upload.saturating_add(1))))
        .routes(routes!(get_object))
}

/// Signature parameters of an object URL.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedParams {
    /// Unix time after which the URL is refused.
    #[param(required = true)]
    pub expires: Option<i64>,
    /// Hex HMAC-SHA256 signature.
    #[param(required = true)]
    pub sig: Option<String>,
}

fn signer(state: &AppState) -> ApiResult<&UrlSigner> {
    state
        .object_signer
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("this server does not serve objects".into()))
}

fn check_signature(
    state: &AppState,
    method: &str,
    key: &str,
    content_type: &str,
    params: SignedParams,
) -> ApiResult<()> {
    let (Some(expires), Some(sig)) = (params.expires, params.sig) else {
        return Err(ApiError::BadSignature(
            "the URL is not signed (expires and sig are required)".into(),
        ));
    };
    signer(state)?
        .verify(method, key, content_type, expires, &sig, now_unix())
        .map_err(|e| match e {
            SignatureError::Expired => {
                ApiError::BadSignature("the signed URL has expired; ask for a new one".into())
            }
            SignatureError::Invalid => ApiError::BadSignature(
                "the signature does not match (wrong key, method, Content-Type or expiry)".into(),
            ),
        })
}

/// Receives a picture at a presigned URL.
#[utoipa::path(put, path = PATH, tag = "pictures",
    params(("key" = String, Path, description = "object key from `/signedUrlPut`"), SignedParams),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the picture; `Content-Type` as signed"),
    responses(
        (status = 200, description = "stored; labelling is queued"),
        (status = 400, description = "malformed key (`bad_path`, `invalid_key`) or query (`bad_query`)", body = ErrorBody),
        (status = 403, description = "bad or expired signature", body = ErrorBody),
        (status = 404, description = "the post no longer exists (or this server does not serve objects)", body = ErrorBody),
        (status = 413, description = "picture too large", body = ErrorBody),
        (status = 415, description = "not an accepted picture type, or bytes of another type", body = ErrorBody),
        (status = 429, description = "too many uploads for this user; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn put_object(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(params): ApiQuery<SignedParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_string();
    let Some(announced) = ImageType::from_content_type(&content_type) else {
        return Err(ApiError::UnsupportedMediaType {
            code: "unsupported_media_type",
            message: format!(
                "`Content-Type: {content_type}` is not accepted; use one of {ACCEPTED}"
            ),
        });
    };
    check_signature(&state, "PUT", &key, &content_type, params)?;
    let (user, post_id) = parse_object_key(&key)
        .filter(|_| derived_of(&key).is_none())
        .ok_or_else(|| ApiError::bad_request("invalid_key", "not a picture object key"))?;
    state
        .limits
        .uploads
        .check(&user)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let limit = state.max_upload_bytes;
    let too_large = || ApiError::TooLarge(format!("pictures are limited to {limit} bytes"));
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    let mut buf = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("bad_body", format!("cannot read the upload: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    match ImageType::sniff(&buf) {
        Some(actual) if actual == announced => {}
        Some(actual) => {
            return Err(ApiError::UnsupportedMediaType {
                code: "content_type_mismatch",
                message: format!(
                    "the bytes are {} but `Content-Type` says {}",
                    actual.mime(),
                    announced.mime()
                ),
            })
        }
        None => {
            return Err(ApiError::UnsupportedMediaType {
                code: "content_type_mismatch",
                message: format!("the bytes are not a {} picture", announced.mime()),
            })
        }
    }
    let post = state
        .store
        .get_post(post_id)
        .await?
        .filter(|p| p.user == user)
        .ok_or_else(|| ApiError::NotFound(format!("post {post_id} no longer exists")))?;
    let etag = etag_of(&buf);
    let size = buf.len();
    state.blobs.put(&key, buf.into(), announced.mime()).await?;
    // The upload that finished last is the post's picture (false: a later one won).
    match state.store.set_image(post.id, &key, now_millis()).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => {
            // Deleted meanwhile (by its author, or with the account): what was just
            // stored must not outlive the post.
            state
                .blobs
                .delete_prefix(&post_prefix(&user, post.id))
                .await?;
            return Err(ApiError::NotFound(format!(
                "post {post_id} no longer exists"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    state.label_wakeup.notify_one();
    state.metrics.uploads.inc();
    tracing::info!(user = &*user_value(&user), post = %post.id, bytes = size, "picture uploaded");
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Serves a derived picture (thumbnail or display size) at a presigned URL; originals
/// are never served.
#[utoipa::path(get, path = PATH, tag = "pictures",
    params(("key" = String, Path, description = "object key"), SignedParams),
    responses(
        (status = 200, description = "the picture", content_type = "image/jpeg"),
        (status = 304, description = "not modified"),
        (status = 400, description = "malformed key (`bad_path`) or query (`bad_query`)", body = ErrorBody),
        (status = 403, description = "bad or expired signature", body = ErrorBody),
        (status = 404, description = "no such picture (originals are never served, only their derived sizes)", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn get_object(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(params): ApiQuery<SignedParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let expires = params.expires.unwrap_or(0);
    check_signature(&state, "GET", &key, "", params)?;
    // Only derived pictures (metadata-free) are served: an original, even under a URL
    // signed before it was replaced, is not.
    if derived_of(&key).is_none() {
        return Err(ApiError::NotFound("no such picture".into()));
    }
    let blob = state
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such picture".into()))?;
    let max_age = (expires - now_unix()).clamp(0, 3600);
    let mut resp = if not_modified(&headers, &blob.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, blob.content_type.clone())],
            blob.bytes,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&blob.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}
