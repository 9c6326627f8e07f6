//! Configuration: every `POSTAGRAM_*` variable of the architecture, each also a flag.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// Which detector labels pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorKind {
    /// The bundled EfficientNet-Lite0 model, on the CPU.
    Local,
    /// Amazon Rekognition (aws store: used by `postagram-labeler worker --detector rekognition`).
    Rekognition,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
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
    /// Uses POSTAGRAM_TABLE, POSTAGRAM_BUCKET, POSTAGRAM_QUEUE_URL (or --queue-name),
    /// POSTAGRAM_AWS_ENDPOINT_URL and AWS_REGION.
    InitAws {
        /// Queue name when POSTAGRAM_QUEUE_URL is not set yet (it is printed at the end).
        #[arg(long, default_value = "postagram-uploads")]
        queue_name: String,
        /// Receives of one upload event before it moves to the dead-letter queue.
        #[arg(long, default_value_t = 3)]
        max_receive_count: u32,
    },
}

/// Every server setting. Each field reads a `POSTAGRAM_*` variable when its flag is absent.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "POSTAGRAM_ADDR", default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,
    /// Base URL clients reach this server at (used in upload/download URLs and `Link`
    /// headers). Default: http://localhost:<port>.
    #[arg(long, env = "POSTAGRAM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Storage backend.
    #[arg(long, env = "POSTAGRAM_STORE", value_enum, default_value = "embedded")]
    pub store: StoreKind,
    /// Embedded store: folder for the SQLite database, pictures and the generated secret.
    #[arg(long, env = "POSTAGRAM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Authentication mode. `header` trusts the `Authorization` header blindly.
    #[arg(long, env = "POSTAGRAM_AUTH", value_enum, default_value = "jwt")]
    pub auth: AuthMode,
    /// Secret for signing JWTs and picture URLs. Embedded: generated once and kept in the
    /// data directory when unset.
    #[arg(long, env = "POSTAGRAM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of a login token, in seconds.
    #[arg(long, env = "POSTAGRAM_JWT_TTL_SECS", default_value_t = 86_400)]
    pub jwt_ttl_secs: u64,
    /// AWS store: DynamoDB table name.
    #[arg(long, env = "POSTAGRAM_TABLE")]
    pub table: Option<String>,
    /// AWS store: S3 bucket name.
    #[arg(long, env = "POSTAGRAM_BUCKET")]
    pub bucket: Option<String>,
    /// AWS store: SQS queue URL of upload events.
    #[arg(long, env = "POSTAGRAM_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// AWS store: endpoint override for every AWS client (MinIO, Alternator, an emulator).
    #[arg(long, env = "POSTAGRAM_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// AWS store: region.
    #[arg(long, env = "AWS_REGION")]
    pub aws_region: Option<String>,
    /// Which detector labels pictures.
    #[arg(long, env = "POSTAGRAM_DETECTOR", value_enum, default_value = "local")]
    pub detector: DetectorKind,
    /// Local detector: the converted EfficientNet-Lite0 weights (`make model`).
    #[arg(
        long,
        env = "POSTAGRAM_MODEL_PATH",
        default_value = "models/efficientnet-lite0.safetensors"
    )]
    pub model_path: PathBuf,
    /// Most labels kept per picture.
    #[arg(long, env = "POSTAGRAM_MAX_LABELS", default_value_t = 5)]
    pub max_labels: usize,
    /// Least confidence (percent, 0–100) a label needs to be kept.
    #[arg(long, env = "POSTAGRAM_MIN_CONFIDENCE", default_value_t = 10.0)]
    pub min_confidence: f32,
    /// Embedded store: labeler worker tasks (default: number of cores; 0 turns labelling off).
    #[arg(long, env = "POSTAGRAM_LABELER_WORKERS")]
    pub labeler_workers: Option<usize>,
    /// Allowed CORS origins, comma-separated, or `*`. Default: `*` in embedded mode.
    #[arg(long, env = "POSTAGRAM_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Log format.
    #[arg(long, env = "POSTAGRAM_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Largest picture upload, in bytes (20 MiB).
    #[arg(long, env = "POSTAGRAM_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Largest JSON request body, in bytes.
    #[arg(long, env = "POSTAGRAM_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Requests taking longer than this many seconds are cut off with 503.
    #[arg(long, env = "POSTAGRAM_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Lifetime of presigned upload and picture URLs, in seconds.
    #[arg(long, env = "POSTAGRAM_URL_EXPIRY_SECS", default_value_t = 900)]
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

    /// A configuration for tests: embedded store in `data_dir`, random port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let mut c =
            Config::from_args(["postagram-api"]).unwrap_or_else(|e| panic!("default config: {e}"));
        c.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        c.data_dir = data_dir.into();
        c.jwt_secret = Some("test-secret-test-secret-test-secret".into());
        c.labeler_workers = Some(0);
        c.limits.relax_for_tests();
        c
    }
}
