//! AWS Lambda entry point for the S3 trigger (the original Postagram design): the same
//! pipeline and detector as the workers, one invocation per S3 notification. An error
//! result makes Lambda retry the asynchronous invocation (and then its on-failure
//! destination / DLQ take it).

use std::sync::Arc;

use anyhow::Context;
use lambda_runtime::{service_fn, LambdaEvent};
use postagram_core::aws::{AwsClients, AwsSettings, DynamoStore, S3BlobStore};
use postagram_core::jobs::LabelJobQueue;
use postagram_core::store::PostStore;
use serde_json::{json, Value};

use super::jobs::{label_records, StoreSink};
use crate::events::{parse, S3Notification};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::Detector;

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

/// Runs the Lambda runtime loop with the table and bucket from `POSTAGRAM_TABLE` and
/// `POSTAGRAM_BUCKET` and the given detector.
pub async fn run(
    settings: AwsSettings,
    detector: impl FnOnce(&AwsClients) -> anyhow::Result<Arc<dyn Detector>>,
) -> anyhow::Result<()> {
    let init = async {
        let table = std::env::var("POSTAGRAM_TABLE").context("POSTAGRAM_TABLE is required")?;
        let bucket = std::env::var("POSTAGRAM_BUCKET").context("POSTAGRAM_BUCKET is required")?;
        let clients = AwsClients::connect(&settings).await;
        let store: Arc<dyn PostStore> = Arc::new(DynamoStore::new(clients.dynamo.clone(), table));
        let sink: Arc<dyn LabelJobQueue> = Arc::new(StoreSink::new(store.clone()));
        let pipeline = Arc::new(Pipeline::new(
            sink,
            Arc::new(S3BlobStore::new(clients.s3.clone(), bucket)),
            detector(&clients)?,
            PipelineConfig::default(),
        ));
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
