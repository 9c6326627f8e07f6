//! From an uploaded object key to a label job, and a job "queue" that only writes
//! results to the post store (used where the event source itself redelivers: webhook,
//! Lambda).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use postagram_core::jobs::{JobCounts, LabelJob, LabelJobQueue};
use postagram_core::keys::{derived_of, parse_object_key, DerivedSize};
use postagram_core::settings::log::user_value;
use postagram_core::store::{now_millis, LabelOutcome, PostStore, StoreError};
use postagram_core::LabelStatus;

use super::events::CreatedObject;
use crate::pipeline::{JobOutcome, Pipeline};

/// Turns an uploaded object into a label job: recovers user and post from the key, checks
/// the post exists and belongs to that user, and records the picture on the post
/// (`set_image`: status `pending`) unless it already is its current picture.
///
/// `Ok(None)` when there is nothing to do: a key that is not a picture key (or is a derived picture's), a deleted
/// post, a picture already labelled (a redelivered event), or one uploaded before the
/// post's current picture (events arriving out of order).
pub async fn prepare(
    store: &dyn PostStore,
    object: &CreatedObject,
    handle: String,
    attempts: u32,
) -> Result<Option<LabelJob>, StoreError> {
    let key = object.key.as_str();
    // The key comes from the bucket's event: clipped, and a `&str` field (quoted).
    let logged = user_value(key);
    let logged = &*logged;
    if derived_of(key).is_some() {
        // The labeler's own thumbnails and display sizes make events too.
        tracing::debug!(key = logged, "ignoring a derived picture");
        return Ok(None);
    }
    let Some((user, post_id)) = parse_object_key(key) else {
        tracing::warn!(key = logged, "ignoring an object that is not a picture key");
        return Ok(None);
    };
    let Some(post) = store.get_post(post_id).await? else {
        tracing::info!(key = logged, "ignoring a picture of a deleted post");
        return Ok(None);
    };
    if post.user != user {
        tracing::warn!(
            key = logged,
            "ignoring a picture whose key names another author"
        );
        return Ok(None);
    }
    if post.image_key.as_deref() == Some(key) {
        if matches!(post.label_status, LabelStatus::Done | LabelStatus::Failed) {
            tracing::info!(key = logged, "picture already labelled; event redelivered");
            return Ok(None);
        }
    } else {
        // An event without a time counts as uploaded now.
        let uploaded_at = object.uploaded_at_ms.unwrap_or_else(now_millis);
        if !store.set_image(post_id, key, uploaded_at).await? {
            tracing::info!(
                key = logged,
                "ignoring a picture replaced by one uploaded later (late event)"
            );
            return Ok(None);
        }
    }
    Ok(Some(LabelJob {
        handle,
        post_id,
        object_key: key.to_string(),
        attempts,
    }))
}

/// A job sink that writes outcomes to the post store; `retry` does nothing (the caller
/// answers with an error so the event source redelivers).
pub struct StoreSink {
    store: Arc<dyn PostStore>,
}

impl StoreSink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<dyn PostStore>) -> Self {
        StoreSink { store }
    }
}

#[async_trait]
impl LabelJobQueue for StoreSink {
    async fn claim(&self, _lease: Duration) -> Result<Option<LabelJob>, StoreError> {
        Ok(None)
    }

    async fn complete(&self, job: &LabelJob, outcome: LabelOutcome) -> Result<(), StoreError> {
        self.store
            .set_labels(job.post_id, &job.object_key, outcome)
            .await
            .map(|_| ())
    }

    async fn record_derived(
        &self,
        job: &LabelJob,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError> {
        self.store
            .set_derived(job.post_id, &job.object_key, sizes)
            .await
    }

    async fn retry(
        &self,
        _job: &LabelJob,
        _error: &str,
        _delay: Duration,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn counts(&self) -> Result<JobCounts, StoreError> {
        Ok(JobCounts::default())
    }
}

/// What [`label_records`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Labelled {
    /// Pictures labelled.
    pub labelled: usize,
    /// Pictures that cannot be labelled (status `failed`).
    pub failed: usize,
}

/// Why a batch of events must be delivered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("labelling must be retried: {0}")]
pub struct RetryLater(pub String);

/// Labels the pictures of one notification synchronously (webhook, Lambda): an error means
/// "deliver this event again" (store, S3 or model unavailable).
pub async fn label_records(
    store: &dyn PostStore,
    pipeline: &Pipeline,
    records: Vec<CreatedObject>,
) -> Result<Labelled, RetryLater> {
    let mut done = Labelled::default();
    for object in records {
        let job = match prepare(store, &object, "event".into(), 1).await {
            Ok(Some(job)) => job,
            Ok(None) => continue,
            Err(e) => return Err(RetryLater(e.to_string())),
        };
        match pipeline.process(job).await.outcome {
            JobOutcome::Labelled(_) => done.labelled += 1,
            JobOutcome::Failed(_) => done.failed += 1,
            JobOutcome::Retried(e) => return Err(RetryLater(e)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use postagram_core::keys::object_key;
    use postagram_core::sqlite::SqliteStore;
    use postagram_core::store::NewUser;
    use postagram_core::wire::NewPost;

    use super::*;

    fn created(key: &str, at: Option<i64>) -> CreatedObject {
        CreatedObject {
            bucket: "pictures".into(),
            key: key.into(),
            uploaded_at_ms: at,
        }
    }

    /// Two uploads to one post whose events arrive newest first: the late event of the
    /// older picture makes no job and leaves the newer picture in place.
    #[tokio::test]
    async fn a_late_event_for_an_older_picture_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("p.db")).expect("open");
        store
            .create_user(NewUser {
                username: "alice".into(),
                password_hash: "x".into(),
            })
            .await
            .expect("user");
        let post = store
            .create_post(
                "alice",
                NewPost {
                    title: "t".into(),
                    body: "b".into(),
                },
            )
            .await
            .expect("post");
        let older = object_key("alice", post.id, "first.png");
        let newer = object_key("alice", post.id, "second.png");
        let t = now_millis();
        let job = prepare(&store, &created(&newer, Some(t)), "h1".into(), 1)
            .await
            .expect("prepare")
            .expect("a job for the newer picture");
        assert_eq!(job.object_key, newer);
        let late = prepare(&store, &created(&older, Some(t - 1500)), "h2".into(), 1)
            .await
            .expect("prepare");
        assert!(late.is_none(), "no job for the late, older picture");
        let got = store.get_post(post.id).await.expect("get").expect("post");
        assert_eq!(got.image_key.as_deref(), Some(newer.as_str()));
        // an event without a time counts as uploaded now: it is the newest
        let third = object_key("alice", post.id, "third.png");
        assert!(prepare(&store, &created(&third, None), "h3".into(), 1)
            .await
            .expect("prepare")
            .is_some());
    }
}
