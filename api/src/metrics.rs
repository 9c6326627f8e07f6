//! Prometheus metrics of the API and its in-process labelers.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// All metrics, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub http_requests: IntCounterVec,
    /// Request latency by route, method and status.
    pub http_duration: HistogramVec,
    /// Requests being handled right now (a scrape counts itself).
    pub http_in_flight: IntGauge,
    /// TCP connections accepted.
    pub http_connections: IntCounter,
    /// TCP connections open now (at most the connection cap).
    pub http_connections_open: IntGauge,
    /// Posts created.
    pub posts_created: IntCounter,
    /// Pictures uploaded through `/objects`.
    pub uploads: IntCounter,
    /// Label jobs by state, refreshed at each scrape.
    pub label_jobs: IntGaugeVec,
    /// Label jobs finished by outcome (`done`, `failed`, `retried`).
    pub label_results: IntCounterVec,
    /// Time spent in the detector per picture.
    pub detection_seconds: Histogram,
}

fn must<T>(r: Result<T, prometheus::Error>) -> T {
    // Metric definitions are static; a failure here is a programming error at start-up.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        ));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            ),
            &["route", "method", "status"],
        ));
        let http_in_flight = must(IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being handled now",
        ));
        let http_connections = must(IntCounter::new(
            "http_connections_total",
            "TCP connections accepted",
        ));
        let http_connections_open = must(IntGauge::new(
            "http_connections_open",
            "TCP connections open now",
        ));
        let posts_created = must(IntCounter::new(
            "postagram_posts_created_total",
            "Posts created",
        ));
        let uploads = must(IntCounter::new(
            "postagram_uploads_total",
            "Pictures uploaded",
        ));
        let label_jobs = must(IntGaugeVec::new(
            Opts::new("postagram_label_jobs", "Label jobs by state"),
            &["state"],
        ));
        let label_results = must(IntCounterVec::new(
            Opts::new(
                "postagram_label_results_total",
                "Label jobs finished by outcome",
            ),
            &["outcome"],
        ));
        let detection_seconds = must(Histogram::with_opts(
            HistogramOpts::new("postagram_detection_seconds", "Detector time per picture").buckets(
                vec![0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56],
            ),
        ));
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(http_in_flight.clone()),
            Box::new(http_connections.clone()),
            Box::new(http_connections_open.clone()),
            Box::new(posts_created.clone()),
            Box::new(uploads.clone()),
            Box::new(label_jobs.clone()),
            Box::new(label_results.clone()),
            Box::new(detection_seconds.clone()),
        ] {
            must(registry.register(c));
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            http_connections,
            http_connections_open,
            posts_created,
            uploads,
            label_jobs,
            label_results,
            detection_seconds,
        }
    }

    /// Counts one finished request and its latency.
    pub fn observe_request(&self, route: &str, method: &str, status: &str, seconds: f64) {
        let labels = [route, method, status];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
