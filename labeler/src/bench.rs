//! The `bench` subcommand: detection latency and throughput of the local model.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::LocalDetector;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Timed sequential detections.
    pub runs: usize,
    /// Untimed detections before timing.
    pub warmup: usize,
    /// Parallel workers for throughput (0 skips it).
    pub workers: usize,
    /// Detections in the throughput run.
    pub pictures: usize,
}

/// Measured numbers.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Number of distinct pictures cycled through.
    pub distinct_pictures: usize,
    /// Timed sequential runs.
    pub runs: usize,
    /// Median latency of one detection (decode + preprocess + inference + labels).
    pub median: Duration,
    /// 90th percentile latency.
    pub p90: Duration,
    /// Fastest detection.
    pub min: Duration,
    /// Median CPU time of the benchmarking thread per detection (Linux schedstat), which
    /// stays meaningful when other processes compete for the cores.
    pub median_cpu: Option<Duration>,
    /// Workers in the throughput run.
    pub workers: usize,
    /// Detections per second with `workers` in parallel (None if skipped).
    pub throughput: Option<f64>,
    /// Threads candle may use inside one detection (RAYON_NUM_THREADS).
    pub intra_op_threads: usize,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "latency ({} runs over {} pictures, {} intra-op thread(s)): median {:.1} ms, p90 {:.1} ms, min {:.1} ms",
            self.runs,
            self.distinct_pictures,
            self.intra_op_threads,
            ms(self.median),
            ms(self.p90),
            ms(self.min)
        )?;
        if let Some(cpu) = self.median_cpu {
            writeln!(
                f,
                "cpu time per detection (bench thread, median): {:.1} ms",
                ms(cpu)
            )?;
        }
        match self.throughput {
            Some(t) => write!(
                f,
                "throughput ({} workers): {t:.1} pictures/s",
                self.workers
            ),
            None => write!(f, "throughput: skipped"),
        }
    }
}

/// Runs the benchmark on the given picture files.
pub fn run(
    detector: &LocalDetector,
    files: &[PathBuf],
    config: &BenchConfig,
) -> anyhow::Result<BenchReport> {
    let pictures: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!pictures.is_empty(), "no pictures");
    anyhow::ensure!(config.runs > 0, "--runs must be at least 1");
    // Every picture once (checks they all label), then the extra warm-up runs.
    for (i, p) in pictures.iter().enumerate() {
        detector
            .detect_blocking(p)
            .with_context(|| format!("labelling {}", files[i].display()))?;
    }
    for i in 0..config.warmup {
        detector.detect_blocking(&pictures[i % pictures.len()])?;
    }
    let mut times = Vec::with_capacity(config.runs);
    let mut cpu_times = Vec::with_capacity(config.runs);
    for i in 0..config.runs {
        let cpu_start = thread_cpu_time();
        let start = Instant::now();
        detector.detect_blocking(&pictures[i % pictures.len()])?;
        times.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_time()) {
            cpu_times.push(b.saturating_sub(a));
        }
    }
    times.sort();
    cpu_times.sort();
    let median_cpu = (cpu_times.len() == times.len()).then(|| cpu_times[cpu_times.len() / 2]);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];

    let throughput = if config.workers > 0 && config.pictures > 0 {
        let next = AtomicUsize::new(0);
        let start = Instant::now();
        std::thread::scope(|s| -> anyhow::Result<()> {
            let handles: Vec<_> = (0..config.workers)
                .map(|_| {
                    s.spawn(|| -> anyhow::Result<()> {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= config.pictures {
                                return Ok(());
                            }
                            detector.detect_blocking(&pictures[i % pictures.len()])?;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("bench worker panicked"))??;
            }
            Ok(())
        })?;
        Some(config.pictures as f64 / start.elapsed().as_secs_f64())
    } else {
        None
    };

    Ok(BenchReport {
        distinct_pictures: pictures.len(),
        runs: config.runs,
        median: pct(0.5),
        p90: pct(0.9),
        min: times[0],
        median_cpu,
        workers: config.workers,
        throughput,
        intra_op_threads: candle_core::utils::get_num_threads(),
    })
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (Linux).
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}
