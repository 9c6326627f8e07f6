//! In-process labeler workers of the embedded server.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;

/// Starts the labeler workers that consume the SQLite job table.
pub fn spawn_workers(
    _config: &Config,
    _state: &AppState,
    _stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    Ok(Vec::new())
}
