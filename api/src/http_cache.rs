//! HTTP caching validators shared by the routes that answer `If-None-Match`
//! (`GET /posts`, `GET /objects/{key}`) and give an `ETag` (`PUT /objects/{key}` too).
//!
//! Hand-written (two functions): the `headers` crate's typed `ETag`/`IfNoneMatch` would
//! be a new dependency for one comparison, and it does not build an `ETag` from a body.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

/// A strong validator of a body: the quoted hex of its SHA-256, first 16 bytes.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// True when `If-None-Match` names `etag` (or `*`). Weak tags (`W/"…"`) match their
/// strong form: `If-None-Match` uses the weak comparison (RFC 9110, 13.1.2).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn if_none_match(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn etags_are_quoted_and_depend_on_the_body() {
        let a = etag_of(b"a");
        assert_eq!(a.len(), 34, "{a}");
        assert!(a.starts_with('"') && a.ends_with('"'), "{a}");
        assert_eq!(a, etag_of(b"a"));
        assert_ne!(a, etag_of(b"b"));
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let tag = etag_of(b"body");
        assert!(!not_modified(&HeaderMap::new(), &tag));
        assert!(not_modified(&if_none_match(&[&tag]), &tag));
        assert!(not_modified(&if_none_match(&[&format!("W/{tag}")]), &tag));
        assert!(not_modified(
            &if_none_match(&[&format!("\"other\", {tag}")]),
            &tag
        ));
        assert!(not_modified(&if_none_match(&["\"other\"", &tag]), &tag));
        assert!(not_modified(&if_none_match(&["*"]), &tag));
        assert!(!not_modified(&if_none_match(&["\"other\""]), &tag));
    }
}
