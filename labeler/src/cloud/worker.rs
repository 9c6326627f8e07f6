//! `postagram-labeler worker`: the cloud labeller process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use postagram_core::aws::{AwsClients, AwsSettings, DynamoStore, S3BlobStore};
use postagram_core::blob::BlobStore;
use postagram_core::jobs::LabelJobQueue;
use postagram_core::store::PostStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::jobs::StoreSink;
use super::metrics::WorkerMetrics;
use super::serve::{router, EventsState};
use super::sqs::{self, SqsJobQueue};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::Detector;

/// Where upload events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// Long-poll the SQS queue the bucket notifies (`POSTAGRAM_QUEUE_URL`).
    Sqs,
    /// `POST /events` webhook with the S3 event JSON (MinIO), with a shared secret.
    Http,
}

/// Which detector the worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorChoice {
    /// The bundled EfficientNet-Lite0 model (`--model-path`).
    Local,
    /// Amazon Rekognition `DetectLabels`.
    Rekognition,
}

/// Settings of `postagram-labeler worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Event source.
    #[arg(long, value_enum, default_value = "sqs")]
    pub source: Source,
    /// Which detector labels pictures.
    #[arg(long, env = "POSTAGRAM_DETECTOR", value_enum, default_value = "local")]
    pub detector: DetectorChoice,
    /// DynamoDB table.
    #[arg(long, env = "POSTAGRAM_TABLE")]
    pub table: String,
    /// S3 bucket of the pictures.
    #[arg(long, env = "POSTAGRAM_BUCKET")]
    pub bucket: String,
    /// SQS queue URL of upload events (`--source sqs`).
    #[arg(long, env = "POSTAGRAM_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// Endpoint override for every AWS client (MinIO, Alternator, an emulator).
    #[arg(long, env = "POSTAGRAM_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// AWS region.
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// Address of `/healthz`, `/metrics` (and `/events` with `--source http`).
    #[arg(long, env = "POSTAGRAM_WORKER_ADDR", default_value = "0.0.0.0:9090")]
    pub addr: SocketAddr,
    /// Shared secret of the webhook (`x-postagram-secret` or `Authorization: Bearer`).
    #[arg(long, env = "POSTAGRAM_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Pictures labelled at once (default: number of cores).
    #[arg(long, env = "POSTAGRAM_LABELER_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// SQS long-poll wait in seconds (0–20).
    #[arg(long, default_value_t = 20)]
    pub wait_secs: i32,
}

impl WorkerArgs {
    /// The AWS settings these arguments describe.
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.aws_region.clone(),
            endpoint_url: self.aws_endpoint_url.clone(),
            static_credentials: None,
        }
    }
}

/// Runs the worker until `stop` turns true; returns after the jobs in flight finished.
pub async fn run(
    args: WorkerArgs,
    clients: AwsClients,
    detector: Arc<dyn Detector>,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let store: Arc<dyn PostStore> = Arc::new(DynamoStore::new(clients.dynamo.clone(), &args.table));
    let blobs: Arc<dyn BlobStore> = Arc::new(S3BlobStore::new(clients.s3.clone(), &args.bucket));
    let metrics = Arc::new(WorkerMetrics::default());
    let hook_metrics = metrics.clone();
    let hook: crate::pipeline::ReportHook = Arc::new(move |r| hook_metrics.record(r));
    let concurrency = args.concurrency.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut http_stop = stop.clone();
    let shutdown = async move {
        let _ = http_stop.wait_for(|s| *s).await;
    };
    match args.source {
        Source::Sqs => {
            let url = args
                .queue_url
                .clone()
                .context("--source sqs needs POSTAGRAM_QUEUE_URL")?;
            let queue = Arc::new(SqsJobQueue::new(
                clients.sqs.clone(),
                url,
                store,
                args.wait_secs,
                metrics.clone(),
            ));
            let jobs: Arc<dyn LabelJobQueue> = queue.clone();
            let pipeline = Arc::new(
                Pipeline::new(jobs, blobs, detector, PipelineConfig::default()).with_hook(hook),
            );
            let app = router(metrics, None);
            let server = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            });
            tracing::info!(addr = %args.addr, "labeler worker reading SQS");
            sqs::run(queue, pipeline, concurrency, stop).await;
            server.await??;
        }
        Source::Http => {
            let secret = args
                .webhook_secret
                .clone()
                .filter(|s| s.len() >= 16)
                .context("--source http needs POSTAGRAM_WEBHOOK_SECRET (at least 16 characters)")?;
            let sink: Arc<dyn LabelJobQueue> = Arc::new(StoreSink::new(store.clone()));
            let pipeline = Arc::new(
                Pipeline::new(sink, blobs, detector, PipelineConfig::default()).with_hook(hook),
            );
            let state = EventsState {
                pipeline,
                store,
                secret: secret.into(),
                metrics: metrics.clone(),
            };
            tracing::info!(addr = %args.addr, "labeler worker listening for events");
            axum::serve(listener, router(metrics, Some(state)))
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    tracing::info!("labeler worker stopped");
    Ok(())
}

/// The `worker` subcommand: loads the detector, binds, runs until SIGTERM/SIGINT and
/// finishes the work in flight.
pub fn main(args: WorkerArgs, model: &crate::cli::ModelArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let clients = AwsClients::connect(&args.settings()).await;
        let detector: Arc<dyn Detector> = match args.detector {
            DetectorChoice::Local => Arc::new(
                crate::LocalDetector::load(&model.model_path, model.options())
                    .with_context(|| format!("loading {}", model.model_path.display()))?,
            ),
            DetectorChoice::Rekognition => Arc::new(super::rekognition::RekognitionDetector::new(
                &clients.sdk_config,
                model.options(),
            )),
        };
        let listener = TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested; finishing the pictures in flight");
            let _ = tx.send(true);
        });
        run(args, clients, detector, listener, rx).await
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
