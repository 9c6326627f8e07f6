//! Post identifiers: UUIDv7 inside, `POST#<uuid>` on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Wire prefix of post ids; the original web app splits on `#`.
pub const POST_PREFIX: &str = "POST#";

/// A post's id: a time-ordered UUIDv7, so ordering by id is ordering by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostId(pub Uuid);

/// Why a string is not a post id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a post id (expected <uuid> or POST#<uuid>)")]
pub struct BadPostId(pub String);

impl PostId {
    /// A fresh id for a post created now.
    pub fn new() -> Self {
        PostId(Uuid::now_v7())
    }

    /// The wire form, `POST#<uuid>`.
    pub fn wire(&self) -> String {
        format!("{POST_PREFIX}{}", self.0)
    }

    /// The bare UUID in its canonical lower-case hyphenated text form.
    pub fn uuid_str(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl Default for PostId {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses `<uuid>` or `POST#<uuid>` (the `#` possibly still URL-encoded as `%23`).
pub fn parse_post_id(s: &str) -> Result<PostId, BadPostId> {
    let t = s.trim();
    let bare = t
        .strip_prefix(POST_PREFIX)
        .or_else(|| t.strip_prefix("POST%23"))
        .or_else(|| t.strip_prefix("post%23"))
        .unwrap_or(t);
    Uuid::parse_str(bare)
        .map(PostId)
        .map_err(|_| BadPostId(s.chars().take(80).collect()))
}

impl FromStr for PostId {
    type Err = BadPostId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_post_id(s)
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{POST_PREFIX}{}", self.0)
    }
}

impl Serialize for PostId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.wire())
    }
}

impl<'de> Deserialize<'de> for PostId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_post_id(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let id = PostId::new();
        assert_eq!(parse_post_id(&id.uuid_str()), Ok(id));
        assert_eq!(parse_post_id(&id.wire()), Ok(id));
        assert_eq!(parse_post_id(&format!("POST%23{}", id.0)), Ok(id));
        assert!(parse_post_id("POST#nope").is_err());
        assert!(parse_post_id("").is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = PostId::new();
        let b = PostId::new();
        assert!(a.uuid_str() < b.uuid_str());
    }

    #[test]
    fn serde_uses_wire_form() {
        let id = PostId::new();
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"POST#{}\"", id.0));
        let back: PostId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
    }
}
