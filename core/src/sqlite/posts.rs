//! `PostStore` on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::search::{decode_cursor, encode_cursor, fts_query};
use super::{db_err, now_millis, SqliteStore};
use crate::id::{parse_post_id, PostId};
use crate::keys::DerivedSize;
use crate::label::{Label, LabelStatus};
use crate::model::{AccountState, Post, User};
use crate::store::{
    fmt_time, is_late, parse_time, stored_now, LabelOutcome, ListQuery, NewUser, Page, PostStore,
    StoreError, DEFAULT_PAGE, MAX_PAGE,
};
use crate::username::canonical;
use crate::wire::{NewPost, PostEdit};

const POST_COLUMNS: &str =
    "p.pk, p.id, p.user, p.title, p.body, p.image_key, p.label_status, p.label_error, p.created_at, p.updated_at, p.derived";

/// The `SELECT` of one page of posts, newest first, and its arguments. With a label it
/// walks that label's `post_labels_feed` index (name, post id) in order, so a page costs
/// the same however many posts carry the label.
pub(crate) fn list_sql(
    label: Option<&str>,
    user: Option<&str>,
    fts: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> (String, Vec<String>) {
    let mut args: Vec<String> = Vec::new();
    let (mut sql, order) = match label {
        Some(label) => {
            args.push(label.trim().to_lowercase());
            (
                format!(
                    "SELECT {POST_COLUMNS} FROM post_labels l JOIN posts p ON p.pk = l.post_pk WHERE l.name = ?1"
                ),
                "l.post_id",
            )
        }
        None => (
            format!("SELECT {POST_COLUMNS} FROM posts p WHERE 1 = 1"),
            "p.id",
        ),
    };
    if let Some(user) = user {
        args.push(user.to_string());
        sql.push_str(&format!(" AND p.user = ?{}", args.len()));
    }
    if let Some(fts) = fts {
        args.push(fts.to_string());
        sql.push_str(&format!(
            " AND p.pk IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?{})",
            args.len()
        ));
    }
    if let Some(c) = cursor {
        args.push(c.to_string());
        sql.push_str(&format!(" AND {order} < ?{}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY {order} DESC LIMIT {}", limit + 1));
    (sql, args)
}

/// The registered spelling of the account `name` stands for, if any (the lookup rule
/// of [`super::accounts::get_user_tx`]).
fn registered_name(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(super::accounts::get_user_tx(conn, name)?.map(|u| u.username))
}

/// A post row before its labels are attached.
struct RawPost {
    pk: i64,
    id: String,
    user: String,
    title: String,
    body: String,
    image_key: Option<String>,
    label_status: String,
    label_error: Option<String>,
    created_at: String,
    updated_at: Option<String>,
    derived: Option<String>,
}

fn raw_post(r: &Row<'_>) -> rusqlite::Result<RawPost> {
    Ok(RawPost {
        pk: r.get(0)?,
        id: r.get(1)?,
        user: r.get(2)?,
        title: r.get(3)?,
        body: r.get(4)?,
        image_key: r.get(5)?,
        label_status: r.get(6)?,
        label_error: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        derived: r.get(10)?,
    })
}

fn finish_post(raw: RawPost, labels: Vec<Label>) -> Result<Post, StoreError> {
    Ok(Post {
        id: parse_post_id(&raw.id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        user: raw.user,
        title: raw.title,
        body: raw.body,
        image_key: raw.image_key,
        derived: parse_derived(raw.derived.as_deref())?,
        labels,
        label_status: LabelStatus::parse(&raw.label_status).ok_or_else(|| {
            StoreError::Corrupt(format!("bad label status `{}`", raw.label_status))
        })?,
        label_error: raw.label_error,
        created_at: parse_time(&raw.created_at)?,
        updated_at: raw.updated_at.as_deref().map(parse_time).transpose()?,
    })
}

/// The `derived` column: size names separated by spaces, smallest first.
fn parse_derived(column: Option<&str>) -> Result<Vec<DerivedSize>, StoreError> {
    let mut sizes = column
        .unwrap_or("")
        .split_whitespace()
        .map(|name| {
            DerivedSize::parse(name)
                .ok_or_else(|| StoreError::Corrupt(format!("bad derived size `{name}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    sizes.sort();
    sizes.dedup();
    Ok(sizes)
}

/// Loads the labels of many posts in one query.
fn labels_of(conn: &Connection, pks: &[i64]) -> Result<HashMap<i64, Vec<Label>>, StoreError> {
    let mut out: HashMap<i64, Vec<Label>> = HashMap::new();
    if pks.is_empty() {
        return Ok(out);
    }
    let marks = vec!["?"; pks.len()].join(",");
    let sql = format!(
        "SELECT post_pk, name, confidence FROM post_labels WHERE post_pk IN ({marks}) ORDER BY post_pk, rank"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(pks.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Label {
                    name: r.get(1)?,
                    confidence: r.get::<_, f64>(2)? as f32,
                },
            ))
        })
        .map_err(db_err)?;
    for row in rows {
        let (pk, label) = row.map_err(db_err)?;
        out.entry(pk).or_default().push(label);
    }
    Ok(out)
}

fn attach_labels(conn: &Connection, raws: Vec<RawPost>) -> Result<Vec<Post>, StoreError> {
    let pks: Vec<i64> = raws.iter().map(|r| r.pk).collect();
    let mut labels = labels_of(conn, &pks)?;
    raws.into_iter()
        .map(|raw| {
            let l = labels.remove(&raw.pk).unwrap_or_default();
            finish_post(raw, l)
        })
        .collect()
}

pub(crate) fn get_post_tx(conn: &Connection, id: &str) -> Result<Option<Post>, StoreError> {
    let sql = format!("SELECT {POST_COLUMNS} FROM posts p WHERE p.id = ?1");
    let raw = conn
        .prepare_cached(&sql)
        .map_err(db_err)?
        .query_row([id], raw_post)
        .optional()
        .map_err(db_err)?;
    match raw {
        Some(raw) => Ok(attach_labels(conn, vec![raw])?.pop()),
        None => Ok(None),
    }
}

/// Replaces the labels of a post and its status, keeping the search index in step.
pub(crate) fn write_outcome(
    tx: &Transaction<'_>,
    pk: i64,
    outcome: &LabelOutcome,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM post_labels WHERE post_pk = ?1", [pk])
        .map_err(db_err)?;
    let (status, error, names) = match outcome {
        LabelOutcome::Labelled(labels) => {
            let mut seen = std::collections::HashSet::new();
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO post_labels (post_pk, rank, name, confidence, post_id)
                     VALUES (?1, ?2, ?3, ?4, (SELECT id FROM posts WHERE pk = ?1))",
                )
                .map_err(db_err)?;
            let mut names = Vec::new();
            for (rank, l) in labels.iter().enumerate() {
                let name = l.name.trim().to_lowercase();
                if name.is_empty() || !seen.insert(name.clone()) {
                    continue;
                }
                stmt.execute(params![pk, rank as i64, name, f64::from(l.confidence)])
                    .map_err(db_err)?;
                names.push(name);
            }
            ("done", None, names.join(" "))
        }
        LabelOutcome::Failed(reason) => ("failed", Some(reason.as_str()), String::new()),
    };
    tx.execute(
        "UPDATE posts SET label_status = ?2, label_error = ?3 WHERE pk = ?1",
        params![pk, status, error],
    )
    .map_err(db_err)?;
    tx.execute(
        "UPDATE posts_fts SET labels = ?2 WHERE rowid = ?1",
        params![pk, names],
    )
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let created_at = Utc::now();
        self.write(move |conn| {
            let res = conn.execute(
                "INSERT INTO users (username, password_hash, created_at, username_key)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    user.username,
                    user.password_hash,
                    fmt_time(created_at),
                    canonical(&user.username)
                ],
            );
            match res {
                Ok(_) => Ok(User {
                    username: user.username,
                    password_hash: user.password_hash,
                    created_at,
                    token_version: 0,
                    state: AccountState::Active,
                }),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::UserExists(user.username))
                }
                Err(e) => Err(db_err(e)),
            }
        })
        .await
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let username = username.to_string();
        self.read(move |conn| super::accounts::get_user_tx(conn, &username))
            .await
    }

    async fn create_post(&self, user: &str, post: NewPost) -> Result<Post, StoreError> {
        let user = user.to_string();
        self.write(move |conn| {
            let created = Post::new(PostId::new(), user, post, stored_now()?);
            let tx = conn.transaction().map_err(db_err)?;
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1 AND state = 'active')",
                    [&created.user],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if !exists {
                return Err(StoreError::NotFound(format!("user `{}`", created.user)));
            }
            tx.execute(
                "INSERT INTO posts (id, user, title, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    created.id.uuid_str(),
                    created.user,
                    created.title,
                    created.body,
                    fmt_time(created.created_at)
                ],
            )
            .map_err(db_err)?;
            let pk = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO posts_fts (rowid, title, body, labels) VALUES (?1, ?2, ?3, '')",
                params![pk, created.title, created.body],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(created)
        })
        .await
    }

    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        self.read(move |conn| get_post_tx(conn, &id.uuid_str()))
            .await
    }

    async fn list_posts(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let query = query.clone();
        let limit = if query.limit == 0 {
            DEFAULT_PAGE
        } else {
            query.limit.min(MAX_PAGE)
        };
        let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let text = match query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => match fts_query(t) {
                Some(q) => Some(q),
                None => {
                    return Ok(Page {
                        posts: Vec::new(),
                        next_cursor: None,
                    })
                }
            },
            None => None,
        };
        self.read(move |conn| {
            // `?user=` names an account in any case: its posts carry the registered spelling.
            let user = match query.user.as_deref() {
                Some(name) => match registered_name(conn, name)? {
                    Some(registered) => Some(registered),
                    None => {
                        return Ok(Page {
                            posts: Vec::new(),
                            next_cursor: None,
                        })
                    }
                },
                None => None,
            };
            let (sql, args) = list_sql(
                query.label.as_deref(),
                user.as_deref(),
                text.as_deref(),
                cursor.as_deref(),
                limit,
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
            let mut raws = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), raw_post)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            let more = raws.len() > limit;
            raws.truncate(limit);
            let next_cursor = if more {
                raws.last().and_then(|r| encode_cursor(&r.id))
            } else {
                None
            };
            Ok(Page {
                posts: attach_labels(conn, raws)?,
                next_cursor,
            })
        })
        .await
    }

    async fn update_post(&self, id: PostId, edit: PostEdit) -> Result<Post, StoreError> {
        self.write(move |conn| {
            let updated_at = fmt_time(stored_now()?);
            let tx = conn.transaction().map_err(db_err)?;
            // One statement changes the row and says which it was: no window between a
            // read and the write for a delete to fall into.
            let pk: Option<i64> = tx
                .query_row(
                    "UPDATE posts SET title = coalesce(?2, title), body = coalesce(?3, body),
                     updated_at = ?4 WHERE id = ?1 RETURNING pk",
                    params![id.uuid_str(), edit.title, edit.body, updated_at],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let Some(pk) = pk else {
                return Err(StoreError::NotFound(format!("post {id}")));
            };
            tx.execute(
                "UPDATE posts_fts SET title = coalesce(?2, title), body = coalesce(?3, body)
                 WHERE rowid = ?1",
                params![pk, edit.title, edit.body],
            )
            .map_err(db_err)?;
            let post = get_post_tx(&tx, &id.uuid_str())?
                .ok_or_else(|| StoreError::NotFound(format!("post {id}")))?;
            tx.commit().map_err(db_err)?;
            Ok(post)
        })
        .await
    }

    async fn delete_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let Some(post) = get_post_tx(&tx, &id.uuid_str())? else {
                return Ok(None);
            };
            let pk: i64 = tx
                .query_row("SELECT pk FROM posts WHERE id = ?1", [id.uuid_str()], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            tx.execute("DELETE FROM posts_fts WHERE rowid = ?1", [pk])
                .map_err(db_err)?;
            tx.execute("DELETE FROM posts WHERE pk = ?1", [pk])
                .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(Some(post))
        })
        .await
    }

    async fn set_image(
        &self,
        id: PostId,
        object_key: &str,
        uploaded_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let key = object_key.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let row: Option<(i64, Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT pk, image_key, image_at FROM posts WHERE id = ?1",
                    [id.uuid_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((pk, current, current_at)) = row else {
                return Err(StoreError::NotFound(format!("post {id}")));
            };
            if is_late(current.as_deref(), current_at, &key, uploaded_at_ms) {
                return Ok(false);
            }
            tx.execute(
                "UPDATE posts SET image_key = ?2, image_at = ?3, label_status = 'pending', label_error = NULL, derived = NULL WHERE pk = ?1",
                params![pk, key, uploaded_at_ms],
            )
            .map_err(db_err)?;
            tx.execute("DELETE FROM post_labels WHERE post_pk = ?1", [pk]).map_err(db_err)?;
            tx.execute("UPDATE posts_fts SET labels = '' WHERE rowid = ?1", [pk]).map_err(db_err)?;
            // Jobs for an older picture of this post are superseded.
            tx.execute(
                "UPDATE label_jobs SET state = 'done', last_error = 'superseded by a newer picture', updated_at = ?2
                 WHERE post_pk = ?1 AND state IN ('pending', 'running')",
                params![pk, now_millis()],
            )
            .map_err(db_err)?;
            let now = now_millis();
            tx.execute(
                "INSERT INTO label_jobs (post_pk, object_key, state, attempts, available_at, created_at, updated_at)
                 VALUES (?1, ?2, 'pending', 0, 0, ?3, ?3)",
                params![pk, key, now],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn set_labels(
        &self,
        id: PostId,
        object_key: &str,
        outcome: LabelOutcome,
    ) -> Result<bool, StoreError> {
        let key = object_key.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let row: Option<(i64, Option<String>)> = tx
                .query_row(
                    "SELECT pk, image_key FROM posts WHERE id = ?1",
                    [id.uuid_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((pk, Some(current))) = row else {
                return Ok(false);
            };
            if current != key {
                return Ok(false);
            }
            write_outcome(&tx, pk, &outcome)?;
            tx.commit().map_err(db_err)?;
            Ok(true)
        })
        .await
    }

    async fn set_derived(
        &self,
        id: PostId,
        object_key: &str,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError> {
        let key = object_key.to_string();
        let mut sizes = sizes.to_vec();
        sizes.sort();
        sizes.dedup();
        let column = (!sizes.is_empty()).then(|| {
            sizes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        });
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE posts SET derived = ?3 WHERE id = ?1 AND image_key = ?2",
                    params![id.uuid_str(), key, column],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    fn generation(&self) -> Option<u64> {
        Some(SqliteStore::generation(self))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(db_err)
        })
        .await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        self.set_password_row(username, password_hash).await
    }

    async fn mark_account_deleting(&self, username: &str) -> Result<(), StoreError> {
        self.mark_deleting_row(username).await
    }

    async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        self.delete_user_row(username).await
    }

    async fn accounts_being_deleted(&self) -> Result<Vec<String>, StoreError> {
        self.deleting_rows().await
    }
}
