//! Bounds on what one TCP connection can hold (issue 10, slowloris on headers and bodies,
//! connection floods): the settings of [`crate::serve`] and of the body read timeout.

use std::time::Duration;

use clap::Args;
use postagram_core::settings::env;

/// Connection settings, flattened into [`super::LimitSettings`]. Every duration is in
/// seconds and at least 1 (a `0` is read as 1); the connection cap is at least 1.
#[derive(Debug, Clone, Args)]
pub struct ConnectionSettings {
    /// Seconds a connection has to send a complete request head, from its accept or from
    /// its first byte after an idle keep-alive period; then it is closed without an answer.
    #[arg(long, env = env::HEADER_READ_TIMEOUT_SECS, default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between two requests; then it is
    /// closed.
    #[arg(long, env = env::KEEP_ALIVE_SECS, default_value_t = 60)]
    pub keep_alive_secs: u64,
    /// Seconds a request body may go without delivering a byte; then the request ends
    /// with 408 `request_timeout` and the connection is closed.
    #[arg(long, env = env::BODY_READ_TIMEOUT_SECS, default_value_t = 30)]
    pub body_read_timeout_secs: u64,
    /// Connections held open at once. At the cap the server stops accepting: new clients
    /// wait in the kernel's listen backlog until a connection ends.
    #[arg(long, env = env::MAX_CONNECTIONS, default_value_t = 1024)]
    pub max_connections: usize,
}

impl ConnectionSettings {
    /// How long a request head may take.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    /// How long a connection may idle between requests.
    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs.max(1))
    }

    /// How long a request body may stall.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs.max(1))
    }

    /// The connection cap.
    pub fn max_connections(&self) -> usize {
        self.max_connections.max(1)
    }
}
