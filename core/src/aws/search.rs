//! Text search (`q=`) on DynamoDB: a token index in the post table, with the semantics of
//! the embedded store's FTS5 search (`sqlite/search.rs`).
//!
//! **What matches.** The query is split into words at every character that is not
//! alphanumeric (at most 16 words), each word is lower-cased and run through the FTS5
//! tokenizer itself ([`super::tokens`]: case folding, diacritics removed). A post matches
//! when for every word its title, its body or its labels hold a token that starts with it
//! (prefix matching, all words must match). A word the tokenizer splits into several
//! tokens must match them as FTS5 matches a phrase: consecutive tokens of one field, the
//! last as a prefix. A word with no token at all is ignored unless it is the only one
//! (then nothing matches), as in FTS5.
//!
//! **Index items** (one per distinct token of a post, see [`MAX_TOKENS`]):
//!
//! | PK | SK | other attributes |
//! |---|---|---|
//! | `TOK#<first 4 characters of the token>` | `POST#<uuid>#<token>` | `user`, `tok`, `TSK=POST#<uuid>`, `TP1`, `TP2`, `TP3` = `TOK#<first n characters>` when the token has at least n |
//!
//! and three sparse indexes `tok1`, `tok2`, `tok3` (partition `TP<n>`, sort `TSK`,
//! projecting `user` and `tok`). Every partition is sorted by post id, i.e. newest first:
//!
//! - a word of 4 or more characters is one partition of the table, `TOK#<its first 4>`,
//!   read below the cursor newest first (strongly consistent), with
//!   `begins_with(tok, :word)` as filter when the word is longer than 4;
//! - a word of n < 4 characters is the partition `TOK#<word>` of index `tok<n>`.
//!
//! **A query** is driven by its rarest word: with one word, that word; with several, the
//! first page of each word's partition is read at once and the word whose partition ended,
//! or else whose page reaches furthest back in time, drives (the others' pages are
//! dropped). Its partition is read page by page, the candidate posts are fetched with
//! `BatchGetItem`, and those whose current title, body and labels match every word are
//! kept (checked on the post itself, so an index item left from older text never makes a
//! wrong match), until the page is full. The cost is O(posts carrying the driving word),
//! never a `Scan`; `user=` is a filter on the index items, `label=` on the posts.
//!
//! **Writes.** The post item records in `search_tokens` exactly which index items exist.
//! Every write that changes what is indexed (create, edit, new picture, labels, delete)
//! adds the difference to the post's own transaction ([`plan`]), so index and post change
//! together; posts written before the index existed have no `search_tokens` and are
//! indexed by `init-aws` ([`super::DynamoStore::backfill_search_index`]).

use std::collections::HashSet;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::batch::batch_get_posts;
use super::dynamo_items::{key, post_sk, s, string_attr, Item};
use super::sdk_message;
use super::tokens;
use crate::model::Post;
use crate::store::StoreError;

/// Distinct tokens indexed per post: those of the title first, then of the labels, then
/// of the body, in order. A longer post is still matched on all its words, but only
/// found through one of these (a word beyond them narrows a search driven by another
/// word). 64 index items leave room in one 100-item transaction for the post, its id item
/// and its label items.
pub const MAX_TOKENS: usize = 64;
/// Characters of a token kept in its index item (DynamoDB keys are at most 1 KB).
pub const MAX_TOKEN_CHARS: usize = 64;
/// Characters of a token in the table's partition key; shorter words use the indexes.
pub const KEY_CHARS: usize = 4;
/// The sparse prefix indexes `tok1`..`tok3`: index n holds tokens of at least n characters
/// under their first n.
pub const TOKEN_INDEXES: [&str; KEY_CHARS - 1] = ["tok1", "tok2", "tok3"];
/// The post attribute listing the tokens that have an index item.
pub(crate) const TOKENS_ATTR: &str = "search_tokens";
/// Words of a query that count, as in the SQLite store.
const MAX_WORDS: usize = 16;
/// Most index items read by one page request of a search.
const MAX_READ: usize = 400;

/// The partition attribute of prefix index `tok<n>`.
pub fn index_key_attr(n: usize) -> String {
    format!("TP{n}")
}

/// The first `n` characters of `t` (all of it when shorter).
fn prefix(t: &str, n: usize) -> &str {
    match t.char_indices().nth(n) {
        Some((i, _)) => &t[..i],
        None => t,
    }
}

fn token_pk(token: &str) -> String {
    format!("TOK#{}", prefix(token, KEY_CHARS))
}

/// The key of the index item of `token` for post `id`.
pub(crate) fn token_key(token: &str, id: Uuid) -> Item {
    key(token_pk(token), format!("{}#{token}", post_sk(id)))
}

/// The index item of `token` for post `id` by `user`.
pub(crate) fn token_item(token: &str, id: Uuid, user: &str) -> Item {
    let mut item = token_key(token, id);
    item.insert("type".into(), s("token"));
    item.insert("user".into(), s(user));
    item.insert("tok".into(), s(token));
    item.insert("TSK".into(), s(post_sk(id)));
    let len = token.chars().count();
    for n in 1..KEY_CHARS {
        if len >= n {
            item.insert(index_key_attr(n), s(format!("TOK#{}", prefix(token, n))));
        }
    }
    item
}

/// The tokens a post is indexed under: distinct, title then labels then body, each cut
/// to [`MAX_TOKEN_CHARS`], at most [`MAX_TOKENS`].
pub(crate) fn index_tokens(
    title: &str,
    body: &str,
    labels: &[String],
) -> Result<Vec<String>, StoreError> {
    let [t, b, l] = tokens::columns(title, body, &labels.join(" "))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tok in t.iter().chain(&l).chain(&b) {
        if out.len() == MAX_TOKENS {
            break;
        }
        let tok = prefix(tok, MAX_TOKEN_CHARS);
        if seen.insert(tok) {
            out.push(tok.to_string());
        }
    }
    Ok(out)
}

/// The tokens a post item says are indexed (none for a post written before the index).
pub(crate) fn recorded_tokens(item: &Item) -> Vec<String> {
    match item.get(TOKENS_ATTR) {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    }
}

/// The `search_tokens` value for a list of tokens.
pub(crate) fn tokens_value(tokens: &[String]) -> AttributeValue {
    AttributeValue::L(tokens.iter().map(|t| s(t.clone())).collect())
}

/// The index writes that take a post from the `recorded` tokens to the `desired` ones,
/// within `budget` transaction items, and what is recorded afterwards.
#[derive(Debug)]
pub(crate) struct IndexPlan {
    /// Deletes and puts of index items, for the post's transaction.
    pub writes: Vec<TransactWriteItem>,
    /// The tokens that have an index item once the writes are done.
    pub recorded: Vec<String>,
}

/// Plans the index writes: deletes of tokens no longer wanted first, then puts of new
/// ones, as many as `budget` allows. Deleting first keeps the recorded set within
/// [`MAX_TOKENS`] whatever the budget (the puts left out are made by a later write with
/// more room; only a post with dozens of labels can run short).
pub(crate) fn plan(
    table: &str,
    id: Uuid,
    user: &str,
    recorded: &[String],
    desired: &[String],
    budget: usize,
) -> Result<IndexPlan, StoreError> {
    let want: HashSet<&str> = desired.iter().map(String::as_str).collect();
    let have: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    let mut writes = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for t in recorded {
        if want.contains(t.as_str()) {
            kept.push(t.clone());
        } else if writes.len() < budget {
            writes.push(delete(table, token_key(t, id))?);
        } else {
            kept.push(t.clone());
        }
    }
    for t in desired {
        if have.contains(t.as_str()) {
            continue;
        }
        if writes.len() == budget {
            break;
        }
        writes.push(put(table, token_item(t, id, user))?);
        kept.push(t.clone());
    }
    Ok(IndexPlan {
        writes,
        recorded: kept,
    })
}

fn put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, key: Item) -> Result<TransactWriteItem, StoreError> {
    let del = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(del).build())
}

/// A parsed `q=`: per query word, its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    phrases: Vec<Vec<String>>,
}

impl TextQuery {
    /// Parses user input like the SQLite store; `None` when it can match nothing (no
    /// words, or no word with a token).
    pub fn parse(input: &str) -> Result<Option<TextQuery>, StoreError> {
        let mut phrases = Vec::new();
        for word in query_words(input) {
            let t = tokens::tokens(&word)?;
            if !t.is_empty() {
                phrases.push(t);
            }
        }
        Ok((!phrases.is_empty()).then_some(TextQuery { phrases }))
    }

    /// The tokens whose index partitions can drive the search: the longest token of each
    /// word (cut like index tokens), distinct.
    pub fn drivers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for phrase in &self.phrases {
            let longest = phrase
                .iter()
                .max_by_key(|t| t.chars().count())
                .map(String::as_str)
                .unwrap_or_default();
            let t = prefix(longest, MAX_TOKEN_CHARS);
            if !t.is_empty() && !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// Whether a post's title, body and labels match every word.
    pub fn matches(&self, post: &Post) -> Result<bool, StoreError> {
        let names: Vec<&str> = post.labels.iter().map(|l| l.name.as_str()).collect();
        let columns = tokens::columns(&post.title, &post.body, &names.join(" "))?;
        Ok(self
            .phrases
            .iter()
            .all(|p| columns.iter().any(|c| phrase_in(c, p))))
    }
}

/// The words of a query as the SQLite store's `fts_query` takes them.
pub fn query_words(input: &str) -> Vec<String> {
    input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(str::to_lowercase)
        .collect()
}

/// FTS5's `"a b c"*`: consecutive tokens, the last one as a prefix.
fn phrase_in(column: &[String], phrase: &[String]) -> bool {
    let Some((last, head)) = phrase.split_last() else {
        return false;
    };
    let n = phrase.len();
    column.len() >= n
        && (0..=column.len() - n).any(|i| {
            head.iter().zip(&column[i..]).all(|(a, b)| a == b)
                && column[i + n - 1].starts_with(last.as_str())
        })
}

/// The `Query` of the index partition of `word` below `below` (newest first), filtered by
/// `user` when given.
fn index_query(
    client: &Client,
    table: &str,
    word: &str,
    user: Option<&str>,
    below: &str,
) -> QueryFluentBuilder {
    let len = word.chars().count();
    let mut q = client
        .query()
        .table_name(table)
        .scan_index_forward(false)
        .key_condition_expression("#pk = :pk AND #sk < :below")
        .expression_attribute_values(":below", s(below));
    q = if len < KEY_CHARS {
        q.index_name(TOKEN_INDEXES[len.saturating_sub(1)])
            .expression_attribute_names("#pk", index_key_attr(len.max(1)))
            .expression_attribute_names("#sk", "TSK")
            .expression_attribute_values(":pk", s(format!("TOK#{word}")))
    } else {
        q.consistent_read(true)
            .expression_attribute_names("#pk", "PK")
            .expression_attribute_names("#sk", "SK")
            .expression_attribute_values(":pk", s(token_pk(word)))
    };
    let mut filters = Vec::new();
    if len > KEY_CHARS {
        filters.push("begins_with(#tok, :word)");
        q = q
            .expression_attribute_names("#tok", "tok")
            .expression_attribute_values(":word", s(word));
    }
    if let Some(u) = user {
        filters.push("#user = :user");
        q = q
            .expression_attribute_names("#user", "user")
            .expression_attribute_values(":user", s(u));
    }
    if !filters.is_empty() {
        q = q.filter_expression(filters.join(" AND "));
    }
    q
}

/// The post id an index item (or a page's `LastEvaluatedKey`) is at.
fn post_of(item: &Item) -> Option<Uuid> {
    let sk = match item.get("TSK") {
        Some(AttributeValue::S(t)) => t.as_str(),
        _ => item.get("SK")?.as_s().ok()?.as_str(),
    };
    let uuid = sk.strip_prefix("POST#")?.get(..36)?;
    Uuid::parse_str(uuid).ok()
}

fn unavailable(e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(format!("dynamodb: {}", sdk_message(&e)))
}

/// Posts matching `query` (and `user`, `label` when given), newest first, with ids below
/// `below` (exclusive), at most `want`.
///
/// With several words, the first page of every word's partition is read at once and the
/// rarest word drives: the one whose partition ended, else the one whose page reaches
/// furthest back in time (the fewest posts per second). Its page is the first of the walk;
/// the other pages are discarded.
pub(crate) async fn search(
    client: &Client,
    table: &str,
    query: &TextQuery,
    user: Option<&str>,
    label: Option<&str>,
    below: Option<Uuid>,
    want: usize,
) -> Result<Vec<Post>, StoreError> {
    let below = match below {
        Some(c) => post_sk(c),
        // every `POST#<uuid>…` sorts below `POST$`
        None => "POST$".to_string(),
    };
    let mut read = want.clamp(1, MAX_READ);
    let mut words = query.drivers();
    let (q, mut first) = if words.len() == 1 {
        let word = words.remove(0);
        (index_query(client, table, word, user, &below), None)
    } else {
        let queries: Vec<QueryFluentBuilder> = words
            .iter()
            .map(|w| index_query(client, table, w, user, &below))
            .collect();
        let pages = futures::future::try_join_all(queries.iter().map(|q| {
            q.clone()
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .send()
        }))
        .await
        .map_err(unavailable)?;
        // complete pages first (fewest items), then the furthest reach back
        let rank = |p: &QueryOutput| match p.last_evaluated_key.as_ref().filter(|k| !k.is_empty()) {
            None => (0, Uuid::nil(), p.items().len()),
            Some(k) => (1, post_of(k).unwrap_or(Uuid::from_u128(u128::MAX)), 0),
        };
        let best = (0..pages.len())
            .min_by(|&a, &b| rank(&pages[a]).cmp(&rank(&pages[b])))
            .unwrap_or(0);
        let page = pages.into_iter().nth(best);
        (queries[best].clone(), page)
    };
    let label = label.map(|l| l.trim().to_lowercase());
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = match first.take() {
            Some(p) => p,
            None => q
                .clone()
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?,
        };
        let mut refs = Vec::new();
        for item in page.items() {
            let user = string_attr(item, "user")?;
            let id = post_of(item)
                .ok_or_else(|| StoreError::Corrupt("token item without a post id".into()))?;
            if seen.insert(id) {
                refs.push((user, id));
            }
        }
        for post in batch_get_posts(client, table, &refs).await? {
            let label_ok = label
                .as_deref()
                .is_none_or(|l| post.labels.iter().any(|x| x.name == l));
            let user_ok = user.is_none_or(|u| post.user == u);
            if label_ok && user_ok && query.matches(&post)? {
                out.push(post);
                if out.len() == want {
                    return Ok(out);
                }
            }
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(out),
        }
        read = (read * 2).min(MAX_READ);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn query_words_are_the_sqlite_stores() {
        for input in [
            "Dog beach",
            "a\" OR *",
            "  !!! ",
            "café-au-lait",
            "x² İstanbul",
        ] {
            let ours = query_words(input);
            #[cfg(feature = "embedded")]
            {
                let fts = crate::sqlite::search::fts_query(input);
                let want = (!ours.is_empty()).then(|| {
                    ours.iter()
                        .map(|w| format!("\"{w}\"*"))
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                assert_eq!(fts, want, "{input}");
            }
            assert!(ours.len() <= MAX_WORDS);
        }
        let many = "w ".repeat(40);
        assert_eq!(query_words(&many).len(), MAX_WORDS);
    }

    #[test]
    fn phrases_are_consecutive_and_prefix_on_the_last_token() {
        let col = words(&["x", "cafe", "tiger", "cat"]);
        assert!(phrase_in(&col, &words(&["caf"])));
        assert!(phrase_in(&col, &words(&["tiger", "ca"])));
        assert!(
            !phrase_in(&col, &words(&["ti", "cat"])),
            "only the last is a prefix"
        );
        assert!(
            !phrase_in(&col, &words(&["cafe", "cat"])),
            "not consecutive"
        );
        assert!(!phrase_in(&[], &words(&["a"])));
    }

    #[test]
    fn index_tokens_are_distinct_capped_and_title_first() {
        let body: String = (0..100).map(|i| format!("w{i} ")).collect();
        let t = index_tokens("Hello hello", &body, &["tiger cat".into()]).expect("tokens");
        assert_eq!(t.len(), MAX_TOKENS);
        assert_eq!(&t[..4], ["hello", "tiger", "cat", "w0"]);
        let long = "x".repeat(200);
        let t = index_tokens(&long, "", &[]).expect("tokens");
        assert_eq!(t, ["x".repeat(MAX_TOKEN_CHARS)]);
    }

    #[test]
    fn index_items_carry_their_prefixes() {
        let id = Uuid::now_v7();
        let item = token_item("ca", id, "alice");
        assert_eq!(item["PK"].as_s().ok().map(String::as_str), Some("TOK#ca"));
        assert_eq!(item["TP1"].as_s().ok().map(String::as_str), Some("TOK#c"));
        assert_eq!(item["TP2"].as_s().ok().map(String::as_str), Some("TOK#ca"));
        assert!(!item.contains_key("TP3"));
        let item = token_item("mountain", id, "alice");
        assert_eq!(item["PK"].as_s().ok().map(String::as_str), Some("TOK#moun"));
        assert_eq!(
            item["SK"].as_s().ok().cloned(),
            Some(format!("POST#{id}#mountain"))
        );
        assert_eq!(item["TP3"].as_s().ok().map(String::as_str), Some("TOK#mou"));
    }

    #[test]
    fn plans_delete_first_and_stay_within_the_budget() {
        let id = Uuid::now_v7();
        let old = words(&["a", "b", "c"]);
        let new = words(&["b", "d", "e"]);
        let p = plan("t", id, "u", &old, &new, 10).expect("plan");
        assert_eq!(p.writes.len(), 4);
        assert_eq!(p.recorded, ["b", "d", "e"]);
        let p = plan("t", id, "u", &old, &new, 3).expect("plan");
        assert_eq!(p.writes.len(), 3);
        assert_eq!(p.recorded, ["b", "d"], "deletes first, one put fits");
        let p = plan("t", id, "u", &old, &new, 1).expect("plan");
        assert_eq!(p.recorded, ["b", "c"], "one delete fits, c stays recorded");
        assert!(plan("t", id, "u", &new, &new, 0)
            .expect("plan")
            .writes
            .is_empty());
    }

    #[test]
    fn every_word_can_drive_once() {
        let q = TextQuery::parse("Mount café a mount")
            .expect("parse")
            .expect("words");
        assert_eq!(q.drivers(), ["mount", "cafe", "a"]);
        assert_eq!(TextQuery::parse("\"\"\"").expect("parse"), None);
        assert_eq!(
            TextQuery::parse("Ⓐ").expect("parse"),
            None,
            "no token, no match"
        );
    }
}
