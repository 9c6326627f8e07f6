//! In-process labeler workers of the embedded server: they consume the SQLite job table
//! with the local detector, and report to `/metrics`.

use std::sync::Arc;

use anyhow::Context;
use postagram_core::settings::env;
use postagram_labeler::pipeline::{Pipeline, PipelineConfig, ReportHook, DEFAULT_UPLOAD_WINDOW};
use postagram_labeler::{DetectOptions, Detector, LocalDetector};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;

/// How many workers to start: the configured number, or one per core.
pub fn worker_count(config: &Config) -> usize {
    config.labeler_workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Loads the detector and starts the workers; none when the count is 0.
pub fn spawn_workers(
    config: &Config,
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let n = worker_count(config);
    let Some(queue) = state.jobs.clone() else {
        return Ok(Vec::new());
    };
    if n == 0 {
        tracing::warn!(
            "{}=0: pictures will wait in the queue without labels",
            env::LABELER_WORKERS
        );
        return Ok(Vec::new());
    }
    let opts = DetectOptions {
        max_labels: config.model.max_labels.max(1),
        min_confidence: config.model.min_confidence.clamp(0.0, 100.0),
    };
    let detector = LocalDetector::load(&config.model.model_path, opts).with_context(|| {
        format!(
            "cannot load the label model from {} (run `make model`, set {}, or {}=0 to run without labels)",
            config.model.model_path.display(),
            env::MODEL_PATH,
            env::LABELER_WORKERS
        )
    })?;
    // One budget for all workers: their decoded pixels together stay under it.
    let budget = config.limits.decode.budget();
    let detector: Arc<dyn Detector> = Arc::new(detector.with_decode_budget(budget.clone()));
    let metrics = state.metrics.clone();
    let hook: ReportHook = Arc::new(move |report| {
        metrics
            .label_results
            .with_label_values(&[report.outcome.kind()])
            .inc();
        if let Some(d) = report.detection {
            metrics.detection_seconds.observe(d.as_secs_f64());
        }
    });
    let pipeline = Arc::new(
        Pipeline::new(
            queue,
            state.blobs.clone(),
            detector,
            PipelineConfig::default(),
        )
        .with_hook(hook)
        .with_decode_budget(budget)
        .with_upload_window(state.url_expiry.max(DEFAULT_UPLOAD_WINDOW)),
    );
    tracing::info!(workers = n, model = %config.model.model_path.display(), "labeler workers started");
    Ok((0..n)
        .map(|_| {
            tokio::spawn(
                pipeline
                    .clone()
                    .run_worker(state.label_wakeup.clone(), stop.clone()),
            )
        })
        .collect())
}
