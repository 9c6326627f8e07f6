//! `GET /signedUrlPut` (alias `/getSignedUrlPut`): where to upload a post's picture.

use axum::extract::State;
use axum::Json;
use postagram_core::keys::object_key;
use postagram_core::media::{ImageType, ACCEPTED};
use postagram_core::wire::{ErrorBody, SignedUrlView};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::posts::{existing_post, path_id};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Query of `GET /signedUrlPut`.
/// All three are required; their schemas (non-blank name, type enum, id pattern) are set
/// by `crate::openapi::ParamSchemas`. `Option` so that a missing one is the handler's 400.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedUrlParams {
    /// The picture's file name (sanitized into the object key).
    #[param(required = true)]
    pub filename: Option<String>,
    /// Its MIME type: image/jpeg, image/png, image/webp or image/gif. Upload with the
    /// same `Content-Type`.
    #[param(required = true)]
    pub filetype: Option<String>,
    /// The post (`POST#<uuid>` or `<uuid>`), which must be yours.
    #[serde(rename = "postId")]
    #[param(rename = "postId", required = true)]
    pub post_id: Option<String>,
}

/// The routes of this file: each is declared once, by its handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(signed_url_put))
        .routes(routes!(get_signed_url_put))
}

fn required(v: Option<String>, name: &str) -> ApiResult<String> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("query parameter `{name}` is required"),
            )
        })
}

/// A presigned URL to `PUT` a picture of one of your posts to.
#[utoipa::path(get, path = "/signedUrlPut", tag = "pictures", params(SignedUrlParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "upload URL and object key", body = SignedUrlView),
        (status = 400, description = "missing or malformed parameter", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "someone else's post", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 415, description = "not an accepted picture type", body = ErrorBody),
        (status = 429, description = "too many upload URLs for this user; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn signed_url_put(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(params): ApiQuery<SignedUrlParams>,
) -> ApiResult<Json<SignedUrlView>> {
    state
        .limits
        .upload_urls
        .check(&user)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let filename = required(params.filename, "filename")?;
    let filetype = required(params.filetype, "filetype")?;
    let post_id = path_id(&required(params.post_id, "postId")?)?;
    if ImageType::from_content_type(&filetype).is_none() {
        return Err(ApiError::UnsupportedMediaType {
            code: "unsupported_media_type",
            message: format!("`{filetype}` is not accepted; use one of {ACCEPTED}"),
        });
    }
    let post = existing_post(&state, post_id).await?;
    if post.user != user {
        return Err(ApiError::Forbidden(
            "only the author can add a picture to a post".into(),
        ));
    }
    let key = object_key(&user, post_id, &filename);
    let upload_url = state
        .blobs
        .presign_put(&key, &filetype, state.url_expiry)
        .await?;
    Ok(Json(SignedUrlView {
        upload_url,
        object_name: key,
    }))
}

/// The same as `/signedUrlPut` (the name the original web app's later versions use).
#[utoipa::path(get, path = "/getSignedUrlPut", tag = "pictures", params(SignedUrlParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "upload URL and object key", body = SignedUrlView),
        (status = 400, description = "missing or malformed parameter", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "someone else's post", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 415, description = "not an accepted picture type", body = ErrorBody),
        (status = 429, description = "too many upload URLs for this user; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn get_signed_url_put(
    state: State<AppState>,
    user: AuthUser,
    params: ApiQuery<SignedUrlParams>,
) -> ApiResult<Json<SignedUrlView>> {
    signed_url_put(state, user, params).await
}
