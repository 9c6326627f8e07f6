//! Label jobs: "this picture needs labels", consumed by labeler workers.

use std::time::Duration;

use async_trait::async_trait;

use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::store::{LabelOutcome, StoreError};

/// One picture to label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelJob {
    /// Backend-specific handle (SQLite row id, SQS receipt handle…).
    pub handle: String,
    /// The post the picture belongs to.
    pub post_id: PostId,
    /// The picture's object key.
    pub object_key: String,
    /// How many times this job has been handed out, this time included.
    pub attempts: u32,
}

/// Counters of the job table, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting for a worker.
    pub pending: u64,
    /// Taken by a worker and not finished.
    pub running: u64,
    /// Finished with labels.
    pub done: u64,
    /// Finished without labels.
    pub failed: u64,
}

/// A durable queue of label jobs with at-least-once delivery.
#[async_trait]
pub trait LabelJobQueue: Send + Sync + 'static {
    /// Takes the oldest available job for `lease`; it comes back to the queue if not
    /// completed before the lease runs out (a crashed worker loses nothing).
    async fn claim(&self, lease: Duration) -> Result<Option<LabelJob>, StoreError>;
    /// Writes the outcome to the post and finishes the job, atomically where the backend
    /// allows. Completing a job twice is harmless.
    async fn complete(&self, job: &LabelJob, outcome: LabelOutcome) -> Result<(), StoreError>;
    /// Records on the post which derived pictures of the job's picture are stored
    /// ([`crate::store::PostStore::set_derived`]); `Ok(false)` when the picture is no
    /// longer the post's.
    async fn record_derived(
        &self,
        job: &LabelJob,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError>;
    /// Gives the job back to be retried after `delay` (a store or model hiccup).
    async fn retry(&self, job: &LabelJob, error: &str, delay: Duration) -> Result<(), StoreError>;
    /// Current counters.
    async fn counts(&self) -> Result<JobCounts, StoreError>;
}
