//! Flag groups more than one binary uses, each flag backed by its environment variable
//! from [`super::env`] and its default from [`super::defaults`]. A binary `#[command(flatten)]`s
//! the groups it needs, so the API, the labeler worker and the Lambda entry point read the
//! same names with the same defaults and the same validation.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{defaults, env};

/// A setting that is missing or unusable, named by its environment variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingError {
    /// A setting this mode needs is not set (or empty).
    #[error("{name} is required {reason}")]
    Missing {
        /// Environment variable name.
        name: &'static str,
        /// When it is required, e.g. "with POSTAGRAM_STORE=aws".
        reason: String,
    },
    /// A setting is set to a value this mode cannot use.
    #[error("{name}: {message}")]
    Invalid {
        /// Environment variable name.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Where an HTTP server listens (`POSTAGRAM_ADDR`): API, labeler worker, operator.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address to listen on (`/healthz`, `/readyz` and `/metrics` are served there).
    #[arg(long, env = env::ADDR, default_value = defaults::ADDR)]
    pub addr: SocketAddr,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// How a binary logs (`POSTAGRAM_LOG_FORMAT`; the filter is `RUST_LOG`).
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Where the DynamoDB table, the S3 bucket and the SQS queue are. Each is optional here;
/// [`AwsArgs::table`] and friends say which mode needs which.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS store: DynamoDB table name.
    #[arg(long, env = env::TABLE)]
    pub table: Option<String>,
    /// AWS store: S3 bucket name.
    #[arg(long, env = env::BUCKET)]
    pub bucket: Option<String>,
    /// AWS store: SQS queue URL of upload events.
    #[arg(long, env = env::QUEUE_URL)]
    pub queue_url: Option<String>,
    /// AWS store: endpoint override for every AWS client (MinIO, moto, Alternator).
    #[arg(long, env = env::AWS_ENDPOINT_URL)]
    pub aws_endpoint_url: Option<String>,
    /// AWS store: region.
    #[arg(long, env = env::AWS_REGION)]
    pub aws_region: Option<String>,
}

fn required<'a>(
    v: &'a Option<String>,
    name: &'static str,
    reason: &str,
) -> Result<&'a str, SettingError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SettingError::Missing {
            name,
            reason: reason.to_string(),
        })
}

impl AwsArgs {
    /// The table name, required `reason` (e.g. "with POSTAGRAM_STORE=aws").
    pub fn table(&self, reason: &str) -> Result<&str, SettingError> {
        required(&self.table, env::TABLE, reason)
    }
    /// The bucket name, required `reason`.
    pub fn bucket(&self, reason: &str) -> Result<&str, SettingError> {
        required(&self.bucket, env::BUCKET, reason)
    }
    /// The queue URL, required `reason`.
    pub fn queue_url(&self, reason: &str) -> Result<&str, SettingError> {
        required(&self.queue_url, env::QUEUE_URL, reason)
    }
}

/// Which detector labels pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorKind {
    /// The bundled EfficientNet-Lite0 model, on the CPU.
    Local,
    /// Amazon Rekognition `DetectLabels` (aws store only).
    Rekognition,
}

impl DetectorKind {
    /// The value as written in `POSTAGRAM_DETECTOR` (what the operator writes).
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Local => "local",
            DetectorKind::Rekognition => "rekognition",
        }
    }
}

/// The detector choice (`POSTAGRAM_DETECTOR`).
#[derive(Debug, Clone, Args)]
pub struct DetectorArgs {
    /// Which detector labels pictures.
    #[arg(long, env = env::DETECTOR, value_enum, default_value = "local")]
    pub detector: DetectorKind,
}

/// The local model and how many labels to keep (global, so subcommands accept them too).
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Local detector: the converted EfficientNet-Lite0 weights (`make model`).
    #[arg(long, env = env::MODEL_PATH, default_value = defaults::MODEL_PATH, global = true)]
    pub model_path: PathBuf,
    /// Most labels kept per picture.
    #[arg(long, env = env::MAX_LABELS, default_value_t = defaults::MAX_LABELS as usize, global = true)]
    pub max_labels: usize,
    /// Least confidence (percent, 0–100) a label needs to be kept.
    #[arg(long, env = env::MIN_CONFIDENCE, default_value_t = f32::from(defaults::MIN_CONFIDENCE), value_parser = parse_percent, global = true)]
    pub min_confidence: f32,
}

/// Parses a percentage between 0 and 100.
pub fn parse_percent(s: &str) -> Result<f32, String> {
    let v: f32 = s.trim().parse().map_err(|e| format!("not a number: {e}"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a percentage between 0 and 100"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct All {
        #[command(flatten)]
        listen: ListenArgs,
        #[command(flatten)]
        log: LogArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        detector: DetectorArgs,
        #[command(flatten)]
        model: ModelArgs,
    }

    #[test]
    fn defaults_come_from_the_defaults_module() {
        let a = All::try_parse_from(["x"]).expect("defaults parse");
        assert_eq!(a.listen.addr.port(), defaults::HTTP_PORT);
        assert_eq!(a.listen.addr.to_string(), defaults::ADDR);
        assert_eq!(a.model.max_labels, defaults::MAX_LABELS as usize);
        assert_eq!(a.model.min_confidence, f32::from(defaults::MIN_CONFIDENCE));
        assert_eq!(a.detector.detector, DetectorKind::Local);
        assert_eq!(a.log.log_format, LogFormat::Text);
    }

    #[test]
    fn aws_requirements_name_the_variable() {
        let a = AwsArgs {
            table: Some("  ".into()),
            ..AwsArgs::default()
        };
        let err = a.table("with POSTAGRAM_STORE=aws").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is required with POSTAGRAM_STORE=aws", env::TABLE)
        );
        assert!(a.bucket("for the worker").is_err());
    }

    #[test]
    fn percent_bounds() {
        assert_eq!(parse_percent(" 42.5 "), Ok(42.5));
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("x").is_err());
    }

    #[test]
    fn detector_strings_parse_back() {
        for k in [DetectorKind::Local, DetectorKind::Rekognition] {
            assert_eq!(DetectorKind::from_str(k.as_str(), false), Ok(k));
        }
    }
}
