//! AWS Lambda entry point for the S3 trigger (the original Postagram design): the same
//! pipeline and detector as the workers, one invocation per S3 notification. An error
//! result makes Lambda retry the asynchronous invocation (and then its on-failure
//! destination / DLQ take it).

use std::sync::Arc;

use clap::Parser;
use lambda_runtime::{service_fn, LambdaEvent};
use postagram_core::aws::{AwsClients, AwsSettings, DynamoStore, S3BlobStore};
use postagram_core::jobs::LabelJobQueue;
use postagram_core::settings::{AwsArgs, DetectorArgs, ModelArgs};
use postagram_core::store::PostStore;
use serde_json::{json, Value};

use super::events::{parse, S3Notification};
use super::jobs::{label_records, StoreSink};
use crate::pipeline::{Pipeline, PipelineConfig};

/// Handles one invocation: the S3 event JSON in, `{"labelled", "failed"}` out.
pub async fn handle(
    store: &dyn PostStore,
    pipeline: &Pipeline,
    event: Value,
) -> Result<Value, lambda_runtime::Error> {
    let records = match parse(&event.to_string())? {
        S3Notification::Test => return Ok(json!({"labelled": 0, "failed": 0})),
        S3Notification::Created(r) => r,
    };
    let done = label_records(store, pipeline, records).await?;
    Ok(json!({"labelled": done.labelled, "failed": done.failed}))
}

/// Settings of the Lambda function, read from its environment with the same names and
/// defaults as the worker (`POSTAGRAM_TABLE`, `POSTAGRAM_BUCKET`, `POSTAGRAM_DETECTOR`,
/// `POSTAGRAM_MODEL_PATH`, `POSTAGRAM_MAX_LABELS`, `POSTAGRAM_MIN_CONFIDENCE`, …).
#[derive(Debug, Clone, Parser)]
#[command(name = "postagram-labeler-lambda", version)]
pub struct LambdaArgs {
    /// Which detector labels pictures.
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Local model and label options.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Table and bucket (the queue is Lambda's own trigger).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Memory the picture decoder may hold at once.
    #[command(flatten)]
    pub decode: crate::decode_budget::DecodeBudgetArgs,
}

/// Runs the Lambda runtime loop with the table, bucket and detector of `args`.
pub async fn run(args: LambdaArgs) -> anyhow::Result<()> {
    let init = async {
        let reason = "for the Lambda function";
        let table = args.aws.table(reason)?;
        let bucket = args.aws.bucket(reason)?;
        let clients = AwsClients::connect(&AwsSettings::from_args(&args.aws)).await;
        let detector =
            super::worker::detector(args.detector.detector, &args.model, &args.decode, &clients)?;
        let store: Arc<dyn PostStore> = Arc::new(DynamoStore::new(clients.dynamo.clone(), table));
        let sink: Arc<dyn LabelJobQueue> = Arc::new(StoreSink::new(store.clone()));
        let pipeline = Arc::new(
            Pipeline::new(
                sink,
                Arc::new(S3BlobStore::new(clients.s3.clone(), bucket)),
                detector,
                PipelineConfig::default(),
            )
            .with_decode_budget(args.decode.budget()),
        );
        anyhow::Ok((store, pipeline))
    };
    let (store, pipeline) = match init.await {
        Ok(parts) => parts,
        Err(e) => {
            super::init_error::report(&e).await;
            return Err(e);
        }
    };
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| {
        let store = store.clone();
        let pipeline = pipeline.clone();
        async move { handle(&*store, &pipeline, e.payload).await }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
