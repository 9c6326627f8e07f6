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

/// Deleting an account removes its label jobs with its posts (the workers never see
/// them again), a job being labelled included, and leaves other accounts' jobs alone.
#[tokio::test]
async fn account_deletion_leaves_no_label_job() {
    use postagram_core::jobs::LabelJobQueue;
    use postagram_core::store::{LabelOutcome, NewUser, PostStore};
    use postagram_core::wire::NewPost;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("p.db")).expect("open");
    let mut keys = Vec::new();
    for name in ["alice", "bob"] {
        store
            .create_user(NewUser {
                username: name.into(),
                password_hash: "x".into(),
            })
            .await
            .expect("user");
        for i in 0..2 {
            let post = store
                .create_post(
                    name,
                    NewPost {
                        title: format!("{name} {i}"),
                        body: "b".into(),
                    },
                )
                .await
                .expect("post");
            let key = format!("{name}/{}/{}cat.png", post.id.uuid_str(), "0".repeat(32));
            store.set_image(post.id, &key, 1000).await.expect("image");
            keys.push(key);
        }
    }
    // One of alice's jobs is being labelled when the deletion starts.
    let running = store
        .claim(Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("a job");
    assert!(running.object_key.starts_with("alice/"), "{running:?}");
    assert_eq!(store.counts().await.expect("counts").pending, 3);
    store.mark_account_deleting("alice").await.expect("mark");
    let done = postagram_core::accounts::finish_deletion(
        &store,
        &postagram_core::folder::FolderBlobStore::open(
            dir.path().join("pictures"),
            postagram_core::signing::UrlSigner::new(b"k"),
            "http://x",
        )
        .expect("folder"),
        "alice",
    )
    .await
    .expect("finish");
    assert_eq!(done.posts, 2);
    let counts = store.counts().await.expect("counts");
    assert_eq!((counts.pending, counts.running), (2, 0), "{counts:?}");
    // The labeller finishing alice's picture afterwards changes nothing.
    store
        .complete(&running, LabelOutcome::Failed("late".into()))
        .await
        .expect("complete a job of a deleted post");
    for _ in 0..2 {
        let job = store
            .claim(Duration::from_secs(30))
            .await
            .expect("claim")
            .expect("bob's job");
        assert!(job.object_key.starts_with("bob/"), "{job:?}");
    }
    assert!(store
        .claim(Duration::from_secs(30))
        .await
        .expect("claim")
        .is_none());
    assert!(store.get_user("alice").await.expect("get").is_none());
}
