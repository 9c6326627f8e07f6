//! `/posts`: create, list (filters, cursor pages, ETag), get, delete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use postagram_core::keys::post_prefix;
use postagram_core::model::Post;
use postagram_core::store::{ListQuery, DEFAULT_PAGE, MAX_PAGE};
use postagram_core::validate;
use postagram_core::wire::{ErrorBody, NewPost, PostView};
use postagram_core::{parse_post_id, PostId};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

/// How long a cached list answer may be served (it also bounds picture URL staleness).
const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX_ENTRIES: usize = 2048;

/// A rendered `GET /posts` answer, headers included, shared by every hit.
struct CachedList {
    generation: u64,
    at: Instant,
    body: Bytes,
    etag: HeaderValue,
    link: Option<HeaderValue>,
}

/// Rendered list answers keyed by the raw query string, valid while the store's
/// generation is unchanged (embedded store only: every writer is in this process). Only
/// answers to valid queries are stored, so a hit skips parsing the query too.
///
/// After a write invalidates the answers, the readers of one query wait for a single
/// one of them to run it (`gate`) instead of all running it at once.
#[derive(Default)]
pub struct ListCache {
    entries: RwLock<HashMap<String, Arc<CachedList>>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ListCache {
    /// The lock that lets one request at a time compute the answer for `key`.
    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = gates.get(key) {
            return g.clone();
        }
        if gates.len() >= CACHE_MAX_ENTRIES {
            // Only gates someone is holding or waiting for are worth keeping.
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        let g = Arc::new(tokio::sync::Mutex::new(()));
        gates.insert(key.to_string(), g.clone());
        g
    }

    /// The answer for `key` at the store's current `generation`: cached, or made by
    /// `compute` and cached. Concurrent callers for one key wait for a single `compute`.
    async fn get_or_compute<G, F, Fut>(
        &self,
        key: &str,
        generation: G,
        compute: F,
    ) -> ApiResult<Arc<CachedList>>
    where
        G: Fn() -> u64,
        F: FnOnce(u64) -> Fut,
        Fut: std::future::Future<Output = ApiResult<Arc<CachedList>>>,
    {
        let gate = self.gate(key);
        let _computing = gate.lock().await;
        // Read after waiting: whoever held the gate may have just cached the answer.
        let g = generation();
        if let Some(hit) = self.get(key, g) {
            return Ok(hit);
        }
        let answer = compute(g).await?;
        self.put(key, answer.clone());
        Ok(answer)
    }

    fn get(&self, key: &str, generation: u64) -> Option<Arc<CachedList>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|c| c.generation == generation && c.at.elapsed() < CACHE_TTL)
            .cloned()
    }

    fn put(&self, key: &str, value: Arc<CachedList>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.retain(|_, c| c.generation == value.generation && c.at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), value);
    }
}

/// Query parameters of `GET /posts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this author's posts.
    pub user: Option<String>,
    /// Only posts whose picture has this label (e.g. `dog`).
    pub label: Option<String>,
    /// Full-text search in title, body and labels (embedded store).
    pub q: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<String>,
    /// Cursor from the previous page's `Link` header.
    pub cursor: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The wire form of a post, with a fresh picture URL.
pub async fn view(state: &AppState, post: &Post) -> ApiResult<PostView> {
    let image = match &post.image_key {
        Some(key) => Some(state.blobs.presign_get(key, state.url_expiry).await?),
        None => None,
    };
    Ok(post.to_view(image))
}

/// A strong validator of a body: the quoted hex of its SHA-256, first 16 bytes.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// True when `If-None-Match` names `etag` (or `*`).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
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

/// Lists posts, newest first; the next page is in `Link: <…>; rel="next"`.
#[utoipa::path(get, path = "/posts", tag = "posts", params(ListParams),
    responses(
        (status = 200, description = "a page of posts, newest first; `Link` has the next page", body = Vec<PostView>),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 400, description = "bad cursor or query", body = ErrorBody),
        (status = 422, description = "invalid limit", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn list(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let (headers, uri) = (req.headers(), req.uri());
    let cache_key = uri.query().unwrap_or_default();
    if let Some(g) = state.store.generation() {
        if let Some(hit) = state.list_cache.get(cache_key, g) {
            return Ok(list_response(headers, &hit));
        }
    }
    let Query(params) = Query::<ListParams>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
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
    let query = ListQuery {
        user: non_empty(params.user),
        label: non_empty(params.label),
        text: non_empty(params.q),
        limit,
        cursor: non_empty(params.cursor),
    };
    let answer = if state.store.generation().is_some() {
        let generation = || state.store.generation().unwrap_or(0);
        state
            .list_cache
            .get_or_compute(cache_key, generation, |g| render(&state, &query, g))
            .await?
    } else {
        render(&state, &query, 0).await?
    };
    Ok(list_response(headers, &answer))
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
        at: Instant::now(),
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
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(new): ApiJson<NewPost>,
) -> ApiResult<Response> {
    validate::title(&new.title)?;
    validate::body(&new.body)?;
    let post = state.store.create_post(&user, new).await?;
    state.metrics.posts_created.inc();
    tracing::info!(user = %user, post = %post.id, "post created");
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

/// One post.
#[utoipa::path(get, path = "/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "`<uuid>` or `POST#<uuid>` (URL-encoded)")),
    responses(
        (status = 200, description = "the post", body = PostView),
        (status = 400, description = "malformed id", body = ErrorBody),
        (status = 404, description = "no such post", body = ErrorBody),
        (status = 503, description = "store unavailable", body = ErrorBody),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<PostView>> {
    let id = path_id(&id)?;
    let post = existing_post(&state, id).await?;
    Ok(Json(view(&state, &post).await?))
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
    Path(id): Path<String>,
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
    tracing::info!(user = %user, post = %id, pictures = removed, "post deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn answer(generation: u64, body: &'static str) -> Arc<CachedList> {
        Arc::new(CachedList {
            generation,
            at: Instant::now(),
            body: Bytes::from_static(body.as_bytes()),
            etag: HeaderValue::from_static("\"e\""),
            link: None,
        })
    }

    /// Sixteen readers miss the cache at once: one runs the query, the others get its
    /// answer; a new generation runs it again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_run_the_query_once() {
        let cache = Arc::new(ListCache::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let generation = Arc::new(AtomicUsize::new(1));
        let ask = |cache: Arc<ListCache>, runs: Arc<AtomicUsize>, generation: Arc<AtomicUsize>| async move {
            cache
                .get_or_compute(
                    "limit=20",
                    || generation.load(Ordering::SeqCst) as u64,
                    |g| async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(answer(g, "[]"))
                    },
                )
                .await
                .expect("answer")
        };
        let tasks: Vec<_> = (0..16)
            .map(|_| tokio::spawn(ask(cache.clone(), runs.clone(), generation.clone())))
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("join").body, Bytes::from_static(b"[]"));
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "one query for sixteen readers"
        );
        generation.store(2, Ordering::SeqCst);
        let again = ask(cache.clone(), runs.clone(), generation.clone()).await;
        assert_eq!(again.generation, 2);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "a write means one new query"
        );
    }

    /// A failed query is not cached, and the next reader tries again.
    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = ListCache::default();
        let failed = cache
            .get_or_compute(
                "q=x",
                || 1,
                |_| async { Err(ApiError::Internal("store down".into())) },
            )
            .await;
        assert!(failed.is_err());
        let ok = cache
            .get_or_compute("q=x", || 1, |g| async move { Ok(answer(g, "[1]")) })
            .await
            .expect("answer");
        assert_eq!(ok.body, Bytes::from_static(b"[1]"));
    }
}
