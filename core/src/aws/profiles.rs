//! Moving profiles written before usernames compared case-insensitively to their
//! canonical key (`USER#<lower-case name>`), run by `postagram-api admin init-aws`.
//!
//! Only a profile whose name has upper-case letters can be at another key than its
//! canonical one. Each such profile is moved in one transaction (put at the canonical key if that
//! key is free, delete the old item). When profiles differ only in case, the canonical
//! key goes to the one already spelled in lower case (it is there), else to the oldest
//! (`created_at`, then the name in byte order) — the rule of the SQLite migration too;
//! the others stay at their old key: they keep their posts and sign in with their exact
//! spelling, which the store looks up first. Idempotent: a second run moves nothing.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::dynamo_items::{profile_item, profile_key, user_from_item, Item};
use super::sdk_message;
use crate::model::User;

/// What the re-keying did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Profiles moved to their canonical key.
    pub moved: usize,
    /// Profiles left at their old key because another account holds the canonical one.
    pub kept: usize,
}

/// Moves every mixed-case profile of `table` to its canonical key (see the module
/// documentation). One `Scan` of the profile items (an admin step, not a request path).
pub async fn rekey_profiles(client: &Client, table: &str) -> Result<Rekeyed, String> {
    let mut legacy: Vec<(User, Item)> = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("#sk = :profile")
            .expression_attribute_names("#sk", "SK")
            .expression_attribute_values(":profile", AttributeValue::S("PROFILE".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| format!("scan profiles: {}", sdk_message(&e)))?;
        for item in page.items.unwrap_or_default() {
            let user = user_from_item(&item).map_err(|e| e.to_string())?;
            if item.get("PK") != profile_key(&user.username).get("PK") {
                legacy.push((user, item));
            }
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    legacy.sort_by(|(a, _), (b, _)| (a.created_at, &a.username).cmp(&(b.created_at, &b.username)));
    let mut out = Rekeyed::default();
    for (user, item) in legacy {
        let old_key: Item = item
            .iter()
            .filter(|(k, _)| *k == "PK" || *k == "SK")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut moved = profile_item(&user);
        // Keep whatever else the profile holds (fields added later).
        for (k, v) in &item {
            if k != "PK" && k != "SK" {
                moved.insert(k.clone(), v.clone());
            }
        }
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(moved))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| e.to_string())?;
        let del = Delete::builder()
            .table_name(table)
            .set_key(Some(old_key))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| e.to_string())?;
        let res = client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(del).build())
            .send()
            .await;
        match res {
            Ok(_) => out.moved += 1,
            Err(e) if is_condition_failure(&e) => out.kept += 1,
            Err(e) => {
                return Err(format!(
                    "move profile {:?}: {}",
                    user.username,
                    sdk_message(&e)
                ))
            }
        }
    }
    Ok(out)
}

fn is_condition_failure(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}
