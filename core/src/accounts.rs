//! Deleting an account, whatever the stores: crash-safe because every step can be run
//! again.
//!
//! 1. [`PostStore::mark_account_deleting`] (the caller): the account can no longer log
//!    in, its tokens are refused, no post can be created for it, its name stays taken.
//! 2. [`finish_deletion`]: every post goes through [`PostStore::delete_post`] (its
//!    labels, label jobs and index items with it), then every object under the user's
//!    folder (all posts, all sizes), then the user record, which frees the name.
//!
//! Posts go before pictures: an upload racing the deletion either recorded its picture
//! before its post was deleted (so its object is already stored, and step 2's folder
//! deletion removes it) or finds the post gone (`set_image` says `NotFound`, and the
//! upload removes what it stored). A restart finishes an interrupted deletion:
//! [`sweep`] runs step 2 for every account still marked.

use crate::blob::{BlobError, BlobStore};
use crate::keys::user_prefix;
use crate::settings::log::user_value;
use crate::store::{ListQuery, PostStore, StoreError, MAX_PAGE};

/// How many times the content is deleted again when the user record cannot go yet
/// (posts listed late by an eventually consistent index).
const ROUNDS: usize = 5;

/// Why a deletion did not finish (it stays marked; running it again continues it).
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    /// The post store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The picture store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// What a finished deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Posts deleted.
    pub posts: u64,
    /// Picture objects deleted.
    pub pictures: u64,
}

/// Step 2 for an account already marked as being deleted: its posts, its pictures, then
/// its record. Idempotent; `Ok` once the record is gone (also when it was already).
pub async fn finish_deletion(
    store: &dyn PostStore,
    blobs: &dyn BlobStore,
    username: &str,
) -> Result<Deleted, DeletionError> {
    let mut done = Deleted::default();
    for _ in 0..ROUNDS {
        loop {
            let page = store
                .list_posts(&ListQuery {
                    user: Some(username.to_string()),
                    limit: MAX_PAGE,
                    ..ListQuery::default()
                })
                .await?;
            if page.posts.is_empty() {
                break;
            }
            let mut deleted_any = false;
            for post in page.posts {
                if store.delete_post(post.id).await?.is_some() {
                    done.posts += 1;
                    deleted_any = true;
                }
            }
            if !deleted_any {
                // The list still shows posts that are gone (an eventually consistent
                // index): the record's own check below decides.
                break;
            }
        }
        done.pictures += blobs.delete_user_objects(&user_prefix(username)).await?;
        if store.delete_user(username).await? {
            return Ok(done);
        }
    }
    Err(DeletionError::Store(StoreError::Unavailable(format!(
        "account `{username}` still has posts after {ROUNDS} rounds of deletion"
    ))))
}

/// Finishes every deletion a crash or an outage interrupted; returns how many accounts
/// it finished. One that fails is logged and left marked for the next sweep.
pub async fn sweep(store: &dyn PostStore, blobs: &dyn BlobStore) -> Result<usize, StoreError> {
    let mut finished = 0;
    for username in store.accounts_being_deleted().await? {
        let user = user_value(&username);
        match finish_deletion(store, blobs, &username).await {
            Ok(d) => {
                finished += 1;
                tracing::info!(
                    user = &*user,
                    posts = d.posts,
                    pictures = d.pictures,
                    "finished an interrupted account deletion"
                );
            }
            Err(e) => {
                tracing::warn!(user = &*user, error = %e, "cannot finish an account deletion yet")
            }
        }
    }
    Ok(finished)
}
