//! The embedded server's master secret: from `POSTAGRAM_JWT_SECRET`, or generated once
//! and kept (mode 0600) in the data directory so tokens survive restarts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use postagram_core::private_fs;
use rand::RngCore;

/// File name of the generated secret inside the data directory.
pub const SECRET_FILE: &str = "secret.key";

/// Reads the secret in `data_dir`, creating it (0600, in a 0700 directory when that is
/// new) on first start; warns when an existing one is accessible to other users.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        private_fs::warn_if_exposed(&path, "the secret file");
        let bytes = hex::decode(text.trim())?;
        anyhow::ensure!(
            bytes.len() >= 32,
            "{} is too short; delete it to regenerate",
            path.display()
        );
        return Ok(bytes);
    }
    private_fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut bytes = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut file = private_fs::create_new_file(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(hex::encode(&bytes).as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(bytes)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_secret_and_a_new_data_dir_are_private_and_the_secret_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let first = load_or_create(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(SECRET_FILE)), 0o600);
        // An exposed secret is still read (and warned about), not rewritten.
        std::fs::set_permissions(
            dir.join(SECRET_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(load_or_create(&dir).unwrap(), first);
        assert_eq!(mode(&dir.join(SECRET_FILE)), 0o644);
    }
}
