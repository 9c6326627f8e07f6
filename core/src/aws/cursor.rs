//! Opaque page cursors of the DynamoDB store.
//!
//! A cursor names the last post of a page (`d1:<uuid>`, base64url). The server rebuilds
//! the `ExclusiveStartKey` (or, for the sharded feed, the `GSI1SK < POST#<uuid>` bound of
//! every shard) from the validated UUID and the partition of the query it is serving, so a
//! client can never inject key attributes or read another partition through a cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::store::StoreError;

const TAG: &str = "d1:";

/// Encodes the id of the last post of a page.
pub fn encode(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TAG}{}", last.hyphenated()))
}

/// Decodes a cursor; `BadCursor` for anything this store did not issue.
pub fn decode(cursor: &str) -> Result<Uuid, StoreError> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| StoreError::BadCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::BadCursor)?;
    let id = text.strip_prefix(TAG).ok_or(StoreError::BadCursor)?;
    Uuid::parse_str(id).map_err(|_| StoreError::BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_cursors() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id)).ok(), Some(id));
        assert!(decode("").is_err());
        assert!(decode("not base64 !").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("p1:whatever")).is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode(r#"{"PK":{"S":"USER#bob"}}"#)).is_err());
    }
}
