//! From an uploaded object key to a label job, and a job "queue" that only writes
//! results to the post store (used where the event source itself redelivers: webhook,
//! Lambda).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use postagram_core::jobs::{JobCounts, LabelJob, LabelJobQueue};
use postagram_core::keys::parse_object_key;
use postagram_core::store::{LabelOutcome, PostStore, StoreError};
use postagram_core::LabelStatus;

use crate::pipeline::{JobOutcome, Pipeline};

/// Turns an uploaded object into a label job: recovers user and post from the key, checks
/// the post exists and belongs to that user, and records the picture on the post
/// (`set_image`: status `pending`) unless it already is its current picture.
///
/// `Ok(None)` when there is nothing to do: a key that is not a picture key, a deleted
/// post, or a picture already labelled (a redelivered event).
pub async fn prepare(
    store: &dyn PostStore,
    key: &str,
    handle: String,
    attempts: u32,
) -> Result<Option<LabelJob>, StoreError> {
    let Some((user, post_id)) = parse_object_key(key) else {
        tracing::warn!(key, "ignoring an object that is not a picture key");
        return Ok(None);
    };
    let Some(post) = store.get_post(post_id).await? else {
        tracing::info!(key, "ignoring a picture of a deleted post");
        return Ok(None);
    };
    if post.user != user {
        tracing::warn!(key, "ignoring a picture whose key names another author");
        return Ok(None);
    }
    if post.image_key.as_deref() == Some(key) {
        if matches!(post.label_status, LabelStatus::Done | LabelStatus::Failed) {
            tracing::info!(key, "picture already labelled; event redelivered");
            return Ok(None);
        }
    } else {
        store.set_image(post_id, key).await?;
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
    records: Vec<(String, String)>,
) -> Result<Labelled, RetryLater> {
    let mut done = Labelled::default();
    for (_bucket, key) in records {
        let job = match prepare(store, &key, "event".into(), 1).await {
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
