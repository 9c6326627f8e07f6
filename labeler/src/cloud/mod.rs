//! Cloud entry points of the labeller: the same [`Pipeline`](crate::pipeline::Pipeline)
//! and [`Detector`](crate::Detector), fed by S3 upload events from SQS
//! (`worker --source sqs`) or from a webhook (`worker --source http`, MinIO), with the
//! labels written to the DynamoDB store.
//!
//! Public: the entry points (`worker`, `lambda`, `init_error`) and the Rekognition detector.
//! The rest (event parsing, job preparation, the SQS loop, the HTTP side, metrics) is
//! theirs alone.

mod events;
#[cfg(feature = "lambda")]
pub mod init_error;
mod jobs;
#[cfg(feature = "lambda")]
pub mod lambda;
mod metrics;
pub mod rekognition;
mod serve;
mod sqs;
pub mod worker;
