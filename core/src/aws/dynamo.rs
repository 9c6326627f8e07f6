//! `PostStore` on DynamoDB, single-table design (see `dynamo_items` for the layout).
//!
//! - all posts newest first: one `Query` per feed shard on the `feed` index, merged;
//! - `?user=`: one `Query` on `USER#<user>`; `?label=`: one `Query` on `LABEL#<label>`
//!   plus one `BatchGetItem` of the posts;
//! - by id alone: the id item `POST#<uuid>`/`ID` names the author (cached: the author of a
//!   post never changes), then a `GetItem` of the post, both strongly consistent;
//! - an edit (`update_post`) is one conditional `UpdateItem` of the post item: title and
//!   body live only there (the `feed` index projects it; no other item copies them);
//! - writes that touch the label index (`set_image`, `set_labels`, `delete_post`) are
//!   transactions guarded by the post's `rev` counter, so the index never disagrees with
//!   the post;
//! - never a `Scan`. Text search (`q=`) is `Unsupported`: it needs the embedded store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::cursor;
use super::dynamo_items::*;
use super::sdk_message;
use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::label::LabelStatus;
use crate::model::{Post, User};
use crate::store::{
    fmt_time, is_late, stored_now, LabelOutcome, ListQuery, NewUser, Page, PostStore, StoreError,
    DEFAULT_PAGE, MAX_PAGE,
};
use crate::wire::{NewPost, PostEdit};

/// How often an optimistic write is retried when another writer changed the post.
const CONFLICT_RETRIES: usize = 8;
/// Post-id → author entries kept in memory.
const OWNER_CACHE: usize = 10_000;

/// The DynamoDB store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    owners: Arc<Mutex<HashMap<Uuid, String>>>,
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("dynamodb: {}", sdk_message(&e)))
}

/// Why a transaction was cancelled, per item (`None` when it failed otherwise).
fn cancel_reasons(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<String>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_string())
                .collect(),
        ),
        _ => None,
    }
}

fn is_conflict(reasons: &[String]) -> bool {
    reasons
        .iter()
        .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
}

fn put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
    let del = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(del).build())
}

impl DynamoStore {
    /// A store on `table` (created by `postagram-api admin init-aws`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into().into(),
            owners: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Bulk-writes new posts (no labels yet) with `BatchWriteItem`, 25 items per call,
    /// without checking that the authors exist: for migrations and benchmarks.
    pub async fn import_posts(&self, posts: &[Post]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in posts.chunks(12) {
            let mut writes = Vec::with_capacity(chunk.len() * 2);
            for p in chunk {
                for item in [new_post_item(p), id_item(p.id, &p.user)] {
                    let put = PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    writes.push(WriteRequest::builder().put_request(put).build());
                }
            }
            for _attempt in 0..10 {
                if writes.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&*self.table, std::mem::take(&mut writes))
                    .send()
                    .await
                    .map_err(unavailable)?;
                writes = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&*self.table))
                    .unwrap_or_default();
            }
            if !writes.is_empty() {
                return Err(StoreError::Unavailable(
                    "dynamodb kept throttling the import".into(),
                ));
            }
        }
        Ok(())
    }

    fn remember_owner(&self, id: Uuid, user: &str) {
        if let Ok(mut m) = self.owners.lock() {
            if m.len() >= OWNER_CACHE {
                m.clear();
            }
            m.insert(id, user.to_string());
        }
    }

    fn forget_owner(&self, id: Uuid) {
        if let Ok(mut m) = self.owners.lock() {
            m.remove(&id);
        }
    }

    /// The author of a post, from the cache or the id item.
    async fn owner(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        if let Some(u) = self.owners.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(Some(u));
        }
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(id_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let user = string_attr(&item, "user")?;
        self.remember_owner(id, &user);
        Ok(Some(user))
    }

    /// The post item (strongly consistent), with its `rev`.
    async fn post_item(&self, id: Uuid) -> Result<Option<Item>, StoreError> {
        let Some(user) = self.owner(id).await? else {
            return Ok(None);
        };
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(post_key(&user, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        if out.item.is_none() {
            self.forget_owner(id);
        }
        Ok(out.item)
    }

    /// One transaction; `Ok(false)` when a condition failed (someone else wrote first).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match cancel_reasons(&e) {
                Some(r) if is_conflict(&r) => Ok(false),
                _ => Err(unavailable(e)),
            },
        }
    }

    /// Rewrites the label part of a post and its index items, guarded by `rev` (and by the
    /// picture key when given). `Ok(false)` on a lost race.
    async fn write_labels(
        &self,
        post: &Post,
        rev: i64,
        expect_key: Option<&str>,
        update: LabelWrite<'_>,
    ) -> Result<bool, StoreError> {
        let id = post.id.0;
        let mut values = HashMap::from([
            (":rev".to_string(), AttributeValue::N(rev.to_string())),
            (":one".to_string(), AttributeValue::N("1".into())),
        ]);
        let mut cond = "#rev = :rev".to_string();
        if let Some(k) = expect_key {
            cond.push_str(" AND image_key = :expect");
            values.insert(":expect".into(), s(k));
        }
        let (set, remove, new_labels) = match &update {
            LabelWrite::NewImage(k, at) => {
                values.insert(":k".into(), s(*k));
                values.insert(":at".into(), AttributeValue::N(at.to_string()));
                values.insert(":st".into(), s(LabelStatus::Pending.as_str()));
                (
                    "image_key = :k, image_at = :at, label_status = :st",
                    "REMOVE label_error, labels, label_details, derived",
                    Vec::new(),
                )
            }
            LabelWrite::Outcome(LabelOutcome::Labelled(labels)) => {
                let labels = normalise(labels);
                values.insert(":st".into(), s(LabelStatus::Done.as_str()));
                values.insert(":names".into(), label_names(&labels));
                values.insert(":details".into(), label_details(&labels));
                (
                    "label_status = :st, labels = :names, label_details = :details",
                    "REMOVE label_error",
                    labels,
                )
            }
            LabelWrite::Outcome(LabelOutcome::Failed(reason)) => {
                values.insert(":st".into(), s(LabelStatus::Failed.as_str()));
                values.insert(":err".into(), s(reason.clone()));
                (
                    "label_status = :st, label_error = :err",
                    "REMOVE labels, label_details",
                    Vec::new(),
                )
            }
        };
        let upd = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(post_key(&post.user, id)))
            .update_expression(format!("SET {set}, #rev = #rev + :one {remove}"))
            .condition_expression(cond)
            .expression_attribute_names("#rev", "rev")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(upd).build()];
        for old in &post.labels {
            if !new_labels.iter().any(|l| l.name == old.name) {
                items.push(delete(&self.table, label_key(&old.name, id))?);
            }
        }
        for l in &new_labels {
            items.push(put(&self.table, label_item(l, id, &post.user))?);
        }
        self.transact(items).await
    }

    /// Queries one partition (`PK` or the feed index) newest first, below `below`
    /// (a `POST#<uuid>` sort key, exclusive), keeping items that pass `user_filter`, until
    /// `want` items or the partition ends.
    async fn query_partition(
        &self,
        index: Option<&str>,
        pk: String,
        below: String,
        user_filter: Option<&str>,
        want: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let (pk_name, sk_name) = match index {
            Some(_) => ("GSI1PK", "GSI1SK"),
            None => ("PK", "SK"),
        };
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&*self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression("#pk = :pk AND #sk < :below")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":below", s(below.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(want.max(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(u) = user_filter {
                q = q
                    .filter_expression("#user = :user")
                    .expression_attribute_names("#user", "user")
                    .expression_attribute_values(":user", s(u));
            }
            let page = q.send().await.map_err(unavailable)?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if out.len() < want && !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.truncate(want);
        Ok(out)
    }

    /// Reads posts by (author, id) in one `BatchGetItem` per 100, keeping `order`.
    async fn batch_get_posts(&self, refs: Vec<(String, Uuid)>) -> Result<Vec<Post>, StoreError> {
        let mut found: HashMap<Uuid, Post> = HashMap::new();
        for chunk in refs.chunks(100) {
            let mut keys: Vec<Item> = chunk.iter().map(|(u, id)| post_key(u, *id)).collect();
            for _attempt in 0..10 {
                if keys.is_empty() {
                    break;
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, ka)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&*self.table))
                    .unwrap_or_default()
                {
                    let post = post_from_item(&item)?;
                    found.insert(post.id.0, post);
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
                    .map(|ka| ka.keys)
                    .unwrap_or_default();
            }
        }
        Ok(refs.iter().filter_map(|(_, id)| found.remove(id)).collect())
    }
}

/// What a label write does.
enum LabelWrite<'a> {
    /// A new picture (key, upload time in Unix ms): status pending, labels cleared.
    NewImage(&'a str, i64),
    /// A labeller's result.
    Outcome(&'a LabelOutcome),
}

fn below_key(cursor: Option<Uuid>) -> String {
    match cursor {
        Some(c) => post_sk(c),
        // Every `POST#…` sort key sorts below `POST$` ('$' follows '#'), and `PROFILE`
        // sorts above it, so this bound selects exactly the posts of a partition.
        None => "POST$".to_string(),
    }
}

fn page_of(mut posts: Vec<Post>, limit: usize) -> Page {
    let more = posts.len() > limit;
    posts.truncate(limit);
    let next_cursor = if more {
        posts.last().map(|p| cursor::encode(p.id.0))
    } else {
        None
    };
    Page { posts, next_cursor }
}

#[async_trait]
impl PostStore for DynamoStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let record = User {
            username: user.username,
            password_hash: user.password_hash,
            created_at: stored_now()?,
        };
        let res = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(profile_item(&record)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(record),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::UserExists(record.username))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(profile_key(username)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.as_ref().map(user_from_item).transpose()
    }

    async fn create_post(&self, user: &str, post: NewPost) -> Result<Post, StoreError> {
        let record = Post::new(PostId::new(), user.to_string(), post, stored_now()?);
        let check = ConditionCheck::builder()
            .table_name(&*self.table)
            .set_key(Some(profile_key(user)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            put(&self.table, new_post_item(&record))?,
            put(&self.table, id_item(record.id, user))?,
        ];
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => {
                self.remember_owner(record.id.0, user);
                Ok(record)
            }
            Err(e) => match cancel_reasons(&e) {
                Some(r) if r.first().is_some_and(|c| c == "ConditionalCheckFailed") => {
                    Err(StoreError::NotFound(format!("user `{user}`")))
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        self.post_item(id.0)
            .await?
            .as_ref()
            .map(post_from_item)
            .transpose()
    }

    async fn list_posts(&self, query: &ListQuery) -> Result<Page, StoreError> {
        if query.text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
            return Err(StoreError::Unsupported(format!(
                "text search (q=) needs the embedded store ({}=embedded); \
                 the DynamoDB store filters by user= and label= only",
                crate::settings::env::STORE
            )));
        }
        let limit = if query.limit == 0 {
            DEFAULT_PAGE
        } else {
            query.limit.min(MAX_PAGE)
        };
        let below = below_key(query.cursor.as_deref().map(cursor::decode).transpose()?);
        let want = limit + 1;
        let posts = if let Some(label) = &query.label {
            let label = label.trim().to_lowercase();
            let items = self
                .query_partition(None, label_pk(&label), below, query.user.as_deref(), want)
                .await?;
            let refs = items
                .iter()
                .map(|i| {
                    let user = string_attr(i, "user")?;
                    let sk = string_attr(i, "SK")?;
                    let id = crate::id::parse_post_id(&sk)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    Ok((user, id.0))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.batch_get_posts(refs).await?
        } else if let Some(user) = &query.user {
            self.query_partition(None, user_pk(user), below, None, want)
                .await?
                .iter()
                .map(post_from_item)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let shards = (0..FEED_SHARDS).map(|shard| {
                self.query_partition(Some(FEED_INDEX), feed_pk(shard), below.clone(), None, want)
            });
            let mut posts = futures::future::try_join_all(shards)
                .await?
                .into_iter()
                .flatten()
                .map(|i| post_from_item(&i))
                .collect::<Result<Vec<_>, _>>()?;
            posts.sort_by_key(|p| std::cmp::Reverse(p.id));
            posts
        };
        Ok(page_of(posts, limit))
    }

    async fn update_post(&self, id: PostId, edit: PostEdit) -> Result<Post, StoreError> {
        let not_found = || StoreError::NotFound(format!("post {id}"));
        let Some(user) = self.owner(id.0).await? else {
            return Err(not_found());
        };
        let mut sets = vec!["#updated = :updated", "#rev = #rev + :one"];
        let mut upd = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(post_key(&user, id.0)))
            // Never recreate a post deleted meanwhile (an update alone would write a
            // partial item).
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":updated", s(fmt_time(stored_now()?)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew);
        if let Some(title) = edit.title {
            sets.push("#title = :title");
            upd = upd
                .expression_attribute_names("#title", "title")
                .expression_attribute_values(":title", s(title));
        }
        if let Some(body) = edit.body {
            sets.push("#body = :body");
            upd = upd
                .expression_attribute_names("#body", "body")
                .expression_attribute_values(":body", s(body));
        }
        match upd
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
        {
            Ok(out) => post_from_item(&out.attributes.unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                self.forget_owner(id.0);
                Err(not_found())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(item) = self.post_item(id.0).await? else {
                return Ok(None);
            };
            let post = post_from_item(&item)?;
            let rev = rev_of(&item);
            let del = Delete::builder()
                .table_name(&*self.table)
                .set_key(Some(post_key(&post.user, id.0)))
                .condition_expression("#rev = :rev")
                .expression_attribute_names("#rev", "rev")
                .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let mut items = vec![
                TransactWriteItem::builder().delete(del).build(),
                delete(&self.table, id_key(id.0))?,
            ];
            for l in &post.labels {
                items.push(delete(&self.table, label_key(&l.name, id.0))?);
            }
            if self.transact(items).await? {
                self.forget_owner(id.0);
                return Ok(Some(post));
            }
        }
        Err(StoreError::Unavailable(
            "the post kept changing while it was being deleted".into(),
        ))
    }

    async fn set_image(
        &self,
        id: PostId,
        object_key: &str,
        uploaded_at_ms: i64,
    ) -> Result<bool, StoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(item) = self.post_item(id.0).await? else {
                return Err(StoreError::NotFound(format!("post {id}")));
            };
            let post = post_from_item(&item)?;
            // Decided on the revision the conditional write below is guarded by.
            let current_at = item
                .get("image_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok());
            if is_late(
                post.image_key.as_deref(),
                current_at,
                object_key,
                uploaded_at_ms,
            ) {
                return Ok(false);
            }
            if self
                .write_labels(
                    &post,
                    rev_of(&item),
                    None,
                    LabelWrite::NewImage(object_key, uploaded_at_ms),
                )
                .await?
            {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "the post kept changing while its picture was being recorded".into(),
        ))
    }

    async fn set_labels(
        &self,
        id: PostId,
        object_key: &str,
        outcome: LabelOutcome,
    ) -> Result<bool, StoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(item) = self.post_item(id.0).await? else {
                return Ok(false);
            };
            let post = post_from_item(&item)?;
            if post.image_key.as_deref() != Some(object_key) {
                return Ok(false);
            }
            if self
                .write_labels(
                    &post,
                    rev_of(&item),
                    Some(object_key),
                    LabelWrite::Outcome(&outcome),
                )
                .await?
            {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "the post kept changing while its labels were being written".into(),
        ))
    }

    async fn set_derived(
        &self,
        id: PostId,
        object_key: &str,
        sizes: &[DerivedSize],
    ) -> Result<bool, StoreError> {
        let Some(user) = self.owner(id.0).await? else {
            return Ok(false);
        };
        let mut upd = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(post_key(&user, id.0)))
            // Only the current picture's record; never recreates a deleted post.
            .condition_expression("attribute_exists(PK) AND image_key = :k")
            .expression_attribute_values(":k", s(object_key));
        let mut names: Vec<String> = sizes.iter().map(|d| d.as_str().to_string()).collect();
        names.sort();
        names.dedup();
        upd = if names.is_empty() {
            upd.update_expression("REMOVE derived")
        } else {
            upd.update_expression("SET derived = :d")
                .expression_attribute_values(":d", AttributeValue::Ss(names))
        };
        match upd.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key("PING".into(), "PING".into())))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
