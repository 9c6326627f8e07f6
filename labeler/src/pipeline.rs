//! The labelling pipeline: job → read picture → detect → write labels and status in one
//! store call. At-least-once and idempotent: a job handled twice writes the same labels
//! once; store hiccups are retried with backoff; bad pictures end as `failed` with a
//! reason, never a crash or a stuck job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postagram_core::blob::BlobStore;
use postagram_core::jobs::{LabelJob, LabelJobQueue};
use postagram_core::settings::log::user_value;
use postagram_core::store::LabelOutcome;
use tokio::sync::{watch, Notify};

use crate::detector::Detector;

/// How a job ended this time.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Labels were written.
    Labelled(usize),
    /// The picture cannot be labelled; the post says why.
    Failed(String),
    /// A transient error; the job goes back to the queue.
    Retried(String),
}

impl JobOutcome {
    /// A short name for metrics: `done`, `failed` or `retried`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobOutcome::Labelled(_) => "done",
            JobOutcome::Failed(_) => "failed",
            JobOutcome::Retried(_) => "retried",
        }
    }
}

/// What one job did, for metrics and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    /// The job.
    pub job: LabelJob,
    /// How it ended.
    pub outcome: JobOutcome,
    /// Time spent in the detector, if it ran.
    pub detection: Option<Duration>,
}

/// Tuning of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// A claimed job returns to the queue after this long without completion.
    pub lease: Duration,
    /// After this many attempts a job that keeps failing transiently ends as `failed`.
    pub max_attempts: u32,
    /// First retry delay; doubled on each attempt.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Idle workers look at the queue at least this often (besides wake-ups).
    pub idle_poll: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            lease: Duration::from_secs(120),
            max_attempts: 5,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// Callback for each finished job (metrics).
pub type ReportHook = Arc<dyn Fn(&JobReport) + Send + Sync>;

/// Labels pictures from a job queue.
pub struct Pipeline {
    queue: Arc<dyn LabelJobQueue>,
    blobs: Arc<dyn BlobStore>,
    detector: Arc<dyn Detector>,
    config: PipelineConfig,
    hook: Option<ReportHook>,
}

impl Pipeline {
    /// A pipeline over these parts.
    pub fn new(
        queue: Arc<dyn LabelJobQueue>,
        blobs: Arc<dyn BlobStore>,
        detector: Arc<dyn Detector>,
        config: PipelineConfig,
    ) -> Self {
        Pipeline {
            queue,
            blobs,
            detector,
            config,
            hook: None,
        }
    }

    /// Calls `hook` after every job.
    pub fn with_hook(mut self, hook: ReportHook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        (self.config.base_backoff * factor).min(self.config.max_backoff)
    }

    /// Handles one claimed job to the end of this attempt.
    pub async fn process(&self, job: LabelJob) -> JobReport {
        let mut detection = None;
        let outcome = match self.blobs.get(&job.object_key).await {
            Err(e) => {
                self.transient(&job, format!("reading the picture: {e}"))
                    .await
            }
            Ok(None) => {
                self.finish(
                    &job,
                    LabelOutcome::Failed("the picture is gone".into()),
                    |_| JobOutcome::Failed("the picture is gone".into()),
                )
                .await
            }
            Ok(Some(blob)) => {
                let start = Instant::now();
                let result = self.detector.detect(Bytes::clone(&blob.bytes)).await;
                detection = Some(start.elapsed());
                match result {
                    Ok(labels) => {
                        let n = labels.len();
                        self.finish(&job, LabelOutcome::Labelled(labels), move |_| {
                            JobOutcome::Labelled(n)
                        })
                        .await
                    }
                    Err(e) if e.is_bad_picture() => {
                        let reason = e.to_string();
                        self.finish(&job, LabelOutcome::Failed(reason.clone()), move |_| {
                            JobOutcome::Failed(reason)
                        })
                        .await
                    }
                    Err(e) => self.transient(&job, format!("detector: {e}")).await,
                }
            }
        };
        match &outcome {
            JobOutcome::Labelled(n) => {
                tracing::info!(post = %job.post_id, key = &*user_value(&job.object_key), labels = n, "picture labelled")
            }
            JobOutcome::Failed(r) => {
                tracing::warn!(post = %job.post_id, key = &*user_value(&job.object_key), reason = r.as_str(), "picture cannot be labelled")
            }
            JobOutcome::Retried(r) => {
                tracing::warn!(post = %job.post_id, key = &*user_value(&job.object_key), attempt = job.attempts, error = r.as_str(), "label job will be retried")
            }
        }
        let report = JobReport {
            job,
            outcome,
            detection,
        };
        if let Some(hook) = &self.hook {
            hook(&report);
        }
        report
    }

    async fn finish(
        &self,
        job: &LabelJob,
        outcome: LabelOutcome,
        ok: impl FnOnce(()) -> JobOutcome,
    ) -> JobOutcome {
        match self.queue.complete(job, outcome).await {
            Ok(()) => ok(()),
            Err(e) => self.transient(job, format!("writing labels: {e}")).await,
        }
    }

    async fn transient(&self, job: &LabelJob, error: String) -> JobOutcome {
        if job.attempts >= self.config.max_attempts {
            let reason = format!("gave up after {} attempts: {error}", job.attempts);
            if self
                .queue
                .complete(job, LabelOutcome::Failed(reason.clone()))
                .await
                .is_ok()
            {
                return JobOutcome::Failed(reason);
            }
        }
        let delay = self.backoff(job.attempts);
        if let Err(e) = self.queue.retry(job, &error, delay).await {
            // The lease expiry brings the job back even if this write failed.
            tracing::warn!(error = %e, "could not reschedule a label job; its lease will expire");
        }
        JobOutcome::Retried(error)
    }

    /// Runs a worker until `stop` turns true: claims jobs, processes them, and sleeps
    /// on `wakeup` (or `idle_poll`) when the queue is empty. A job in progress when
    /// `stop` turns true is finished first.
    pub async fn run_worker(self: Arc<Self>, wakeup: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let mut store_errors = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            match self.queue.claim(self.config.lease).await {
                Ok(Some(job)) => {
                    store_errors = 0;
                    self.process(job).await;
                }
                Ok(None) => {
                    store_errors = 0;
                    tokio::select! {
                        _ = wakeup.notified() => {}
                        _ = tokio::time::sleep(self.config.idle_poll) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    store_errors = store_errors.saturating_add(1);
                    let delay = self.backoff(store_errors);
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot claim label jobs");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }
}
