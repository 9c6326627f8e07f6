//! `postagram-labeler-lambda`: the labeller as an AWS Lambda function on the bucket's
//! `ObjectCreated` trigger. Settings come from the environment (see
//! `postagram_labeler::cloud::lambda::LambdaArgs`); logs are JSON lines for CloudWatch.

use clap::Parser;
use postagram_core::settings::{log, LogFormat};
use postagram_labeler::cloud::lambda::{run, LambdaArgs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    log::init(LogFormat::Json);
    run(LambdaArgs::parse()).await
}
