//! Files and directories only the server's own user can open: the database (it holds
//! password hashes), the pictures, the generated secret and the directories holding them.
//!
//! Everything created here gets mode 0700 (directories) or 0600 (files) explicitly,
//! after creation, so the result does not depend on the umask. Existing files and
//! directories are never changed: [`warn_if_exposed`] says at start which of them other
//! users can read, and how to fix it (changing an operator's chosen modes silently
//! would be surprising; a Kubernetes `fsGroup`, for instance, makes a volume
//! group-accessible on purpose).
//!
//! SQLite creates the `-wal` and `-shm` files itself, with the mode of the database
//! file; [`create_private_file`] before the first open therefore makes all three 0600.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of the directories created here.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files created here.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing ancestors, each with mode 0700. Directories that
/// already exist (including one another process creates meanwhile) are left as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    // The missing components, innermost first.
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cur = Some(dir);
    while let Some(p) = cur {
        if p.as_os_str().is_empty() || p.is_dir() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    for p in missing.iter().rev() {
        match create_dir(p) {
            Ok(()) => set_mode(p, DIR_MODE)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn create_dir(p: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(DIR_MODE).create(p)
}

#[cfg(not(unix))]
fn create_dir(p: &Path) -> io::Result<()> {
    std::fs::create_dir(p)
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// Creates a new file with mode 0600 and opens it for writing; fails when `path` exists.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask may have taken bits away from the requested mode; set it exactly.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Creates `path` as an empty 0600 file when it does not exist (before SQLite opens it,
/// so SQLite gives its `-wal` and `-shm` files the same mode). Returns whether it did.
pub fn create_private_file(path: &Path) -> io::Result<bool> {
    match create_new_file(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The group and other permission bits of `path` (`mode & 0o077`), `None` when there
/// are none, when it does not exist, or off unix.
pub fn exposed_bits(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (bits & 0o077 != 0).then_some(bits)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs a warning when `path` exists and its group or other users have any permission
/// on it; `what` names it for the operator (`"the database"`). Returns whether it warned.
pub fn warn_if_exposed(path: &Path, what: &str) -> bool {
    let Some(mode) = exposed_bits(path) else {
        return false;
    };
    let want = if path.is_dir() { DIR_MODE } else { FILE_MODE };
    tracing::warn!(
        path = %path.display(),
        mode = %format!("{mode:04o}"),
        "{what} is accessible to other users than the server's own; \
         run `chmod {want:o}` on it (Postagram creates it {want:04o} but does not \
         change an existing one)"
    );
    true
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn nested_directories_are_created_0700() {
        let tmp = tempfile::tempdir().unwrap();
        set_mode(tmp.path(), 0o755).unwrap();
        let deep = tmp.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&tmp.path().join(p)), 0o700, "{p}");
        }
        // The existing parent is left alone, and a second call is a no-op.
        assert_eq!(mode(tmp.path()), 0o755);
        create_dir_all(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
    }

    #[test]
    fn an_existing_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o750).unwrap();
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&dir), 0o750);
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), b"x").unwrap();
        assert!(create_dir_all(&tmp.path().join("f/g")).is_err());
    }

    #[test]
    fn new_files_are_0600_and_never_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("secret");
        let mut f = create_new_file(&path).unwrap();
        f.write_all(b"one").unwrap();
        drop(f);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            create_new_file(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert!(!create_private_file(&path).unwrap(), "exists already");
        assert_eq!(std::fs::read(&path).unwrap(), b"one", "content kept");
        let other = tmp.path().join("db");
        assert!(create_private_file(&other).unwrap());
        assert_eq!(mode(&other), 0o600);
        assert_eq!(std::fs::metadata(&other).unwrap().len(), 0);
    }

    #[test]
    fn exposure_is_reported_not_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        std::fs::write(&path, b"x").unwrap();
        set_mode(&path, 0o600).unwrap();
        assert_eq!(exposed_bits(&path), None);
        assert!(!warn_if_exposed(&path, "the database"));
        set_mode(&path, 0o644).unwrap();
        assert_eq!(exposed_bits(&path), Some(0o644));
        assert!(warn_if_exposed(&path, "the database"));
        assert_eq!(mode(&path), 0o644, "warned, not changed");
        set_mode(&path, 0o640).unwrap();
        assert_eq!(exposed_bits(&path), Some(0o640));
        assert_eq!(exposed_bits(&tmp.path().join("missing")), None);
    }
}
