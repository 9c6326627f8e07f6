//! The worker's counters, in Prometheus text format (no registry needed for five series).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pipeline::{JobOutcome, JobReport};

/// Counters of one worker process.
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    /// Queue messages / webhook events received.
    pub events: AtomicU64,
    /// Messages that are not S3 notifications (left to the dead-letter queue).
    pub poison: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    detect_micros: AtomicU64,
    detections: AtomicU64,
}

impl WorkerMetrics {
    /// Records a finished job.
    pub fn record(&self, r: &JobReport) {
        let c = match r.outcome {
            JobOutcome::Labelled(_) => &self.done,
            JobOutcome::Failed(_) => &self.failed,
            JobOutcome::Retried(_) => &self.retried,
        };
        c.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = r.detection {
            self.detections.fetch_add(1, Ordering::Relaxed);
            self.detect_micros
                .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// Jobs finished with each outcome: (done, failed, retried).
    pub fn outcomes(&self) -> (u64, u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
        )
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let (done, failed, retried) = self.outcomes();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP postagram_labeler_events_total Upload events received."
        );
        let _ = writeln!(s, "# TYPE postagram_labeler_events_total counter");
        let _ = writeln!(
            s,
            "postagram_labeler_events_total {}",
            self.events.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP postagram_labeler_poison_events_total Events that are not S3 notifications."
        );
        let _ = writeln!(s, "# TYPE postagram_labeler_poison_events_total counter");
        let _ = writeln!(
            s,
            "postagram_labeler_poison_events_total {}",
            self.poison.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP postagram_labeler_jobs_total Label jobs finished, by outcome."
        );
        let _ = writeln!(s, "# TYPE postagram_labeler_jobs_total counter");
        let _ = writeln!(s, "postagram_labeler_jobs_total{{outcome=\"done\"}} {done}");
        let _ = writeln!(
            s,
            "postagram_labeler_jobs_total{{outcome=\"failed\"}} {failed}"
        );
        let _ = writeln!(
            s,
            "postagram_labeler_jobs_total{{outcome=\"retried\"}} {retried}"
        );
        let _ = writeln!(
            s,
            "# HELP postagram_labeler_detect_seconds Time spent in the detector."
        );
        let _ = writeln!(s, "# TYPE postagram_labeler_detect_seconds summary");
        let _ = writeln!(
            s,
            "postagram_labeler_detect_seconds_sum {}",
            self.detect_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "postagram_labeler_detect_seconds_count {}",
            self.detections.load(Ordering::Relaxed)
        );
        s
    }
}
