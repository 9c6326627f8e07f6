//! Command line of the `postagram-labeler` binary.
//!
//! `label` and `bench` use the local model; `worker` is the cloud labeller (its code is in
//! `cloud::worker`, its settings in `worker_args`, so neither imports this module).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::{self, BenchConfig};
use crate::preprocess::Normalization;
use crate::worker_args::WorkerArgs;
use crate::{DetectOptions, LocalDetector};
use postagram_core::settings::ModelArgs;

/// `postagram-labeler`: label pictures with the local model.
#[derive(Debug, Parser)]
#[command(
    name = "postagram-labeler",
    version,
    about = "Label pictures with Postagram's local image model"
)]
pub struct Cli {
    /// Model and labelling options shared by every subcommand.
    #[command(flatten)]
    pub model: ModelArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the labels of each picture.
    Label(LabelArgs),
    /// Measure detection latency (one picture at a time) and throughput (parallel workers).
    Bench(BenchArgs),
    /// Label uploads from S3 events (SQS queue or webhook) into the DynamoDB store
    /// (needs a build with the `aws` feature).
    Worker(WorkerArgs),
}

/// Arguments of `label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Picture files (JPEG, PNG, WebP, GIF).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also print the N most likely raw ImageNet classes.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// One JSON object per file instead of text.
    #[arg(long)]
    pub json: bool,
    /// Pixel normalisation (only for checking the model; the default is what the weights need).
    #[arg(long, value_enum, default_value_t = NormArg::Lite, hide = true)]
    pub normalization: NormArg,
}

/// Pixel normalisation choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NormArg {
    /// `(v - 127) / 128` (TensorFlow Lite recipe).
    Lite,
    /// ImageNet mean / std.
    Imagenet,
}

impl From<NormArg> for Normalization {
    fn from(n: NormArg) -> Self {
        match n {
            NormArg::Lite => Normalization::Lite,
            NormArg::Imagenet => Normalization::ImageNet,
        }
    }
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Pictures to cycle through.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Timed sequential detections for the latency figure.
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// Untimed detections first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Parallel workers for the throughput figure (0 = skip throughput).
    #[arg(long, default_value_t = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))]
    pub workers: usize,
    /// Detections in the throughput run.
    #[arg(long, default_value_t = 100)]
    pub pictures: usize,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let detector = |model: &ModelArgs| {
        LocalDetector::load(&model.model_path, DetectOptions::from_args(model))
            .map_err(|e| eprintln!("postagram-labeler: {e}"))
    };
    match cli.command {
        Command::Worker(args) => worker(args, &cli.model),
        Command::Label(args) => match detector(&cli.model) {
            Ok(d) => label(&d, &args),
            Err(()) => ExitCode::from(2),
        },
        Command::Bench(args) => {
            let Ok(d) = detector(&cli.model) else {
                return ExitCode::from(2);
            };
            let config = BenchConfig {
                runs: args.runs,
                warmup: args.warmup,
                workers: args.workers,
                pictures: args.pictures,
            };
            match bench::run(&d, &args.files, &config) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("postagram-labeler bench: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(feature = "aws")]
fn worker(args: WorkerArgs, model: &ModelArgs) -> ExitCode {
    match crate::cloud::worker::main(args, model) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postagram-labeler worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "aws"))]
fn worker(_args: WorkerArgs, _model: &ModelArgs) -> ExitCode {
    eprintln!("postagram-labeler worker: this build has no `aws` feature; rebuild with `cargo build -p postagram-labeler --features aws`");
    ExitCode::FAILURE
}

fn label(detector: &LocalDetector, args: &LabelArgs) -> ExitCode {
    let mut failed = false;
    let opts = detector.options();
    let norm = Normalization::from(args.normalization);
    for file in &args.files {
        let result = std::fs::read(file)
            .map_err(|e| crate::DetectError::NotAnImage(format!("cannot read: {e}")))
            .and_then(|bytes| detector.probabilities_with(&bytes, norm));
        let probs = match result {
            Ok(p) => p,
            Err(e) => {
                failed = true;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": file, "error": e.to_string(), "bad_picture": e.is_bad_picture()})
                    );
                } else {
                    eprintln!("{}: error: {e}", file.display());
                }
                continue;
            }
        };
        let labels = crate::categories::Taxonomy::builtin()
            .map(|t| t.labels(&probs, opts.max_labels, opts.min_confidence))
            .unwrap_or_default();
        let top = args
            .top
            .map(|k| detector.topk(&probs, k))
            .unwrap_or_default();
        if args.json {
            let top: Vec<_> = top
                .iter()
                .map(
                    |(i, n, p)| serde_json::json!({"index": i, "name": n, "confidence": p * 100.0}),
                )
                .collect();
            println!(
                "{}",
                serde_json::json!({"file": file, "labels": labels, "top": top})
            );
        } else {
            println!("{}", file.display());
            for l in &labels {
                println!("  {:<28} {:5.1}%", l.name, l.confidence);
            }
            if !top.is_empty() {
                println!("  top classes:");
                for (i, n, p) in &top {
                    println!("    {i:>4} {n:<26} {:5.1}%", p * 100.0);
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
