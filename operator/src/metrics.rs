//! Prometheus metrics of the operator: reconciles, failures, duration and applied objects.

use std::time::Instant;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// The operator's metrics, registered in their own registry.
#[derive(Clone)]
pub struct Metrics {
    /// Registry served on `/metrics`.
    pub registry: Registry,
    /// Reconciles started.
    pub reconciles: IntCounter,
    /// Reconciles that failed, by error kind.
    pub failures: IntCounterVec,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// Children written (applied, created or deleted), by kind.
    pub writes: IntCounterVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounter::with_opts(Opts::new(
            "postagram_operator_reconciles_total",
            "Reconciles started",
        ))?;
        let failures = IntCounterVec::new(
            Opts::new(
                "postagram_operator_reconcile_failures_total",
                "Reconciles that returned an error",
            ),
            &["error"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "postagram_operator_reconcile_duration_seconds",
                "Duration of one reconcile",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
        )?;
        let writes = IntCounterVec::new(
            Opts::new(
                "postagram_operator_child_writes_total",
                "Children applied, created or deleted",
            ),
            &["kind", "verb"],
        )?;
        for c in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(failures.clone()),
            Box::new(duration.clone()),
            Box::new(writes.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
        })
    }

    /// Counts a reconcile and returns a guard observing its duration when dropped.
    pub fn start_reconcile(&self) -> ReconcileTimer {
        self.reconciles.inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: self.duration.clone(),
        }
    }

    /// Text exposition of every metric.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// Observes a reconcile's duration when dropped.
pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}
