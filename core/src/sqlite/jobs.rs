//! The durable label-job queue on SQLite (consumed by in-process labeler workers).

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::posts::write_outcome;
use super::{db_err, now_millis, SqliteStore};
use crate::id::parse_post_id;
use crate::jobs::{JobCounts, LabelJob, LabelJobQueue};
use crate::keys::DerivedSize;
use crate::store::{LabelOutcome, PostStore, StoreError};

impl SqliteStore {
    /// Puts jobs that were running when the process died back in the queue. The
    /// embedded server owns its database, so at start nothing can legitimately be running.
    pub async fn recover_interrupted_jobs(&self) -> Result<u64, StoreError> {
        self.write(|conn| {
            conn.execute(
                "UPDATE label_jobs SET state = 'pending', available_at = 0, updated_at = ?1 WHERE state = 'running'",
                [now_millis()],
            )
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }
}

fn handle_id(job: &LabelJob) -> Result<i64, StoreError> {
    job.handle
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("bad job handle `{}`", job.handle)))
}

#[async_trait]
impl LabelJobQueue for SqliteStore {
    async fn claim(&self, lease: Duration) -> Result<Option<LabelJob>, StoreError> {
        self.write(move |conn| {
            let now = now_millis();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let row: Option<(i64, String, String, i64)> = tx
                .query_row(
                    "SELECT j.id, p.id, j.object_key, j.attempts FROM label_jobs j JOIN posts p ON p.pk = j.post_pk
                     WHERE j.state IN ('pending', 'running') AND j.available_at <= ?1
                     ORDER BY j.available_at, j.id LIMIT 1",
                    [now],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(db_err)?;
            let Some((id, post, key, attempts)) = row else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE label_jobs SET state = 'running', attempts = attempts + 1, available_at = ?2, updated_at = ?3
                 WHERE id = ?1",
                params![id, now + lease.as_millis() as i64, now],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(Some(LabelJob {
                handle: id.to_string(),
                post_id: parse_post_id(&post).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                object_key: key,
                attempts: (attempts + 1) as u32,
            }))
        })
        .await
    }

    async fn complete(&self, job: &LabelJob, outcome: LabelOutcome) -> Result<(), StoreError> {
        let id = handle_id(job)?;
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let row: Option<(i64, String, String, Option<String>)> = tx
                .query_row(
                    "SELECT j.post_pk, j.state, j.object_key, p.image_key FROM label_jobs j
                     JOIN posts p ON p.pk = j.post_pk WHERE j.id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(db_err)?;
            // Deleted post (the job went with it) or already finished: nothing to do.
            let Some((pk, state, key, image_key)) = row else {
                return Ok(());
            };
            if state == "done" || state == "failed" {
                return Ok(());
            }
            let (state, error) = match &outcome {
                LabelOutcome::Labelled(_) => ("done", None),
                LabelOutcome::Failed(reason) => ("failed", Some(reason.clone())),
            };
            if image_key.as_deref() == Some(key.as_str()) {
                write_outcome(&tx, pk, &outcome)?;
            }
            tx.execute(
                "UPDATE label_jobs SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, state, error, now_millis()],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn record_derived(
        &self,
        job: &LabelJob,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError> {
        PostStore::set_derived(self, job.post_id, &job.object_key, sizes).await
    }

    async fn retry(&self, job: &LabelJob, error: &str, delay: Duration) -> Result<(), StoreError> {
        let id = handle_id(job)?;
        let error = error.to_string();
        self.write(move |conn| {
            let now = now_millis();
            conn.execute(
                "UPDATE label_jobs SET state = 'pending', available_at = ?2, last_error = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'running'",
                params![id, now + delay.as_millis() as i64, error, now],
            )
            .map(|_| ())
            .map_err(db_err)
        })
        .await
    }

    async fn counts(&self) -> Result<JobCounts, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT state, COUNT(*) FROM label_jobs GROUP BY state")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db_err)?;
            let mut c = JobCounts::default();
            for row in rows {
                let (state, n) = row.map_err(db_err)?;
                let n = n as u64;
                match state.as_str() {
                    "pending" => c.pending = n,
                    "running" => c.running = n,
                    "done" => c.done = n,
                    "failed" => c.failed = n,
                    _ => {}
                }
            }
            Ok(c)
        })
        .await
    }
}
