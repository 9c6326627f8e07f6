//! The embedded server's master secret: from `POSTAGRAM_JWT_SECRET`, or generated once
//! and kept (mode 0600) in the data directory so tokens survive restarts.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

/// File name of the generated secret inside the data directory.
pub const SECRET_FILE: &str = "secret.key";

/// Reads the secret in `data_dir`, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let bytes = hex::decode(text.trim())?;
        anyhow::ensure!(
            bytes.len() >= 32,
            "{} is too short; delete it to regenerate",
            path.display()
        );
        return Ok(bytes);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(hex::encode(&bytes).as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(bytes)
}
