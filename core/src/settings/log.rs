//! The one log initialisation of every Postagram binary: `RUST_LOG` filter (default
//! `info`), text or JSON lines on stdout, where a container runtime collects them.

use tracing_subscriber::EnvFilter;

use super::args::LogFormat;
use super::{defaults, env};

/// Installs the global subscriber. A second call (tests) keeps the first one.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env(env::RUST_LOG)
        .unwrap_or_else(|_| EnvFilter::new(defaults::RUST_LOG));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
