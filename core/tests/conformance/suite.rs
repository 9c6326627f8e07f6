//! The behaviour every `PostStore` backend must have. Each check takes a fresh, empty
//! store; `conformance_suite!` turns them into one test per check for a backend.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use postagram_core::blob::{Blob, BlobError, BlobStore};
use postagram_core::label::{Label, LabelStatus};
use postagram_core::model::AccountState;
use postagram_core::store::{LabelOutcome, ListQuery, NewUser, PostStore, StoreError};
use postagram_core::wire::{NewPost, PostEdit};
use postagram_core::PostId;

/// What differs between backends on purpose: nothing today (text search, the last
/// difference, works on both).
#[derive(Debug, Clone, Copy)]
pub struct Caps {}

pub type Store = Arc<dyn PostStore>;

fn label(name: &str, confidence: f32) -> Label {
    Label {
        name: name.into(),
        confidence,
    }
}

async fn user(store: &Store, name: &str) {
    store
        .create_user(NewUser {
            username: name.into(),
            password_hash: format!("$argon2id$fake${name}"),
        })
        .await
        .expect("create user");
}

async fn post(store: &Store, user: &str, title: &str) -> postagram_core::model::Post {
    store
        .create_post(
            user,
            NewPost {
                title: title.into(),
                body: format!("body of {title}"),
            },
        )
        .await
        .expect("create post")
}

fn q() -> ListQuery {
    ListQuery {
        limit: 100,
        ..ListQuery::default()
    }
}

async fn titles(store: &Store, query: ListQuery) -> Vec<String> {
    store
        .list_posts(&query)
        .await
        .expect("list")
        .posts
        .into_iter()
        .map(|p| p.title)
        .collect()
}

pub async fn users_are_unique(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let again = store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "other".into(),
        })
        .await;
    assert!(matches!(again, Err(StoreError::UserExists(u)) if u == "alice"));
    let got = store.get_user("alice").await.expect("get").expect("exists");
    assert_eq!(got.username, "alice");
    assert_eq!(got.password_hash, "$argon2id$fake$alice");
    assert!(store.get_user("nobody").await.expect("get").is_none());
}

pub async fn posts_round_trip(store: Store, _caps: Caps) {
    let unknown = store
        .create_post(
            "ghost",
            NewPost {
                title: "t".into(),
                body: "b".into(),
            },
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    user(&store, "alice").await;
    let p = post(&store, "alice", "hello").await;
    assert_eq!(p.user, "alice");
    assert_eq!(p.label_status, LabelStatus::None);
    assert!(p.labels.is_empty() && p.image_key.is_none());
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert_eq!(got, p);
    assert!(store.get_post(PostId::new()).await.expect("get").is_none());
    store.ping().await.expect("ping");
}

pub async fn lists_newest_first_with_cursors(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    user(&store, "bob").await;
    let mut made = Vec::new();
    for i in 0..25 {
        let who = if i % 3 == 0 { "bob" } else { "alice" };
        made.push(post(&store, who, &format!("p{i:02}")).await);
    }
    let expected: Vec<String> = made.iter().rev().map(|p| p.title.clone()).collect();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_posts(&ListQuery {
                limit: 10,
                cursor: cursor.clone(),
                ..ListQuery::default()
            })
            .await
            .expect("list");
        pages += 1;
        assert!(page.posts.len() <= 10);
        seen.extend(page.posts.into_iter().map(|p| p.title));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    // default page size
    assert_eq!(
        store
            .list_posts(&ListQuery::default())
            .await
            .expect("list")
            .posts
            .len(),
        20
    );
    // user filter, paginated
    let bob: Vec<String> = made
        .iter()
        .rev()
        .filter(|p| p.user == "bob")
        .map(|p| p.title.clone())
        .collect();
    let first = store
        .list_posts(&ListQuery {
            user: Some("bob".into()),
            limit: 5,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        first
            .posts
            .iter()
            .map(|p| p.title.clone())
            .collect::<Vec<_>>(),
        bob[..5]
    );
    let rest = store
        .list_posts(&ListQuery {
            user: Some("bob".into()),
            limit: 5,
            cursor: first.next_cursor.clone(),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        rest.posts
            .iter()
            .map(|p| p.title.clone())
            .collect::<Vec<_>>(),
        bob[5..]
    );
    assert!(rest.next_cursor.is_none());
    assert!(titles(
        &store,
        ListQuery {
            user: Some("nobody".into()),
            ..q()
        }
    )
    .await
    .is_empty());
    // cursors this store did not issue
    for bad in [
        "",
        "garbage",
        "cDE6bm90LWEtdXVpZA",
        "eyJQSyI6eyJTIjoiVVNFUiNib2IifX0",
    ] {
        let r = store
            .list_posts(&ListQuery {
                cursor: Some(bad.into()),
                ..q()
            })
            .await;
        assert!(matches!(r, Err(StoreError::BadCursor)), "{bad}: {r:?}");
    }
}

pub async fn labels_flow(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    user(&store, "bob").await;
    let a = post(&store, "alice", "cat picture").await;
    let b = post(&store, "bob", "bob's cat").await;
    let c = post(&store, "alice", "no picture").await;
    let key_a = format!("alice/{}/{}cat.png", a.id.uuid_str(), "0".repeat(32));
    let key_b = format!("bob/{}/{}cat.png", b.id.uuid_str(), "1".repeat(32));

    // labels for a picture that is not (yet) the post's are ignored
    let stale = store
        .set_labels(
            a.id,
            &key_a,
            LabelOutcome::Labelled(vec![label("cat", 90.0)]),
        )
        .await
        .expect("set labels");
    assert!(!stale);
    let missing = store.set_image(PostId::new(), "x/y/z", 1000).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    store
        .set_image(a.id, &key_a, 2000)
        .await
        .expect("set image");
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.label_status, LabelStatus::Pending);
    assert_eq!(got.image_key.as_deref(), Some(key_a.as_str()));

    let labels = vec![
        label("Cat", 97.5),
        label(" animal ", 88.25),
        label("cat", 10.0),
    ];
    for _ in 0..2 {
        // idempotent: twice gives the same labels once
        let ok = store
            .set_labels(a.id, &key_a, LabelOutcome::Labelled(labels.clone()))
            .await
            .expect("set labels");
        assert!(ok);
    }
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.label_status, LabelStatus::Done);
    assert_eq!(got.labels, vec![label("cat", 97.5), label("animal", 88.25)]);
    assert!(!store
        .set_labels(
            a.id,
            "alice/other/key",
            LabelOutcome::Labelled(vec![label("dog", 50.0)])
        )
        .await
        .expect("set labels"));

    store
        .set_image(b.id, &key_b, 3000)
        .await
        .expect("set image");
    store
        .set_labels(
            b.id,
            &key_b,
            LabelOutcome::Labelled(vec![label("cat", 60.0)]),
        )
        .await
        .expect("set labels");

    let by = |l: &str, u: Option<&str>| ListQuery {
        label: Some(l.into()),
        user: u.map(String::from),
        ..q()
    };
    assert_eq!(
        titles(&store, by("cat", None)).await,
        ["bob's cat", "cat picture"]
    );
    assert_eq!(
        titles(&store, by("CAT ", None)).await,
        ["bob's cat", "cat picture"]
    );
    assert_eq!(
        titles(&store, by("cat", Some("alice"))).await,
        ["cat picture"]
    );
    assert_eq!(titles(&store, by("animal", None)).await, ["cat picture"]);
    assert!(titles(&store, by("dog", None)).await.is_empty());
    // label pages
    let first = store
        .list_posts(&ListQuery {
            label: Some("cat".into()),
            limit: 1,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(first.posts.len(), 1);
    let second = store
        .list_posts(&ListQuery {
            label: Some("cat".into()),
            limit: 1,
            cursor: first.next_cursor.clone(),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(second.posts[0].title, "cat picture");
    assert!(second.next_cursor.is_none());

    // a new picture clears the old labels and their index entries
    let key_a2 = format!("alice/{}/{}dog.png", a.id.uuid_str(), "2".repeat(32));
    store
        .set_image(a.id, &key_a2, 4000)
        .await
        .expect("set image");
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.label_status, LabelStatus::Pending);
    assert!(got.labels.is_empty());
    assert_eq!(
        titles(&store, by("animal", None)).await,
        Vec::<String>::new()
    );
    // the result for the old picture arrives late: ignored
    assert!(!store
        .set_labels(a.id, &key_a, LabelOutcome::Labelled(labels.clone()))
        .await
        .expect("set labels"));
    store
        .set_labels(a.id, &key_a2, LabelOutcome::Failed("not an image".into()))
        .await
        .expect("set labels");
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.label_status, LabelStatus::Failed);
    assert_eq!(got.label_error.as_deref(), Some("not an image"));
    assert!(got.labels.is_empty());
    assert_eq!(titles(&store, by("cat", None)).await, ["bob's cat"]);
    let untouched = store.get_post(c.id).await.expect("get").expect("exists");
    assert_eq!(untouched.label_status, LabelStatus::None);
}

/// Upload events can arrive out of order: a picture uploaded before the post's current
/// one never replaces it; the current picture recorded again, or one uploaded at the same
/// millisecond or later, does.
pub async fn late_pictures_do_not_replace_newer_ones(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let a = post(&store, "alice", "two uploads").await;
    let older = format!("alice/{}/{}first.png", a.id.uuid_str(), "1".repeat(32));
    let newer = format!("alice/{}/{}second.png", a.id.uuid_str(), "2".repeat(32));
    assert!(store
        .set_image(a.id, &newer, 2_000)
        .await
        .expect("set image"));
    assert!(
        !store
            .set_image(a.id, &older, 1_000)
            .await
            .expect("set image"),
        "the late, older picture is refused"
    );
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.image_key.as_deref(), Some(newer.as_str()));
    assert_eq!(got.label_status, LabelStatus::Pending);
    // the newer picture's labels survive another late event of the older one
    store
        .set_labels(
            a.id,
            &newer,
            LabelOutcome::Labelled(vec![label("cat", 90.0)]),
        )
        .await
        .expect("set labels");
    assert!(!store
        .set_image(a.id, &older, 1_999)
        .await
        .expect("set image"));
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.label_status, LabelStatus::Done);
    assert_eq!(got.labels.len(), 1);
    assert_eq!(
        titles(
            &store,
            ListQuery {
                label: Some("cat".into()),
                ..q()
            }
        )
        .await,
        ["two uploads"]
    );
    // same millisecond: the event processed last wins
    assert!(store
        .set_image(a.id, &older, 2_000)
        .await
        .expect("set image"));
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(got.image_key.as_deref(), Some(older.as_str()));
    assert!(got.labels.is_empty());
    // the current picture again is recorded whatever its time
    assert!(store.set_image(a.id, &older, 5).await.expect("set image"));
}

pub async fn delete_removes_everything(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let a = post(&store, "alice", "to delete").await;
    let keep = post(&store, "alice", "to keep").await;
    let key = format!("alice/{}/{}cat.png", a.id.uuid_str(), "0".repeat(32));
    store.set_image(a.id, &key, 5000).await.expect("set image");
    store
        .set_labels(a.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
        .await
        .expect("set labels");
    let gone = store
        .delete_post(a.id)
        .await
        .expect("delete")
        .expect("was there");
    assert_eq!(gone.id, a.id);
    assert_eq!(gone.image_key.as_deref(), Some(key.as_str()));
    assert!(store.get_post(a.id).await.expect("get").is_none());
    assert_eq!(titles(&store, q()).await, ["to keep"]);
    assert!(titles(
        &store,
        ListQuery {
            label: Some("cat".into()),
            ..q()
        }
    )
    .await
    .is_empty());
    assert!(store.delete_post(a.id).await.expect("delete").is_none());
    assert!(!store
        .set_labels(a.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
        .await
        .expect("set labels"));
    assert!(matches!(
        store.set_image(a.id, &key, 6000).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.get_post(keep.id).await.expect("get").is_some());
}

pub async fn text_search_finds_words(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    post(&store, "alice", "espresso morning").await;
    post(&store, "alice", "beach evening").await;
    let titles: Vec<_> = store
        .list_posts(&ListQuery {
            text: Some("espresso".into()),
            ..q()
        })
        .await
        .expect("search")
        .posts
        .into_iter()
        .map(|p| p.title)
        .collect();
    assert_eq!(titles, ["espresso morning"]);
    // blank text is no filter on every backend
    let all = store
        .list_posts(&ListQuery {
            text: Some("   ".into()),
            ..q()
        })
        .await
        .expect("list");
    assert_eq!(all.posts.len(), 2);
}

async fn post_with(
    store: &Store,
    user: &str,
    title: &str,
    body: &str,
) -> postagram_core::model::Post {
    store
        .create_post(
            user,
            NewPost {
                title: title.into(),
                body: body.into(),
            },
        )
        .await
        .expect("create post")
}

async fn found(store: &Store, query: ListQuery) -> Vec<String> {
    titles(store, query).await
}

fn text(t: &str) -> ListQuery {
    ListQuery {
        text: Some(t.into()),
        ..q()
    }
}

/// The search semantics of the embedded FTS5 index, on every backend: every word must
/// match, each as a prefix of a word of the title, the body or the labels, case and
/// diacritics folded, operators not interpreted, with the user and label filters.
pub async fn text_search_semantics(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    user(&store, "bob").await;
    post_with(&store, "alice", "Sunset at the beach", "golden light").await;
    let espresso = post_with(&store, "bob", "Espresso", "morning coffee at the café").await;
    post_with(
        &store,
        "bob",
        "Mountains",
        "snow everywhere, Ærøskøbing and Łódź",
    )
    .await;
    post_with(&store, "alice", "e-mail", "straße naïve İstanbul x²").await;
    let key = format!("bob/{}/{}cat.png", espresso.id.uuid_str(), "0".repeat(32));
    store
        .set_image(espresso.id, &key, 1000)
        .await
        .expect("set image");
    store
        .set_labels(
            espresso.id,
            &key,
            LabelOutcome::Labelled(vec![label("Tiger Cat", 60.0), label("cup", 30.0)]),
        )
        .await
        .expect("set labels");

    let cases: &[(&str, &[&str])] = &[
        ("coffee", &["Espresso"]),
        ("cafe", &["Espresso"]),
        ("CAFÉ", &["Espresso"]),
        ("BEACH", &["Sunset at the beach"]),
        ("mount", &["Mountains"]),
        ("m", &["e-mail", "Mountains", "Espresso"]),
        ("mo", &["Mountains", "Espresso"]),
        ("mou", &["Mountains"]),
        ("moun", &["Mountains"]),
        ("mountains", &["Mountains"]),
        ("mountainsx", &[]),
        ("aerø", &[]),
        ("ærøsk", &["Mountains"]),
        ("lodz", &[]),
        ("łodz", &["Mountains"]),
        ("strasse", &[]),
        ("straße", &["e-mail"]),
        ("naive istanbul", &["e-mail"]),
        ("x", &["e-mail"]),
        ("x²", &["e-mail"]),
        ("mail", &["e-mail"]),
        ("e-mail", &["e-mail"]),
        ("beach snow", &[]),
        ("snow ever", &["Mountains"]),
        ("at", &["Espresso", "Sunset at the beach"]),
        ("at the", &["Espresso", "Sunset at the beach"]),
        ("tiger", &["Espresso"]),
        ("cat", &["Espresso"]),
        ("cup coffee", &["Espresso"]),
        ("tiger mountains", &[]),
        ("\" OR *", &[]),
        ("\"\"\"", &[]),
        ("Ⓐ", &[]),
        ("Ⓐ coffee", &["Espresso"]),
    ];
    for (t, want) in cases {
        assert_eq!(found(&store, text(t)).await, *want, "q={t}");
    }
    assert_eq!(
        found(
            &store,
            ListQuery {
                user: Some("bob".into()),
                ..text("snow")
            }
        )
        .await,
        ["Mountains"]
    );
    assert!(found(
        &store,
        ListQuery {
            user: Some("alice".into()),
            ..text("snow")
        }
    )
    .await
    .is_empty());
    assert_eq!(
        found(
            &store,
            ListQuery {
                label: Some("tiger cat".into()),
                ..text("morn")
            }
        )
        .await,
        ["Espresso"]
    );
    assert!(found(
        &store,
        ListQuery {
            label: Some("cup".into()),
            ..text("snow")
        }
    )
    .await
    .is_empty());
    // a failed picture takes its labels out of the search
    store
        .set_labels(espresso.id, &key, LabelOutcome::Failed("broken".into()))
        .await
        .expect("fail");
    assert!(found(&store, text("tiger")).await.is_empty());
    assert_eq!(found(&store, text("coffee")).await, ["Espresso"]);
    // deleted posts are not found
    store.delete_post(espresso.id).await.expect("delete");
    assert!(found(&store, text("coffee")).await.is_empty());
}

/// Search results come newest first, page by page with cursors, whatever the word's
/// length; a forged cursor is refused.
pub async fn text_search_pages_newest_first(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let mut made = Vec::new();
    for i in 0..23 {
        // every third post does not match; some match through longer words
        let title = match i % 3 {
            0 => format!("walk {i}"),
            1 => format!("walking {i}"),
            _ => format!("other {i}"),
        };
        made.push(post_with(&store, "alice", &title, "text").await.title);
    }
    let want: Vec<String> = made
        .iter()
        .rev()
        .filter(|t| t.starts_with("walk"))
        .cloned()
        .collect();
    for word in ["w", "wa", "wal", "walk", "walki"] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_posts(&ListQuery {
                    text: Some(word.into()),
                    limit: 4,
                    cursor: cursor.take(),
                    ..ListQuery::default()
                })
                .await
                .expect("page");
            assert!(page.posts.len() <= 4);
            got.extend(page.posts.into_iter().map(|p| p.title));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let expect: Vec<String> = if word == "walki" {
            want.iter()
                .filter(|t| t.starts_with("walking"))
                .cloned()
                .collect()
        } else {
            want.clone()
        };
        assert_eq!(got, expect, "q={word}");
    }
    let r = store
        .list_posts(&ListQuery {
            text: Some("walk".into()),
            cursor: Some("forged".into()),
            ..q()
        })
        .await;
    assert!(matches!(r, Err(StoreError::BadCursor)), "{r:?}");
}

fn edit(title: Option<&str>, body: Option<&str>) -> PostEdit {
    PostEdit {
        title: title.map(String::from),
        body: body.map(String::from),
    }
}

/// Titles of a text search.
async fn search(store: &Store, text: &str) -> Vec<String> {
    store
        .list_posts(&ListQuery {
            text: Some(text.into()),
            ..q()
        })
        .await
        .expect("search")
        .posts
        .into_iter()
        .map(|p| p.title)
        .collect()
}

/// An edit changes title and/or body and sets `updated_at`; get, list, the user and label
/// filters and text search all show the new text and not the old; labels, picture and
/// the label index stay; a later picture keeps the edited text.
pub async fn edits_show_everywhere_and_keep_labels(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let a = store
        .create_post(
            "alice",
            NewPost {
                title: "espresso morning".into(),
                body: "croissant crumbs".into(),
            },
        )
        .await
        .expect("create");
    let other = post(&store, "alice", "untouched").await;
    let key = format!("alice/{}/{}cat.png", a.id.uuid_str(), "0".repeat(32));
    store.set_image(a.id, &key, 1000).await.expect("set image");
    store
        .set_labels(a.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
        .await
        .expect("set labels");
    assert_eq!(a.updated_at, None, "a new post was never edited");

    let edited = store
        .update_post(a.id, edit(Some("cappuccino evening"), None))
        .await
        .expect("edit title");
    assert_eq!(edited.title, "cappuccino evening");
    assert_eq!(edited.body, "croissant crumbs", "the body is kept");
    assert_eq!(edited.created_at, a.created_at);
    let first_edit = edited.updated_at.expect("updated_at set");
    assert!(first_edit >= a.created_at);
    assert_eq!(edited.labels, vec![label("cat", 90.0)], "labels kept");
    assert_eq!(edited.label_status, LabelStatus::Done);
    assert_eq!(edited.image_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        store.get_post(a.id).await.expect("get"),
        Some(edited.clone())
    );

    let listed = store.list_posts(&q()).await.expect("list").posts;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|p| p.id == a.id), Some(&edited));
    assert_eq!(
        titles(
            &store,
            ListQuery {
                user: Some("alice".into()),
                ..q()
            }
        )
        .await,
        ["untouched", "cappuccino evening"]
    );
    let by_label = store
        .list_posts(&ListQuery {
            label: Some("cat".into()),
            ..q()
        })
        .await
        .expect("label list")
        .posts;
    assert_eq!(
        by_label,
        vec![edited.clone()],
        "label filter unchanged, new text"
    );
    {
        let found = search(&store, "cappuccino").await;
        assert_eq!(found, ["cappuccino evening"], "new title words are found");
        assert!(
            search(&store, "espresso").await.is_empty(),
            "old title words are gone"
        );
        assert_eq!(search(&store, "croissant").await, ["cappuccino evening"]);
        assert_eq!(
            search(&store, "cat").await,
            ["cappuccino evening"],
            "labels stay searchable"
        );
    }

    let again = store
        .update_post(a.id, edit(None, Some("oat milk foam")))
        .await
        .expect("edit body");
    assert_eq!(again.title, "cappuccino evening", "the title is kept");
    assert_eq!(again.body, "oat milk foam");
    assert!(again.updated_at.expect("updated_at") >= first_edit);
    {
        let found = search(&store, "foam").await;
        assert_eq!(found, ["cappuccino evening"]);
        assert!(
            search(&store, "croissant").await.is_empty(),
            "old body words are gone"
        );
    }
    let both = store
        .update_post(a.id, edit(Some("flat white"), Some("double shot")))
        .await
        .expect("edit both");
    assert_eq!(
        (both.title.as_str(), both.body.as_str()),
        ("flat white", "double shot")
    );

    // A new picture and its labels leave the edited text alone.
    let key2 = format!("alice/{}/{}dog.png", a.id.uuid_str(), "1".repeat(32));
    store.set_image(a.id, &key2, 2000).await.expect("set image");
    store
        .set_labels(
            a.id,
            &key2,
            LabelOutcome::Labelled(vec![label("dog", 80.0)]),
        )
        .await
        .expect("set labels");
    let got = store.get_post(a.id).await.expect("get").expect("exists");
    assert_eq!(
        (got.title.as_str(), got.body.as_str()),
        ("flat white", "double shot")
    );
    assert_eq!(got.updated_at, both.updated_at);
    assert_eq!(got.labels, vec![label("dog", 80.0)]);

    let untouched = store
        .get_post(other.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(untouched, other, "an edit touches one post");
}

/// Editing a post that does not exist, or no longer does, is `NotFound` and brings
/// nothing back.
pub async fn editing_unknown_or_deleted_posts_is_not_found(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let r = store
        .update_post(PostId::new(), edit(Some("x"), None))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let a = post(&store, "alice", "short-lived").await;
    store
        .delete_post(a.id)
        .await
        .expect("delete")
        .expect("was there");
    let r = store
        .update_post(a.id, edit(Some("revived?"), Some("no")))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert!(store.get_post(a.id).await.expect("get").is_none());
    assert!(titles(&store, q()).await.is_empty(), "nothing recreated");
}

/// An edit racing a delete of the same post: the delete wins or comes second, never an
/// error; afterwards the post is gone everywhere (get, list, label index) and editing it
/// is `NotFound`. Two edits of different fields at once both apply.
pub async fn concurrent_edits_and_deletes_stay_consistent(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    for round in 0..4 {
        let p = post(&store, "alice", &format!("round {round}")).await;
        let key = format!("alice/{}/{}cat.png", p.id.uuid_str(), "0".repeat(32));
        store.set_image(p.id, &key, 1000).await.expect("set image");
        store
            .set_labels(p.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
            .await
            .expect("set labels");
        let (edited, deleted) = tokio::join!(
            store.update_post(p.id, edit(Some("edited"), Some("while deleting"))),
            store.delete_post(p.id),
        );
        let deleted = deleted.expect("delete").expect("the post was there");
        assert_eq!(deleted.id, p.id);
        match edited {
            Ok(e) => assert_eq!(e.title, "edited"),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => panic!("round {round}: {e:?}"),
        }
        assert!(store.get_post(p.id).await.expect("get").is_none());
        let r = store.update_post(p.id, edit(Some("again"), None)).await;
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    }
    assert!(
        titles(&store, q()).await.is_empty(),
        "no post left or recreated"
    );
    assert!(
        titles(
            &store,
            ListQuery {
                label: Some("cat".into()),
                ..q()
            }
        )
        .await
        .is_empty(),
        "no label index entry left"
    );

    let p = post(&store, "alice", "two editors").await;
    let (t, b) = tokio::join!(
        store.update_post(p.id, edit(Some("new title"), None)),
        store.update_post(p.id, edit(None, Some("new body"))),
    );
    t.expect("edit title");
    b.expect("edit body");
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert_eq!(
        (got.title.as_str(), got.body.as_str()),
        ("new title", "new body")
    );
}

/// A picture store that holds nothing: the conformance checks drive the real deletion
/// ([`postagram_core::accounts::finish_deletion`]) on the post store alone.
struct NoPictures;

#[async_trait::async_trait]
impl BlobStore for NoPictures {
    async fn presign_put(&self, _: &str, _: &str, _: Duration) -> Result<String, BlobError> {
        Err(BlobError::BadKey)
    }
    async fn presign_get(&self, _: &str, _: Duration) -> Result<String, BlobError> {
        Err(BlobError::BadKey)
    }
    async fn put(&self, _: &str, _: bytes::Bytes, _: &str) -> Result<(), BlobError> {
        Err(BlobError::BadKey)
    }
    async fn get(&self, _: &str) -> Result<Option<Blob>, BlobError> {
        Ok(None)
    }
    async fn delete_prefix(&self, _: &str) -> Result<u64, BlobError> {
        Ok(0)
    }
    async fn delete_user_objects(&self, prefix: &str) -> Result<u64, BlobError> {
        postagram_core::blob::user_folder(prefix).map(|_| 0)
    }
    async fn list(&self, _: &str) -> Result<Vec<postagram_core::blob::ObjectInfo>, BlobError> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str) -> Result<(), BlobError> {
        Ok(())
    }
}

async fn finish(store: &Store, name: &str) -> postagram_core::accounts::Deleted {
    postagram_core::accounts::finish_deletion(&**store, &NoPictures, name)
        .await
        .expect("finish the deletion")
}

/// A new account is active at token version 0; a password change replaces the hash and
/// bumps the version each time; an unknown account, or one being deleted, is `NotFound`.
pub async fn password_changes_bump_the_token_version(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    let u = store.get_user("alice").await.expect("get").expect("exists");
    assert_eq!((u.token_version, u.state), (0, AccountState::Active));
    store
        .set_password("alice", "$argon2id$new")
        .await
        .expect("set password");
    let u = store.get_user("alice").await.expect("get").expect("exists");
    assert_eq!(u.password_hash, "$argon2id$new");
    assert_eq!(u.token_version, 1);
    store
        .set_password("alice", "$argon2id$newer")
        .await
        .expect("again");
    assert_eq!(
        store
            .get_user("alice")
            .await
            .expect("get")
            .expect("exists")
            .token_version,
        2
    );
    let r = store.set_password("nobody", "x").await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    store.mark_account_deleting("alice").await.expect("mark");
    let r = store.set_password("alice", "x").await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let u = store.get_user("alice").await.expect("get").expect("exists");
    assert_eq!(
        u.password_hash, "$argon2id$newer",
        "unchanged once deleting"
    );
}

/// Marking bumps the version, blocks new posts and keeps the name taken; the record goes
/// only once no post is left, then the name is free (a new account starts afresh) and
/// nothing of the old one is found; other accounts are untouched.
pub async fn account_deletion_marks_then_frees_the_name(store: Store, _caps: Caps) {
    user(&store, "alice").await;
    user(&store, "bob").await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let p = post(&store, "alice", &format!("alice {i}")).await;
        let key = format!("alice/{}/{}cat.png", p.id.uuid_str(), "0".repeat(32));
        store.set_image(p.id, &key, 1000).await.expect("set image");
        store
            .set_labels(p.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
            .await
            .expect("labels");
        mine.push(p);
    }
    let theirs = post(&store, "bob", "bob's").await;
    let key = format!("bob/{}/{}cat.png", theirs.id.uuid_str(), "0".repeat(32));
    store
        .set_image(theirs.id, &key, 1000)
        .await
        .expect("set image");
    store
        .set_labels(
            theirs.id,
            &key,
            LabelOutcome::Labelled(vec![label("cat", 80.0)]),
        )
        .await
        .expect("labels");

    assert!(store
        .accounts_being_deleted()
        .await
        .expect("list")
        .is_empty());
    assert!(!store.delete_user("bob").await.expect("delete active"));
    assert!(
        store.get_user("bob").await.expect("get").is_some(),
        "active accounts stay"
    );
    let r = store.mark_account_deleting("nobody").await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");

    store.mark_account_deleting("alice").await.expect("mark");
    let u = store
        .get_user("alice")
        .await
        .expect("get")
        .expect("still there");
    assert_eq!((u.state, u.token_version), (AccountState::Deleting, 1));
    store
        .mark_account_deleting("alice")
        .await
        .expect("mark twice");
    let u = store
        .get_user("alice")
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(u.token_version, 1, "marking again changes nothing");
    assert_eq!(
        store.accounts_being_deleted().await.expect("list"),
        ["alice"]
    );
    let r = store
        .create_post(
            "alice",
            NewPost {
                title: "too late".into(),
                body: "b".into(),
            },
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let again = store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::UserExists(_))),
        "the name stays taken while deleting: {again:?}"
    );
    assert!(
        !store.delete_user("alice").await.expect("delete"),
        "not while posts are left"
    );
    assert!(store.get_user("alice").await.expect("get").is_some());

    let done = finish(&store, "alice").await;
    assert_eq!(done.posts, 3);
    assert!(store.get_user("alice").await.expect("get").is_none());
    assert!(store
        .accounts_being_deleted()
        .await
        .expect("list")
        .is_empty());
    for p in &mine {
        assert!(store.get_post(p.id).await.expect("get").is_none());
    }
    let user_posts = ListQuery {
        user: Some("alice".into()),
        ..q()
    };
    assert!(titles(&store, user_posts.clone()).await.is_empty());
    assert_eq!(
        titles(
            &store,
            ListQuery {
                label: Some("cat".into()),
                ..q()
            }
        )
        .await,
        ["bob's"],
        "no label index entry of alice's left"
    );
    assert_eq!(titles(&store, q()).await, ["bob's"]);
    assert!(store.delete_user("alice").await.expect("gone already"));
    assert_eq!(
        finish(&store, "alice").await.posts,
        0,
        "finishing twice is fine"
    );

    // The name is free: a new account with it starts afresh.
    store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "fresh".into(),
        })
        .await
        .expect("the name is free again");
    let u = store.get_user("alice").await.expect("get").expect("exists");
    assert_eq!(
        (u.password_hash.as_str(), u.token_version, u.state),
        ("fresh", 0, AccountState::Active)
    );
    assert!(titles(&store, user_posts).await.is_empty());
    post(&store, "alice", "new life").await;
    let bob = store.get_user("bob").await.expect("get").expect("bob");
    assert_eq!((bob.state, bob.token_version), (AccountState::Active, 0));
    assert_eq!(
        store
            .get_post(theirs.id)
            .await
            .expect("get")
            .map(|p| p.labels),
        Some(vec![label("cat", 80.0)])
    );
}

/// A deletion racing an upload (`set_image`) and a new post: whichever comes first, once
/// the deletion is finished no post, picture record or label index entry of the account
/// is left, and the late writes are `NotFound` (an upload then removes its object).
pub async fn deletion_racing_uploads_and_posts_leaves_nothing(store: Store, _caps: Caps) {
    for round in 0..4 {
        let name = format!("racer{round}");
        user(&store, &name).await;
        let p = post(&store, &name, "racing").await;
        let key = format!("{name}/{}/{}cat.png", p.id.uuid_str(), "0".repeat(32));
        let labelled = async {
            store.set_image(p.id, &key, 1000).await?;
            store
                .set_labels(p.id, &key, LabelOutcome::Labelled(vec![label("cat", 90.0)]))
                .await
        };
        let deleted = async {
            store.mark_account_deleting(&name).await.expect("mark");
            postagram_core::accounts::finish_deletion(&*store, &NoPictures, &name).await
        };
        let created = store.create_post(
            &name,
            NewPost {
                title: "late".into(),
                body: "b".into(),
            },
        );
        let (upload, deletion, late) = tokio::join!(labelled, deleted, created);
        deletion.expect("the deletion finishes");
        match upload {
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => panic!("round {round}: upload {e:?}"),
        }
        match late {
            Ok(p) => assert!(
                store.get_post(p.id).await.expect("get").is_none(),
                "round {round}: a post created before the mark went with the account"
            ),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => panic!("round {round}: create {e:?}"),
        }
        assert!(store.get_user(&name).await.expect("get").is_none());
        assert!(store.get_post(p.id).await.expect("get").is_none());
        let r = store.set_image(p.id, &key, 2000).await;
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
        assert!(titles(
            &store,
            ListQuery {
                user: Some(name.clone()),
                ..q()
            }
        )
        .await
        .is_empty());
    }
    assert!(titles(&store, q()).await.is_empty(), "no post left");
    assert!(
        titles(
            &store,
            ListQuery {
                label: Some("cat".into()),
                ..q()
            }
        )
        .await
        .is_empty(),
        "no label index entry left"
    );
    assert!(store
        .accounts_being_deleted()
        .await
        .expect("list")
        .is_empty());
}

/// Names compare case-insensitively: one account per lower-case form, found in any
/// case, keeping the spelling it was registered with (also on its posts and in the
/// `user` filter, which takes any case).
pub async fn usernames_are_case_insensitive(store: Store, _caps: Caps) {
    user(&store, "Alice").await;
    for taken in ["alice", "ALICE", "Alice"] {
        let again = store
            .create_user(NewUser {
                username: taken.into(),
                password_hash: "other".into(),
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::UserExists(_))),
            "{taken}: {again:?}"
        );
    }
    for spelling in ["Alice", "alice", "ALICE", "aLiCe"] {
        let got = store.get_user(spelling).await.expect("get").expect("found");
        assert_eq!(got.username, "Alice", "{spelling}");
        assert_eq!(got.password_hash, "$argon2id$fake$Alice");
    }
    user(&store, "ÉLODIE").await;
    let got = store.get_user("élodie").await.expect("get").expect("found");
    assert_eq!(got.username, "ÉLODIE");
    let p = post(&store, "Alice", "hers").await;
    assert_eq!(p.user, "Alice");
    post(&store, "ÉLODIE", "other").await;
    for spelling in ["Alice", "alice", "ALICE"] {
        let query = ListQuery {
            user: Some(spelling.into()),
            ..q()
        };
        assert_eq!(titles(&store, query).await, ["hers"], "{spelling}");
    }
    let query = ListQuery {
        user: Some("alicia".into()),
        ..q()
    };
    assert!(titles(&store, query).await.is_empty());
    // With the label filter too.
    assert!(store
        .set_image(p.id, &format!("Alice/{}/x.png", p.id.uuid_str()), 1)
        .await
        .expect("image"));
    store
        .set_labels(
            p.id,
            &format!("Alice/{}/x.png", p.id.uuid_str()),
            LabelOutcome::Labelled(vec![label("cat", 90.0)]),
        )
        .await
        .expect("labels");
    let query = ListQuery {
        user: Some("ALICE".into()),
        label: Some("cat".into()),
        ..q()
    };
    assert_eq!(titles(&store, query).await, ["hers"]);
}

/// Names beyond `[A-Za-z0-9_.-]` (header mode) are accounts like any other, and none
/// reaches another's posts, however it plays with `/`, `..`, `#` or escapes.
pub async fn any_name_is_its_own_account(store: Store, _caps: Caps) {
    let names = [
        "a",
        "a#b",
        "a/b",
        "..",
        "a b",
        "a~20b",
        "a%20b",
        "alice@ensai.fr",
        "élodie",
        "مريم",
    ];
    for name in names {
        user(&store, name).await;
    }
    for name in names {
        post(&store, name, &format!("by {name}")).await;
    }
    for name in names {
        let got = store.get_user(name).await.expect("get").expect("found");
        assert_eq!(got.username, name);
        let query = ListQuery {
            user: Some(name.into()),
            ..q()
        };
        assert_eq!(
            titles(&store, query).await,
            [format!("by {name}")],
            "{name}"
        );
    }
    assert_eq!(titles(&store, q()).await.len(), names.len());
}

/// Derived sizes are recorded for the current picture only, survive labelling and
/// listing, are cleared by a new picture and never recorded for a replaced one or a
/// deleted post.
pub async fn derived_sizes_follow_the_current_picture(store: Store, _caps: Caps) {
    use postagram_core::keys::{object_key, DerivedSize};
    user(&store, "alice").await;
    let p = post(&store, "alice", "pic").await;
    assert!(p.derived.is_empty(), "a new post has no derived sizes");
    let first = object_key("alice", p.id, "a.jpg");
    assert!(
        !store
            .set_derived(p.id, &first, &[DerivedSize::Display])
            .await
            .expect("no picture yet"),
        "nothing is recorded for a picture the post does not have"
    );
    assert!(store.set_image(p.id, &first, 1000).await.expect("image"));
    let both = [DerivedSize::Display, DerivedSize::Thumbnail];
    assert!(store
        .set_derived(p.id, &first, &both)
        .await
        .expect("derived"));
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert_eq!(got.derived, [DerivedSize::Thumbnail, DerivedSize::Display]);
    assert!(got.has_derived(DerivedSize::Display));
    assert_eq!(
        got.label_status,
        LabelStatus::Pending,
        "labels are separate"
    );
    // Labelling keeps the record; lists show it too.
    assert!(store
        .set_labels(
            p.id,
            &first,
            LabelOutcome::Labelled(vec![label("cat", 90.0)])
        )
        .await
        .expect("labels"));
    let listed = store.list_posts(&q()).await.expect("list");
    assert_eq!(listed.posts[0].derived, got.derived);
    // Recording again replaces (idempotent for the same sizes).
    assert!(store.set_derived(p.id, &first, &both).await.expect("again"));
    assert!(store
        .set_derived(p.id, &first, &[DerivedSize::Thumbnail])
        .await
        .expect("fewer"));
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert_eq!(got.derived, [DerivedSize::Thumbnail]);
    // A new picture clears it; the old picture's sizes are not recorded any more.
    let second = object_key("alice", p.id, "b.jpg");
    assert!(store.set_image(p.id, &second, 2000).await.expect("image 2"));
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert!(got.derived.is_empty(), "{:?}", got.derived);
    assert!(!store.set_derived(p.id, &first, &both).await.expect("old"));
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert!(
        got.derived.is_empty(),
        "a replaced picture's sizes stay out"
    );
    assert!(store.set_derived(p.id, &second, &both).await.expect("new"));
    assert!(store.set_derived(p.id, &second, &[]).await.expect("none"));
    let got = store.get_post(p.id).await.expect("get").expect("exists");
    assert!(got.derived.is_empty(), "an empty record clears");
    // A deleted post stays deleted.
    store.delete_post(p.id).await.expect("delete");
    assert!(!store.set_derived(p.id, &second, &both).await.expect("gone"));
    assert!(store.get_post(p.id).await.expect("get").is_none());
    assert!(!store
        .set_derived(PostId::new(), &second, &both)
        .await
        .expect("unknown"));
}

/// One `#[tokio::test]` per check, for the backend `$make` (an async fn returning
/// `(Store, guard)`) with capabilities `$caps`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:path, $caps:expr) => {
        $crate::conformance_suite!(@t $make, $caps; users_are_unique posts_round_trip
            lists_newest_first_with_cursors labels_flow late_pictures_do_not_replace_newer_ones
            delete_removes_everything
            text_search_finds_words text_search_semantics text_search_pages_newest_first
            edits_show_everywhere_and_keep_labels
            editing_unknown_or_deleted_posts_is_not_found
            concurrent_edits_and_deletes_stay_consistent
            password_changes_bump_the_token_version
            account_deletion_marks_then_frees_the_name
            deletion_racing_uploads_and_posts_leaves_nothing
            usernames_are_case_insensitive any_name_is_its_own_account
            derived_sizes_follow_the_current_picture);
    };
    (@t $make:path, $caps:expr; $($name:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make().await;
                suite::$name(store, $caps).await;
            }
        )*
    };
}
