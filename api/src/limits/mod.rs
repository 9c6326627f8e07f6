//! Bounds on memory and work per client (issue 10): the list cache's byte bound, password
//! hashing concurrency, rate limits per client address and per user, the client
//! address itself (`X-Forwarded-For` from trusted proxies only), and what one connection
//! can hold (header, idle and body timeouts, the connection cap).
//!
//! Every setting is in [`LimitSettings`], flattened into the server's `Config`.

pub mod body;
pub mod client_addr;
pub mod connections;
pub mod hashing;
pub mod login;
pub mod rate;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use postagram_core::settings::env;
use postagram_labeler::decode_budget::DecodeBudgetArgs;

use crate::list_cache::ListCache;
use client_addr::TrustedProxies;
use connections::ConnectionSettings;
use hashing::HashPool;
use login::LoginGuard;
use rate::KeyedRate;

/// Default byte bound of the `GET /posts` answer cache: 64 MiB.
pub const DEFAULT_LIST_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The settings of every limit. Rates are per minute (or hour) with a burst of the same
/// size; `0` turns a rate limit off.
#[derive(Debug, Clone, Args)]
pub struct LimitSettings {
    /// Bytes of rendered `GET /posts` answers kept in the cache (each entry weighed:
    /// body, headers, key).
    #[arg(long, env = env::LIST_CACHE_BYTES, default_value_t = DEFAULT_LIST_CACHE_BYTES)]
    pub list_cache_bytes: u64,
    /// Seconds a cached `GET /posts` answer lives (also bounds picture URL staleness).
    #[arg(long, env = env::LIST_CACHE_TTL_SECS, default_value_t = 30)]
    pub list_cache_ttl_secs: u64,
    /// Password hashes (Argon2, ~19 MiB each) computed at once. Default: number of cores.
    #[arg(long, env = env::PASSWORD_HASH_CONCURRENCY)]
    pub password_hash_concurrency: Option<usize>,
    /// Milliseconds a sign-up or login waits for a hashing slot before 503 + Retry-After.
    #[arg(long, env = env::PASSWORD_HASH_WAIT_MS, default_value_t = 2000)]
    pub password_hash_wait_ms: u64,
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated CIDRs or addresses,
    /// e.g. `10.0.0.0/8,127.0.0.1`). Empty: the peer address is the client address.
    #[arg(long, env = env::TRUSTED_PROXIES, value_delimiter = ',', default_value = "")]
    pub trusted_proxies: Vec<String>,
    /// Sign-ups per client address per minute.
    #[arg(long, env = env::SIGNUP_RATE_PER_MINUTE, default_value_t = 10)]
    pub signup_rate_per_minute: u32,
    /// Failed logins per (account, client address) per minute; then that pair waits.
    #[arg(long, env = env::LOGIN_RATE_PER_MINUTE, default_value_t = 10)]
    pub login_rate_per_minute: u32,
    /// Failed logins per client address (any account) per minute; then that address waits.
    #[arg(long, env = env::LOGIN_ADDRESS_FAILURES_PER_MINUTE, default_value_t = 30)]
    pub login_address_failures_per_minute: u32,
    /// Failed logins per account (all addresses) per hour; past it, addresses that
    /// already failed for the account wait; other addresses are not held back.
    #[arg(long, env = env::LOGIN_ACCOUNT_FAILURES_PER_HOUR, default_value_t = 100)]
    pub login_account_failures_per_hour: u32,
    /// Posts a user may create per minute.
    #[arg(long, env = env::POST_RATE_PER_MINUTE, default_value_t = 60)]
    pub post_rate_per_minute: u32,
    /// Upload URLs (`/signedUrlPut`) and uploads (`PUT /objects`) per user per minute, each.
    #[arg(long, env = env::UPLOAD_RATE_PER_MINUTE, default_value_t = 60)]
    pub upload_rate_per_minute: u32,
    /// Memory budget of the in-process labeler's picture decoding.
    #[command(flatten)]
    pub decode: DecodeBudgetArgs,
    /// Header, idle and body timeouts and the connection cap.
    #[command(flatten)]
    pub connections: ConnectionSettings,
}

impl LimitSettings {
    /// Generous limits for tests: no test is rate limited unless it sets a limit itself.
    pub fn relax_for_tests(&mut self) {
        self.signup_rate_per_minute = 0;
        self.login_address_failures_per_minute = 0;
        self.login_account_failures_per_hour = 0;
        self.post_rate_per_minute = 0;
        self.upload_rate_per_minute = 0;
        // A loaded test machine must not turn sign-ups away.
        self.password_hash_wait_ms = 60_000;
    }

    /// The `GET /posts` answer cache these settings describe.
    pub fn list_cache(&self) -> Arc<ListCache> {
        Arc::new(ListCache::new(
            self.list_cache_bytes,
            Duration::from_secs(self.list_cache_ttl_secs.max(1)),
        ))
    }

    /// The hashing concurrency: configured, or one per core.
    pub fn hash_concurrency(&self) -> usize {
        self.password_hash_concurrency
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .max(1)
    }
}

/// The limits of a running server, built once from [`LimitSettings`].
pub struct Limits {
    /// Whose `X-Forwarded-For` counts.
    pub trusted_proxies: TrustedProxies,
    /// Bounded Argon2 work.
    pub hashing: HashPool,
    /// Sign-ups per client address.
    pub signup: KeyedRate<std::net::IpAddr>,
    /// Failed-login accounting.
    pub login: LoginGuard,
    /// Post creation per user.
    pub posts: KeyedRate<String>,
    /// `/signedUrlPut` per user.
    pub upload_urls: KeyedRate<String>,
    /// `PUT /objects` per user.
    pub uploads: KeyedRate<String>,
}

impl Limits {
    /// Builds every limit; fails on a malformed trusted-proxy entry.
    pub fn new(s: &LimitSettings) -> anyhow::Result<Self> {
        Ok(Limits {
            trusted_proxies: TrustedProxies::parse(&s.trusted_proxies)?,
            hashing: HashPool::new(
                s.hash_concurrency(),
                Duration::from_millis(s.password_hash_wait_ms),
            ),
            signup: KeyedRate::per_minute(s.signup_rate_per_minute),
            login: LoginGuard::new(
                s.login_rate_per_minute,
                s.login_address_failures_per_minute,
                s.login_account_failures_per_hour,
            ),
            posts: KeyedRate::per_minute(s.post_rate_per_minute),
            upload_urls: KeyedRate::per_minute(s.upload_rate_per_minute),
            uploads: KeyedRate::per_minute(s.upload_rate_per_minute),
        })
    }
}
