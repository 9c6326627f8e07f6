//! Reading many posts by key at once (`BatchGetItem`), for the label filter and text search.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::dynamo_items::{post_from_item, post_key, Item};
use super::sdk_message;
use crate::model::Post;
use crate::store::StoreError;

/// Reads posts by (author, id) in one `BatchGetItem` per 100, in the order of `refs`;
/// posts that do not exist (any more) are left out.
pub(crate) async fn batch_get_posts(
    client: &Client,
    table: &str,
    refs: &[(String, Uuid)],
) -> Result<Vec<Post>, StoreError> {
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
            let out = client
                .batch_get_item()
                .request_items(table, ka)
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(format!("dynamodb: {}", sdk_message(&e))))?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default()
            {
                let post = post_from_item(&item)?;
                found.insert(post.id.0, post);
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|ka| ka.keys)
                .unwrap_or_default();
        }
    }
    Ok(refs.iter().filter_map(|(_, id)| found.remove(id)).collect())
}
