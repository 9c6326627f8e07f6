//! The single-table layout of the DynamoDB store: key builders and item ⇄ record
//! conversion.
//!
//! | item | PK | SK | other attributes |
//! |---|---|---|---|
//! | profile | `USER#<canonical user>` | `PROFILE` | `username` (as registered), `password_hash`, `created_at` |
//! | post | `USER#<user>` | `POST#<uuid>` | `GSI1PK=FEED#<shard>`, `GSI1SK=POST#<uuid>`, the post JSON fields (`updated_at` once edited), `rev` |
//! | id | `POST#<uuid>` | `ID` | `user` (lookup by id alone, strongly consistent) |
//! | label index | `LABEL#<label>` | `POST#<uuid>` | `user`, `confidence` |
//! | deletion marker | `ACCOUNT_DELETIONS` | `USER#<user>` | `username` (an account being deleted; written with its `account_state`, removed with its profile) |
//! | token index | `TOK#<first 4 chars>` | `POST#<uuid>#<token>` | `user`, `tok`, `TSK`, `TP1`..`TP3` (text search, see `search`) |
//!
//! Post items also carry `search_tokens`, the tokens that have a token index item.
//!
//! A profile also has `token_version` (bumped by a password change and by the start of
//! a deletion; absent reads as 0) and `account_state` (`active`, or `deleting` from
//! `DELETE /users/me` until the profile goes; absent reads as `active`).
//!
//! A name in a key is in its key form ([`crate::username::to_key`]: the name itself for
//! `[A-Za-z0-9_.-]`, `~`-escaped otherwise, so it never holds a `#`). `<user>` is the
//! spelling the account was registered with (so posts written before names compared
//! case-insensitively stay where they are); `<canonical user>` its lower-case form
//! ([`crate::username::canonical`]), which makes names unique whatever their case. For
//! a lower-case name (every name before that change but mixed-case ones) both are the same
//! partition, as before. A profile written before at `USER#<Mixed-Case>` is moved to its
//! canonical key by `postagram-api admin init-aws` ([`crate::aws::init`]), unless that
//! key is taken (two accounts that differ only in case): it then stays where it is and
//! signs in with its exact spelling, which is looked up first.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::label::{Label, LabelStatus};
use crate::model::{AccountState, Post, User};
use crate::store::{fmt_time, parse_time, StoreError};

/// An item as the SDK sees it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Name of the feed index.
pub const FEED_INDEX: &str = "feed";
/// Number of feed shards (`FEED#0..FEED_SHARDS`): "all posts newest first" is one Query
/// per shard, merged.
pub const FEED_SHARDS: u8 = 4;
/// Most labels kept per picture (a label write must fit one 100-item transaction with the
/// index items of the previous labels).
pub const MAX_LABELS: usize = 48;

pub(crate) fn user_pk(user: &str) -> String {
    format!("USER#{}", crate::username::to_key(user))
}

pub(crate) fn post_sk(id: Uuid) -> String {
    format!("POST#{}", id.hyphenated())
}

pub(crate) fn id_pk(id: Uuid) -> String {
    format!("POST#{}", id.hyphenated())
}

pub(crate) fn label_pk(label: &str) -> String {
    format!("LABEL#{label}")
}

/// The feed shard of a post: spread by the random tail of its UUIDv7.
pub(crate) fn shard_of(id: Uuid) -> u8 {
    id.as_bytes()[15] % FEED_SHARDS
}

pub(crate) fn feed_pk(shard: u8) -> String {
    format!("FEED#{shard}")
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))])
}

/// The key of the profile of the account `user` names in any case.
pub(crate) fn profile_key(user: &str) -> Item {
    exact_profile_key(&crate::username::canonical(user))
}

/// The profile key of exactly this spelling: where profiles were written before names
/// compared case-insensitively (the same as [`profile_key`] for a lower-case name).
pub(crate) fn exact_profile_key(user: &str) -> Item {
    key(user_pk(user), "PROFILE".into())
}

pub(crate) fn post_key(user: &str, id: Uuid) -> Item {
    key(user_pk(user), post_sk(id))
}

pub(crate) fn id_key(id: Uuid) -> Item {
    key(id_pk(id), "ID".into())
}

pub(crate) fn label_key(label: &str, id: Uuid) -> Item {
    key(label_pk(label), post_sk(id))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!("item without string `{name}`"))),
    }
}

fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// A stored string attribute, for other modules.
pub(crate) fn string_attr(item: &Item, name: &str) -> Result<String, StoreError> {
    get_s(item, name).map(str::to_string)
}

/// The `rev` counter of a post item (0 when absent).
pub(crate) fn rev_of(item: &Item) -> i64 {
    match item.get("rev") {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The post item of a new post.
pub(crate) fn new_post_item(post: &Post) -> Item {
    let id = post.id.0;
    let mut item = post_key(&post.user, id);
    item.insert("GSI1PK".into(), s(feed_pk(shard_of(id))));
    item.insert("GSI1SK".into(), s(post_sk(id)));
    item.insert("type".into(), s("post"));
    item.insert("id".into(), s(post.id.wire()));
    item.insert("user".into(), s(post.user.clone()));
    item.insert("title".into(), s(post.title.clone()));
    item.insert("body".into(), s(post.body.clone()));
    item.insert("label_status".into(), s(post.label_status.as_str()));
    item.insert("created_at".into(), s(fmt_time(post.created_at)));
    item.insert("rev".into(), AttributeValue::N("0".into()));
    item
}

/// The wire-style `labels` list (names) of a label set.
pub(crate) fn label_names(labels: &[Label]) -> AttributeValue {
    AttributeValue::L(labels.iter().map(|l| s(l.name.clone())).collect())
}

/// The `label_details` list (name + confidence) of a label set.
pub(crate) fn label_details(labels: &[Label]) -> AttributeValue {
    AttributeValue::L(
        labels
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    ("name".to_string(), s(l.name.clone())),
                    (
                        "confidence".to_string(),
                        AttributeValue::N(l.confidence.to_string()),
                    ),
                ]))
            })
            .collect(),
    )
}

fn parse_labels(item: &Item) -> Result<Vec<Label>, StoreError> {
    let Some(AttributeValue::L(list)) = item.get("label_details") else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|v| {
            let AttributeValue::M(m) = v else {
                return Err(StoreError::Corrupt("label is not a map".into()));
            };
            let name = get_s(m, "name")?.to_string();
            let confidence = match m.get("confidence") {
                Some(AttributeValue::N(n)) => n
                    .parse::<f32>()
                    .map_err(|_| StoreError::Corrupt(format!("bad confidence `{n}`")))?,
                _ => return Err(StoreError::Corrupt("label without confidence".into())),
            };
            Ok(Label { name, confidence })
        })
        .collect()
}

/// The `derived` string set: the derived sizes stored for the current picture.
fn parse_derived(item: &Item) -> Result<Vec<DerivedSize>, StoreError> {
    let mut sizes = match item.get("derived") {
        None => Vec::new(),
        Some(AttributeValue::Ss(names)) => names
            .iter()
            .map(|n| {
                DerivedSize::parse(n)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad derived size `{n}`")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(StoreError::Corrupt("derived is not a string set".into())),
    };
    sizes.sort();
    sizes.dedup();
    Ok(sizes)
}

/// A post item back to the record.
pub(crate) fn post_from_item(item: &Item) -> Result<Post, StoreError> {
    let id = crate::id::parse_post_id(get_s(item, "id")?)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let status = get_s(item, "label_status")?;
    Ok(Post {
        id,
        user: get_s(item, "user")?.to_string(),
        title: get_s(item, "title")?.to_string(),
        body: get_s(item, "body")?.to_string(),
        image_key: opt_s(item, "image_key"),
        derived: parse_derived(item)?,
        labels: parse_labels(item)?,
        label_status: LabelStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad label status `{status}`")))?,
        label_error: opt_s(item, "label_error"),
        created_at: parse_time(get_s(item, "created_at")?)?,
        updated_at: opt_s(item, "updated_at")
            .as_deref()
            .map(parse_time)
            .transpose()?,
    })
}

/// The profile item of a new account.
pub(crate) fn profile_item(user: &User) -> Item {
    let mut item = profile_key(&user.username);
    item.insert("type".into(), s("profile"));
    item.insert("username".into(), s(user.username.clone()));
    item.insert("password_hash".into(), s(user.password_hash.clone()));
    item.insert("created_at".into(), s(fmt_time(user.created_at)));
    item.insert(
        "token_version".into(),
        AttributeValue::N(user.token_version.to_string()),
    );
    item.insert("account_state".into(), s(user.state.as_str()));
    item
}

/// A profile item back to the record.
pub(crate) fn user_from_item(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        username: get_s(item, "username")?.to_string(),
        password_hash: get_s(item, "password_hash")?.to_string(),
        created_at: parse_time(get_s(item, "created_at")?)?,
        token_version: match item.get("token_version") {
            None => 0,
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("bad token version `{n}`")))?,
            Some(_) => return Err(StoreError::Corrupt("token version is not a number".into())),
        },
        state: match opt_s(item, "account_state") {
            None => AccountState::Active,
            Some(st) => AccountState::parse(&st)
                .ok_or_else(|| StoreError::Corrupt(format!("bad account state `{st}`")))?,
        },
    })
}

/// The partition of the deletion markers (one item per account being deleted).
pub(crate) const DELETIONS_PK: &str = "ACCOUNT_DELETIONS";

/// The deletion marker of an account.
pub(crate) fn deletion_key(user: &str) -> Item {
    key(DELETIONS_PK.into(), user_pk(user))
}

/// The deletion marker item of an account.
pub(crate) fn deletion_item(user: &str) -> Item {
    let mut item = deletion_key(user);
    item.insert("type".into(), s("account-deletion"));
    item.insert("username".into(), s(user));
    item
}

/// The id item pointing from a post id to its author.
pub(crate) fn id_item(id: PostId, user: &str) -> Item {
    let mut item = id_key(id.0);
    item.insert("type".into(), s("post-id"));
    item.insert("user".into(), s(user));
    item
}

/// The label index item of one label of a post.
pub(crate) fn label_item(label: &Label, id: Uuid, user: &str) -> Item {
    let mut item = label_key(&label.name, id);
    item.insert("type".into(), s("label"));
    item.insert("user".into(), s(user));
    item.insert(
        "confidence".into(),
        AttributeValue::N(label.confidence.to_string()),
    );
    item
}

/// Normalises a detector's labels like every backend does: trimmed, lower-case, first
/// occurrence kept, empty names dropped, at most [`MAX_LABELS`].
pub(crate) fn normalise(labels: &[Label]) -> Vec<Label> {
    let mut seen = std::collections::HashSet::new();
    labels
        .iter()
        .filter_map(|l| {
            let name = l.name.trim().to_lowercase();
            (!name.is_empty() && seen.insert(name.clone())).then_some(Label {
                name,
                confidence: l.confidence,
            })
        })
        .take(MAX_LABELS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_items_round_trip() {
        let post = Post {
            id: PostId::new(),
            user: "alice".into(),
            title: "t".into(),
            body: "b".into(),
            image_key: None,
            derived: Vec::new(),
            labels: Vec::new(),
            label_status: LabelStatus::None,
            label_error: None,
            created_at: parse_time("2026-01-02T03:04:05.678Z").expect("time"),
            updated_at: None,
        };
        let item = new_post_item(&post);
        assert_eq!(post_from_item(&item).expect("parse"), post);
        assert!(shard_of(post.id.0) < FEED_SHARDS);
    }

    fn pk_of(item: &Item) -> &str {
        match item.get("PK") {
            Some(AttributeValue::S(v)) => v,
            _ => panic!("no PK"),
        }
    }

    /// Names valid before keep their keys; any other name is escaped so it cannot add a
    /// `#` part or name another user's partition; profiles are keyed case-insensitively.
    #[test]
    fn names_in_keys_are_escaped_and_profiles_case_insensitive() {
        let id = Uuid::now_v7();
        assert_eq!(pk_of(&post_key("alice", id)), "USER#alice");
        assert_eq!(pk_of(&post_key("Alice", id)), "USER#Alice");
        assert_eq!(pk_of(&profile_key("alice")), "USER#alice");
        assert_eq!(pk_of(&profile_key("ALICE")), "USER#alice");
        assert_eq!(pk_of(&exact_profile_key("Alice")), "USER#Alice");
        assert_eq!(pk_of(&post_key("a#PROFILE", id)), "USER#a~23PROFILE");
        assert_eq!(pk_of(&profile_key("Jean Dupont")), "USER#jean~20dupont");
        assert_eq!(pk_of(&profile_key("ÉLODIE")), "USER#élodie");
        for name in ["a#b", "a/b", "..", "x\u{200f}", "a b#"] {
            assert_eq!(pk_of(&post_key(name, id)).matches('#').count(), 1, "{name}");
        }
    }

    #[test]
    fn normalises_labels() {
        let l = |n: &str| Label {
            name: n.into(),
            confidence: 50.0,
        };
        let out = normalise(&[l(" Dog "), l("dog"), l(""), l("Cat")]);
        let names: Vec<_> = out.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["dog", "cat"]);
    }
}
