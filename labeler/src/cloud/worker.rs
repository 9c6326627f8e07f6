//! `postagram-labeler worker`: the cloud labeller process.

use std::sync::Arc;

use anyhow::Context;
use postagram_core::aws::{AwsClients, AwsSettings, DynamoStore, S3BlobStore};
use postagram_core::blob::BlobStore;
use postagram_core::jobs::LabelJobQueue;
use postagram_core::settings::{shutdown, DetectorKind, ModelArgs};
use postagram_core::store::PostStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::jobs::StoreSink;
use super::metrics::WorkerMetrics;
use super::serve::{router, EventsState, Readiness};
use super::sqs::{self, SqsJobQueue};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::worker_args::{Source, WorkerArgs};
use crate::{DetectOptions, Detector};

/// Runs the worker until `stop` turns true; returns after the jobs in flight finished.
pub async fn run(
    args: WorkerArgs,
    clients: AwsClients,
    detector: Arc<dyn Detector>,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    args.check()?;
    let reason = "for `postagram-labeler worker`";
    let store: Arc<dyn PostStore> = Arc::new(DynamoStore::new(
        clients.dynamo.clone(),
        args.aws.table(reason)?,
    ));
    let blobs: Arc<dyn BlobStore> = Arc::new(S3BlobStore::new(
        clients.s3.clone(),
        args.aws.bucket(reason)?,
    ));
    let metrics = Arc::new(WorkerMetrics::default());
    // The pipeline decodes each picture once (for the model and the derived sizes) under
    // this budget.
    let budget = args.decode.budget();
    let hook_metrics = metrics.clone();
    let hook: crate::pipeline::ReportHook = Arc::new(move |r| hook_metrics.record(r));
    let concurrency = args.concurrency();
    let mut http_stop = stop.clone();
    let shutdown = async move {
        let _ = http_stop.wait_for(|s| *s).await;
    };
    match args.source {
        Source::Sqs => {
            let url = args.aws.queue_url("with --source sqs")?;
            let queue = Arc::new(SqsJobQueue::new(
                clients.sqs.clone(),
                url,
                store.clone(),
                args.wait_secs,
                metrics.clone(),
            ));
            let jobs: Arc<dyn LabelJobQueue> = queue.clone();
            let pipeline = Arc::new(
                Pipeline::new(jobs, blobs, detector, PipelineConfig::default())
                    .with_hook(hook)
                    .with_decode_budget(budget),
            );
            let readiness = Readiness {
                store,
                queue: Some(queue.clone()),
                metrics: metrics.clone(),
            };
            let app = router(metrics, readiness, None);
            let server = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            });
            tracing::info!(addr = %args.listen.addr, "labeler worker reading SQS");
            sqs::run(queue, pipeline, concurrency, stop).await;
            server.await??;
        }
        Source::Http => {
            // `args.check()` made sure the secret is set and long enough.
            let secret = args.webhook_secret.clone().unwrap_or_default();
            let sink: Arc<dyn LabelJobQueue> = Arc::new(StoreSink::new(store.clone()));
            let pipeline = Arc::new(
                Pipeline::new(sink, blobs, detector, PipelineConfig::default())
                    .with_hook(hook)
                    .with_decode_budget(budget),
            );
            let readiness = Readiness {
                store: store.clone(),
                queue: None,
                metrics: metrics.clone(),
            };
            let state = EventsState {
                pipeline,
                store,
                secret: secret.into(),
                metrics: metrics.clone(),
            };
            tracing::info!(addr = %args.listen.addr, "labeler worker listening for events");
            axum::serve(listener, router(metrics, readiness, Some(state)))
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    tracing::info!("labeler worker stopped");
    Ok(())
}

/// The detector the settings choose, shared by the worker and the Lambda entry point.
pub fn detector(
    kind: DetectorKind,
    model: &ModelArgs,
    decode: &crate::decode_budget::DecodeBudgetArgs,
    clients: &AwsClients,
) -> anyhow::Result<Arc<dyn Detector>> {
    let opts = DetectOptions::from_args(model);
    Ok(match kind {
        DetectorKind::Local => Arc::new(
            crate::LocalDetector::load(&model.model_path, opts)
                .with_context(|| format!("loading {}", model.model_path.display()))?
                .with_decode_budget(decode.budget()),
        ),
        DetectorKind::Rekognition => Arc::new(super::rekognition::RekognitionDetector::new(
            &clients.sdk_config,
            opts,
        )),
    })
}

/// The `worker` subcommand: checks its settings, loads the detector, binds, runs until
/// SIGTERM/SIGINT and finishes the work in flight.
pub fn main(args: WorkerArgs, model: &ModelArgs) -> anyhow::Result<()> {
    postagram_core::settings::log::init(args.log.log_format);
    args.check()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let clients = AwsClients::connect(&AwsSettings::from_args(&args.aws)).await;
        let detector = detector(args.detector.detector, model, &args.decode, &clients)?;
        let listener = TcpListener::bind(args.listen.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen.addr))?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown::signal().await;
            tracing::info!("finishing the pictures in flight");
            let _ = tx.send(true);
        });
        run(args, clients, detector, listener, rx).await
    })
}
