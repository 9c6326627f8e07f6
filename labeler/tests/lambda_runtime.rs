//! `postagram-labeler-lambda` run the way AWS Lambda runs it: the built binary as a child
//! process under a Lambda Runtime API served on 127.0.0.1 by this test, with the service's
//! environment, against a real AWS API emulator (moto_server, started by the test; the
//! test fails if it or the model or the photos are missing). It is handed S3
//! `ObjectCreated:Put` events as S3 sends them to Lambda, for real photos uploaded through
//! presigned URLs like the API's clients do, and the labels are read back from DynamoDB.
#![cfg(feature = "lambda")]

#[path = "lambda/function.rs"]
mod function;
#[path = "lambda/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::time::Duration;

use function::{service_env, Function};
use postagram_core::aws::init::{init_aws, InitSettings};
use postagram_core::aws::{AwsClients, DynamoStore, S3BlobStore};
use postagram_core::blob::BlobStore;
use postagram_core::keys::object_key;
use postagram_core::model::Post;
use postagram_core::settings::env;
use postagram_core::store::{NewUser, PostStore};
use postagram_core::wire::NewPost;
use postagram_core::{LabelStatus, PostId};
use postagram_testkit::moto;
use runtime_api::{Report, RuntimeApi};
use serde_json::{json, Value};

const TABLE: &str = "posts";
const BUCKET: &str = "pictures";
/// Longest an invocation (model load included) may take before the test gives up.
const WAIT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn model_path() -> PathBuf {
    let path = root().join("models/efficientnet-lite0.safetensors");
    assert!(
        path.is_file(),
        "model missing at {}: run scripts/fetch-model.sh",
        path.display()
    );
    path
}

fn photo(name: &str) -> Vec<u8> {
    let path = root().join("labeler/testdata/photos").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{} (run scripts/fetch-test-photos.sh): {e}", path.display()))
}

/// The function's configuration: the service's variables plus Postagram's.
fn function_env(api: &RuntimeApi, moto: &moto::Moto, model: &str) -> Vec<(String, String)> {
    let mut vars = service_env(&api.addr.to_string());
    for (k, v) in [
        (env::TABLE, TABLE),
        (env::BUCKET, BUCKET),
        (env::AWS_ENDPOINT_URL, moto.url.as_str()),
        (env::DETECTOR, "local"),
        (env::MODEL_PATH, model),
        (env::LOG_FORMAT, "json"),
    ] {
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// An S3 event key as S3 writes it: form-style URL encoding, `/` kept.
fn s3_event_key(key: &str) -> String {
    key.split('/')
        .map(|segment| urlencoding::encode(segment).replace("%20", "+"))
        .collect::<Vec<_>>()
        .join("/")
}

/// An `ObjectCreated:Put` notification for `key`, in the shape S3 invokes Lambda with.
fn created_event(key: &str, size: usize) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "postagram-labeler",
            "bucket": {
                "name": BUCKET,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": format!("arn:aws:s3:::{BUCKET}")
            },
            "object": {
                "key": s3_event_key(key),
                "size": size,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0055AED6DCD90281E5"
            }
        }
    }]})
}

/// The emulator with Postagram's table and bucket, a store on them and a user `alice`.
struct Aws {
    moto: moto::Moto,
    store: DynamoStore,
    blobs: S3BlobStore,
}

async fn aws() -> Aws {
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    init_aws(&clients, &InitSettings::new(TABLE, BUCKET, "uploads"))
        .await
        .expect("init-aws on the emulator");
    let store = DynamoStore::new(clients.dynamo.clone(), TABLE);
    store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
        })
        .await
        .expect("create alice");
    let blobs = S3BlobStore::new(clients.s3.clone(), BUCKET);
    Aws { moto, store, blobs }
}

impl Aws {
    /// A post by alice and its picture uploaded as the API's clients upload it: the key
    /// the API gives out (`object_key`), a presigned PUT of the bytes over HTTP.
    async fn post_with_picture(&self, file: &str, bytes: Vec<u8>) -> (PostId, String, usize) {
        let post = self
            .store
            .create_post(
                "alice",
                NewPost {
                    title: file.into(),
                    body: "from the lambda test".into(),
                },
            )
            .await
            .expect("create post");
        let key = object_key("alice", post.id, file);
        let url = self
            .blobs
            .presign_put(&key, "image/png", Duration::from_secs(300))
            .await
            .expect("presign put");
        let size = bytes.len();
        let put = reqwest::Client::new()
            .put(&url)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await
            .expect("presigned PUT");
        assert!(put.status().is_success(), "presigned PUT: {}", put.status());
        (post.id, key, size)
    }

    async fn post(&self, id: PostId) -> Post {
        self.store
            .get_post(id)
            .await
            .expect("get post from DynamoDB")
            .expect("post exists")
    }
}

/// Waits for the runtime's answer to invocation `id`; fails on anything else.
async fn answer_to(api: &mut RuntimeApi, f: &Function, id: &str) -> Report {
    let report = api.report(WAIT).await.unwrap_or_else(|| {
        panic!(
            "no answer to invocation {id} within {WAIT:?}; function log:\n{}",
            f.log()
        )
    });
    match &report {
        Report::Response { id: got, .. } | Report::Error { id: got, .. } if got == id => report,
        other => panic!(
            "expected the answer to {id}, got {other:?}; function log:\n{}",
            f.log()
        ),
    }
}

fn response_body(report: Report, f: &Function) -> Value {
    match report {
        Report::Response { body, .. } => body,
        other => panic!(
            "expected a response, got {other:?}; function log:\n{}",
            f.log()
        ),
    }
}

fn label_names(post: &Post) -> Vec<String> {
    post.labels.iter().map(|l| l.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_events_label_posts_and_poison_is_reported_while_the_function_keeps_polling() {
    let aws = aws().await;
    let mut api = RuntimeApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let model = model_path();
    let mut f = Function::start(
        &function_env(&api, &aws.moto, &model.to_string_lossy()),
        dir.path(),
    );

    // 1. a real photo: labels land on the post in DynamoDB
    let (cat, cat_key, size) = aws
        .post_with_picture("chelsea.png", photo("chelsea.png"))
        .await;
    assert_eq!(aws.post(cat).await.label_status, LabelStatus::None);
    let id = api.invoke(created_event(&cat_key, size));
    let body = response_body(answer_to(&mut api, &f, &id).await, &f);
    assert_eq!(
        body,
        json!({"labelled": 1, "failed": 0}),
        "response of {id}"
    );
    let post = aws.post(cat).await;
    assert_eq!(post.label_status, LabelStatus::Done, "{post:?}");
    assert_eq!(post.image_key.as_deref(), Some(cat_key.as_str()));
    assert!(
        label_names(&post).iter().any(|l| l == "cat"),
        "labels of chelsea.png: {:?}",
        label_names(&post)
    );

    // 2. poison: a payload that is not an S3 notification goes to the error endpoint
    //    (Lambda then retries the asynchronous invocation and hands it to its DLQ)
    let poison = api.invoke(json!({"hello": "this is not an S3 event"}));
    match answer_to(&mut api, &f, &poison).await {
        Report::Error {
            error_type_header,
            body,
            ..
        } => {
            assert!(
                error_type_header.is_some(),
                "Lambda-Runtime-Function-Error-Type header missing"
            );
            let message = body["errorMessage"].as_str().unwrap_or_default();
            assert!(
                message.contains("not an S3 event notification"),
                "error body: {body}"
            );
            assert!(body["errorType"].is_string(), "error body: {body}");
        }
        other => panic!("poison answered {other:?}; log:\n{}", f.log()),
    }

    // 3. it keeps polling after the error: the same process (still running) fetches and
    //    labels the next picture, which it can only get from a new `next` request
    let (cup, cup_key, size) = aws
        .post_with_picture("coffee.png", photo("coffee.png"))
        .await;
    let id = api.invoke(created_event(&cup_key, size));
    let body = response_body(answer_to(&mut api, &f, &id).await, &f);
    assert_eq!(
        body,
        json!({"labelled": 1, "failed": 0}),
        "response of {id}"
    );
    assert!(f.exited().is_none(), "the function process exited");
    let post = aws.post(cup).await;
    assert_eq!(post.label_status, LabelStatus::Done, "{post:?}");
    assert!(!post.labels.is_empty(), "{post:?}");

    // 4. an object that is not a picture of a post (other objects in the bucket): ignored,
    //    answered as success so Lambda does not retry it
    let other = "exports/2026 report.csv";
    aws.blobs
        .put(other, bytes::Bytes::from_static(b"a,b\n1,2\n"), "text/csv")
        .await
        .expect("put a non-picture object");
    let id = api.invoke(created_event(other, 8));
    let body = response_body(answer_to(&mut api, &f, &id).await, &f);
    assert_eq!(
        body,
        json!({"labelled": 0, "failed": 0}),
        "response of {id}"
    );

    // 5. bytes that are no picture under a picture key: the post is marked failed (a retry
    //    cannot help), and the invocation succeeds
    let (broken, broken_key, size) = aws
        .post_with_picture("broken.png", b"not a png at all".to_vec())
        .await;
    let id = api.invoke(created_event(&broken_key, size));
    let body = response_body(answer_to(&mut api, &f, &id).await, &f);
    assert_eq!(
        body,
        json!({"labelled": 0, "failed": 1}),
        "response of {id}"
    );
    let post = aws.post(broken).await;
    assert_eq!(post.label_status, LabelStatus::Failed, "{post:?}");
    assert!(post.label_error.is_some(), "{post:?}");
    assert!(post.labels.is_empty(), "{post:?}");

    // nothing else was sent to the Runtime API (no refused request, no init error)
    assert!(
        api.report(Duration::from_millis(300)).await.is_none(),
        "unexpected request to the Runtime API; log:\n{}",
        f.log()
    );
    assert!(f.exited().is_none(), "the function process exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_start_reports_to_init_error_and_exits() {
    let moto = moto::Moto::start();
    let mut api = RuntimeApi::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-model.safetensors");
    let mut f = Function::start(
        &function_env(&api, &moto, &missing.to_string_lossy()),
        dir.path(),
    );
    let status = f
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("the function did not exit; log:\n{}", f.log()));
    assert!(!status.success(), "exit status {status}; log:\n{}", f.log());
    match api.report(Duration::from_secs(1)).await {
        Some(Report::InitError {
            error_type_header,
            body,
        }) => {
            assert!(error_type_header.is_some(), "error type header missing");
            let message = body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("no-such-model"), "init error body: {body}");
        }
        other => panic!(
            "expected a POST to /runtime/init/error, got {other:?}; log:\n{}",
            f.log()
        ),
    }
    assert_eq!(
        api.polls(),
        0,
        "it asked for an invocation after failing to start"
    );
}
