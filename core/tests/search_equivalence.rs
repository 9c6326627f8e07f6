//! Text search gives the same answers on the SQLite store (FTS5) and on the DynamoDB store
//! (token index, on a real emulator) for text in many scripts: every prefix of every word
//! of the corpus, and tricky queries, on both, compared.
#![cfg(all(feature = "aws", feature = "embedded"))]

use std::sync::Arc;

use postagram_core::aws::init::{init_aws, InitSettings};
use postagram_core::aws::{AwsClients, DynamoStore};
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::{LabelOutcome, ListQuery, NewUser, PostStore};
use postagram_core::wire::NewPost;
use postagram_core::Label;
use postagram_testkit::moto;

const CORPUS: &[(&str, &str)] = &[
    ("Café au lait", "cafe\u{301} crème brûlée"),
    ("नमस्ते दुनिया", "हिन्दी पाठ"),
    ("Ελλάδα καλημέρα", "ΆΝΘΡΩΠΟΣ"),
    ("Йогурт и ёлка", "ПРИВЕТ мир"),
    ("東京タワー", "日本語のテキスト"),
    ("straße İstanbul", "x² ½ ⅷ 42"),
    ("e-mail t-shirt", "foo_bar o'clock"),
    ("Ærøskøbing Łódź ǅungla", "ﬁsh Ⓐb ʰa"),
    ("emoji 😀 party", "🎉 done"),
    ("ŒUVRE ǖber", "ḁ ẞ İı"),
];

async fn fill(store: &dyn PostStore) {
    store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
        })
        .await
        .expect("user");
    for (i, (title, body)) in CORPUS.iter().enumerate() {
        let p = store
            .create_post(
                "alice",
                NewPost {
                    title: (*title).into(),
                    body: (*body).into(),
                },
            )
            .await
            .expect("post");
        if i % 3 == 0 {
            let key = format!("alice/{}/{}x.png", p.id.uuid_str(), "0".repeat(32));
            store.set_image(p.id, &key, 1000).await.expect("image");
            let labels = ["Tiger Cat", "crème brûlée", "Ελλάδα"]
                .iter()
                .map(|n| Label {
                    name: (*n).into(),
                    confidence: 50.0,
                })
                .collect();
            store
                .set_labels(p.id, &key, LabelOutcome::Labelled(labels))
                .await
                .expect("labels");
        }
    }
}

async fn titles(store: &dyn PostStore, text: &str) -> Vec<String> {
    store
        .list_posts(&ListQuery {
            text: Some(text.into()),
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap_or_else(|e| panic!("q={text:?}: {e}"))
        .posts
        .into_iter()
        .map(|p| p.title)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_find_the_same_posts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::open(&dir.path().join("postagram.db")).expect("sqlite");
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    init_aws(&clients, &InitSettings::new("posts", "pictures", "uploads"))
        .await
        .expect("init-aws");
    let dynamo = Arc::new(DynamoStore::new(clients.dynamo.clone(), "posts"));
    fill(&sqlite).await;
    fill(dynamo.as_ref()).await;

    let mut queries: Vec<String> = Vec::new();
    let text: String = CORPUS
        .iter()
        .map(|(t, b)| format!("{t} {b} "))
        .chain(["tiger cat crème brûlée".to_string()])
        .collect();
    for word in text.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        for n in 1..=chars.len() {
            queries.push(chars[..n].iter().collect());
        }
        queries.push(word.to_uppercase());
    }
    queries.extend(
        [
            "cafe creme",
            "CAFÉ lait",
            "tiger brul",
            "नमस",
            "नमस्ते",
            "ελλαδα",
            "ελλάδα",
            "йогурт ёлка",
            "елка",
            "東京",
            "タワー",
            "strasse",
            "istanbul",
            "x2",
            "x²",
            "t shirt",
            "foo bar",
            "o clock",
            "aeroskobing",
            "lodz",
            "łódź",
            "dzungla",
            "fish",
            "ﬁ",
            "ab",
            "a",
            "oeuvre",
            "œuvre",
            "uber",
            "ǖ",
            "ss",
            "ß",
            "i",
            "\" OR *",
            "\"\"\"",
            "Ⓐ",
            "Ⓐ party",
            "😀",
            "done 🎉",
            "",
        ]
        .map(String::from),
    );
    let mut compared = 0;
    let mut hits = 0;
    for q in &queries {
        let a = titles(&sqlite, q).await;
        let b = titles(dynamo.as_ref(), q).await;
        assert_eq!(b, a, "q={q:?}: dynamodb (left) and sqlite (right) differ");
        compared += 1;
        hits += usize::from(!a.is_empty());
    }
    assert!(compared > 300, "{compared} queries");
    assert!(
        hits > compared / 2,
        "most queries find something: {hits}/{compared}"
    );
}
