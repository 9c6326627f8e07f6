//! Every environment variable a Postagram binary, the operator or a test harness reads,
//! named once. Binaries use these constants in their `clap` `env = …` attributes and the
//! operator uses them in the ConfigMaps and Deployments it builds, so a name cannot drift
//! between the two sides (`core/tests/settings_strays.rs` fails on a `POSTAGRAM_*` name
//! written anywhere else).

// --- shared by the API, the labeler worker and the Lambda entry point -------------------

/// Listen address (`host:port`) of an HTTP server: the API, the labeler worker's probe and
/// webhook server, the operator's metrics and probe server.
pub const ADDR: &str = "POSTAGRAM_ADDR";
/// Log line format: `text` or `json`.
pub const LOG_FORMAT: &str = "POSTAGRAM_LOG_FORMAT";
/// Log filter (`tracing_subscriber::EnvFilter` syntax), read by every binary.
pub const RUST_LOG: &str = "RUST_LOG";
/// Which detector labels pictures: `local` or `rekognition`.
pub const DETECTOR: &str = "POSTAGRAM_DETECTOR";
/// Path of the converted local model weights.
pub const MODEL_PATH: &str = "POSTAGRAM_MODEL_PATH";
/// Most labels kept per picture.
pub const MAX_LABELS: &str = "POSTAGRAM_MAX_LABELS";
/// Least confidence, in percent, a label needs to be kept.
pub const MIN_CONFIDENCE: &str = "POSTAGRAM_MIN_CONFIDENCE";
/// DynamoDB table (aws store).
pub const TABLE: &str = "POSTAGRAM_TABLE";
/// S3 bucket (aws store).
pub const BUCKET: &str = "POSTAGRAM_BUCKET";
/// SQS queue URL of upload events (aws store).
pub const QUEUE_URL: &str = "POSTAGRAM_QUEUE_URL";
/// Endpoint override for every AWS client (MinIO, moto, LocalStack, Alternator).
pub const AWS_ENDPOINT_URL: &str = "POSTAGRAM_AWS_ENDPOINT_URL";

// --- standard AWS names, read by the AWS SDK or by our AWS settings --------------------

/// AWS region (standard SDK name).
pub const AWS_REGION: &str = "AWS_REGION";
/// AWS access key id (read by the SDK's credential chain).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// AWS secret access key (read by the SDK's credential chain).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// AWS session token (optional; read by the SDK's credential chain).
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The credential variables the operator copies from `storage.aws.credentialsSecret`, with
/// whether each is optional in that Secret.
pub const AWS_CREDENTIALS: [(&str, bool); 3] = [
    (AWS_ACCESS_KEY_ID, false),
    (AWS_SECRET_ACCESS_KEY, false),
    (AWS_SESSION_TOKEN, true),
];

// --- the API ---------------------------------------------------------------------------

/// Base URL clients reach the API at.
pub const PUBLIC_URL: &str = "POSTAGRAM_PUBLIC_URL";
/// Storage backend: `embedded` or `aws`.
pub const STORE: &str = "POSTAGRAM_STORE";
/// Data folder of the embedded store.
pub const DATA_DIR: &str = "POSTAGRAM_DATA_DIR";
/// Authentication mode: `jwt` or `header`.
pub const AUTH: &str = "POSTAGRAM_AUTH";
/// HS256 secret for login tokens and picture URLs.
pub const JWT_SECRET: &str = "POSTAGRAM_JWT_SECRET";
/// Lifetime of a login token, in seconds.
pub const JWT_TTL_SECS: &str = "POSTAGRAM_JWT_TTL_SECS";
/// Labeler tasks inside the API in embedded mode (0 turns labelling off).
pub const LABELER_WORKERS: &str = "POSTAGRAM_LABELER_WORKERS";
/// Allowed CORS origins, comma-separated, or `*`.
pub const CORS_ORIGINS: &str = "POSTAGRAM_CORS_ORIGINS";
/// Largest picture upload, in bytes.
pub const MAX_UPLOAD_BYTES: &str = "POSTAGRAM_MAX_UPLOAD_BYTES";
/// Largest JSON request body, in bytes.
pub const MAX_BODY_BYTES: &str = "POSTAGRAM_MAX_BODY_BYTES";
/// Requests running longer than this many seconds are cut off.
pub const REQUEST_TIMEOUT_SECS: &str = "POSTAGRAM_REQUEST_TIMEOUT_SECS";
/// Lifetime of presigned upload and picture URLs, in seconds.
pub const URL_EXPIRY_SECS: &str = "POSTAGRAM_URL_EXPIRY_SECS";
/// Failed logins allowed per (account, client address) per minute before that pair
/// backs off (a right password from another address is never held back by it).
pub const LOGIN_RATE_PER_MINUTE: &str = "POSTAGRAM_LOGIN_RATE_PER_MINUTE";

// --- the labeler worker ------------------------------------------------------------------

/// Shared secret of the worker's HTTP webhook source.
pub const WEBHOOK_SECRET: &str = "POSTAGRAM_WEBHOOK_SECRET";
/// Pictures the worker labels at once.
pub const LABELER_CONCURRENCY: &str = "POSTAGRAM_LABELER_CONCURRENCY";

// --- abuse limits (issue 10: bounded memory and work per client, rate limits) ------------

/// Bytes of rendered `GET /posts` answers the API caches (weighed per entry).
pub const LIST_CACHE_BYTES: &str = "POSTAGRAM_LIST_CACHE_BYTES";
/// Seconds a cached `GET /posts` answer lives.
pub const LIST_CACHE_TTL_SECS: &str = "POSTAGRAM_LIST_CACHE_TTL_SECS";
/// Password hashes (sign-up, login) computed at once; default: the number of cores.
pub const PASSWORD_HASH_CONCURRENCY: &str = "POSTAGRAM_PASSWORD_HASH_CONCURRENCY";
/// Milliseconds a sign-up or login waits for a hashing slot before 503.
pub const PASSWORD_HASH_WAIT_MS: &str = "POSTAGRAM_PASSWORD_HASH_WAIT_MS";
/// Proxies (comma-separated CIDRs) whose `X-Forwarded-For` names the client address.
pub const TRUSTED_PROXIES: &str = "POSTAGRAM_TRUSTED_PROXIES";
/// Sign-ups allowed per client address per minute (0: no limit).
pub const SIGNUP_RATE_PER_MINUTE: &str = "POSTAGRAM_SIGNUP_RATE_PER_MINUTE";
/// Failed logins allowed per client address (any account) per minute (0: no limit).
pub const LOGIN_ADDRESS_FAILURES_PER_MINUTE: &str = "POSTAGRAM_LOGIN_ADDRESS_FAILURES_PER_MINUTE";
/// Failed logins allowed per account (all addresses) per hour before addresses that
/// failed for it back off (0: no limit).
pub const LOGIN_ACCOUNT_FAILURES_PER_HOUR: &str = "POSTAGRAM_LOGIN_ACCOUNT_FAILURES_PER_HOUR";
/// Posts a user may create per minute (0: no limit).
pub const POST_RATE_PER_MINUTE: &str = "POSTAGRAM_POST_RATE_PER_MINUTE";
/// Upload URLs (`/signedUrlPut`) and uploads (`PUT /objects`) per user per minute, each
/// (0: no limit).
pub const UPLOAD_RATE_PER_MINUTE: &str = "POSTAGRAM_UPLOAD_RATE_PER_MINUTE";
/// MiB of decoded pixels all picture decoders of one process may hold at once.
pub const DECODE_BUDGET_MIB: &str = "POSTAGRAM_DECODE_BUDGET_MIB";
/// Seconds a connection may take to deliver a complete request head, counted from its
/// accept or from the first byte after an idle keep-alive period (slowloris on headers).
pub const HEADER_READ_TIMEOUT_SECS: &str = "POSTAGRAM_HEADER_READ_TIMEOUT_SECS";
/// Seconds a keep-alive connection may stay idle between two requests before it is closed.
pub const KEEP_ALIVE_SECS: &str = "POSTAGRAM_KEEP_ALIVE_SECS";
/// Seconds a request body may go without delivering a byte before the request ends with
/// 408 (slowloris on bodies).
pub const BODY_READ_TIMEOUT_SECS: &str = "POSTAGRAM_BODY_READ_TIMEOUT_SECS";
/// Connections the API holds open at once; further clients wait to be accepted.
pub const MAX_CONNECTIONS: &str = "POSTAGRAM_MAX_CONNECTIONS";

// --- set by Kubernetes (downward API), read by the operator ----------------------------

/// Name of the operator's own pod (leader-election identity).
pub const POD_NAME: &str = "POD_NAME";
/// Namespace of the operator's own pod.
pub const POD_NAMESPACE: &str = "POD_NAMESPACE";

// --- the TUI -------------------------------------------------------------------------------

/// API base URL the TUI talks to.
pub const SERVER: &str = "POSTAGRAM_SERVER";
/// The TUI's config file.
pub const CONFIG: &str = "POSTAGRAM_CONFIG";
/// Forces the TUI's picture protocol: `halfblocks`, `kitty`, `sixel`, `iterm2` or `query`.
pub const PICTURES: &str = "POSTAGRAM_PICTURES";
/// Where the TUI writes its benchmark timings.
pub const TUI_BENCH_OUT: &str = "POSTAGRAM_TUI_BENCH_OUT";

// --- test and benchmark harnesses (scripts and tests, never the binaries) ------------------

/// Virtualenv of the pinned Python tools.
pub const VENV: &str = "POSTAGRAM_VENV";
/// A moto server already running, instead of one the tests start.
pub const MOTO_SERVER: &str = "POSTAGRAM_MOTO_SERVER";
/// Posts the benchmarks seed.
pub const BENCH_POSTS: &str = "POSTAGRAM_BENCH_POSTS";

/// Variables a binary reads through a library rather than through its own flags: the
/// settings contract test accepts these in a pod's environment without a matching flag.
pub const READ_BY_LIBRARIES: [&str; 4] = [
    RUST_LOG,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
];

/// Every name above: what the stray-name test accepts.
pub const ALL: &[&str] = &[
    ADDR,
    LOG_FORMAT,
    RUST_LOG,
    DETECTOR,
    MODEL_PATH,
    MAX_LABELS,
    MIN_CONFIDENCE,
    TABLE,
    BUCKET,
    QUEUE_URL,
    AWS_ENDPOINT_URL,
    AWS_REGION,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    PUBLIC_URL,
    STORE,
    DATA_DIR,
    AUTH,
    JWT_SECRET,
    JWT_TTL_SECS,
    LABELER_WORKERS,
    CORS_ORIGINS,
    MAX_UPLOAD_BYTES,
    MAX_BODY_BYTES,
    REQUEST_TIMEOUT_SECS,
    URL_EXPIRY_SECS,
    LOGIN_RATE_PER_MINUTE,
    WEBHOOK_SECRET,
    LABELER_CONCURRENCY,
    LIST_CACHE_BYTES,
    LIST_CACHE_TTL_SECS,
    PASSWORD_HASH_CONCURRENCY,
    PASSWORD_HASH_WAIT_MS,
    TRUSTED_PROXIES,
    SIGNUP_RATE_PER_MINUTE,
    LOGIN_ADDRESS_FAILURES_PER_MINUTE,
    LOGIN_ACCOUNT_FAILURES_PER_HOUR,
    POST_RATE_PER_MINUTE,
    UPLOAD_RATE_PER_MINUTE,
    DECODE_BUDGET_MIB,
    HEADER_READ_TIMEOUT_SECS,
    KEEP_ALIVE_SECS,
    BODY_READ_TIMEOUT_SECS,
    MAX_CONNECTIONS,
    POD_NAME,
    POD_NAMESPACE,
    SERVER,
    CONFIG,
    PICTURES,
    TUI_BENCH_OUT,
    VENV,
    MOTO_SERVER,
    BENCH_POSTS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_upper_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(*name), "{name} is listed twice");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{name} is not UPPER_SNAKE_CASE"
            );
        }
        for name in READ_BY_LIBRARIES {
            assert!(ALL.contains(&name), "{name} missing from ALL");
        }
    }
}
