//! `/posts`: create, list (filters, cursor pages, ETag), get (ETag), edit, delete.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use postagram_core::keys::{derived_key, post_prefix, DerivedSize};
use postagram_core::model::Post;
use postagram_core::settings::log::user_value;
use postagram_core::store::{ListQuery, DEFAULT_PAGE, MAX_PAGE};
use postagram_core::validate;
use postagram_core::wire::{ErrorBody, NewPost, PostEdit, PostView};
use postagram_core::{parse_post_id, PostId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::config::AuthMode;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::http_cache::{etag_of, not_modified};
use crate::json::ApiJson;
use crate::list_cache::CachedList;
use crate::state::AppState;

/// Query parameters of `GET /posts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this author's posts (the name in any case).
    pub user: Option<String>,
    /// Only posts whose picture has this label (e.g. `dog`).
    pub label: Option<String>,
    /// Full-text search in title, body and labels: every word must match, each as a
    /// prefix of a word, case and diacritics folded (both storage modes).
    pub q: Option<String>,
    /// Page size, 1–100 (default 20). In header auth mode, without `limit` and `cursor`
    /// the answer is every matching post.
    // Documented as an integer with its bounds (`crate::openapi::ParamSchemas`), parsed
    // by the handler for its own error.
    pub limit: Option<String>,
    /// Cursor from the previous page's `Link` header.
    // Its syntax: `crate::openapi::ParamSchemas`.
    pub cursor: Option<String>,
}

/// The routes of this file: each is declared once, by its handler's `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(get_one, edit, delete))
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The wire form of a post, with fresh URLs of its derived pictures: `image` the display
/// size, `thumbnail` the thumbnail, each only once the labeler stored it. The original
/// (with whatever metadata it carries) is never handed out.
pub async fn view(state: &AppState, post: &Post) -> ApiResult<PostView> {
    let url = |size: DerivedSize| async move {
        match &post.image_key {
            Some(key) if post.has_derived(size) => state
                .blobs
                .presign_get(&derived_key(key, size), state.url_expiry)
                .await
                .map(Some),
            _ => Ok(None),
        }
    };
    let image = url(DerivedSize::Display).await?;
    let thumbnail = url(DerivedSize::Thumbnail).await?;
    Ok(post.to_view(image, thumbnail))
}

fn list_response(headers: &HeaderMap, cached: &CachedList) -> Response {
    let etag = cached.etag.to_str().unwrap_or_default();
    let mut resp = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            cached.body.clone(),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, cached.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(link) = &cached.link {
        h.insert(header::LINK, link.clone());
    }
    resp
}

/// Lists posts, newest first; the next page is in `Link: <…>; rel="next"`. In `header`
/// auth mode (the course web app) a request without `limit` and `cursor` gets every
/// matching post instead, in one streamed array without `Link` or `ETag`.
#[utoipa::path(get, path = "/posts", tag = "posts", params(ListParams),
    responses(
        (status = 200, description = "a page of posts, newest first; `Link` has the next page (header auth mode without `limit` and `cursor`: every matching post, streamed, no `Link`)", body = Vec<PostView>),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 400, description = "bad cursor or query", body = ErrorBody),
        (status = 422, description = "invalid limit", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let limit = match non_empty(params.limit.clone()) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::InvalidField(format!(
                    "limit: must be a whole number from 1 to {MAX_PAGE}"
                )))
            }
        },
    };
    // The normalised query is the cache key: unknown parameters are ignored, so they
    // cannot make new entries.
    let query = ListQuery {
        user: non_empty(params.user),
        label: non_empty(params.label),
        text: non_empty(params.q),
        limit,
        cursor: non_empty(params.cursor),
    };
    // The course web app (header mode) asks without `limit` and `cursor` and expects
    // every post, as its original backend answered: streamed, page by page.
    if state.auth_mode == AuthMode::Header
        && non_empty(params.limit).is_none()
        && query.cursor.is_none()
    {
        return crate::all_posts::response(state, query).await;
    }
    let answer = if state.store.generation().is_some() {
        let generation = || state.store.generation().unwrap_or(0);
        state
            .list_cache
            .get_or_compute(&query, generation, |g| render(&state, &query, g))
            .await?
    } else {
        render(&state, &query, 0).await?
    };
    Ok(list_response(&headers, &answer))
}

/// Runs a list query and renders its answer: body, `ETag` and `Link`.
async fn render(
    state: &AppState,
    query: &ListQuery,
    generation: u64,
) -> ApiResult<Arc<CachedList>> {
    let page = state.store.list_posts(query).await?;
    let mut views = Vec::with_capacity(page.posts.len());
    for post in &page.posts {
        views.push(view(state, post).await?);
    }
    let body =
        Bytes::from(serde_json::to_vec(&views).map_err(|e| ApiError::Internal(e.to_string()))?);
    let link = page.next_cursor.map(|cursor| {
        let mut q = vec![format!("limit={}", query.limit)];
        for (k, v) in [
            ("user", &query.user),
            ("label", &query.label),
            ("q", &query.text),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", urlencoding::encode(v)));
            }
        }
        q.push(format!("cursor={}", urlencoding::encode(&cursor)));
        format!("<{}/posts?{}>; rel=\"next\"", state.public_url, q.join("&"))
    });
    Ok(Arc::new(CachedList {
        generation,
        etag: HeaderValue::from_str(&etag_of(&body))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        link: link.and_then(|l| HeaderValue::from_str(&l).ok()),
        body,
    }))
}

/// Creates a post for the signed-in user.
#[utoipa::path(post, path = "/posts", tag = "posts", request_body = NewPost, security(("bearer" = [])),
    responses(
        (status = 201, description = "created", body = PostView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "invalid title or body", body = ErrorBody),
        (status = 429, description = "too many posts from this user; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(new): ApiJson<NewPost>,
) -> ApiResult<Response> {
    state
        .limits
        .posts
        .check(&user)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    validate::title(&new.title)?;
    validate::body(&new.body)?;
    let post = state.store.create_post(&user, new).await?;
    state.metrics.posts_created.inc();
    tracing::info!(user = &*user_value(&user), post = %post.id, "post created");
    let location = format!("/posts/{}", urlencoding::encode(&post.id.wire()));
    let mut resp = (StatusCode::CREATED, Json(view(&state, &post).await?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Parses a path id (`<uuid>` or `POST#<uuid>`), 400 otherwise.
pub fn path_id(raw: &str) -> ApiResult<PostId> {
    parse_post_id(raw).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
}

/// Loads a post, 404 when there is no such post.
pub async fn existing_post(state: &AppState, id: PostId) -> ApiResult<Post> {
    state
        .store
        .get_post(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("post {id} not found")))
}

/// One post as JSON with its `ETag` (the body's, like the list's: an edit, new labels or
/// a new picture URL change it), or 304 when `headers` has an `If-None-Match` naming it.
async fn post_response(state: &AppState, headers: &HeaderMap, post: &Post) -> ApiResult<Response> {
    let body = Bytes::from(
        serde_json::to_vec(&view(state, post).await?)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    let etag =
        HeaderValue::from_str(&etag_of(&body)).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = if not_modified(headers, etag.to_str().unwrap_or_default()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// One post.
#[utoipa::path(get, path = "/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "`<uuid>` or `POST#<uuid>` (URL-encoded)")),
    responses(
        (status = 200, description = "the post; `ETag` changes when it does", body = PostView,
            headers(("ETag" = String, description = "validator of this answer, for `If-None-Match`"))),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 400, description = "malformed id", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let id = path_id(&id)?;
    let post = existing_post(&state, id).await?;
    post_response(&state, &headers, &post).await
}

/// Edits one of your posts: its title, its body or both (checked like a new post's).
/// Sets `updated_at`; search, lists and the post's `ETag` follow at once; labels and the
/// picture stay. Counts against the same per-user budget as creating posts.
#[utoipa::path(patch, path = "/posts/{id}", tag = "posts", request_body = PostEdit, security(("bearer" = [])),
    params(("id" = String, Path, description = "`<uuid>` or `POST#<uuid>` (URL-encoded)")),
    responses(
        (status = 200, description = "the edited post, with its new `ETag`", body = PostView,
            headers(("ETag" = String, description = "validator of the post as edited"))),
        (status = 400, description = "malformed id or JSON", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "someone else's post", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "no field, an unknown field, or an invalid title or body", body = ErrorBody),
        (status = 429, description = "too many posts and edits from this user; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn edit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<PostEdit>,
) -> ApiResult<Response> {
    let id = path_id(&id)?;
    let post = existing_post(&state, id).await?;
    if post.user != user {
        return Err(ApiError::Forbidden(
            "only the author can edit a post".into(),
        ));
    }
    validate::post_edit(&edit)?;
    state
        .limits
        .posts
        .check(&user)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let post = state.store.update_post(id, edit).await?;
    tracing::info!(user = &*user_value(&user), post = %id, "post edited");
    // Not conditional: the answer is always the post as edited.
    post_response(&state, &HeaderMap::new(), &post).await
}

/// Deletes one of your posts, its pictures and its labels.
#[utoipa::path(delete, path = "/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = String, Path, description = "`<uuid>` or `POST#<uuid>` (URL-encoded)")),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, description = "malformed id", body = ErrorBody),
        (status = 401, description = "not signed in", body = ErrorBody),
        (status = 403, description = "someone else's post", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id)?;
    let post = existing_post(&state, id).await?;
    if post.user != user {
        return Err(ApiError::Forbidden(
            "only the author can delete a post".into(),
        ));
    }
    // Pictures first: if that fails the post stays and a retry finishes the job.
    let removed = state
        .blobs
        .delete_prefix(&post_prefix(&post.user, id))
        .await?;
    state.store.delete_post(id).await?;
    tracing::info!(user = &*user_value(&user), post = %id, pictures = removed, "post deleted");
    Ok(StatusCode::NO_CONTENT)
}
