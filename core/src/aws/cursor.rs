//! Opaque page cursors of the DynamoDB store: the shared [`crate::cursor`] format.
//!
//! A cursor names the last post of a page. The server rebuilds the `ExclusiveStartKey`
//! (or, for the sharded feed, the `GSI1SK < POST#<uuid>` bound of every shard) from the
//! validated UUID and the partition of the query it is serving, so a client can never
//! inject key attributes or read another partition through a cursor.

pub use crate::cursor::{decode, encode};

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use uuid::Uuid;

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
