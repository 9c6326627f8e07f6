//! Names of the settings the operator writes into the pods, as fixed by ARCHITECTURE.md
//! ("one set of names for every binary and for the operator"). Kept as constants here so the
//! operator does not compile the application crates.

/// Listen address of the API (and the labeler's probe server).
pub const ADDR: &str = "POSTAGRAM_ADDR";
/// Externally reachable base URL of the API.
pub const PUBLIC_URL: &str = "POSTAGRAM_PUBLIC_URL";
/// `embedded` or `aws`.
pub const STORE: &str = "POSTAGRAM_STORE";
/// Data folder of the embedded store.
pub const DATA_DIR: &str = "POSTAGRAM_DATA_DIR";
/// `jwt` or `header`.
pub const AUTH: &str = "POSTAGRAM_AUTH";
/// HS256 signing secret.
pub const JWT_SECRET: &str = "POSTAGRAM_JWT_SECRET";
/// DynamoDB table.
pub const TABLE: &str = "POSTAGRAM_TABLE";
/// S3 bucket.
pub const BUCKET: &str = "POSTAGRAM_BUCKET";
/// SQS queue URL.
pub const QUEUE_URL: &str = "POSTAGRAM_QUEUE_URL";
/// Endpoint override for S3/DynamoDB/SQS-compatible stores.
pub const AWS_ENDPOINT_URL: &str = "POSTAGRAM_AWS_ENDPOINT_URL";
/// AWS region (standard AWS name).
pub const AWS_REGION: &str = "AWS_REGION";
/// `local` or `rekognition`.
pub const DETECTOR: &str = "POSTAGRAM_DETECTOR";
/// Path of the local model.
pub const MODEL_PATH: &str = "POSTAGRAM_MODEL_PATH";
/// Most labels per picture.
pub const MAX_LABELS: &str = "POSTAGRAM_MAX_LABELS";
/// Least confidence in percent.
pub const MIN_CONFIDENCE: &str = "POSTAGRAM_MIN_CONFIDENCE";
/// Comma-separated CORS origins.
pub const CORS_ORIGINS: &str = "POSTAGRAM_CORS_ORIGINS";
/// Log filter.
pub const RUST_LOG: &str = "RUST_LOG";
/// Standard AWS credential variables read from `storage.aws.credentialsSecret`.
pub const AWS_CREDENTIAL_KEYS: [(&str, bool); 3] = [
    ("AWS_ACCESS_KEY_ID", false),
    ("AWS_SECRET_ACCESS_KEY", false),
    ("AWS_SESSION_TOKEN", true),
];

/// Port the API and the labeler listen on inside the pod.
pub const HTTP_PORT: i32 = 8080;
/// Mount path of the embedded data volume.
pub const DATA_MOUNT: &str = "/data";
