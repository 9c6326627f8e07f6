//! Cloud backends: posts in DynamoDB ([`DynamoStore`], text search in [`search`]), pictures in S3
//! ([`S3BlobStore`]), upload events through SQS, and the provisioning of all of it
//! ([`init::init_aws`]).
//!
//! Every client is built from one [`AwsSettings`]: the region, an optional endpoint
//! override (`POSTAGRAM_AWS_ENDPOINT_URL`: MinIO, ScyllaDB Alternator, an emulator; S3
//! then uses path-style addressing) and the standard credential chain. The HTTPS stack is
//! rustls on `ring`, the crypto provider the rest of the workspace already uses.

mod batch;
pub mod client;
pub mod cursor;
pub mod dynamo;
mod dynamo_accounts;
mod dynamo_items;
pub mod init;
pub mod profiles;
pub mod s3;
pub mod search;
pub mod tokens;

pub use client::{AwsClients, AwsSettings};
pub use dynamo::DynamoStore;
pub use s3::S3BlobStore;
/// The SDK crates, re-exported so dependants and tests use the same versions.
pub use {aws_sdk_dynamodb, aws_sdk_s3, aws_sdk_sqs};

/// Renders an SDK error with its whole source chain (the SDK's `Display` alone says only
/// "service error").
pub fn sdk_message<E>(e: &E) -> String
where
    E: std::error::Error,
{
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}
