//! AWS calls per API request on the DynamoDB/S3 store, counted by an SDK interceptor
//! (`CallCounter`) on a real emulator (moto_server). Asserts the access patterns (no
//! scans; listing everything is one Query per feed shard whatever the table size; a text
//! search is a Query per word and one BatchGetItem) and
//! prints the table for BENCHMARKS.md. `POSTAGRAM_BENCH_POSTS` sets the table size
//! (default 300; bench/aws-calls.sh uses 10 000).
#![cfg(feature = "aws")]

use postagram_core::settings::env;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use postagram_api::config::{Config, StoreKind};
use postagram_api::startup::Application;
use postagram_core::aws::init::{init_aws, InitSettings};
use postagram_core::aws::{AwsClients, DynamoStore};
use postagram_core::model::Post;
use postagram_core::store::{LabelOutcome, NewUser, PostStore};
use postagram_core::{Label, LabelStatus, PostId};
use postagram_testkit::moto;
use serde_json::{json, Value};

fn total(m: &BTreeMap<String, u64>) -> u64 {
    m.values().sum()
}

fn show(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{v}× {}", k.rsplit(':').next().unwrap_or(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_calls_per_request_and_list_cost_is_per_shard_not_per_post() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let n: usize = std::env::var(env::BENCH_POSTS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let moto = moto::Moto::start();
    let seed = AwsClients::connect(&moto.settings()).await;
    init_aws(&seed, &InitSettings::new("posts", "pictures", "uploads"))
        .await
        .expect("init");
    let store = DynamoStore::new(seed.dynamo.clone(), "posts");
    for u in ["alice", "bob"] {
        store
            .create_user(NewUser {
                username: u.into(),
                password_hash: "x".into(),
            })
            .await
            .expect("user");
    }
    let started = Instant::now();
    // moto gets slow on transactions as the table grows: seed with BatchWriteItem.
    let base = chrono::Utc::now() - chrono::Duration::seconds(n as i64);
    let posts: Vec<Post> = (0..n)
        .map(|i| Post {
            id: PostId(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                (base.timestamp() + i as i64) as u64,
                0,
            ))),
            user: if i % 2 == 0 { "alice" } else { "bob" }.into(),
            title: format!("post {i}"),
            body: "seeded".into(),
            image_key: None,
            derived: Vec::new(),
            labels: Vec::new(),
            label_status: LabelStatus::None,
            label_error: None,
            created_at: base + chrono::Duration::seconds(i as i64),
            updated_at: None,
        })
        .collect();
    store.import_posts(&posts).await.expect("import");
    let ids: Vec<PostId> = posts.iter().map(|p| p.id).collect();
    let seeded_in = started.elapsed();
    // a few labelled posts for ?label=
    for id in ids.iter().take(30) {
        let key = format!("x/{}/{}", id.uuid_str(), "0".repeat(40));
        store.set_image(*id, &key, 1000).await.expect("image");
        store
            .set_labels(
                *id,
                &key,
                LabelOutcome::Labelled(vec![Label {
                    name: "cat".into(),
                    confidence: 90.0,
                }]),
            )
            .await
            .expect("labels");
    }

    let mut config = Config::for_tests(std::env::temp_dir());
    config.store = StoreKind::Aws;
    config.aws.table = Some("posts".into());
    config.aws.bucket = Some("pictures".into());
    config.aws.aws_endpoint_url = Some(moto.url.clone());
    config.aws.aws_region = Some("us-east-1".into());
    let app = Application::build(config).await.expect("build");
    let calls = app.aws_calls().expect("aws call counter");
    let url = app.public_url().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/auth/signup"))
        .json(&json!({"username": "carol", "password": "correct horse"}))
        .send()
        .await
        .expect("signup");
    assert_eq!(r.status(), 201);
    let login: Value = http
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "carol", "password": "correct horse"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["token"].as_str().expect("token").to_string();

    let mut rows: Vec<(String, BTreeMap<String, u64>, Duration)> = Vec::new();
    macro_rules! measure {
        ($name:expr, $req:expr) => {{
            calls.reset();
            let t = Instant::now();
            let resp = $req.send().await.expect("request");
            let took = t.elapsed();
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            assert!(status.is_success(), "{}: {status} {body}", $name);
            rows.push(($name.to_string(), calls.snapshot(), took));
            body
        }};
    }
    let created = measure!(
        "POST /posts (create)",
        http.post(format!("{url}/posts"))
            .bearer_auth(&token)
            .json(&json!({"title": "mine", "body": "b"}))
    );
    let created: Value = serde_json::from_str(&created).expect("json");
    let mine = urlencoding::encode(created["id"].as_str().expect("id")).into_owned();
    let cold = urlencoding::encode(&ids[n / 2].wire()).into_owned();
    measure!(
        "GET /posts/{id} (author not cached)",
        http.get(format!("{url}/posts/{cold}"))
    );
    measure!(
        "GET /posts/{id} (author cached)",
        http.get(format!("{url}/posts/{cold}"))
    );
    let list = measure!(
        "GET /posts?limit=20 (all, newest first)",
        http.get(format!("{url}/posts?limit=20"))
    );
    let list: Vec<Value> = serde_json::from_str(&list).expect("json");
    assert_eq!(list.len(), 20);
    measure!(
        "GET /posts?limit=100",
        http.get(format!("{url}/posts?limit=100"))
    );
    measure!(
        "GET /posts?user=alice&limit=20",
        http.get(format!("{url}/posts?user=alice&limit=20"))
    );
    measure!(
        "GET /posts?label=cat&limit=20",
        http.get(format!("{url}/posts?label=cat&limit=20"))
    );
    measure!(
        "GET /posts?q=seeded&limit=20 (a word of every post)",
        http.get(format!("{url}/posts?q=seeded&limit=20"))
    );
    measure!(
        "GET /posts?q=cat&limit=20 (a label, 3 letters: prefix index)",
        http.get(format!("{url}/posts?q=cat&limit=20"))
    );
    let two = measure!(
        "GET /posts?q=post%2017&limit=20 (two words, the rarer drives)",
        http.get(format!("{url}/posts?q=post%2017&limit=20"))
    );
    let two: Vec<Value> = serde_json::from_str(&two).expect("json");
    assert!(!two.is_empty());
    assert!(two.iter().all(|p| p["title"]
        .as_str()
        .is_some_and(|t| t.starts_with("post 17"))));
    measure!(
        "GET /posts?q=zebra&limit=20 (no match)",
        http.get(format!("{url}/posts?q=zebra&limit=20"))
    );
    measure!(
        "GET /signedUrlPut",
        http.get(format!("{url}/signedUrlPut"))
            .bearer_auth(&token)
            .query(&[
                ("filename", "a.png"),
                ("filetype", "image/png"),
                ("postId", created["id"].as_str().expect("id"))
            ])
    );
    measure!(
        "DELETE /posts/{id}",
        http.delete(format!("{url}/posts/{mine}"))
            .bearer_auth(&token)
    );

    println!("\nAWS calls per API request, table of {n} posts (seeded in {seeded_in:.1?}):\n");
    println!("| request | AWS calls | which | latency on moto |");
    println!("|---|---:|---|---:|");
    for (name, m, took) in &rows {
        println!(
            "| `{name}` | {} | {} | {:.1} ms |",
            total(m),
            show(m),
            took.as_secs_f64() * 1e3
        );
    }
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, m, _)| m.clone())
            .unwrap_or_default()
    };
    let all = get("GET /posts?limit=20 (all, newest first)");
    let queries: u64 = all
        .iter()
        .filter(|(k, _)| k.ends_with(":Query"))
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(queries, 4, "one Query per feed shard: {all:?}");
    assert_eq!(total(&all), 4, "{all:?}");
    assert_eq!(total(&get("GET /posts?limit=100")), 4);
    assert_eq!(total(&get("GET /posts?user=alice&limit=20")), 1);
    assert_eq!(total(&get("GET /posts?label=cat&limit=20")), 2);
    assert_eq!(total(&get("GET /posts/{id} (author cached)")), 1);
    let seeded = get("GET /posts?q=seeded&limit=20 (a word of every post)");
    assert_eq!(
        total(&seeded),
        2,
        "one Query + one BatchGetItem: {seeded:?}"
    );
    assert_eq!(
        total(&get(
            "GET /posts?q=cat&limit=20 (a label, 3 letters: prefix index)"
        )),
        2
    );
    let two = get("GET /posts?q=post%2017&limit=20 (two words, the rarer drives)");
    assert_eq!(
        total(&two),
        3,
        "a Query per word + one BatchGetItem: {two:?}"
    );
    assert_eq!(total(&get("GET /posts?q=zebra&limit=20 (no match)")), 1);
    assert_eq!(total(&get("GET /posts/{id} (author not cached)")), 2);
    // The token check (one consistent GetItem of the profile: revocation by a password
    // change or an account deletion, on any replica) and the create transaction.
    assert_eq!(total(&get("POST /posts (create)")), 2);
    for (name, m, _) in &rows {
        assert!(
            !m.keys().any(|k| k.ends_with(":Scan")),
            "{name} scanned: {m:?}"
        );
    }
    let _ = tx.send(());
    server.await.expect("join").expect("server");
}
