//! Configuration: every setting of the API, each a flag backed by its environment variable.
//! Names, shared defaults and the flag groups the labeler also uses come from
//! `postagram_core::settings` (the settings contract).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use postagram_core::settings::{
    defaults, env, AwsArgs, DetectorArgs, ListenArgs, LogArgs, ModelArgs, SettingError,
};

pub use postagram_core::settings::{DetectorKind, LogFormat};

/// Where posts and pictures are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// SQLite + a picture folder in the data directory (one process, nothing to install).
    Embedded,
    /// DynamoDB + S3 (+ SQS upload events and `postagram-labeler worker`); needs a build
    /// with the `aws` feature.
    Aws,
}

/// How requests say who they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// `Authorization: Bearer <JWT>` from `POST /auth/login`.
    Jwt,
    /// The username itself in `Authorization` (course web app); trusted networks only.
    Header,
}

/// The `postagram-api` command line.
#[derive(Debug, Parser)]
#[command(
    name = "postagram-api",
    version,
    about = "Postagram REST API server (posts, pictures, labels)"
)]
pub struct Cli {
    /// Administrative commands; without one the server starts.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands of `postagram-api`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (the default).
    Serve,
    /// Print the OpenAPI 3.1 document and exit.
    Openapi,
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// Subcommands of `postagram-api admin`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create (or check) the DynamoDB table and its index, the S3 bucket, the upload queue
    /// with its dead-letter queue, and the bucket → queue notification. Idempotent.
    /// Uses the table, bucket, queue URL (or --queue-name), endpoint and region settings.
    InitAws {
        /// Queue name when the queue URL is not set yet (it is printed at the end).
        #[arg(long, default_value = "postagram-uploads")]
        queue_name: String,
        /// Receives of one upload event before it moves to the dead-letter queue.
        #[arg(long, default_value_t = 3)]
        max_receive_count: u32,
    },
}

/// Every server setting. Each field reads its environment variable when its flag is absent.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Listen address.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Base URL clients reach this server at (used in upload/download URLs and `Link`
    /// headers). Default: http://localhost:<port>.
    #[arg(long, env = env::PUBLIC_URL)]
    pub public_url: Option<String>,
    /// Storage backend.
    #[arg(long, env = env::STORE, value_enum, default_value = "embedded")]
    pub store: StoreKind,
    /// Embedded store: folder for the SQLite database, pictures and the generated secret.
    #[arg(long, env = env::DATA_DIR, default_value = defaults::DATA_DIR)]
    pub data_dir: PathBuf,
    /// Authentication mode. `header` trusts the `Authorization` header blindly.
    #[arg(long, env = env::AUTH, value_enum, default_value = "jwt")]
    pub auth: AuthMode,
    /// Secret for signing JWTs and picture URLs. Embedded: generated once and kept in the
    /// data directory when unset.
    #[arg(long, env = env::JWT_SECRET, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of a login token, in seconds.
    #[arg(long, env = env::JWT_TTL_SECS, default_value_t = 86_400)]
    pub jwt_ttl_secs: u64,
    /// AWS store: table, bucket, queue, endpoint, region.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Which detector labels pictures.
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Local model and label options.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Embedded store: labeler worker tasks (default: number of cores; 0 turns labelling off).
    #[arg(long, env = env::LABELER_WORKERS)]
    pub labeler_workers: Option<usize>,
    /// Allowed CORS origins, comma-separated, or `*`. Default: `*` in embedded mode.
    #[arg(long, env = env::CORS_ORIGINS)]
    pub cors_origins: Option<String>,
    /// Log format.
    #[command(flatten)]
    pub log: LogArgs,
    /// Largest picture upload, in bytes (20 MiB).
    #[arg(long, env = env::MAX_UPLOAD_BYTES, default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Largest JSON request body, in bytes.
    #[arg(long, env = env::MAX_BODY_BYTES, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Requests taking longer than this many seconds are cut off with 503.
    #[arg(long, env = env::REQUEST_TIMEOUT_SECS, default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Lifetime of presigned upload and picture URLs, in seconds.
    #[arg(long, env = env::URL_EXPIRY_SECS, default_value_t = 900)]
    pub url_expiry_secs: u64,
    /// Abuse limits: list cache bytes, hashing slots, rate limits, trusted proxies.
    #[command(flatten)]
    pub limits: crate::limits::LimitSettings,
}

impl Config {
    /// Parses flags and environment like the binary does, from explicit arguments.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Cli::try_parse_from(args).map(|c| c.config)
    }

    /// Rejects combinations the server cannot run with, naming the variable to fix: what
    /// `Application::build` checks first, and what the settings contract test runs on every
    /// environment the operator generates.
    pub fn check(&self) -> Result<(), SettingError> {
        let invalid = |name, message: &str| SettingError::Invalid {
            name,
            message: message.to_string(),
        };
        if self.detector.detector == DetectorKind::Rekognition && self.store == StoreKind::Embedded
        {
            return Err(invalid(env::DETECTOR, "rekognition needs the aws store (labels then come from `postagram-labeler worker --detector rekognition`); the embedded store labels with `local`"));
        }
        match &self.jwt_secret {
            Some(s) if s.len() < 16 => {
                return Err(invalid(env::JWT_SECRET, "must be at least 16 characters"))
            }
            None if self.store == StoreKind::Aws => {
                return Err(SettingError::Missing {
                    name: env::JWT_SECRET,
                    reason: format!("with {}=aws (every API replica must share it)", env::STORE),
                })
            }
            _ => {}
        }
        if self.store == StoreKind::Aws {
            let reason = format!("with {}=aws", env::STORE);
            self.aws.table(&reason)?;
            self.aws.bucket(&reason)?;
        }
        Ok(())
    }

    /// A configuration for tests: embedded store in `data_dir`, random port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let mut c =
            Config::from_args(["postagram-api"]).unwrap_or_else(|e| panic!("default config: {e}"));
        c.listen.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        c.data_dir = data_dir.into();
        c.jwt_secret = Some("test-secret-test-secret-test-secret".into());
        c.labeler_workers = Some(0);
        c.limits.relax_for_tests();
        c
    }
}
