//! The `GET /posts` answer cache: rendered pages keyed by the *normalised* query, bounded
//! in bytes, expired on time, one computation per key at a time (moka).
//!
//! Why a library: the earlier hand-written cache was keyed by the raw query string, so
//! junk parameters made new entries, and it was bounded only in entries (2048 × a 100-post
//! page of 40 KB posts ≈ 8 GB). Here the key is the parsed [`ListQuery`] plus the store's
//! write generation, the weigher counts every entry's bytes against
//! `POSTAGRAM_LIST_CACHE_BYTES`, and entries expire after a fixed time even when nobody
//! asks again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use postagram_core::store::ListQuery;

use crate::error::{ApiError, ApiResult};

/// How long a cached list answer may be served (it also bounds picture URL staleness).
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Bytes counted for an entry besides its body, `Link` and key strings (the `Arc`, the
/// map slot, the header values' own structs): a flood of empty answers is bounded too.
const ENTRY_OVERHEAD: usize = 256;

/// A rendered `GET /posts` answer, headers included, shared by every hit.
#[derive(Debug)]
pub struct CachedList {
    /// The store's write generation the answer was computed at.
    pub generation: u64,
    /// The JSON array of posts.
    pub body: Bytes,
    /// Strong validator of `body`.
    pub etag: HeaderValue,
    /// `Link: <…>; rel="next"`, when there is a next page.
    pub link: Option<HeaderValue>,
}

/// What an answer is cached under: the store generation and the parsed, normalised
/// query. Parameters the list does not know are not part of it (they are ignored, as
/// they always were), so `?limit=20&x=1` and `?limit=20&x=2` share one entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    /// Store write generation.
    pub generation: u64,
    /// The normalised query.
    pub query: ListQuery,
}

fn key_bytes(k: &ListKey) -> usize {
    let q = &k.query;
    [&q.user, &q.label, &q.text, &q.cursor]
        .iter()
        .map(|s| s.as_ref().map_or(0, String::len))
        .sum()
}

fn weigh(k: &ListKey, v: &Arc<CachedList>) -> u32 {
    let bytes = ENTRY_OVERHEAD
        + key_bytes(k)
        + v.body.len()
        + v.etag.len()
        + v.link.as_ref().map_or(0, HeaderValue::len);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Rendered list answers (embedded store only: every writer is in this process, so the
/// store's generation says when answers are stale).
///
/// After a write the readers of one query wait for a single one of them to run it
/// (moka's `try_get_with`) instead of all running it at once.
pub struct ListCache {
    entries: Cache<ListKey, Arc<CachedList>>,
    /// The newest generation seen: when it moves, older entries are dropped at once
    /// instead of waiting for eviction.
    newest: AtomicU64,
}

impl Default for ListCache {
    fn default() -> Self {
        ListCache::new(crate::limits::DEFAULT_LIST_CACHE_BYTES, CACHE_TTL)
    }
}

impl ListCache {
    /// A cache holding at most `max_bytes` of answers (as weighed), each for `ttl`.
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        ListCache {
            entries: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(weigh)
                .time_to_live(ttl)
                // LRU, not TinyLFU: after a write, the new generation's keys must get in
                // even though the old generation's keys were asked for more often.
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            newest: AtomicU64::new(0),
        }
    }

    /// The answer for `query` at the store's current `generation`: cached, or made by
    /// `compute` and cached. Concurrent callers for one key wait for a single `compute`;
    /// a failed `compute` is not cached.
    pub async fn get_or_compute<G, F, Fut>(
        &self,
        query: &ListQuery,
        generation: G,
        compute: F,
    ) -> ApiResult<Arc<CachedList>>
    where
        G: Fn() -> u64,
        F: FnOnce(u64) -> Fut,
        Fut: std::future::Future<Output = ApiResult<Arc<CachedList>>> + Send,
    {
        let g = generation();
        if self.newest.fetch_max(g, Ordering::AcqRel) < g {
            // A write happened: every entry is stale.
            self.entries.invalidate_all();
        }
        let key = ListKey {
            generation: g,
            query: query.clone(),
        };
        self.entries
            .try_get_with(key, compute(g))
            .await
            .map_err(shared_error)
    }

    /// Bytes held, as weighed (after applying pending evictions), for tests and metrics.
    pub async fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    /// Entries held (after applying pending evictions).
    pub async fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }

    /// The configured bound, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.entries.policy().max_capacity().unwrap_or(0)
    }
}

/// The error of a computation shared by several waiting readers: the first gets the
/// error itself, the others a copy with the same status and message.
fn shared_error(e: Arc<ApiError>) -> ApiError {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => match &*shared {
            ApiError::BadRequest { code, message } => ApiError::bad_request(code, message),
            unavailable @ ApiError::Unavailable { .. } => unavailable.clone(),
            ApiError::NotFound(m) => ApiError::NotFound(m.clone()),
            ApiError::InvalidField(m) => ApiError::InvalidField(m.clone()),
            other => ApiError::Internal(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn answer(generation: u64, body: &'static str) -> Arc<CachedList> {
        Arc::new(CachedList {
            generation,
            body: Bytes::from_static(body.as_bytes()),
            etag: HeaderValue::from_static("\"e\""),
            link: None,
        })
    }

    fn query(text: &str) -> ListQuery {
        ListQuery {
            limit: 20,
            text: Some(text.to_string()),
            ..ListQuery::default()
        }
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
                    &ListQuery {
                        limit: 20,
                        ..ListQuery::default()
                    },
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
                &query("x"),
                || 1,
                |_| async { Err(ApiError::Internal("store down".into())) },
            )
            .await;
        assert!(failed.is_err());
        let ok = cache
            .get_or_compute(&query("x"), || 1, |g| async move { Ok(answer(g, "[1]")) })
            .await
            .expect("answer");
        assert_eq!(ok.body, Bytes::from_static(b"[1]"));
    }

    /// A thousand distinct queries of 4 KB answers stay within a 64 KiB bound.
    #[tokio::test]
    async fn bounded_in_bytes() {
        static BIG: [u8; 4096] = [b'x'; 4096];
        let cache = ListCache::new(64 * 1024, CACHE_TTL);
        for i in 0..1000 {
            cache
                .get_or_compute(
                    &query(&format!("q{i}")),
                    || 1,
                    |g| async move {
                        Ok(Arc::new(CachedList {
                            generation: g,
                            body: Bytes::from_static(&BIG),
                            etag: HeaderValue::from_static("\"e\""),
                            link: None,
                        }))
                    },
                )
                .await
                .expect("answer");
        }
        let held = cache.weighted_size().await;
        assert!(held <= 64 * 1024, "{held} bytes held");
        assert!(held > 0, "something is cached");
    }

    /// Entries expire on time even when nobody asks for them again.
    #[tokio::test]
    async fn entries_expire() {
        let cache = ListCache::new(1 << 20, Duration::from_millis(200));
        cache
            .get_or_compute(&query("x"), || 1, |g| async move { Ok(answer(g, "[]")) })
            .await
            .expect("answer");
        assert_eq!(cache.entry_count().await, 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(cache.entry_count().await, 0, "expired entry dropped");
    }
}
