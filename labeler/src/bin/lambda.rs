//! `postagram-labeler-lambda`: the labeller as an AWS Lambda function on the bucket's
//! `ObjectCreated` trigger. Settings come from the environment (see
//! `postagram_labeler::cloud::lambda::LambdaArgs`); logs are JSON lines for CloudWatch.

use clap::Parser;
use postagram_core::settings::{log, LogFormat};
use postagram_labeler::cloud::{init_error, lambda};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    log::init(LogFormat::Json);
    // Unusable settings are reported to the Runtime API like any other start-up failure.
    let args = match lambda::LambdaArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let e = anyhow::anyhow!("{e}");
            init_error::report(&e).await;
            return Err(e);
        }
    };
    lambda::run(args).await
}
