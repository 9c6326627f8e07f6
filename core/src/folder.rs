//! Embedded picture store: files in a folder, served by the API through HMAC-signed,
//! expiring URLs (`/objects/<key>?expires=…&sig=…`).

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;

use crate::blob::{user_folder, Blob, BlobError, BlobStore, ObjectInfo};
use crate::media::ImageType;
use crate::private_fs;
use crate::signing::{now_unix, UrlSigner};

/// GET URLs expire on a whole number of these, so the same picture keeps the same URL
/// for a while and browsers and list caches can reuse it.
const GET_EXPIRY_GRANULARITY: i64 = 600;

/// Pictures in `<root>/<key>`.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    root: PathBuf,
    signer: UrlSigner,
    public_url: String,
}

/// Percent-encodes each path segment of a key for use in a URL.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|seg| {
            let mut out = String::with_capacity(seg.len());
            for b in seg.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl FolderBlobStore {
    /// A store rooted at `root` (created 0700 if missing, warned about when other users
    /// can read it) whose URLs start with `public_url`.
    pub fn open(
        root: impl Into<PathBuf>,
        signer: UrlSigner,
        public_url: &str,
    ) -> Result<Self, BlobError> {
        let root = root.into();
        private_fs::create_dir_all(&root).map_err(|e| {
            BlobError::Unavailable(format!("cannot create {}: {e}", root.display()))
        })?;
        private_fs::warn_if_exposed(&root, "the picture folder");
        Ok(FolderBlobStore {
            root,
            signer,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    /// The signer checking this store's URLs (the API's `/objects` routes use it).
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// Maps a key to a file below the root, refusing anything that could leave it.
    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        let rel = Path::new(key);
        if key.is_empty() || key.contains('\0') || key.contains('\\') {
            return Err(BlobError::BadKey);
        }
        for c in rel.components() {
            if !matches!(c, Component::Normal(_)) {
                return Err(BlobError::BadKey);
            }
        }
        Ok(self.root.join(rel))
    }

    fn url(&self, method: &str, key: &str, content_type: &str, expires: i64) -> String {
        let sig = self.signer.sign(method, key, content_type, expires);
        format!(
            "{}/objects/{}?expires={expires}&sig={sig}",
            self.public_url,
            encode_key(key)
        )
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, BlobError> {
        self.path_of(key)?;
        let expires = now_unix() + expires_in.as_secs() as i64;
        Ok(self.url("PUT", key, content_type, expires))
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        self.path_of(key)?;
        let min = now_unix() + expires_in.as_secs() as i64;
        let expires = (min / GET_EXPIRY_GRANULARITY + 1) * GET_EXPIRY_GRANULARITY;
        Ok(self.url("GET", key, "", expires))
    }

    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        let dir = path.parent().ok_or(BlobError::BadKey)?.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<(), BlobError> {
            private_fs::create_dir_all(&dir).map_err(io)?;
            // Write then rename, so a reader never sees half a picture; the file is
            // 0600 from its creation on.
            let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
            let written = private_fs::create_new_file(&tmp).and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            });
            if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io(e));
            }
            Ok(())
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let path = self.path_of(key)?;
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => Bytes::from(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let content_type = ImageType::sniff(&bytes)
            .map(|t| t.mime())
            .unwrap_or("application/octet-stream")
            .to_string();
        Ok(Some(Blob {
            etag: format!("\"{:x}-{:x}\"", bytes.len(), mtime),
            bytes,
            content_type,
        }))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let trimmed = prefix.trim_end_matches('/');
        let dir = self.path_of(trimmed)?;
        tokio::task::spawn_blocking(move || -> Result<u64, BlobError> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(io(e)),
            };
            let mut n = 0;
            for entry in entries {
                let entry = entry.map_err(io)?;
                if entry.file_type().map_err(io)?.is_file() {
                    std::fs::remove_file(entry.path()).map_err(io)?;
                    n += 1;
                }
            }
            let _ = std::fs::remove_dir(&dir);
            Ok(n)
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?
    }

    async fn delete_user_objects(&self, user_prefix: &str) -> Result<u64, BlobError> {
        let dir = self.path_of(user_folder(user_prefix)?)?;
        tokio::task::spawn_blocking(move || {
            // An upload finishing meanwhile can add a file to a folder being emptied:
            // walk again (what it wrote goes too, or with its post if it comes later).
            let mut n = 0;
            for _ in 0..8 {
                match remove_tree(&dir, &mut n) {
                    Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => continue,
                    other => return other.map(|()| n).map_err(io),
                }
            }
            Err(BlobError::Unavailable(format!(
                "{} kept filling while it was being deleted",
                dir.display()
            )))
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError> {
        let trimmed = prefix.trim_end_matches('/');
        let dir = self.path_of(trimmed)?;
        let prefix = format!("{trimmed}/");
        tokio::task::spawn_blocking(move || -> Result<Vec<ObjectInfo>, BlobError> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io(e)),
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry.map_err(io)?;
                let meta = entry.metadata().map_err(io)?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                out.push(ObjectInfo {
                    key: format!("{prefix}{name}"),
                    modified_ms,
                });
            }
            Ok(out)
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

/// Removes `dir` and everything below it (symbolic links are removed, never followed),
/// adding to `n` each file (or link) removed. A missing `dir` is fine.
fn remove_tree(dir: &Path, n: &mut u64) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        // `DirEntry::file_type` does not follow links: a link to a folder is a link.
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path(), n)?;
        } else {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => *n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            FolderBlobStore::open(dir.path(), UrlSigner::new(b"k"), "http://x/").expect("open");
        let png = Bytes::from_static(b"\x89PNG\r\n\x1a\nxxxx");
        store
            .put("alice/p/abc.png", png.clone(), "image/png")
            .await
            .expect("put");
        let blob = store
            .get("alice/p/abc.png")
            .await
            .expect("get")
            .expect("some");
        assert_eq!(blob.bytes, png);
        assert_eq!(blob.content_type, "image/png");
        assert!(store.get("alice/p/none.png").await.expect("get").is_none());
        assert_eq!(store.delete_prefix("alice/p/").await.expect("delete"), 1);
        assert!(store.get("alice/p/abc.png").await.expect("get").is_none());
    }

    /// The folder, the per-user and per-post folders and every picture are private,
    /// and no temporary file is left behind.
    #[cfg(unix)]
    #[tokio::test]
    async fn pictures_and_folders_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("pictures");
        let store = FolderBlobStore::open(&root, UrlSigner::new(b"k"), "http://x").expect("open");
        store
            .put("alice/p/abc.png", Bytes::from_static(b"png"), "image/png")
            .await
            .expect("put");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("alice")), 0o700);
        assert_eq!(mode(&root.join("alice/p")), 0o700);
        assert_eq!(mode(&root.join("alice/p/abc.png")), 0o600);
        let names: Vec<_> = std::fs::read_dir(root.join("alice/p"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["abc.png"]);
    }

    /// A user's folder goes whole: every post, every size, nested folders; other users'
    /// pictures and prefixes that are not one folder stay.
    #[tokio::test]
    async fn delete_user_objects_removes_the_whole_user_folder_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            FolderBlobStore::open(dir.path(), UrlSigner::new(b"k"), "http://x").expect("open");
        let png = Bytes::from_static(b"png");
        for key in [
            "alice/p1/a.png",
            "alice/p1/sizes/small/a.png",
            "alice/p2/b.png",
            "alice2/p3/c.png",
            "bob/p4/d.png",
        ] {
            store.put(key, png.clone(), "image/png").await.expect("put");
        }
        for bad in ["", "/", "alice", "../", "./", "alice/p1/", "a\\b/"] {
            assert!(
                matches!(store.delete_user_objects(bad).await, Err(BlobError::BadKey)),
                "{bad:?}"
            );
        }
        assert_eq!(
            store.delete_user_objects("alice/").await.expect("delete"),
            3
        );
        assert!(!dir.path().join("alice").exists());
        assert!(store.get("alice2/p3/c.png").await.expect("get").is_some());
        assert!(store.get("bob/p4/d.png").await.expect("get").is_some());
        assert_eq!(store.delete_user_objects("alice/").await.expect("again"), 0);
    }

    #[tokio::test]
    async fn refuses_escaping_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            FolderBlobStore::open(dir.path(), UrlSigner::new(b"k"), "http://x").expect("open");
        for key in ["../x", "/etc/passwd", "a/../../b", "a\\b", ""] {
            assert!(
                matches!(store.get(key).await, Err(BlobError::BadKey)),
                "{key}"
            );
        }
    }

    #[tokio::test]
    async fn urls_are_signed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            FolderBlobStore::open(dir.path(), UrlSigner::new(b"k"), "http://h:1").expect("open");
        let url = store
            .presign_put("a b/c", "image/png", Duration::from_secs(60))
            .await
            .expect("url");
        assert!(url.starts_with("http://h:1/objects/a%20b/c?expires="));
        assert!(url.contains("&sig="));
    }
}
