//! The worker's metrics, registered in a `prometheus` registry like the API's and the
//! operator's, served at `/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::pipeline::{JobOutcome, JobReport};

/// Metrics of one worker process.
#[derive(Clone)]
pub struct WorkerMetrics {
    registry: Registry,
    /// Queue messages / webhook events received.
    pub events: IntCounter,
    /// Messages that are not S3 notifications (left to the dead-letter queue).
    pub poison: IntCounter,
    /// Label jobs finished, by outcome (`done`, `failed`, `retried`).
    pub jobs: IntCounterVec,
    /// Time spent in the detector per picture.
    pub detect_seconds: Histogram,
    /// 1 while the queue and the store answer (what `/readyz` reports), else 0.
    pub ready: IntGauge,
}

fn must<T>(r: Result<T, prometheus::Error>) -> T {
    // Metric definitions are static; a failure here is a programming error at start-up.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        let registry = Registry::new();
        let events = must(IntCounter::new(
            "postagram_labeler_events_total",
            "Upload events received.",
        ));
        let poison = must(IntCounter::new(
            "postagram_labeler_poison_events_total",
            "Events that are not S3 notifications.",
        ));
        let jobs = must(IntCounterVec::new(
            Opts::new(
                "postagram_labeler_jobs_total",
                "Label jobs finished, by outcome.",
            ),
            &["outcome"],
        ));
        let detect_seconds = must(Histogram::with_opts(
            HistogramOpts::new(
                "postagram_labeler_detect_seconds",
                "Time spent in the detector per picture.",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        ));
        let ready = must(IntGauge::new(
            "postagram_labeler_ready",
            "1 while the queue and the store answer, else 0.",
        ));
        for c in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(poison.clone()),
            Box::new(jobs.clone()),
            Box::new(detect_seconds.clone()),
            Box::new(ready.clone()),
        ] {
            must(registry.register(c));
        }
        for outcome in ["done", "failed", "retried"] {
            jobs.with_label_values(&[outcome]);
        }
        WorkerMetrics {
            registry,
            events,
            poison,
            jobs,
            detect_seconds,
            ready,
        }
    }
}

impl WorkerMetrics {
    /// Records a finished job.
    pub fn record(&self, r: &JobReport) {
        let outcome = match r.outcome {
            JobOutcome::Labelled(_) => "done",
            JobOutcome::Failed(_) => "failed",
            JobOutcome::Retried(_) => "retried",
        };
        self.jobs.with_label_values(&[outcome]).inc();
        if let Some(d) = r.detection {
            self.detect_seconds.observe(d.as_secs_f64());
        }
    }

    /// Jobs finished with each outcome: (done, failed, retried). Only the tests read it;
    /// Prometheus reads `render`.
    #[cfg(test)]
    pub fn outcomes(&self) -> (u64, u64, u64) {
        let n = |o: &str| self.jobs.with_label_values(&[o]).get();
        (n("done"), n("failed"), n("retried"))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_series() {
        let m = WorkerMetrics::default();
        m.events.inc();
        m.ready.set(1);
        let text = m.render();
        for series in [
            "postagram_labeler_events_total 1",
            "postagram_labeler_poison_events_total 0",
            "postagram_labeler_jobs_total{outcome=\"done\"} 0",
            "postagram_labeler_detect_seconds_count 0",
            "postagram_labeler_ready 1",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        assert_eq!(m.outcomes(), (0, 0, 0));
    }
}
