//! Settings of `postagram-labeler worker`, built from the shared flag groups of the settings
//! contract. Compiled in every build, so a build without the `aws` feature still parses
//! `worker` and says how to get one, and the settings contract test can parse what the
//! operator gives the worker pod.

use clap::{Args, ValueEnum};
use postagram_core::settings::{env, AwsArgs, DetectorArgs, ListenArgs, LogArgs, SettingError};

/// Where upload events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// Long-poll the SQS queue the bucket notifies (`POSTAGRAM_QUEUE_URL`).
    Sqs,
    /// `POST /events` webhook with the S3 event JSON (MinIO), with a shared secret.
    Http,
}

/// Settings of `postagram-labeler worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Event source.
    #[arg(long, value_enum, default_value = "sqs")]
    pub source: Source,
    /// Which detector labels pictures.
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Table, bucket, queue, endpoint and region.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Address of `/healthz`, `/readyz`, `/metrics` (and `/events` with `--source http`).
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Log format.
    #[command(flatten)]
    pub log: LogArgs,
    /// Memory all picture decoders of the worker may hold at once.
    #[command(flatten)]
    pub decode: crate::decode_budget::DecodeBudgetArgs,
    /// Shared secret of the webhook (`x-postagram-secret` or `Authorization: Bearer`).
    #[arg(long, env = env::WEBHOOK_SECRET, hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Pictures labelled at once (default: number of cores).
    #[arg(long, env = env::LABELER_CONCURRENCY)]
    pub concurrency: Option<usize>,
    /// SQS long-poll wait in seconds (0–20).
    #[arg(long, default_value_t = 20)]
    pub wait_secs: i32,
}

/// Shortest webhook secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

impl WorkerArgs {
    /// Rejects settings the worker cannot run with, naming the variable to fix: what the
    /// worker checks before connecting, and what the settings contract test runs on the
    /// environment the operator gives the labeler pod.
    pub fn check(&self) -> Result<(), SettingError> {
        let reason = "for `postagram-labeler worker`";
        self.aws.table(reason)?;
        self.aws.bucket(reason)?;
        match self.source {
            Source::Sqs => {
                self.aws.queue_url("with --source sqs")?;
            }
            Source::Http => {
                if self
                    .webhook_secret
                    .as_deref()
                    .is_none_or(|s| s.len() < MIN_SECRET_LEN)
                {
                    return Err(SettingError::Invalid {
                        name: env::WEBHOOK_SECRET,
                        message: format!(
                            "--source http needs a secret of at least {MIN_SECRET_LEN} characters"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Pictures labelled at once: the setting, else the number of cores.
    pub fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    fn parse(args: &[&str]) -> WorkerArgs {
        let mut all = vec!["worker"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("parse").worker
    }

    #[test]
    fn sqs_needs_table_bucket_and_queue() {
        let err = parse(&["--table", "t", "--bucket", "b"])
            .check()
            .unwrap_err();
        assert!(err.to_string().starts_with(env::QUEUE_URL), "{err}");
        let ok = parse(&["--table", "t", "--bucket", "b", "--queue-url", "http://q"]);
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(
            ok.listen.addr.port(),
            postagram_core::settings::defaults::HTTP_PORT
        );
        let err = parse(&["--bucket", "b", "--queue-url", "http://q"])
            .check()
            .unwrap_err();
        assert!(err.to_string().starts_with(env::TABLE), "{err}");
    }

    #[test]
    fn webhook_needs_a_long_secret() {
        let short = parse(&[
            "--source",
            "http",
            "--table",
            "t",
            "--bucket",
            "b",
            "--webhook-secret",
            "short",
        ]);
        assert!(short.check().is_err());
        let long = parse(&[
            "--source",
            "http",
            "--table",
            "t",
            "--bucket",
            "b",
            "--webhook-secret",
            "0123456789abcdef",
        ]);
        assert_eq!(long.check(), Ok(()));
    }
}
