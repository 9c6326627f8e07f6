//! Turning user input into safe FTS5 queries, and opaque page cursors.

use uuid::Uuid;

use crate::cursor;
use crate::store::StoreError;

/// Builds an FTS5 query that matches every word of `input` as a prefix (AND).
/// Operators and quotes in the input are never interpreted; `None` if it has no words.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Encodes the id of the last post of a page as an opaque cursor ([`crate::cursor`]);
/// `None` for an id that is not a UUID (this store writes only UUIDs).
pub fn encode_cursor(last_id: &str) -> Option<String> {
    Uuid::parse_str(last_id).ok().map(cursor::encode)
}

/// Decodes a cursor back to a post id string, refusing anything this store did not issue.
pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    cursor::decode(cursor).map(|id| id.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_quoted() {
        assert_eq!(
            fts_query("Dog beach").as_deref(),
            Some("\"dog\"* \"beach\"*")
        );
        assert_eq!(fts_query("a\" OR *").as_deref(), Some("\"a\"* \"or\"*"));
        assert_eq!(fts_query("  !!! "), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7().hyphenated().to_string();
        assert_eq!(decode_cursor(&encode_cursor(&id).unwrap()).ok(), Some(id));
        assert!(decode_cursor("garbage!").is_err());
    }
}
