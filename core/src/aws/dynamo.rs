//! `PostStore` on DynamoDB, single-table design (see `dynamo_items` for the layout).
//!
//! - all posts newest first: one `Query` per feed shard on the `feed` index, merged;
//! - `?user=`: one `Query` on `USER#<user>`; when that spelling has no posts, its profile
//!   (any case) names the registered spelling and one more `Query` reads that partition; `?label=`: one `Query` on `LABEL#<label>`
//!   plus one `BatchGetItem` of the posts;
//! - by id alone: the id item `POST#<uuid>`/`ID` names the author (cached: the author of a
//!   post never changes), then a `GetItem` of the post, both strongly consistent;
//! - an edit (`update_post`) is one conditional `UpdateItem` of the post item: title and
//!   body live only there (the `feed` index projects it; no other item copies them);
//! - writes that touch the label index (`set_image`, `set_labels`, `delete_post`) are
//!   transactions guarded by the post's `rev` counter, so the index never disagrees with
//!   the post;
//! - text search (`q=`): `Query`s of the index partition of the query's rarest word plus
//!   `BatchGetItem`s of the candidates (see `search`); the token index items are
//!   written in the transaction of the post write that changes them;
//! - never a `Scan`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::batch::batch_get_posts;
use super::cursor;
use super::dynamo_accounts::ACTIVE_ACCOUNT;
use super::dynamo_items::*;
use super::sdk_message;
use super::search::{self, index_tokens, recorded_tokens, tokens_value, TextQuery, TOKENS_ATTR};
use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::label::LabelStatus;
use crate::model::{AccountState, Post, User};
use crate::store::{
    fmt_time, is_late, stored_now, LabelOutcome, ListQuery, NewUser, Page, PostStore, StoreError,
    DEFAULT_PAGE, MAX_PAGE,
};
use crate::wire::{NewPost, PostEdit};

/// How often an optimistic write is retried when another writer changed the post.
const CONFLICT_RETRIES: usize = 8;
/// Most items in one `TransactWriteItems`.
const MAX_TRANSACTION: usize = 100;
/// Post-id → author entries kept in memory.
const OWNER_CACHE: usize = 10_000;

/// The DynamoDB store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: Arc<str>,
    owners: Arc<Mutex<HashMap<Uuid, String>>>,
    /// Writes to one post from this process take turns (striped by post id): fewer
    /// `TransactionConflict` retries, and on moto, whose transactions are not isolated
    /// (a cancelled one restores a copy of the whole table taken when it began, undoing
    /// a concurrent one), no write undoes another.
    write_locks: Arc<[tokio::sync::Mutex<()>]>,
}

/// Stripes of [`DynamoStore::write_locks`].
const WRITE_LOCKS: usize = 64;

pub(super) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("dynamodb: {}", sdk_message(&e)))
}

/// Why a transaction was cancelled, per item (`None` when it failed otherwise).
pub(super) fn cancel_reasons(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<String>> {
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

pub(super) fn is_conflict(reasons: &[String]) -> bool {
    reasons
        .iter()
        .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
}

pub(super) fn put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(super) fn delete(table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
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
            write_locks: (0..WRITE_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Bulk-writes new posts (no labels yet) with their search index items, with
    /// `BatchWriteItem` (25 items per call), without checking that the authors exist: for
    /// migrations and benchmarks.
    pub async fn import_posts(&self, posts: &[Post]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut all = Vec::new();
        for p in posts {
            let tokens = index_tokens(&p.title, &p.body, &[])?;
            let mut item = new_post_item(p);
            item.insert(TOKENS_ATTR.into(), tokens_value(&tokens));
            all.push(item);
            all.push(id_item(p.id, &p.user));
            all.extend(
                tokens
                    .iter()
                    .map(|t| search::token_item(t, p.id.0, &p.user)),
            );
        }
        for chunk in all.chunks(25) {
            let mut writes = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| StoreError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
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

    /// The write turn of post `id` (see `write_locks`).
    async fn write_turn(&self, id: Uuid) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (id.as_u128() % WRITE_LOCKS as u128) as usize;
        self.write_locks[stripe].lock().await
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

    /// The item at a profile key (strongly consistent).
    async fn profile_at(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// The registered spelling of the account `name` stands for, if any.
    async fn registered_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get_user(name).await?.map(|u| u.username))
    }

    /// One transaction; `Ok(false)` when a condition failed (someone else wrote first).
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
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

    /// Rewrites the label part of a post, its label index items and its search index
    /// items (from the `recorded` ones), guarded by `rev` (and by the picture key when
    /// given). `Ok(false)` on a lost race.
    async fn write_labels(
        &self,
        post: &Post,
        rev: i64,
        recorded: &[String],
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
        let mut label_items = Vec::new();
        for old in &post.labels {
            if !new_labels.iter().any(|l| l.name == old.name) {
                label_items.push(delete(&self.table, label_key(&old.name, id))?);
            }
        }
        for l in &new_labels {
            label_items.push(put(&self.table, label_item(l, id, &post.user))?);
        }
        // The labels are searchable words: the index follows in the same transaction.
        let names: Vec<String> = new_labels.iter().map(|l| l.name.clone()).collect();
        let desired = index_tokens(&post.title, &post.body, &names)?;
        let index = search::plan(
            &self.table,
            id,
            &post.user,
            recorded,
            &desired,
            MAX_TRANSACTION.saturating_sub(1 + label_items.len()),
        )?;
        values.insert(":toks".into(), tokens_value(&index.recorded));
        let upd = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(post_key(&post.user, id)))
            .update_expression(format!(
                "SET {set}, #rev = #rev + :one, #toks = :toks {remove}"
            ))
            .condition_expression(cond)
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_names("#toks", TOKENS_ATTR)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(upd).build()];
        items.extend(label_items);
        items.extend(index.writes);
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

    /// The transaction item that records `tokens` as the post's indexed ones, guarded by
    /// `rev` (and, with `first`, by the post having no record yet).
    fn record_tokens(
        &self,
        user: &str,
        id: Uuid,
        rev: i64,
        tokens: &[String],
        first: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let (cond, set) = if first {
            // (a post from an old version may have no `rev` yet)
            (
                "attribute_exists(PK) AND attribute_not_exists(#toks) \
                 AND (#rev = :rev OR attribute_not_exists(#rev))",
                "SET #toks = :toks, #rev = if_not_exists(#rev, :zero) + :one",
            )
        } else {
            ("#rev = :rev", "SET #toks = :toks, #rev = #rev + :one")
        };
        let mut upd = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(post_key(user, id)))
            .update_expression(set)
            .condition_expression(cond)
            .expression_attribute_names("#toks", TOKENS_ATTR)
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":toks", tokens_value(tokens))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()));
        if first {
            upd = upd.expression_attribute_values(":zero", AttributeValue::N("0".into()));
        }
        let upd = upd
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(upd).build())
    }

    /// Indexes for text search every post written before the search index existed (a
    /// post item without `search_tokens`), reading the `feed` index shard by shard
    /// (Queries, no Scan); returns how many posts it indexed. `init-aws` runs it; it is
    /// idempotent and safe beside a running API (each post is one transaction guarded by
    /// its `rev`).
    pub async fn backfill_search_index(&self) -> Result<usize, StoreError> {
        let mut done = 0;
        for shard in 0..FEED_SHARDS {
            let mut start: Option<Item> = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&*self.table)
                    .index_name(FEED_INDEX)
                    .key_condition_expression("#pk = :pk")
                    .filter_expression("attribute_not_exists(#toks)")
                    .expression_attribute_names("#pk", "GSI1PK")
                    .expression_attribute_names("#toks", TOKENS_ATTR)
                    .expression_attribute_values(":pk", s(feed_pk(shard)))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in page.items() {
                    let post = post_from_item(item)?;
                    if self.index_one(post.id.0).await? {
                        done += 1;
                    }
                }
                match page.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
        }
        Ok(done)
    }

    /// Indexes one post that has no search index record yet; `false` when it has one (or
    /// is gone).
    async fn index_one(&self, id: Uuid) -> Result<bool, StoreError> {
        let _turn = self.write_turn(id).await;
        for _ in 0..CONFLICT_RETRIES {
            let Some(item) = self.post_item(id).await? else {
                return Ok(false);
            };
            if item.contains_key(TOKENS_ATTR) {
                return Ok(false);
            }
            let post = post_from_item(&item)?;
            let names: Vec<String> = post.labels.iter().map(|l| l.name.clone()).collect();
            let desired = index_tokens(&post.title, &post.body, &names)?;
            let index = search::plan(
                &self.table,
                id,
                &post.user,
                &[],
                &desired,
                MAX_TRANSACTION - 1,
            )?;
            let mut items =
                vec![self.record_tokens(&post.user, id, rev_of(&item), &index.recorded, true)?];
            items.extend(index.writes);
            if self.transact(items).await? {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "a post kept changing while it was being indexed".into(),
        ))
    }

    /// Reads posts by (author, id), keeping their order.
    async fn batch_get_posts(&self, refs: Vec<(String, Uuid)>) -> Result<Vec<Post>, StoreError> {
        batch_get_posts(&self.client, &self.table, &refs).await
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
            token_version: 0,
            state: AccountState::Active,
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
        if !crate::username::is_canonical(username) {
            // An exact spelling first: a profile of two that differ only in case stays
            // at its old key (see `dynamo_items`).
            if let Some(item) = self.profile_at(exact_profile_key(username)).await? {
                return user_from_item(&item).map(Some);
            }
        }
        self.profile_at(profile_key(username))
            .await?
            .as_ref()
            .map(user_from_item)
            .transpose()
    }

    async fn create_post(&self, user: &str, post: NewPost) -> Result<Post, StoreError> {
        let record = Post::new(PostId::new(), user.to_string(), post, stored_now()?);
        let desired = index_tokens(&record.title, &record.body, &[])?;
        let index = search::plan(&self.table, record.id.0, user, &[], &desired, 97)?;
        let mut item = new_post_item(&record);
        item.insert(TOKENS_ATTR.into(), tokens_value(&index.recorded));
        // The author's profile must exist: at the canonical key with this spelling, or
        // (an account that kept its old key) at the exact one.
        let mut checks = vec![(profile_key(user), true)];
        if !crate::username::is_canonical(user) {
            checks.push((exact_profile_key(user), false));
        }
        for (key, same_name) in checks {
            let mut check = ConditionCheck::builder()
                .table_name(&*self.table)
                .set_key(Some(key));
            // Not for an account being deleted: once it is marked, no post can appear.
            check = if same_name {
                check
                    .condition_expression(format!("{ACTIVE_ACCOUNT} AND #username = :username"))
                    .expression_attribute_names("#username", "username")
                    .expression_attribute_values(":username", s(user))
            } else {
                check.condition_expression(ACTIVE_ACCOUNT)
            };
            let check = check
                .expression_attribute_names("#state", "account_state")
                .expression_attribute_values(":active", s(AccountState::Active.as_str()))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let mut items = vec![
                TransactWriteItem::builder().condition_check(check).build(),
                put(&self.table, item.clone())?,
                put(&self.table, id_item(record.id, user))?,
            ];
            items.extend(index.writes.iter().cloned());
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match res {
                Ok(_) => {
                    self.remember_owner(record.id.0, user);
                    return Ok(record);
                }
                Err(e) => match cancel_reasons(&e) {
                    Some(r) if r.first().is_some_and(|c| c == "ConditionalCheckFailed") => {}
                    _ => return Err(unavailable(e)),
                },
            }
        }
        Err(StoreError::NotFound(format!("user `{user}`")))
    }

    async fn get_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        self.post_item(id.0)
            .await?
            .as_ref()
            .map(post_from_item)
            .transpose()
    }

    async fn list_posts(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let limit = if query.limit == 0 {
            DEFAULT_PAGE
        } else {
            query.limit.min(MAX_PAGE)
        };
        let cursor = query.cursor.as_deref().map(cursor::decode).transpose()?;
        let below = below_key(cursor);
        let want = limit + 1;
        let empty = Page {
            posts: Vec::new(),
            next_cursor: None,
        };
        if let Some(name) = query.user.as_deref() {
            if crate::validate::header_username(name).is_err() {
                // No account has such a name (nor could its key be queried).
                return Ok(empty);
            }
        }
        if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
            let Some(text) = TextQuery::parse(text)? else {
                return Ok(empty);
            };
            // `?user=` in any case: the search filters on the registered spelling.
            let user = match query.user.as_deref() {
                Some(name) => match self.registered_name(name).await? {
                    Some(registered) => Some(registered),
                    None => return Ok(empty),
                },
                None => None,
            };
            let posts = search::search(
                &self.client,
                &self.table,
                &text,
                user.as_deref(),
                query.label.as_deref(),
                cursor,
                want,
            )
            .await?;
            return Ok(page_of(posts, limit));
        }
        let posts = if let Some(label) = &query.label {
            // `?user=` names an account in any case: the filter needs the registered
            // spelling its posts carry.
            let user = match query.user.as_deref() {
                Some(name) => match self.registered_name(name).await? {
                    Some(registered) => Some(registered),
                    None => return Ok(empty),
                },
                None => None,
            };
            let label = label.trim().to_lowercase();
            let items = self
                .query_partition(None, label_pk(&label), below, user.as_deref(), want)
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
        } else if let Some(name) = &query.user {
            // The partition of the spelling asked for: one Query when it is the registered
            // one (the usual case). Empty, the name may be another spelling of an account
            // (`?user=ALICE` for `alice`): its profile names the partition to read.
            let mut items = self
                .query_partition(None, user_pk(name), below.clone(), None, want)
                .await?;
            if items.is_empty() {
                if let Some(registered) = self.registered_name(name).await? {
                    if registered != *name {
                        items = self
                            .query_partition(None, user_pk(&registered), below, None, want)
                            .await?;
                    }
                }
            }
            items
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
        // Read, then one transaction guarded by `rev`: the post item and the index items
        // of the words that changed. The condition also means an edit never recreates a
        // post deleted meanwhile.
        let _turn = self.write_turn(id.0).await;
        for _ in 0..CONFLICT_RETRIES {
            let Some(item) = self.post_item(id.0).await? else {
                return Err(StoreError::NotFound(format!("post {id}")));
            };
            let mut post = post_from_item(&item)?;
            let updated_at = stored_now()?;
            let mut sets = vec!["#updated = :updated", "#rev = #rev + :one", "#toks = :toks"];
            let mut names = HashMap::from([
                ("#updated".to_string(), "updated_at".to_string()),
                ("#rev".to_string(), "rev".to_string()),
                ("#toks".to_string(), TOKENS_ATTR.to_string()),
            ]);
            let mut values = HashMap::from([
                (":updated".to_string(), s(fmt_time(updated_at))),
                (":one".to_string(), AttributeValue::N("1".into())),
                (
                    ":rev".to_string(),
                    AttributeValue::N(rev_of(&item).to_string()),
                ),
            ]);
            if let Some(title) = &edit.title {
                sets.push("#title = :title");
                names.insert("#title".into(), "title".into());
                values.insert(":title".into(), s(title.clone()));
                post.title = title.clone();
            }
            if let Some(body) = &edit.body {
                sets.push("#body = :body");
                names.insert("#body".into(), "body".into());
                values.insert(":body".into(), s(body.clone()));
                post.body = body.clone();
            }
            post.updated_at = Some(updated_at);
            let labels: Vec<String> = post.labels.iter().map(|l| l.name.clone()).collect();
            let desired = index_tokens(&post.title, &post.body, &labels)?;
            let index = search::plan(
                &self.table,
                id.0,
                &post.user,
                &recorded_tokens(&item),
                &desired,
                99,
            )?;
            values.insert(":toks".into(), tokens_value(&index.recorded));
            let upd = Update::builder()
                .table_name(&*self.table)
                .set_key(Some(post_key(&post.user, id.0)))
                .update_expression(format!("SET {}", sets.join(", ")))
                .condition_expression("attribute_exists(PK) AND #rev = :rev")
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let mut items = vec![TransactWriteItem::builder().update(upd).build()];
            items.extend(index.writes);
            if self.transact(items).await? {
                return Ok(post);
            }
        }
        Err(StoreError::Unavailable(
            "the post kept changing while it was being edited".into(),
        ))
    }

    async fn delete_post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        let _turn = self.write_turn(id.0).await;
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
            let tokens = recorded_tokens(&item);
            if items.len() + tokens.len() > MAX_TRANSACTION {
                // Too many for one transaction (only with dozens of labels): first
                // remove index items in a transaction of their own that records it.
                let index = search::plan(
                    &self.table,
                    id.0,
                    &post.user,
                    &tokens,
                    &[],
                    MAX_TRANSACTION - 1,
                )?;
                let upd = self.record_tokens(&post.user, id.0, rev, &index.recorded, false)?;
                let mut shrink = vec![upd];
                shrink.extend(index.writes);
                self.transact(shrink).await?;
                continue;
            }
            for t in &tokens {
                items.push(delete(&self.table, search::token_key(t, id.0))?);
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
        let _turn = self.write_turn(id.0).await;
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
                    &recorded_tokens(&item),
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
        let _turn = self.write_turn(id.0).await;
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
                    &recorded_tokens(&item),
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

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        self.set_password_item(username, password_hash).await
    }

    async fn mark_account_deleting(&self, username: &str) -> Result<(), StoreError> {
        self.mark_deleting_item(username).await
    }

    async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        self.delete_profile_item(username).await
    }

    async fn accounts_being_deleted(&self) -> Result<Vec<String>, StoreError> {
        self.deletion_markers().await
    }
}
