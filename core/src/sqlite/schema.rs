//! Versioned migrations, recorded in SQLite's `user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up; never edit a released entry, append.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: users, posts, labels, full-text index, label jobs.
    r#"
    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
    ) STRICT;
    CREATE TABLE posts (
        pk           INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        user         TEXT NOT NULL REFERENCES users(username),
        title        TEXT NOT NULL,
        body         TEXT NOT NULL,
        image_key    TEXT,
        label_status TEXT NOT NULL DEFAULT 'none'
                     CHECK (label_status IN ('none', 'pending', 'done', 'failed')),
        label_error  TEXT,
        created_at   TEXT NOT NULL
    ) STRICT;
    CREATE INDEX posts_by_user ON posts(user, id);
    CREATE TABLE post_labels (
        post_pk    INTEGER NOT NULL REFERENCES posts(pk) ON DELETE CASCADE,
        rank       INTEGER NOT NULL,
        name       TEXT NOT NULL,
        confidence REAL NOT NULL,
        PRIMARY KEY (post_pk, name)
    ) STRICT;
    CREATE INDEX post_labels_by_name ON post_labels(name, post_pk);
    CREATE VIRTUAL TABLE posts_fts USING fts5(
        title, body, labels, tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE label_jobs (
        id           INTEGER PRIMARY KEY,
        post_pk      INTEGER NOT NULL REFERENCES posts(pk) ON DELETE CASCADE,
        object_key   TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        available_at INTEGER NOT NULL,
        last_error   TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX label_jobs_ready ON label_jobs(state, available_at, id);
    CREATE INDEX label_jobs_by_post ON label_jobs(post_pk);
    "#,
    // 2: when the current picture was uploaded (Unix ms), so late events cannot replace
    // a newer picture.
    r#"
    ALTER TABLE posts ADD COLUMN image_at INTEGER;
    "#,
    // 3: the post id beside each label, indexed with the name, so a label filter walks
    // one label's posts newest first instead of reading and sorting all of them.
    r#"
    ALTER TABLE post_labels ADD COLUMN post_id TEXT;
    UPDATE post_labels SET post_id = (SELECT id FROM posts WHERE posts.pk = post_labels.post_pk);
    CREATE INDEX post_labels_feed ON post_labels(name, post_id);
    "#,
    // 4: when the title or body was last edited (RFC 3339, like `created_at`); NULL for
    // posts never edited.
    r#"
    ALTER TABLE posts ADD COLUMN updated_at TEXT;
    "#,
    // 5: accounts: the token version (bumped by a password change and by the start of a
    // deletion; tokens carry it) and the state (`deleting` from `DELETE /users/me` until
    // the row goes, so a restart can finish it).
    r#"
    ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'deleting'));
    CREATE INDEX users_deleting ON users(state) WHERE state = 'deleting';
    "#,
    // 6: usernames compare case-insensitively: `username_key` is the canonical form
    // (`crate::username::canonical`), unique. Names written before are all ASCII (the
    // rule was `[A-Za-z0-9_.-]`), so SQL's ASCII `lower()` is that form for them. When
    // existing accounts differ only in case (`Alice`, `alice`), one of them gets the key:
    // the one already spelled in lower case, else the oldest (`created_at`, then the name
    // in byte order). The others keep `username_key` NULL: they keep their posts and
    // sign in with their exact spelling only (an exact match is looked up first).
    r#"
    ALTER TABLE users ADD COLUMN username_key TEXT;
    UPDATE users SET username_key = lower(username) WHERE username IN (
        SELECT username FROM (
            SELECT username, row_number() OVER (
                PARTITION BY lower(username)
                ORDER BY username = lower(username) DESC, created_at, username
            ) AS n FROM users
        ) WHERE n = 1
    );
    CREATE UNIQUE INDEX users_by_key ON users(username_key);
    "#,
    // 7: the derived pictures (`thumb`, `display`) stored for the current picture,
    // space-separated; NULL until the labeler made them. Existing posts with a picture
    // get a label job for it, so the local queue makes their derived sizes after the
    // upgrade (their pictures are not shown until then: only derived sizes are served).
    r#"
    ALTER TABLE posts ADD COLUMN derived TEXT;
    INSERT INTO label_jobs (post_pk, object_key, state, attempts, available_at, created_at, updated_at)
        SELECT pk, image_key, 'pending', 0, 0,
               CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM posts
        WHERE image_key IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM label_jobs j
                          WHERE j.post_pk = posts.pk AND j.object_key = posts.image_key
                            AND j.state IN ('pending', 'running'));
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings the database up to [`SCHEMA_VERSION`], each step in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > SCHEMA_VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this build ({SCHEMA_VERSION}); upgrade Postagram"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written by the first release (schema 1) is upgraded in place: its rows
    /// stay, new columns are there (filled where they can be), and migrating again changes
    /// nothing.
    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.execute_batch(
            "INSERT INTO users VALUES ('alice', 'x', '2026-01-01T00:00:00Z');
             INSERT INTO posts (id, user, title, body, image_key, label_status, created_at)
             VALUES ('p1', 'alice', 't', 'b', 'alice/p1/k.png', 'done', '2026-01-01T00:00:00Z');
             INSERT INTO post_labels (post_pk, rank, name, confidence)
             VALUES ((SELECT pk FROM posts WHERE id = 'p1'), 0, 'cat', 90.0);",
        )
        .expect("rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), SCHEMA_VERSION);
        let (key, at, updated): (String, Option<i64>, Option<String>) = conn
            .query_row(
                "SELECT image_key, image_at, updated_at FROM posts WHERE id = 'p1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        assert_eq!((key.as_str(), at), ("alice/p1/k.png", None));
        assert_eq!(updated, None, "an existing post was never edited");
        let label_post: String = conn
            .query_row(
                "SELECT post_id FROM post_labels WHERE name = 'cat'",
                [],
                |r| r.get(0),
            )
            .expect("label row");
        assert_eq!(label_post, "p1", "existing labels learn their post id");
        let (version, state): (i64, String) = conn
            .query_row(
                "SELECT token_version, state FROM users WHERE username = 'alice'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("user row");
        assert_eq!(
            (version, state.as_str()),
            (0, "active"),
            "existing accounts are active, their tokens version 0"
        );
        let jobs: Vec<(String, String)> = conn
            .prepare("SELECT object_key, state FROM label_jobs")
            .expect("jobs")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("jobs")
            .collect::<Result<_, _>>()
            .expect("jobs");
        assert_eq!(
            jobs,
            [("alice/p1/k.png".to_string(), "pending".to_string())],
            "an existing picture is queued once, for its derived sizes"
        );
        assert_eq!(migrate(&mut conn).expect("again"), SCHEMA_VERSION);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, SCHEMA_VERSION);
    }

    /// Accounts differing only in case, written by the schema before 6: the lower-case
    /// spelling (else the oldest) gets the case-insensitive key, the others keep their
    /// rows and posts with no key; new rows cannot take a taken key in any case.
    #[test]
    fn case_collisions_keep_every_account_and_one_key() {
        let mut conn = Connection::open_in_memory().expect("open");
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", 4)
            .expect("version");
        conn.execute_batch(
            "INSERT INTO users VALUES ('Alice', 'h1', '2026-01-01T00:00:00.000Z');
             INSERT INTO users VALUES ('alice', 'h2', '2026-02-01T00:00:00.000Z');
             INSERT INTO users VALUES ('ALICE', 'h3', '2025-01-01T00:00:00.000Z');
             INSERT INTO users VALUES ('Bob', 'h4', '2026-03-01T00:00:00.000Z');
             INSERT INTO users VALUES ('BOB', 'h5', '2026-01-01T00:00:00.000Z');
             INSERT INTO users VALUES ('carol', 'h6', '2026-01-01T00:00:00.000Z');
             INSERT INTO posts (id, user, title, body, created_at)
             VALUES ('p1', 'Alice', 't', 'b', '2026-01-01T00:00:00Z');",
        )
        .expect("rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), SCHEMA_VERSION);
        let key = |name: &str| -> Option<String> {
            conn.query_row(
                "SELECT username_key FROM users WHERE username = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("row")
        };
        assert_eq!(key("alice").as_deref(), Some("alice"), "lower case wins");
        assert_eq!(key("Alice"), None);
        assert_eq!(key("ALICE"), None, "even when older");
        assert_eq!(key("BOB").as_deref(), Some("bob"), "else the oldest");
        assert_eq!(key("Bob"), None);
        assert_eq!(key("carol").as_deref(), Some("carol"));
        let users: i64 = conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .expect("count");
        assert_eq!(users, 6, "no account is dropped");
        let author: String = conn
            .query_row("SELECT user FROM posts WHERE id = 'p1'", [], |r| r.get(0))
            .expect("post");
        assert_eq!(author, "Alice", "posts keep their author");
        let taken = conn.execute(
            "INSERT INTO users VALUES ('Carol', 'h', '2026-01-01T00:00:00.000Z', 'carol')",
            [],
        );
        assert!(taken.is_err(), "a taken key is unique");
    }

    /// A label filter walks the label's index in order: no sort of all its posts.
    #[test]
    fn label_pages_use_the_label_index_without_sorting() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        for (label, user, cursor) in [
            (Some("dog"), None, None),
            (Some("dog"), Some("alice"), Some("0190")),
            (None, None, Some("0190")),
            (None, Some("alice"), None),
        ] {
            let (sql, args) = crate::sqlite::posts::list_sql(label, user, None, cursor, 20);
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("plan rows");
            let plan = plan.join("\n");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
            if label.is_some() {
                assert!(plan.contains("post_labels_feed"), "{sql}\n{plan}");
            }
        }
    }
}
