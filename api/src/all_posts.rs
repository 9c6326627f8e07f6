//! `GET /posts` in header mode without `limit` and `cursor`: every matching post, as the
//! original course backend answered (its web app does not follow `Link`), streamed.
//!
//! The body is one JSON array written page by page: the store is asked for one page of
//! [`MAX_PAGE`] posts at a time, each page is rendered and sent, and the next page is only
//! fetched when the client has taken the previous one. So the server holds one page
//! whatever the number of posts. Such an answer is neither cached nor given an `ETag`. A
//! store error on the first page is an ordinary JSON error; one on a later page ends the
//! connection without the closing `]`, so a client never takes a cut list for a whole one.

use std::future::Future;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use postagram_core::model::Post;
use postagram_core::store::{ListQuery, Page, MAX_PAGE};

use crate::error::ApiError;
use crate::routes::posts::view;
use crate::state::AppState;

/// The posts of a listing page after page, from `first` on: the page after a cursor is
/// fetched (by `fetch`) only when the stream is polled past the previous one.
pub fn pages<F, Fut>(first: Page, fetch: F) -> impl Stream<Item = Result<Vec<Post>, ApiError>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page, ApiError>>,
{
    futures::stream::try_unfold(
        (Some(first), None::<String>, fetch),
        |(first, cursor, mut fetch)| async move {
            let page = match (first, cursor) {
                (Some(page), _) => page,
                (None, Some(cursor)) => fetch(cursor).await?,
                (None, None) => return Ok(None),
            };
            let next = page.next_cursor;
            Ok::<_, ApiError>(Some((page.posts, (None, next, fetch))))
        },
    )
}

/// Frames a stream of rendered pages as one JSON array: `[`, the elements separated by
/// commas, `]` once the pages end (and nothing more after an error).
pub fn json_array<S, T>(pages: S) -> impl Stream<Item = Result<Bytes, ApiError>>
where
    S: Stream<Item = Result<Vec<T>, ApiError>> + Send + 'static,
    T: serde::Serialize,
{
    futures::stream::unfold(
        (pages.boxed(), true, false),
        |(mut pages, mut first, done)| async move {
            if done {
                return None;
            }
            loop {
                match pages.next().await {
                    Some(Ok(items)) => {
                        if items.is_empty() {
                            continue;
                        }
                        let mut out = Vec::new();
                        for item in items {
                            out.push(if first { b'[' } else { b',' });
                            first = false;
                            if let Err(e) = serde_json::to_writer(&mut out, &item) {
                                let e = ApiError::Internal(e.to_string());
                                return Some((Err(e), (pages, first, true)));
                            }
                        }
                        return Some((Ok(Bytes::from(out)), (pages, first, false)));
                    }
                    Some(Err(e)) => return Some((Err(e), (pages, first, true))),
                    None => {
                        let end = if first { "[]" } else { "]" };
                        return Some((
                            Ok(Bytes::from_static(end.as_bytes())),
                            (pages, first, true),
                        ));
                    }
                }
            }
        },
    )
}

/// The streamed answer: every post `query` matches (its `limit` and `cursor` are
/// ignored), newest first.
pub async fn response(state: AppState, query: ListQuery) -> Result<Response, ApiError> {
    let query = ListQuery {
        limit: MAX_PAGE,
        cursor: None,
        ..query
    };
    // The first page before the status line: an error there is still a JSON error.
    let first = state.store.list_posts(&query).await?;
    let fetch_state = state.clone();
    let fetch = move |cursor: String| {
        let state = fetch_state.clone();
        let query = ListQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        async move { Ok::<Page, ApiError>(state.store.list_posts(&query).await?) }
    };
    let rendered = pages(first, fetch).and_then(move |posts| {
        let state = state.clone();
        async move {
            let mut views = Vec::with_capacity(posts.len());
            for post in &posts {
                views.push(view(&state, post).await?);
            }
            Ok::<_, ApiError>(views)
        }
    });
    let body = json_array(rendered).map_err(|e| {
        // The status line is sent: the client sees the body end without its `]`.
        tracing::warn!(error = %e, "streamed post list cut short");
        std::io::Error::other(e.to_string())
    });
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use postagram_core::wire::NewPost;
    use postagram_core::PostId;

    use super::*;

    fn fake_posts(n: usize) -> Vec<Post> {
        (0..n)
            .map(|i| {
                Post::new(
                    PostId::new(),
                    "alice".into(),
                    NewPost {
                        title: format!("t{i}"),
                        body: "b".into(),
                    },
                    chrono::Utc::now(),
                )
            })
            .collect()
    }

    /// A page of `all` from `offset`, as a store would give it.
    fn page_at(all: &[Post], offset: usize) -> Page {
        let end = (offset + MAX_PAGE).min(all.len());
        Page {
            posts: all[offset..end].to_vec(),
            next_cursor: (end < all.len()).then(|| end.to_string()),
        }
    }

    /// 250 posts come out as three pages, each fetched only when the body reaches it:
    /// one page in memory at a time, never all of them.
    #[tokio::test]
    async fn pages_are_fetched_one_at_a_time_as_the_body_is_read() {
        let all = Arc::new(fake_posts(250));
        let fetched = Arc::new(AtomicUsize::new(0));
        let (all2, fetched2) = (all.clone(), fetched.clone());
        let fetch = move |cursor: String| {
            let all = all2.clone();
            fetched2.fetch_add(1, Ordering::SeqCst);
            async move { Ok(page_at(&all, cursor.parse().expect("cursor"))) }
        };
        let titles = pages(page_at(&all, 0), fetch).map_ok(|posts| {
            assert!(posts.len() <= MAX_PAGE);
            posts
                .iter()
                .map(|p| serde_json::json!(p.title))
                .collect::<Vec<_>>()
        });
        let mut body = Box::pin(json_array(titles));
        let mut text = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = body.next().await {
            text.extend_from_slice(&chunk.expect("chunk"));
            chunks += 1;
            // After k chunks at most k - 1 pages were fetched beyond the first.
            assert!(fetched.load(Ordering::SeqCst) < chunks, "fetched ahead");
        }
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
        let got: Vec<String> = serde_json::from_slice(&text).expect("one JSON array");
        let want: Vec<String> = all.iter().map(|p| p.title.clone()).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn an_empty_listing_is_an_empty_array_and_an_error_ends_without_bracket() {
        let empty = pages(page_at(&[], 0), |_c: String| async {
            Ok::<Page, ApiError>(page_at(&[], 0))
        })
        .map_ok(|_| Vec::<serde_json::Value>::new());
        let chunks: Vec<_> = json_array(empty).collect().await;
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].as_ref().expect("ok").as_ref(), b"[]");

        let all = fake_posts(150);
        let failing = pages(page_at(&all, 0), |_c: String| async {
            Err::<Page, ApiError>(ApiError::Internal("store gone".into()))
        })
        .map_ok(|posts| {
            posts
                .iter()
                .map(|p| serde_json::json!(p.title))
                .collect::<Vec<_>>()
        });
        let chunks: Vec<_> = json_array(failing).collect().await;
        assert_eq!(chunks.len(), 2, "one page, then the error, then nothing");
        assert!(chunks[0].as_ref().expect("first page").starts_with(b"["));
        assert!(chunks[1].is_err());
    }
}
