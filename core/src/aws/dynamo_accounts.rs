//! Accounts on DynamoDB: password changes (token version) and the states of an account
//! deletion, on the profile item and the deletion markers (see `dynamo_items`).

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::dynamo::{delete, put, unavailable, DynamoStore};
use super::dynamo_items::*;
use crate::model::AccountState;
use crate::store::StoreError;

/// The condition "this profile exists and is in use" (`#state` is `account_state`,
/// `:active` is `active`). Profiles written before account states have none: active.
pub(crate) const ACTIVE_ACCOUNT: &str =
    "attribute_exists(PK) AND (attribute_not_exists(#state) OR #state = :active)";

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl DynamoStore {
    /// `PostStore::set_password`: one conditional `UpdateItem` of the profile.
    pub(super) async fn set_password_item(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(profile_key(username)))
            .condition_expression(ACTIVE_ACCOUNT)
            .update_expression(
                "SET password_hash = :hash, #ver = if_not_exists(#ver, :zero) + :one",
            )
            .expression_attribute_names("#state", "account_state")
            .expression_attribute_names("#ver", "token_version")
            .expression_attribute_values(":active", s(AccountState::Active.as_str()))
            .expression_attribute_values(":hash", s(password_hash))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::NotFound(format!("user `{username}`")))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// `PostStore::mark_account_deleting`: the profile's state and token version and the
    /// deletion marker, in one transaction.
    pub(super) async fn mark_deleting_item(&self, username: &str) -> Result<(), StoreError> {
        let mark = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(profile_key(username)))
            .condition_expression(ACTIVE_ACCOUNT)
            .update_expression("SET #state = :deleting, #ver = if_not_exists(#ver, :zero) + :one")
            .expression_attribute_names("#state", "account_state")
            .expression_attribute_names("#ver", "token_version")
            .expression_attribute_values(":active", s(AccountState::Active.as_str()))
            .expression_attribute_values(":deleting", s(AccountState::Deleting.as_str()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().update(mark).build(),
            put(&self.table, deletion_item(username))?,
        ];
        if self.transact(items).await? {
            return Ok(());
        }
        // Not active: already being deleted (fine), or no such account.
        match self.profile(username).await? {
            Some(AccountState::Deleting) => Ok(()),
            Some(_) => Err(StoreError::Unavailable(
                "the account changed while it was being marked for deletion".into(),
            )),
            None => Err(StoreError::NotFound(format!("user `{username}`"))),
        }
    }

    /// `PostStore::delete_user`: when the partition has no post left (a strongly
    /// consistent `Query`), the profile (only while `deleting`) and the marker in one
    /// transaction.
    pub(super) async fn delete_profile_item(&self, username: &str) -> Result<bool, StoreError> {
        let posts = self
            .client
            .query()
            .table_name(&*self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :post)")
            .expression_attribute_values(":pk", s(user_pk(username)))
            .expression_attribute_values(":post", s("POST#"))
            .consistent_read(true)
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        if posts.count() > 0 {
            return Ok(false);
        }
        let profile = Delete::builder()
            .table_name(&*self.table)
            .set_key(Some(profile_key(username)))
            .condition_expression("#state = :deleting")
            .expression_attribute_names("#state", "account_state")
            .expression_attribute_values(":deleting", s(AccountState::Deleting.as_str()))
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().delete(profile).build(),
            delete(&self.table, deletion_key(username))?,
        ];
        if self.transact(items).await? {
            return Ok(true);
        }
        match self.profile(username).await? {
            Some(_) => Ok(false),
            None => {
                // Gone already; a marker without its profile must not be swept forever.
                self.client
                    .delete_item()
                    .table_name(&*self.table)
                    .set_key(Some(deletion_key(username)))
                    .send()
                    .await
                    .map_err(unavailable)?;
                Ok(true)
            }
        }
    }

    /// `PostStore::accounts_being_deleted`: the marker partition, page by page.
    pub(super) async fn deletion_markers(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&*self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(DELETIONS_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                out.push(string_attr(item, "username")?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The state of a profile (strongly consistent), `None` when there is none.
    async fn profile(&self, username: &str) -> Result<Option<AccountState>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(profile_key(username)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .item
            .as_ref()
            .map(user_from_item)
            .transpose()?
            .map(|u| u.state))
    }
}
