//! The labelling pipeline: job → read picture → decode once → store the derived sizes →
//! detect on the decoded pixels → write labels and status in one store call → sweep the
//! post's replaced pictures. At-least-once and idempotent: a job handled twice writes the same labels
//! once; store hiccups are retried with backoff; bad pictures end as `failed` with a
//! reason, never a crash or a stuck job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postagram_core::blob::{BlobError, BlobStore};
use postagram_core::jobs::{LabelJob, LabelJobQueue};
use postagram_core::keys::{derived_key, derived_of, DerivedSize};
use postagram_core::settings::log::user_value;
use postagram_core::store::{now_millis, LabelOutcome};
use tokio::sync::{watch, Notify};

use crate::decode_budget::DecodeBudget;
use crate::detector::Detector;
use crate::{derive, preprocess, DetectError};

/// Objects of a post folder that no post refers to are kept this long (an upload whose
/// S3 event is still on its way), then swept: longer than any upload URL lives.
pub const DEFAULT_UPLOAD_WINDOW: Duration = Duration::from_secs(3600);

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
    budget: Option<DecodeBudget>,
    upload_window: Duration,
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
            budget: None,
            upload_window: DEFAULT_UPLOAD_WINDOW,
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

    /// Makes the pipeline hold each picture's estimated decoding memory from `budget`
    /// (shared with every pipeline and detector given it) while it decodes, derives the
    /// smaller sizes and labels.
    pub fn with_decode_budget(mut self, budget: DecodeBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Makes the sweep after each job keep unknown objects younger than `window` (an
    /// upload whose event has not arrived yet); the default is one hour.
    pub fn with_upload_window(mut self, window: Duration) -> Self {
        self.upload_window = window;
        self
    }

    /// Handles one claimed job to the end of this attempt: decodes the picture once,
    /// stores its derived sizes (metadata-free JPEGs, [`crate::derive`]) and records them
    /// on the post, labels the decoded pixels, writes the outcome, and sweeps the post's
    /// folder ([`Pipeline::sweep`]).
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
            Ok(Some(blob)) => self.label(&job, blob.bytes, &mut detection).await,
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
        if !matches!(outcome, JobOutcome::Retried(_)) {
            if let Err(e) = self.sweep(&job.object_key).await {
                tracing::warn!(post = %job.post_id, error = %e, "cannot sweep the post's old pictures; the next job will");
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

    /// Decode once, derive, store the derived sizes, label.
    async fn label(
        &self,
        job: &LabelJob,
        bytes: Bytes,
        detection: &mut Option<Duration>,
    ) -> JobOutcome {
        let permit = match &self.budget {
            Some(budget) => {
                let cost = preprocess::decode_cost(&bytes)
                    .map(|c| c + preprocess::derive_cost(&bytes).unwrap_or(0))
                    .unwrap_or(bytes.len() as u64);
                match budget.acquire(cost).await {
                    Ok(p) => Some(p),
                    Err(e) if e.is_bad_picture() => return self.failed(job, e.to_string()).await,
                    Err(e) => return self.transient(job, e.to_string()).await,
                }
            }
            None => None,
        };
        let picture = Bytes::clone(&bytes);
        let decoded = tokio::task::spawn_blocking(move || {
            let img = preprocess::decode(&picture)?;
            let derived = derive::derive(&img)?;
            Ok::<_, DetectError>((Arc::new(img), derived))
        })
        .await;
        let start = Instant::now();
        let result = match decoded {
            Err(e) => {
                return self
                    .transient(job, format!("decoding task failed: {e}"))
                    .await
            }
            Ok(Err(e)) if !e.is_bad_picture() => {
                return self.transient(job, format!("deriving sizes: {e}")).await
            }
            // Not a picture this process can decode: no derived sizes (so nothing is
            // shown); the detector still has its say (a cloud service may read it).
            Ok(Err(_)) => {
                drop(permit);
                self.detector.detect(Bytes::clone(&bytes)).await
            }
            Ok(Ok((img, derived))) => {
                if let Err(e) = self.store_derived(job, &derived).await {
                    return self.transient(job, e).await;
                }
                let start = Instant::now();
                let result = self.detector.detect_decoded(bytes, img).await;
                *detection = Some(start.elapsed());
                drop(permit);
                result
            }
        };
        detection.get_or_insert_with(|| start.elapsed());
        match result {
            Ok(labels) => {
                let n = labels.len();
                self.finish(job, LabelOutcome::Labelled(labels), move |_| {
                    JobOutcome::Labelled(n)
                })
                .await
            }
            Err(e) if e.is_bad_picture() => self.failed(job, e.to_string()).await,
            Err(e) => self.transient(job, format!("detector: {e}")).await,
        }
    }

    /// Writes the derived pictures beside the original and records them on the post; when
    /// the picture was replaced meanwhile, deletes them again.
    async fn store_derived(
        &self,
        job: &LabelJob,
        derived: &[derive::DerivedPicture],
    ) -> Result<(), String> {
        for d in derived {
            let key = derived_key(&job.object_key, d.size);
            self.blobs
                .put(&key, d.jpeg.clone(), derive::CONTENT_TYPE)
                .await
                .map_err(|e| format!("storing the {} size: {e}", d.size.as_str()))?;
        }
        let sizes: Vec<DerivedSize> = derived.iter().map(|d| d.size).collect();
        let current = self
            .queue
            .record_derived(job, &sizes)
            .await
            .map_err(|e| format!("recording the derived sizes: {e}"))?;
        if !current {
            for size in sizes {
                let _ = self.blobs.delete(&derived_key(&job.object_key, size)).await;
            }
        }
        Ok(())
    }

    /// Deletes the objects of `current`'s post folder that no post refers to: pictures
    /// uploaded before `current` (replaced ones), derived sizes whose original is one of
    /// those or gone, and anything else (an upload whose post never learnt about it, a
    /// temporary file) older than the upload window. `current` and its derived sizes, and
    /// newer uploads still inside the window, stay. Returns how many objects it deleted.
    pub async fn sweep(&self, current: &str) -> Result<u64, BlobError> {
        let Some(prefix) = current.rfind('/').map(|i| &current[..=i]) else {
            return Ok(0);
        };
        let objects = self.blobs.list(prefix).await?;
        let Some(current_at) = objects
            .iter()
            .find(|o| o.key == current)
            .map(|o| o.modified_ms)
        else {
            return Ok(0);
        };
        let stale_before = now_millis() - self.upload_window.as_millis() as i64;
        let modified = |key: &str| objects.iter().find(|o| o.key == key).map(|o| o.modified_ms);
        let replaced = |key: &str| key != current && modified(key).is_none_or(|at| at < current_at);
        let mut deleted = 0;
        for o in &objects {
            if o.key == current {
                continue;
            }
            let stale = match derived_of(&o.key) {
                Some((original, _)) if original == current => false,
                Some((original, _)) => replaced(original) || o.modified_ms < stale_before,
                None => o.modified_ms < current_at || o.modified_ms < stale_before,
            };
            if stale {
                self.blobs.delete(&o.key).await?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            tracing::info!(
                key = &*user_value(current),
                deleted,
                "old pictures of the post deleted"
            );
        }
        Ok(deleted)
    }

    async fn failed(&self, job: &LabelJob, reason: String) -> JobOutcome {
        self.finish(job, LabelOutcome::Failed(reason.clone()), move |_| {
            JobOutcome::Failed(reason)
        })
        .await
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
