//! Cloud entry points of the labeller: the same [`Pipeline`](crate::pipeline::Pipeline)
//! and [`Detector`](crate::Detector), fed by S3 upload events from SQS
//! (`worker --source sqs`) or from a webhook (`worker --source http`, MinIO), with the
//! labels written to the DynamoDB store.

#[cfg(feature = "lambda")]
pub mod init_error;
pub mod jobs;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod metrics;
pub mod rekognition;
pub mod serve;
pub mod sqs;
pub mod worker;
