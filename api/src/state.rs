//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use postagram_core::blob::BlobStore;
use postagram_core::jobs::LabelJobQueue;
use postagram_core::signing::UrlSigner;
use postagram_core::store::PostStore;

use crate::auth::jwt::JwtKeys;
use crate::config::AuthMode;
use crate::limits::Limits;
use crate::list_cache::ListCache;
use crate::metrics::Metrics;

/// Shared application state: one `Arc`, so the per-request clones axum makes of it
/// (every `State` extractor and middleware) cost one atomic increment.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: AppStateInner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppStateInner {
    /// Posts and users.
    pub store: Arc<dyn PostStore>,
    /// Pictures.
    pub blobs: Arc<dyn BlobStore>,
    /// Label jobs (embedded store), for metrics.
    pub jobs: Option<Arc<dyn LabelJobQueue>>,
    /// Checks `/objects` URLs (embedded store only).
    pub object_signer: Option<UrlSigner>,
    /// Login tokens.
    pub jwt: JwtKeys,
    /// Auth mode.
    pub auth_mode: AuthMode,
    /// Rate limits, hashing slots and trusted proxies.
    pub limits: Arc<Limits>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Base URL clients reach this server at.
    pub public_url: Arc<str>,
    /// Largest accepted picture.
    pub max_upload_bytes: usize,
    /// Lifetime of presigned URLs.
    pub url_expiry: Duration,
    /// Cache of `GET /posts` answers (embedded store).
    pub list_cache: Arc<ListCache>,
    /// Wakes idle labeler workers when a picture arrives.
    pub label_wakeup: Arc<tokio::sync::Notify>,
    /// The OpenAPI document served at `/openapi.json`, serialised once from the routes
    /// the router serves (`crate::startup`).
    pub openapi: Bytes,
}
