//! The post store: one trait, one embedded (SQLite) and one cloud (DynamoDB) backend.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::label::Label;
use crate::model::{Post, User};
use crate::wire::{NewPost, PostEdit};

/// Largest page a list call returns.
pub const MAX_PAGE: usize = 100;
/// Page size when the client does not ask for one.
pub const DEFAULT_PAGE: usize = 20;

/// What can go wrong in a store, independent of the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The username is taken.
    #[error("username `{0}` is already taken")]
    UserExists(String),
    /// The post, or its author, does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A cursor that this store did not issue.
    #[error("invalid cursor")]
    BadCursor,
    /// A query this backend cannot answer (e.g. text search on DynamoDB).
    #[error("{0}")]
    Unsupported(String),
    /// The backend cannot be reached or failed; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Data in the store is not what the code expects.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Filters and pagination of `GET /posts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ListQuery {
    /// Only this author's posts.
    pub user: Option<String>,
    /// Only posts whose picture has this label (exact, case-insensitive).
    pub label: Option<String>,
    /// Full-text query over title, body and labels.
    pub text: Option<String>,
    /// Page size, 1..=MAX_PAGE.
    pub limit: usize,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
}

/// One page of posts, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The posts.
    pub posts: Vec<Post>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// The result a labeler reached for a picture.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelOutcome {
    /// Labels, best first.
    Labelled(Vec<Label>),
    /// The picture cannot be labelled, and why.
    Failed(String),
}

/// New account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Validated username.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// How every store writes times: RFC 3339, UTC, milliseconds.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a time written by [`fmt_time`].
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("bad timestamp `{s}`")))
}

/// Now, at the precision stores keep, so a record returned by a create equals the one
/// read back later.
pub fn stored_now() -> Result<DateTime<Utc>, StoreError> {
    parse_time(&fmt_time(Utc::now()))
}

/// Now, in Unix milliseconds: the clock upload times and job times are recorded with.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The rule every backend applies in `set_image`: a picture is late when the post's
/// current picture is a different one uploaded after it. Equal times are not late (the
/// event processed last wins, as before upload times were recorded).
pub fn is_late(
    current_key: Option<&str>,
    current_at_ms: Option<i64>,
    key: &str,
    uploaded_at_ms: i64,
) -> bool {
    match (current_key, current_at_ms) {
        (Some(current), Some(at)) => current != key && at > uploaded_at_ms,
        _ => false,
    }
}

/// Posts and users, whatever the backend.
#[async_trait]
pub trait PostStore: Send + Sync + 'static {
    /// Creates an account; `UserExists` when the name is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Looks an account up.
    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Creates a post for an existing user.
    async fn create_post(&self, user: &str, post: NewPost) -> Result<Post, StoreError>;
    /// Looks a post up.
    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError>;
    /// Lists posts newest first with filters and cursor pagination.
    async fn list_posts(&self, query: &ListQuery) -> Result<Page, StoreError>;
    /// Changes the title and/or body of a post (a validated, non-empty edit) and sets its
    /// `updated_at`; the search index follows, labels and the label index stay as they
    /// are. Returns the edited post; `NotFound` when there is no such post (also when it
    /// is deleted meanwhile: an edit never brings a post back).
    async fn update_post(&self, id: PostId, edit: PostEdit) -> Result<Post, StoreError>;
    /// Deletes a post with its labels and label jobs; returns it, or `None` if unknown.
    async fn delete_post(&self, id: PostId) -> Result<Option<Post>, StoreError>;
    /// Records that `object_key`, uploaded at `uploaded_at_ms` (Unix milliseconds), is now
    /// the post's picture; its status becomes `pending`. The embedded store enqueues the
    /// label job in the same transaction. Upload events can arrive out of order: when the
    /// post's current picture is another one uploaded later, nothing changes and
    /// `Ok(false)` is returned.
    async fn set_image(
        &self,
        id: PostId,
        object_key: &str,
        uploaded_at_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Writes the labelling result of `object_key`. Idempotent: writing the same outcome
    /// twice leaves one copy; a result for a picture that is no longer the post's
    /// current one (or for a deleted post) is ignored and `Ok(false)` returned.
    async fn set_labels(
        &self,
        id: PostId,
        object_key: &str,
        outcome: LabelOutcome,
    ) -> Result<bool, StoreError>;
    /// Records which derived pictures of `object_key` are stored (replacing what was
    /// recorded). Like [`PostStore::set_labels`], ignored with `Ok(false)` when
    /// `object_key` is no longer the post's picture or the post is gone;
    /// [`PostStore::set_image`] clears the record.
    async fn set_derived(
        &self,
        id: PostId,
        object_key: &str,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError>;
    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// A counter that changes after every write, when every writer shares this process
    /// (the embedded store); `None` when others write too, so reads must not be cached.
    fn generation(&self) -> Option<u64> {
        None
    }
    /// Replaces the password hash of an active account and bumps its token version, so
    /// every token issued before stops working; `NotFound` when there is no such active
    /// account.
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Marks an account as being deleted and bumps its token version: from then on it
    /// cannot log in, its tokens are refused and no post can be created for it; its name
    /// stays taken. Idempotent for an account already being deleted; `NotFound` when there
    /// is no such account.
    async fn mark_account_deleting(&self, username: &str) -> Result<(), StoreError>;
    /// Removes the record of an account being deleted once none of its posts is left,
    /// which frees the name. `Ok(true)` when it is gone (now or before), `Ok(false)` when
    /// it is not being deleted or still has posts.
    async fn delete_user(&self, username: &str) -> Result<bool, StoreError>;
    /// The accounts whose deletion started and has not finished, so a sweep can finish
    /// them (never a scan: both stores keep them findable).
    async fn accounts_being_deleted(&self) -> Result<Vec<String>, StoreError>;
}
