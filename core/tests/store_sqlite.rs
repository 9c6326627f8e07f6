//! The shared `PostStore` conformance suite on the embedded SQLite store.
#![cfg(feature = "embedded")]

#[path = "conformance/suite.rs"]
mod suite;

use std::sync::Arc;

use postagram_core::sqlite::SqliteStore;

async fn make() -> (suite::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("p.db")).expect("open");
    (Arc::new(store), dir)
}

conformance_suite!(make, suite::Caps {});

/// The generation guards the API's list cache: every change moves it, and writes that
/// change nothing (an idle labeler's empty claim, every poll) leave it alone.
#[tokio::test]
async fn the_generation_moves_with_changes_only() {
    use postagram_core::jobs::LabelJobQueue;
    use postagram_core::store::{NewUser, PostStore};
    use postagram_core::wire::NewPost;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("p.db")).expect("open");
    let g0 = store.generation();
    for _ in 0..3 {
        let claimed = store
            .claim(std::time::Duration::from_secs(30))
            .await
            .expect("claim");
        assert!(claimed.is_none());
    }
    assert_eq!(store.generation(), g0, "empty claims changed nothing");
    store
        .create_user(NewUser {
            username: "gen".into(),
            password_hash: "x".into(),
        })
        .await
        .expect("user");
    let g1 = store.generation();
    assert!(g1 > g0, "a new user is a change");
    let post = store
        .create_post(
            "gen",
            NewPost {
                title: "t".into(),
                body: "b".into(),
            },
        )
        .await
        .expect("post");
    let g2 = store.generation();
    assert!(g2 > g1, "a new post is a change");
    store
        .update_post(
            post.id,
            postagram_core::wire::PostEdit {
                title: Some("edited".into()),
                body: None,
            },
        )
        .await
        .expect("edit");
    let g3 = store.generation();
    assert!(g3 > g2, "an edit is a change");
    store.delete_post(post.id).await.expect("delete");
    assert!(store.generation() > g3, "a delete is a change");
}
