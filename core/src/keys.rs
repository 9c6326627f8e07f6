//! Picture object keys: `<user>/<post-uuid>/<uuid4><sanitized basename>`.
//!
//! The key alone tells a labeler whose post a picture belongs to, so S3 events and
//! local jobs need no lookup. `<user>` is the author's name (as registered) in its key
//! form ([`crate::username::to_key`]: the name itself for `[A-Za-z0-9_.-]`, escaped
//! otherwise), so no name can leave its prefix or share another's; basenames are
//! sanitized so no key can escape its folder.

use uuid::Uuid;

use crate::id::PostId;
use crate::{username, validate};

/// Longest sanitized basename kept in a key, in bytes.
pub const MAX_BASENAME: usize = 100;

/// Reduces a client-supplied file name to a safe basename: only the last path
/// component, only `[A-Za-z0-9._-]` (others become `_`), no leading dots, no `..`,
/// at most [`MAX_BASENAME`] bytes with the extension kept; `picture` when nothing is left.
pub fn sanitize_basename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::with_capacity(last.len().min(MAX_BASENAME));
    for c in last.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '_'
        };
        // Collapse runs of dots so no `..` survives.
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_start_matches(['.', '_']).to_string();
    if out.len() > MAX_BASENAME {
        let ext = out
            .rfind('.')
            .map(|i| out[i..].to_string())
            .filter(|e| e.len() <= 10)
            .unwrap_or_default();
        out.truncate(MAX_BASENAME - ext.len());
        out.push_str(&ext);
    }
    if out.is_empty() || out.chars().all(|c| c == '.' || c == '_') {
        return "picture".to_string();
    }
    out
}

/// Builds a fresh object key for a picture of `user`'s post.
pub fn object_key(user: &str, post: PostId, filename: &str) -> String {
    format!(
        "{}/{}/{}{}",
        username::to_key(user),
        post.uuid_str(),
        Uuid::new_v4().simple(),
        sanitize_basename(filename)
    )
}

/// The folder (`<user>/<post-uuid>/`) holding every picture object of a post.
pub fn post_prefix(user: &str, post: PostId) -> String {
    format!("{}/{}/", username::to_key(user), post.uuid_str())
}

/// The folder (`<user>/`) holding every picture object of a user, whatever post or
/// size it belongs to (account deletion removes it whole).
pub fn user_prefix(user: &str) -> String {
    format!("{}/", username::to_key(user))
}

/// A size the labeler derives from every uploaded picture (a metadata-free JPEG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DerivedSize {
    /// About 320 px on the long side, for lists.
    Thumbnail,
    /// About 1280 px on the long side (never upscaled), what `image` serves.
    Display,
}

impl DerivedSize {
    /// Every derived size, smallest first.
    pub const ALL: [DerivedSize; 2] = [DerivedSize::Thumbnail, DerivedSize::Display];

    /// The stable name stores record and keys end with: `thumb` or `display`.
    pub fn as_str(self) -> &'static str {
        match self {
            DerivedSize::Thumbnail => "thumb",
            DerivedSize::Display => "display",
        }
    }

    /// The size named by [`DerivedSize::as_str`].
    pub fn parse(name: &str) -> Option<DerivedSize> {
        DerivedSize::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The longest side, in pixels, of this size (smaller pictures keep theirs).
    pub fn long_side(self) -> u32 {
        match self {
            DerivedSize::Thumbnail => 320,
            DerivedSize::Display => 1280,
        }
    }
}

/// What separates an original key from a derived suffix. Sanitized basenames never
/// contain it, so no uploaded key can pass for a derived one. (The user part of a key can:
/// `~` is also the escape of [`username::to_key`], so only the file name is looked at.)
const DERIVED_MARK: char = '~';

/// The key of `original`'s derived picture of `size`: `<original>~thumb.jpg` or
/// `<original>~display.jpg`, beside the original in the post's folder. The one function
/// every binary uses (API, labeler workers, Lambda, sweeps).
pub fn derived_key(original: &str, size: DerivedSize) -> String {
    format!("{original}{DERIVED_MARK}{}.jpg", size.as_str())
}

/// The original key and size of a derived key made by [`derived_key`]; `None` for an
/// original (or any other) key.
pub fn derived_of(key: &str) -> Option<(&str, DerivedSize)> {
    let (original, suffix) = key.rsplit_once(DERIVED_MARK)?;
    let size = DerivedSize::parse(suffix.strip_suffix(".jpg")?)?;
    let (_, file) = original.rsplit_once('/')?;
    (!file.is_empty() && !file.contains(DERIVED_MARK)).then_some((original, size))
}

/// The user and post a well-formed object key belongs to; `None` for anything else
/// (including path tricks), so stores and labelers can refuse it.
pub fn parse_object_key(key: &str) -> Option<(String, PostId)> {
    let mut parts = key.split('/');
    let user = parts.next()?;
    let post = parts.next()?;
    let file = parts.next()?;
    if parts.next().is_some() || file.len() < 33 || file.contains("..") || file.contains('\\') {
        return None;
    }
    if file.chars().any(|c| c.is_control()) {
        return None;
    }
    let user = username::from_key(user)?;
    validate::header_username(&user).ok()?;
    let uuid = Uuid::parse_str(post).ok()?;
    Some((user, PostId(uuid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_path_tricks() {
        assert_eq!(sanitize_basename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_basename("a/b"), "b");
        assert_eq!(sanitize_basename("a\\b.png"), "b.png");
        assert_eq!(sanitize_basename("x\0y.jpg"), "x_y.jpg");
        assert_eq!(sanitize_basename(".."), "picture");
        assert_eq!(sanitize_basename(""), "picture");
        assert_eq!(sanitize_basename("..hidden..png"), "hidden.png");
        assert_eq!(sanitize_basename("my cat.JPG"), "my_cat.JPG");
        let long = format!("{}.jpeg", "a".repeat(5000));
        let s = sanitize_basename(&long);
        assert_eq!(s.len(), MAX_BASENAME);
        assert!(s.ends_with(".jpeg"));
    }

    #[test]
    fn keys_round_trip() {
        let id = PostId::new();
        let key = object_key("alice", id, "../../etc/passwd");
        assert!(key.starts_with(&post_prefix("alice", id)));
        assert!(key.ends_with("passwd"));
        assert_eq!(parse_object_key(&key), Some(("alice".to_string(), id)));
    }

    /// Any name an account can have stays inside its own prefix: one path segment that
    /// is neither `.` nor `..`, parsed back to the same name, never another name's.
    #[test]
    fn every_name_stays_inside_its_prefix() {
        let id = PostId::new();
        let names = [
            "Jean Dupont",
            "alice@ensai.fr",
            "Al",
            "élodie",
            "a/b",
            "../alice",
            "..",
            ".",
            "alice#PROFILE",
            "a%2Fb",
            "مريم",
            "a~2fb",
        ];
        let mut prefixes = std::collections::HashSet::new();
        for name in names {
            let key = object_key(name, id, "../../x.png");
            let prefix = post_prefix(name, id);
            assert!(key.starts_with(&prefix), "{key}");
            let first = key.split('/').next().unwrap();
            assert!(
                first != "." && first != ".." && !first.contains(['#', '%', '\\', ' ']),
                "{key}"
            );
            assert_eq!(key.split('/').count(), 3, "{key}");
            assert_eq!(
                parse_object_key(&key),
                Some((name.to_string(), id)),
                "{key}"
            );
            assert!(prefixes.insert(prefix), "{name} shares a prefix");
        }
        // A key whose user part is not what the name's key form is, is refused.
        for user in ["a b", "~41", "alice~0a", "a~2Fb"] {
            let key = format!("{user}/{}/{}", id.uuid_str(), "a".repeat(40));
            assert!(parse_object_key(&key).is_none(), "{key}");
        }
    }

    #[test]
    fn derived_keys_round_trip_and_never_collide_with_uploads() {
        let id = PostId::new();
        let key = object_key("alice", id, "cat.thumb.jpg");
        assert_eq!(derived_of(&key), None, "an upload is never a derived key");
        for size in DerivedSize::ALL {
            let d = derived_key(&key, size);
            assert!(d.starts_with(&post_prefix("alice", id)));
            assert_eq!(derived_of(&d), Some((key.as_str(), size)));
            assert_eq!(parse_object_key(&d), Some(("alice".to_string(), id)));
            assert_eq!(DerivedSize::parse(size.as_str()), Some(size));
        }
        assert_eq!(derived_of(&format!("{key}~huge.jpg")), None);
        assert_eq!(derived_of(&format!("{key}~thumb.png")), None);
        // Sanitizing removes the mark from client file names.
        assert!(!object_key("alice", id, "a~thumb.jpg").contains('~'));
        // A name whose key form holds the mark (`~` escapes): only the file name counts.
        let name = "Élodie D/../#x";
        let key = object_key(name, id, "pic.bin");
        assert!(key.starts_with("Élodie~20D~2f..~2f~23x/"), "{key}");
        assert_eq!(derived_of(&key), None, "an upload is never a derived key");
        for size in DerivedSize::ALL {
            let d = derived_key(&key, size);
            assert_eq!(derived_of(&d), Some((key.as_str(), size)), "{d}");
            assert_eq!(derived_of(&derived_key(&d, size)), None, "{d}");
        }
    }

    #[test]
    fn rejects_bad_keys() {
        let id = PostId::new();
        assert!(parse_object_key("alice/x/y").is_none());
        assert!(parse_object_key(&format!("../{}/{}", id.uuid_str(), "a".repeat(40))).is_none());
        assert!(parse_object_key(&format!(
            "alice/{}/../../x{}",
            id.uuid_str(),
            "a".repeat(40)
        ))
        .is_none());
        assert!(
            parse_object_key(&format!("alice/{}/a/{}", id.uuid_str(), "a".repeat(40))).is_none()
        );
    }
}
