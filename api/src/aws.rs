//! The cloud store of the API (`POSTAGRAM_STORE=aws`) and `admin init-aws`.

use std::sync::Arc;

use postagram_core::aws::init::{init_aws, queue_name, InitReport, InitSettings};
use postagram_core::aws::{AwsClients, AwsSettings, DynamoStore, S3BlobStore};
use postagram_core::blob::BlobStore;
use postagram_core::settings::env;
use postagram_core::store::PostStore;

use crate::config::Config;

/// The AWS settings of a configuration.
pub fn settings(config: &Config) -> AwsSettings {
    AwsSettings::from_args(&config.aws)
}

fn reason() -> String {
    format!("with {}=aws", env::STORE)
}

/// The post and picture stores on DynamoDB and S3, and the clients behind them.
pub struct AwsStores {
    /// Posts and users.
    pub store: Arc<dyn PostStore>,
    /// Pictures.
    pub blobs: Arc<dyn BlobStore>,
    /// The SDK clients (their call counter feeds the benchmark).
    pub clients: AwsClients,
}

/// Connects to the table and bucket named in the configuration.
pub async fn connect(config: &Config, settings: &AwsSettings) -> anyhow::Result<AwsStores> {
    let table = config.aws.table(&reason())?;
    let bucket = config.aws.bucket(&reason())?;
    let clients = AwsClients::connect(settings).await;
    Ok(AwsStores {
        store: Arc::new(DynamoStore::new(clients.dynamo.clone(), table)),
        blobs: Arc::new(S3BlobStore::new(clients.s3.clone(), bucket)),
        clients,
    })
}

/// `postagram-api admin init-aws`.
pub async fn init(
    config: &Config,
    default_queue: &str,
    max_receive_count: u32,
) -> anyhow::Result<InitReport> {
    let table = config.aws.table(&reason())?;
    let bucket = config.aws.bucket(&reason())?;
    let queue = config
        .aws
        .queue_url
        .as_deref()
        .map(queue_name)
        .unwrap_or(default_queue);
    let clients = AwsClients::connect(&settings(config)).await;
    let mut s = InitSettings::new(table, bucket, queue);
    s.max_receive_count = max_receive_count.max(1);
    Ok(init_aws(&clients, &s).await?)
}
