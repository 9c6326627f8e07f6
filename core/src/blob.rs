//! The picture store: one trait, a folder (embedded) and an S3 (cloud) backend.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// What can go wrong in a blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A key that could escape its folder or is not a picture key.
    #[error("invalid object key")]
    BadKey,
    /// The backend cannot be reached or failed.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

/// A stored picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The bytes.
    pub bytes: Bytes,
    /// Its MIME type.
    pub content_type: String,
    /// A strong validator for HTTP caching (quoted).
    pub etag: String,
}

/// One stored object, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key.
    pub key: String,
    /// When it was last written, in Unix milliseconds (the store's clock).
    pub modified_ms: i64,
}

/// Where pictures live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A URL the client can `PUT` the picture to, with exactly this `Content-Type`,
    /// until `expires_in` has passed.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, BlobError>;
    /// A URL anyone holding it can `GET` the picture from, for about `expires_in`.
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError>;
    /// Stores a picture (replacing any object with the same key).
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError>;
    /// Reads a picture; `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    /// Deletes every object whose key starts with `prefix` (a post's folder); returns
    /// how many were deleted.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError>;
    /// Deletes every object under a user's folder (`<user>/`, from
    /// [`crate::keys::user_prefix`]: all posts, all sizes); returns how many were deleted.
    /// `BadKey` for anything that is not one non-empty top-level folder.
    async fn delete_user_objects(&self, user_prefix: &str) -> Result<u64, BlobError>;
    /// The objects directly in a post's folder (`prefix` ends with `/`), any order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError>;
    /// Deletes one object; deleting a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// The one-segment folder of a user prefix (`alice/` → `alice`); `BadKey` for anything
/// else (empty, no trailing `/`, more than one segment, `.` or `..`).
pub fn user_folder(user_prefix: &str) -> Result<&str, BlobError> {
    let folder = user_prefix.strip_suffix('/').ok_or(BlobError::BadKey)?;
    if folder.is_empty()
        || folder.contains('/')
        || folder.contains('\\')
        || folder.contains('\0')
        || folder == "."
        || folder == ".."
    {
        return Err(BlobError::BadKey);
    }
    Ok(folder)
}
