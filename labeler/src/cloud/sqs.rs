//! Upload events from SQS: long-polled in batches of up to 10, each S3 notification turned
//! into label jobs; a message is deleted only once every job in it is finished. Failures
//! make the message visible again after a backoff, so the queue's redrive policy moves it
//! to the dead-letter queue after `maxReceiveCount` receives; a message that is not an S3
//! notification at all is released at once and ends there too, never in a loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use postagram_core::aws::sdk_message;
use postagram_core::jobs::{JobCounts, LabelJob, LabelJobQueue};
use postagram_core::keys::DerivedSize;
use postagram_core::store::{LabelOutcome, PostStore, StoreError};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::events::{parse, S3Notification};
use super::jobs::prepare;
use super::metrics::WorkerMetrics;
use crate::pipeline::Pipeline;

/// Most messages one `ReceiveMessage` returns.
pub const BATCH: i32 = 10;

fn unavailable(e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(format!("sqs: {}", sdk_message(&e)))
}

/// The upload-event queue as a [`LabelJobQueue`].
pub struct SqsJobQueue {
    sqs: Client,
    queue_url: String,
    store: Arc<dyn PostStore>,
    /// Long-poll wait, seconds (0–20).
    wait_secs: i32,
    /// Jobs not yet finished per message receipt handle.
    open: Mutex<HashMap<String, usize>>,
    metrics: Arc<WorkerMetrics>,
}

impl SqsJobQueue {
    /// A queue reading `queue_url` and writing labels to `store`.
    pub fn new(
        sqs: Client,
        queue_url: impl Into<String>,
        store: Arc<dyn PostStore>,
        wait_secs: i32,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        SqsJobQueue {
            sqs,
            queue_url: queue_url.into(),
            store,
            wait_secs: wait_secs.clamp(0, 20),
            open: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), StoreError> {
        self.sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(delay.as_secs().min(43_200)).unwrap_or(0))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Whether the queue answers (`GetQueueAttributes`): what the worker's `/readyz` asks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Receives up to `max` messages (long poll) and returns their label jobs. Test events
    /// and messages without work are deleted; poison messages are released for the
    /// dead-letter queue.
    pub async fn receive(&self, max: i32) -> Result<Vec<LabelJob>, StoreError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, BATCH))
            .wait_time_seconds(self.wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(unavailable)?;
        let mut jobs = Vec::new();
        for m in out.messages.unwrap_or_default() {
            self.metrics.events.inc();
            let Some(receipt) = m.receipt_handle.clone() else {
                continue;
            };
            let attempts = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let body = m.body.as_deref().unwrap_or("");
            let records = match parse(body) {
                Ok(S3Notification::Test) => {
                    self.delete(&receipt).await?;
                    continue;
                }
                Ok(S3Notification::Created(r)) => r,
                Err(e) => {
                    self.metrics.poison.inc();
                    tracing::warn!(message = ?m.message_id, attempts, error = %e, "poison message; it goes to the dead-letter queue after the redrive count");
                    self.release(&receipt, Duration::ZERO).await?;
                    continue;
                }
            };
            let mut mine = Vec::new();
            let mut failed = None;
            for object in records {
                match prepare(&*self.store, &object, receipt.clone(), attempts).await {
                    Ok(Some(job)) => mine.push(job),
                    Ok(None) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                tracing::warn!(error = %e, attempts, "cannot record an upload; the message will be retried");
                self.release(&receipt, backoff(attempts)).await?;
                continue;
            }
            if mine.is_empty() {
                self.delete(&receipt).await?;
                continue;
            }
            if let Ok(mut open) = self.open.lock() {
                open.insert(receipt.clone(), mine.len());
            }
            jobs.extend(mine);
        }
        Ok(jobs)
    }

    /// Messages waiting and in flight, from the queue's approximate counters.
    async fn approximate(&self) -> Result<JobCounts, StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(unavailable)?;
        let a = out.attributes.unwrap_or_default();
        let n = |k: A| a.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(JobCounts {
            pending: n(A::ApproximateNumberOfMessages),
            running: n(A::ApproximateNumberOfMessagesNotVisible),
            ..JobCounts::default()
        })
    }
}

/// Visibility delay before retry `attempts` (5 s, 10 s, … up to 5 min).
fn backoff(attempts: u32) -> Duration {
    Duration::from_secs((5u64 << attempts.saturating_sub(1).min(6)).min(300))
}

#[async_trait]
impl LabelJobQueue for SqsJobQueue {
    async fn claim(&self, _lease: Duration) -> Result<Option<LabelJob>, StoreError> {
        // One-at-a-time claiming would waste the batch; `run` uses `receive`.
        let mut jobs = self.receive(1).await?;
        Ok(jobs.pop())
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

    async fn complete(&self, job: &LabelJob, outcome: LabelOutcome) -> Result<(), StoreError> {
        self.store
            .set_labels(job.post_id, &job.object_key, outcome)
            .await?;
        let last = match self.open.lock() {
            Ok(mut open) => match open.get_mut(&job.handle) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                _ => {
                    open.remove(&job.handle);
                    true
                }
            },
            Err(_) => true,
        };
        if last {
            self.delete(&job.handle).await?;
        }
        Ok(())
    }

    async fn retry(&self, job: &LabelJob, _error: &str, delay: Duration) -> Result<(), StoreError> {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&job.handle);
        }
        self.release(&job.handle, delay).await
    }

    async fn counts(&self) -> Result<JobCounts, StoreError> {
        self.approximate().await
    }
}

/// Runs the SQS worker until `stop` turns true, with at most `concurrency` pictures in
/// flight; then stops receiving and finishes the jobs in flight.
pub async fn run(
    queue: Arc<SqsJobQueue>,
    pipeline: Arc<Pipeline>,
    concurrency: usize,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut errors = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits();
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let received = tokio::select! {
            r = queue.receive(i32::try_from(free).unwrap_or(BATCH).min(BATCH)) => r,
            _ = stop.changed() => break,
        };
        match received {
            Ok(jobs) => {
                errors = 0;
                for job in jobs {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let p = pipeline.clone();
                    tasks.spawn(async move {
                        p.process(job).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => {
                errors = errors.saturating_add(1);
                let delay = Duration::from_millis((250u64 << errors.min(7)).min(30_000));
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot receive upload events");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    let n = tasks.len();
    if n > 0 {
        tracing::info!(jobs = n, "stopping: finishing the pictures in flight");
    }
    while tasks.join_next().await.is_some() {}
}
