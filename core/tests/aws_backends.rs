//! S3 picture store and `init-aws` provisioning against a real AWS API emulator
//! (moto_server); checks go through independent SDK calls and plain HTTP.
#![cfg(feature = "aws")]

use std::time::Duration;

use bytes::Bytes;
use postagram_core::aws::init::{init_aws, Action, InitSettings};
use postagram_core::aws::{aws_sdk_s3, aws_sdk_sqs};
use postagram_core::aws::{AwsClients, S3BlobStore};
use postagram_core::blob::{BlobError, BlobStore};
use postagram_testkit::moto;

async fn setup() -> (moto::Moto, AwsClients, S3BlobStore) {
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    init_aws(&clients, &InitSettings::new("posts", "pictures", "uploads"))
        .await
        .expect("init-aws");
    let blobs = S3BlobStore::new(clients.s3.clone(), "pictures");
    (moto, clients, blobs)
}

#[tokio::test]
async fn presigned_urls_put_and_get_real_bytes() {
    let (moto, clients, blobs) = setup().await;
    let key = "alice/0190a0a0-0000-7000-8000-000000000001/0123456789abcdef0123456789abcdefcat.png";
    let url = blobs
        .presign_put(key, "image/png", Duration::from_secs(300))
        .await
        .expect("presign put");
    assert!(
        url.starts_with(&format!("{}/pictures/", moto.url)),
        "path-style: {url}"
    );
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let http = reqwest::Client::new();
    let body = b"\x89PNG fake bytes".to_vec();
    let r = http
        .put(&url)
        .header("content-type", "image/png")
        .body(body.clone())
        .send()
        .await
        .expect("PUT");
    assert!(r.status().is_success(), "{}", r.status());
    // independent check through the SDK
    let head = clients
        .s3
        .head_object()
        .bucket("pictures")
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("image/png"));
    let blob = blobs.get(key).await.expect("get").expect("exists");
    assert_eq!(blob.bytes, Bytes::from(body.clone()));
    assert_eq!(blob.content_type, "image/png");
    assert!(blob.etag.starts_with('"'));
    let get = blobs
        .presign_get(key, Duration::from_secs(60))
        .await
        .expect("presign get");
    let fetched = http.get(&get).send().await.expect("GET");
    assert!(fetched.status().is_success());
    assert_eq!(fetched.bytes().await.expect("bytes").to_vec(), body);
    assert!(blobs.get("alice/nope/x").await.expect("get").is_none());
}

#[tokio::test]
async fn delete_prefix_removes_only_that_post() {
    let (_moto, clients, blobs) = setup().await;
    let a = "alice/0190a0a0-0000-7000-8000-00000000000a/";
    let b = "alice/0190a0a0-0000-7000-8000-00000000000b/";
    for i in 0..3 {
        blobs
            .put(
                &format!("{a}{i:032}x.png"),
                Bytes::from_static(b"x"),
                "image/png",
            )
            .await
            .expect("put");
    }
    blobs
        .put(
            &format!("{b}{:032}y.png", 0),
            Bytes::from_static(b"y"),
            "image/png",
        )
        .await
        .expect("put");
    assert_eq!(blobs.delete_prefix(a).await.expect("delete"), 3);
    let left = clients
        .s3
        .list_objects_v2()
        .bucket("pictures")
        .send()
        .await
        .expect("list");
    let keys: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [format!("{b}{:032}y.png", 0)]);
    for bad in ["", "alice/", "/", "alice", "../x/"] {
        assert!(
            matches!(blobs.delete_prefix(bad).await, Err(BlobError::BadKey)),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn init_aws_is_idempotent_and_wires_uploads_to_the_queue() {
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    let settings = InitSettings::new("posts", "pictures", "uploads");
    let first = init_aws(&clients, &settings).await.expect("first run");
    assert!(first.steps.iter().any(|(_, a)| *a == Action::Created));
    let second = init_aws(&clients, &settings).await.expect("second run");
    assert!(
        second.unchanged(),
        "second run changed something:\n{second}"
    );
    assert!(second.to_string().contains("nothing changed"));
    assert_eq!(first.queue_url, second.queue_url);

    // the table has the feed index
    let t = clients
        .dynamo
        .describe_table()
        .table_name("posts")
        .send()
        .await
        .expect("describe");
    let gsis: Vec<_> = t
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| g.index_name())
        .collect();
    let mut gsis = gsis;
    gsis.sort_unstable();
    assert_eq!(
        gsis,
        ["feed", "tok1", "tok2", "tok3"],
        "feed and text search indexes"
    );
    // the queue has a redrive policy to the dead-letter queue
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&second.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("attrs");
    let redrive = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy))
        .expect("redrive policy")
        .clone();
    assert!(redrive.contains("uploads-dlq"), "{redrive}");

    // an upload produces an S3 event notification in the queue
    clients
        .s3
        .put_object()
        .bucket("pictures")
        .key("alice/some post/pic one.png")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let out = clients
            .sqs
            .receive_message()
            .queue_url(&second.queue_url)
            .wait_time_seconds(1)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        bodies.extend(
            out.messages()
                .iter()
                .filter_map(|m| m.body().map(String::from)),
        );
        if bodies.iter().any(|b| b.contains("ObjectCreated")) {
            break;
        }
    }
    let event = bodies
        .iter()
        .find(|b| b.contains("ObjectCreated"))
        .unwrap_or_else(|| panic!("no ObjectCreated event in {bodies:?}"));
    assert!(event.contains("pictures"), "{event}");
}

/// A table made before text search (only the `feed` index) with posts in it: `init-aws`
/// adds the search indexes and indexes the old posts, which are then found by `q=`; a
/// second run changes nothing.
#[tokio::test]
async fn init_aws_adds_the_search_indexes_and_backfills_old_posts() {
    use postagram_core::aws::aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
        KeyType, Projection, ProjectionType, ScalarAttributeType,
    };
    use postagram_core::aws::DynamoStore;
    use postagram_core::store::{ListQuery, PostStore};

    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attr")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    // the table as init-aws made it before text search
    clients
        .dynamo
        .create_table()
        .table_name("posts")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .attribute_definitions(attr("GSI1PK"))
        .attribute_definitions(attr("GSI1SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("feed")
                .key_schema(key("GSI1PK", KeyType::Hash))
                .key_schema(key("GSI1SK", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("gsi"),
        )
        .send()
        .await
        .expect("old table");
    // posts as the store wrote them then: post item and id item, no search index
    let s = |v: &str| AttributeValue::S(v.to_string());
    let mut ids = Vec::new();
    for (i, (title, body)) in [("Old espresso", "from the café"), ("Old beach", "sand")]
        .iter()
        .enumerate()
    {
        let id = uuid::Uuid::now_v7();
        ids.push(id);
        let item = std::collections::HashMap::from([
            ("PK".to_string(), s("USER#alice")),
            ("SK".to_string(), s(&format!("POST#{id}"))),
            ("GSI1PK".to_string(), s(&format!("FEED#{}", i % 4))),
            ("GSI1SK".to_string(), s(&format!("POST#{id}"))),
            ("type".to_string(), s("post")),
            ("id".to_string(), s(&format!("POST#{id}"))),
            ("user".to_string(), s("alice")),
            ("title".to_string(), s(title)),
            ("body".to_string(), s(body)),
            ("label_status".to_string(), s("none")),
            ("created_at".to_string(), s("2026-01-02T03:04:05.678Z")),
            ("rev".to_string(), AttributeValue::N("0".into())),
        ]);
        clients
            .dynamo
            .put_item()
            .table_name("posts")
            .set_item(Some(item))
            .send()
            .await
            .expect("post item");
        clients
            .dynamo
            .put_item()
            .table_name("posts")
            .item("PK", s(&format!("POST#{id}")))
            .item("SK", s("ID"))
            .item("type", s("post-id"))
            .item("user", s("alice"))
            .send()
            .await
            .expect("id item");
    }
    let settings = InitSettings::new("posts", "pictures", "uploads");
    let first = init_aws(&clients, &settings).await.expect("first run");
    let step = |r: &postagram_core::aws::init::InitReport, what: &str| {
        r.steps
            .iter()
            .find(|(w, _)| w.contains(what))
            .cloned()
            .unwrap_or_else(|| panic!("no step {what}:\n{r}"))
    };
    assert_eq!(step(&first, "dynamodb table").1, Action::Updated, "{first}");
    let (what, action) = step(&first, "text search index");
    assert_eq!(action, Action::Updated, "{first}");
    assert!(what.contains("2 indexed"), "{what}");

    let store = DynamoStore::new(clients.dynamo.clone(), "posts");
    let search = |t: &str| ListQuery {
        text: Some(t.into()),
        limit: 10,
        ..ListQuery::default()
    };
    let found = store.list_posts(&search("cafe")).await.expect("search");
    assert_eq!(found.posts.len(), 1);
    assert_eq!(found.posts[0].id.0, ids[0]);
    let found = store.list_posts(&search("old")).await.expect("search");
    assert_eq!(
        found.posts.iter().map(|p| p.id.0).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );

    let second = init_aws(&clients, &settings).await.expect("second run");
    assert!(
        second.unchanged(),
        "second run changed something:\n{second}"
    );
}
