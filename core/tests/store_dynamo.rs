//! The shared `PostStore` conformance suite on the DynamoDB store, against a real AWS API
//! emulator (moto_server) started for each test.
#![cfg(feature = "aws")]

#[path = "conformance/suite.rs"]
mod suite;

use std::sync::Arc;

use postagram_core::aws::init::{init_aws, InitSettings};
use postagram_core::aws::{AwsClients, DynamoStore};
use postagram_testkit::moto;

async fn make() -> (suite::Store, moto::Moto) {
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    init_aws(&clients, &InitSettings::new("posts", "pictures", "uploads"))
        .await
        .expect("init-aws");
    let store = DynamoStore::new(clients.dynamo.clone(), "posts");
    (Arc::new(store), moto)
}

conformance_suite!(make, suite::Caps {});

/// Profiles written before names compared case-insensitively sit at `USER#<spelling>`.
/// `init-aws` moves a mixed-case one to its lower-case key; of two that differ only in
/// case the lower-case spelling keeps the key and the other stays where it was, found by
/// its exact spelling; every account keeps its posts; a second run moves nothing.
#[tokio::test]
async fn init_aws_moves_mixed_case_profiles_to_their_canonical_key() {
    use postagram_core::aws::aws_sdk_dynamodb::types::AttributeValue;
    use postagram_core::store::{ListQuery, PostStore};
    use postagram_core::wire::NewPost;

    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    let settings = InitSettings::new("posts", "pictures", "uploads");
    init_aws(&clients, &settings).await.expect("init-aws");
    let s = |v: &str| AttributeValue::S(v.into());
    // As the store wrote them before: PK = USER#<name as given>.
    for (name, created) in [
        ("Bob", "2026-01-01T00:00:00.000Z"),
        ("Carol", "2026-01-01T00:00:00.000Z"),
        ("carol", "2026-02-01T00:00:00.000Z"),
        ("Dave", "2026-03-01T00:00:00.000Z"),
        ("DAVE", "2026-02-01T00:00:00.000Z"),
    ] {
        clients
            .dynamo
            .put_item()
            .table_name("posts")
            .item("PK", s(&format!("USER#{name}")))
            .item("SK", s("PROFILE"))
            .item("type", s("profile"))
            .item("username", s(name))
            .item("password_hash", s(&format!("hash of {name}")))
            .item("created_at", s(created))
            .send()
            .await
            .expect("legacy profile");
    }
    let store = DynamoStore::new(clients.dynamo.clone(), "posts");
    // Before the move an exact spelling already signs in.
    assert_eq!(
        store
            .get_user("Bob")
            .await
            .expect("get")
            .map(|u| u.username),
        Some("Bob".to_string())
    );
    let report = init_aws(&clients, &settings).await.expect("second init");
    let line = report.to_string();
    assert!(line.contains("2 moved, 2 kept"), "{line}");
    for (asked, found) in [
        ("bob", "Bob"),
        ("BOB", "Bob"),
        ("Carol", "Carol"),
        ("carol", "carol"),
        ("CAROL", "carol"),
        ("Dave", "Dave"),
        ("DAVE", "DAVE"),
        ("dave", "DAVE"),
    ] {
        let got = store.get_user(asked).await.expect("get").expect("found");
        assert_eq!(got.username, found, "{asked}");
        assert_eq!(got.password_hash, format!("hash of {found}"));
    }
    // Each can still post, under its own spelling.
    for name in ["Bob", "Carol", "carol", "Dave", "DAVE"] {
        let p = store
            .create_post(
                name,
                NewPost {
                    title: format!("by {name}"),
                    body: "b".into(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.user, name);
        let mine = store
            .list_posts(&ListQuery {
                user: Some(name.into()),
                limit: 10,
                ..ListQuery::default()
            })
            .await
            .expect("list");
        let titles: Vec<_> = mine.posts.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, [format!("by {name}")], "{name}");
    }
    // A new sign-up cannot take a moved name in another case.
    let taken = store
        .create_user(postagram_core::store::NewUser {
            username: "bOB".into(),
            password_hash: "x".into(),
        })
        .await;
    assert!(taken.is_err(), "{taken:?}");
    let third = init_aws(&clients, &settings).await.expect("third init");
    assert!(third.unchanged(), "{third}");
}
