//! Embedded post store on SQLite (bundled): WAL, foreign keys, versioned migrations,
//! FTS5 search, and the durable label-job table.

mod accounts;
mod jobs;
mod posts;
pub mod schema;
pub mod search;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::private_fs;
use crate::store::StoreError;

/// The SQLite store. Cheap to clone; all clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Bumped after every committed write, so callers can cache reads.
    generation: AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("readers", &self.inner.readers.len())
            .finish()
    }
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it. A new database,
    /// its `-wal` and `-shm` files and a new directory for it are private (0600/0700,
    /// see [`private_fs`]); existing ones that other users can read are warned about.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
            private_fs::warn_if_exposed(dir, "the data directory");
        }
        // SQLite gives the -wal and -shm files the database file's mode: create it
        // private before SQLite does (with 0644).
        private_fs::create_private_file(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        })?;
        let mut writer = Connection::open(path).map_err(db_err)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        configure(&writer).map_err(db_err)?;
        schema::migrate(&mut writer).map_err(db_err)?;
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            * 2;
        let mut readers = Vec::with_capacity(n);
        for _ in 0..n.max(2) {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(db_err)?;
            configure(&r).map_err(db_err)?;
            readers.push(Mutex::new(r));
        }
        for (suffix, what) in [
            ("", "the database"),
            ("-wal", "the database's WAL file"),
            ("-shm", "the database's shared-memory file"),
        ] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            private_fs::warn_if_exposed(Path::new(&file), what);
        }
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                generation: AtomicU64::new(1),
            }),
        })
    }

    /// A counter that changes after every write through this store.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        // A panic while holding a connection leaves it usable: SQLite rolls back.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a read on a pooled read-only connection, off the async runtime.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed) % n;
            for i in 0..n {
                if let Ok(conn) = inner.readers[(start + i) % n].try_lock() {
                    return f(&conn);
                }
            }
            let conn = Self::lock(&inner.readers[start]);
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs a write on the single writer connection; bumps the generation afterwards when
    /// it changed a row (an idle labeler's empty claim must not invalidate read caches).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = Self::lock(&inner.writer);
            let before = conn.total_changes();
            let out = f(&mut conn);
            if conn.total_changes() != before {
                inner.generation.fetch_add(1, Ordering::AcqRel);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

pub(crate) use crate::store::now_millis;

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::{NewUser, PostStore};

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    /// A database written before names compared case-insensitively (schema 4), with
    /// accounts that differ only in case: after opening, any case finds the account that
    /// got the case-insensitive name, the exact spelling finds each of the others, every
    /// account keeps its posts, and no new account can take a taken name in any case.
    #[tokio::test]
    async fn an_old_database_with_case_collisions_opens_with_every_account() {
        use crate::store::{ListQuery, StoreError};
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &schema::MIGRATIONS[..4] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.pragma_update(None, "user_version", 4)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO users VALUES ('Alice', 'h1', '2026-01-01T00:00:00.000Z');
                 INSERT INTO users VALUES ('alice', 'h2', '2026-02-01T00:00:00.000Z');
                 INSERT INTO users VALUES ('Bob', 'h3', '2026-01-01T00:00:00.000Z');
                 INSERT INTO posts (id, user, title, body, created_at) VALUES
                   ('01900000-0000-7000-8000-000000000001', 'Alice', 'by Alice', 'b', '2026-01-01T00:00:00.000Z'),
                   ('01900000-0000-7000-8000-000000000002', 'alice', 'by alice', 'b', '2026-01-01T00:00:00.000Z'),
                   ('01900000-0000-7000-8000-000000000003', 'Bob', 'by Bob', 'b', '2026-01-01T00:00:00.000Z');",
            )
            .expect("rows");
        }
        let store = SqliteStore::open(&path).expect("open and migrate");
        for (asked, found) in [
            ("alice", "alice"),
            ("ALICE", "alice"),
            ("Alice", "Alice"),
            ("bob", "Bob"),
            ("BOB", "Bob"),
        ] {
            let got = store.get_user(asked).await.expect("get").expect("found");
            assert_eq!(got.username, found, "{asked}");
        }
        for (asked, title) in [
            ("Alice", "by Alice"),
            ("ALICE", "by alice"),
            ("bob", "by Bob"),
        ] {
            let page = store
                .list_posts(&ListQuery {
                    user: Some(asked.into()),
                    limit: 10,
                    ..ListQuery::default()
                })
                .await
                .expect("list");
            let titles: Vec<_> = page.posts.iter().map(|p| p.title.as_str()).collect();
            assert_eq!(titles, [title], "{asked}");
        }
        for taken in ["BOB", "aLiCe"] {
            let again = store
                .create_user(NewUser {
                    username: taken.into(),
                    password_hash: "x".into(),
                })
                .await;
            assert!(
                matches!(again, Err(StoreError::UserExists(_))),
                "{taken}: {again:?}"
            );
        }
    }

    /// The database holds password hashes: it, the WAL and shared-memory files SQLite
    /// creates next to it, and a new directory for it are the owner's only.
    #[tokio::test]
    async fn a_new_database_its_wal_and_shm_are_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let path = dir.join("postagram.db");
        let store = SqliteStore::open(&path).expect("open");
        store
            .create_user(NewUser {
                username: "alice".into(),
                password_hash: "!".into(),
            })
            .await
            .expect("write");
        assert_eq!(mode(&dir), 0o700);
        for name in ["postagram.db", "postagram.db-wal", "postagram.db-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        drop(store);
        // Reopening an existing database leaves it (and its data) as it is.
        let again = SqliteStore::open(&path).expect("reopen");
        assert!(again.get_user("alice").await.expect("read").is_some());
    }
}
