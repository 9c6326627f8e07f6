//! Versioned migrations, recorded in SQLite's `user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up; never edit a released entry, append.
const MIGRATIONS: &[&str] = &[
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
    // 5: the derived pictures (`thumb`, `display`) stored for the current picture,
    // space-separated; NULL until the labeler made them (and for existing posts, whose
    // pictures get derived sizes when uploaded again).
    r#"
    ALTER TABLE posts ADD COLUMN derived TEXT;
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
        assert_eq!(migrate(&mut conn).expect("again"), SCHEMA_VERSION);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, SCHEMA_VERSION);
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
