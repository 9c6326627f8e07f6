//! End to end on a real AWS API emulator (moto_server, no account, no SDK mocks):
//! `admin init-aws`, the API in aws mode, a presigned S3 upload of a real photo, the S3 →
//! SQS notification, the labeler worker, labels through the API, deletion of every trace,
//! an emulator outage, and a poison message ending in the dead-letter queue.
#![cfg(feature = "aws")]

use postagram_core::settings::env;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postagram_api::config::StoreKind;
use postagram_core::aws::aws_sdk_dynamodb::types::AttributeValue;
use postagram_core::aws::AwsClients;
use postagram_core::aws::AwsSettings;
use postagram_core::settings::{
    AwsArgs, DetectorArgs, DetectorKind, ListenArgs, LogArgs, LogFormat,
};
use postagram_labeler::cloud::rekognition::RekognitionDetector;
use postagram_labeler::cloud::worker;
use postagram_labeler::worker_args::{Source, WorkerArgs};
use postagram_labeler::{DetectOptions, Detector, LocalDetector};
use postagram_testkit::{assert_big_bodies_get_413, assert_error, moto, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::watch;

const TABLE: &str = "posts";
const BUCKET: &str = "pictures";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Emulator credentials for every client of this process (the standard env chain).
fn credentials() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::remove_var("AWS_PROFILE");
}

/// Runs `postagram-api admin init-aws` (the real binary) and returns its output.
fn init_aws_cli(moto: &moto::Moto, max_receive: u32) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postagram-api"))
        .args([
            "admin",
            "init-aws",
            "--queue-name",
            "uploads",
            "--max-receive-count",
            &max_receive.to_string(),
        ])
        .env(env::TABLE, TABLE)
        .env(env::BUCKET, BUCKET)
        .env(env::AWS_ENDPOINT_URL, &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove(env::QUEUE_URL)
        .output()
        .expect("run postagram-api admin init-aws");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "init-aws failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn queue_url_of(report: &str) -> String {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{}=", env::QUEUE_URL)))
        .expect("queue url in the report")
        .trim()
        .to_string()
}

struct Worker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    url: String,
}

async fn start_worker(moto: &moto::Moto, queue_url: &str, detector: Arc<dyn Detector>) -> Worker {
    start_worker_with(moto, Source::Sqs, Some(queue_url), None, detector).await
}

async fn start_worker_with(
    moto: &moto::Moto,
    source: Source,
    queue_url: Option<&str>,
    webhook_secret: Option<&str>,
    detector: Arc<dyn Detector>,
) -> Worker {
    let args = WorkerArgs {
        source,
        detector: DetectorArgs {
            detector: DetectorKind::Local,
        },
        aws: AwsArgs {
            table: Some(TABLE.into()),
            bucket: Some(BUCKET.into()),
            queue_url: queue_url.map(String::from),
            aws_endpoint_url: Some(moto.url.clone()),
            aws_region: Some("us-east-1".into()),
        },
        listen: ListenArgs {
            addr: "127.0.0.1:0".parse().expect("addr"),
        },
        log: LogArgs {
            log_format: LogFormat::Text,
        },
        decode: postagram_labeler::decode_budget::DecodeBudgetArgs {
            decode_budget_mib: 512,
        },
        webhook_secret: webhook_secret.map(String::from),
        concurrency: Some(2),
        wait_secs: 1,
    };
    let clients = AwsClients::connect(&AwsSettings::from_args(&args.aws)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(worker::run(args, clients, detector, listener, rx));
    Worker {
        stop: tx,
        handle,
        url,
    }
}

impl Worker {
    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("worker stops within 30 s")
            .expect("join")
            .expect("worker result");
    }
}

async fn spawn_api(moto: &moto::Moto, queue_url: Option<String>) -> TestApp {
    let moto_url = moto.url.clone();
    TestApp::spawn_with(move |c| {
        c.store = StoreKind::Aws;
        c.aws.table = Some(TABLE.into());
        c.aws.bucket = Some(BUCKET.into());
        c.aws.queue_url = queue_url;
        c.aws.aws_endpoint_url = Some(moto_url);
        c.aws.aws_region = Some("us-east-1".into());
    })
    .await
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn local_detector() -> Arc<dyn Detector> {
    let model = root().join("models/efficientnet-lite0.safetensors");
    Arc::new(
        LocalDetector::load(&model, DetectOptions::default())
            .unwrap_or_else(|e| panic!("model {} (make model): {e}", model.display())),
    )
}

fn photo(name: &str) -> Vec<u8> {
    let path = root().join("labeler/testdata/photos").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{} (scripts/fetch-test-photos.sh): {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_http_source_labels_minio_style_webhook_events_behind_a_secret() {
    credentials();
    let moto = moto::Moto::start();
    init_aws_cli(&moto, 3);
    let app = spawn_api(&moto, None).await;
    let secret = "webhook-secret-0123456789";
    let worker = start_worker_with(&moto, Source::Http, None, Some(secret), local_detector()).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "coffee", "morning").await;
    let id = post["id"].as_str().expect("id").to_string();
    let (put, key) = app
        .upload(&token, &id, "image/png", photo("coffee.png"))
        .await;
    assert!(put.status().is_success());
    // MinIO sends the S3 event JSON with form-style URL-encoded keys
    let encoded = urlencoding::encode(&key).replace("%2F", "/");
    let event = serde_json::json!({"EventName": "s3:ObjectCreated:Put", "Key": format!("{BUCKET}/{key}"),
        "Records": [{"eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": encoded, "size": 1}}}]});
    let events = format!("{}/events", worker.url);
    let r = app
        .client
        .post(&events)
        .json(&event)
        .send()
        .await
        .expect("post event");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .post(&events)
        .header("x-postagram-secret", "wrong-secret-0123456789")
        .json(&event)
        .send()
        .await
        .expect("post event");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .post(&events)
        .bearer_auth(secret)
        .json(&event)
        .send()
        .await
        .expect("post event");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["labelled"], 1, "{body}");
    let r = app
        .client
        .post(&events)
        .header("x-postagram-secret", secret)
        .body("garbage")
        .send()
        .await
        .expect("post event");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = app.get_post(&id).await.json().await.expect("json");
    assert_eq!(v["label_status"], "done", "{v}");
    assert!(v["labels"].as_array().is_some_and(|l| !l.is_empty()), "{v}");
    worker.stop().await;
    app.stop().await;
}

/// A 3 MB JSON body is answered 413 in aws mode too, as a response the client reads
/// completely (issue 10: it used to be a connection reset here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_megabyte_bodies_get_a_413_response_not_a_reset() {
    credentials();
    let moto = moto::Moto::start();
    init_aws_cli(&moto, 3);
    let app = spawn_api(&moto, None).await;
    let token = app.user("alice").await;
    assert_big_bodies_get_413(&app, &token).await;
    app.stop().await;
}

/// moto's DetectLabels returns canned labels whatever the picture: this checks the request,
/// the response mapping and the parents-as-categories rule, not real recognition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rekognition_detector_maps_detect_labels_answers() {
    credentials();
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    let d = RekognitionDetector::new(
        &clients.sdk_config,
        DetectOptions {
            max_labels: 5,
            min_confidence: 50.0,
        },
    );
    let labels = d
        .detect(bytes::Bytes::from(photo("chelsea.png")))
        .await
        .expect("detect labels");
    assert!(!labels.is_empty());
    for l in &labels {
        assert_eq!(l.name, l.name.to_lowercase());
        assert!((50.0..=100.0).contains(&l.confidence), "{l:?}");
    }
    // Over Rekognition's 5 MB inline limit: a picture is shrunk and sent, anything else
    // is a bad picture, not a transient error.
    let mut big = image::RgbImage::new(3000, 2000);
    for (x, y, p) in big.enumerate_pixels_mut() {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).to_le_bytes();
        *p = image::Rgb([v[0], v[1], v[2]]);
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(big)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    assert!(png.len() > 5 * 1024 * 1024, "{} bytes", png.len());
    let labels = d
        .detect(bytes::Bytes::from(png))
        .await
        .expect("a large picture is shrunk and labelled");
    assert!(!labels.is_empty());
    let garbage = d
        .detect(bytes::Bytes::from(vec![0u8; 6 * 1024 * 1024]))
        .await;
    assert!(matches!(
        garbage,
        Err(postagram_labeler::DetectError::NotAnImage(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_photo_goes_from_presigned_put_through_sqs_and_the_worker_to_labels() {
    credentials();
    let moto = moto::Moto::start();
    let first = init_aws_cli(&moto, 3);
    assert!(first.contains("created"), "{first}");
    let second = init_aws_cli(&moto, 3);
    assert!(second.contains("nothing changed"), "second run: {second}");
    assert!(
        !second.contains("created") && !second.contains("updated"),
        "{second}"
    );
    let queue_url = queue_url_of(&second);

    let app = spawn_api(&moto, Some(queue_url.clone())).await;
    let worker = start_worker(&moto, &queue_url, local_detector()).await;

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let token = app.user("alice").await;
    let post = app.new_post(&token, "Chelsea", "my cat").await;
    let id = post["id"].as_str().expect("id").to_string();
    assert!(post.get("labels").is_none());

    let photo_path = root().join("labeler/testdata/photos/chelsea.png");
    let photo = std::fs::read(&photo_path).unwrap_or_else(|e| {
        panic!(
            "{} (scripts/fetch-test-photos.sh): {e}",
            photo_path.display()
        )
    });
    let (put, key) = app.upload(&token, &id, "image/png", photo.clone()).await;
    assert!(put.status().is_success(), "presigned PUT: {}", put.status());
    assert!(key.starts_with("alice/"), "{key}");

    let labelled = wait_for("labels", Duration::from_secs(90), || async {
        let r = app.get_post(&id).await;
        let v: Value = r.json().await.ok()?;
        (v["label_status"] == "done").then_some(v)
    })
    .await;
    let labels: Vec<String> = labelled["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l.as_str().map(String::from))
        .collect();
    assert!(
        labels.iter().any(|l| l == "cat"),
        "labels of chelsea.png: {labels:?}"
    );
    // the picture URLs are presigned GETs of the derived sizes (upright JPEGs without
    // metadata, read back with exiftool), never the original
    let sent = image::load_from_memory(&photo).expect("decode");
    for (field, long) in [("image", 1280), ("thumbnail", 320)] {
        let url = labelled[field].as_str().expect("picture url");
        assert!(!url.contains(&format!("{key}?")), "{field}: {url}");
        let got = app.get_url(url).await;
        assert_eq!(got.status(), StatusCode::OK);
        let bytes = got.bytes().await.expect("bytes");
        assert_eq!(
            postagram_testkit::exiftool::private_tags(&bytes),
            Vec::<String>::new()
        );
        let shown = image::load_from_memory(&bytes).expect("a JPEG");
        assert_eq!(
            (shown.width(), shown.height()),
            postagram_labeler::derive::fit(sent.width(), sent.height(), long),
            "{field}"
        );
    }
    // beside the original in the bucket; their own events made no jobs
    let check = AwsClients::connect(&moto.settings()).await;
    let uuid = id.trim_start_matches("POST#");
    let listed = check
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("alice/{uuid}/"))
        .send()
        .await
        .expect("list objects");
    let mut names: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            key.clone(),
            format!("{key}~display.jpg"),
            format!("{key}~thumb.jpg")
        ]
    );

    // listed, found by label, and by text search (title, body and the labels the
    // worker wrote)
    let list = app.list("/posts").await;
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["label_status"], "done");
    let by_label = app.list("/posts?label=cat").await;
    assert_eq!(by_label.len(), 1);
    assert_eq!(by_label[0]["id"], id.as_str());
    let ids = |v: Vec<Value>| {
        v.iter()
            .filter_map(|p| p["id"].as_str().map(String::from))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.list("/posts?q=cat").await),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        ids(app.list("/posts?q=CHEL").await),
        std::slice::from_ref(&id),
        "prefix, any case"
    );
    let label_word = labels
        .iter()
        .flat_map(|l| l.split(|c: char| !c.is_alphanumeric()))
        .find(|w| !w.is_empty() && !["my", "cat", "chelsea"].contains(w))
        .unwrap_or_else(|| panic!("a label word that is not in the text: {labels:?}"))
        .to_string();
    assert_eq!(
        ids(app
            .list(&format!("/posts?q={}", urlencoding::encode(&label_word)))
            .await),
        std::slice::from_ref(&id),
        "label words are searchable: {label_word}"
    );
    assert!(
        app.list("/posts?q=chelsea%20zebra").await.is_empty(),
        "all words must match"
    );
    assert!(app.list("/posts?q=cat&user=bob").await.is_empty());
    assert_eq!(
        ids(app.list("/posts?q=cat&label=cat&user=alice").await),
        std::slice::from_ref(&id)
    );
    let r = app.get("/posts?q=cat&cursor=forged").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_cursor").await;

    // the worker's probes
    let metrics = app
        .get_url(&format!("{}/metrics", worker.url))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("postagram_labeler_jobs_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    let health = app.get_url(&format!("{}/healthz", worker.url)).await;
    assert_eq!(health.status(), StatusCode::OK);

    // delete: the item, its label index entries and the S3 objects go (checked with an
    // independent client)
    let del = app.delete_post(&id, Some(&token)).await;
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    let item = check
        .dynamo
        .get_item()
        .table_name(TABLE)
        .key("PK", AttributeValue::S("USER#alice".into()))
        .key("SK", AttributeValue::S(format!("POST#{uuid}")))
        .send()
        .await
        .expect("get item");
    assert!(item.item().is_none(), "post item left: {:?}", item.item());
    for label in &labels {
        let q = check
            .dynamo
            .query()
            .table_name(TABLE)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("LABEL#{label}")))
            .send()
            .await
            .expect("query");
        assert_eq!(q.count(), 0, "label index item left for {label}");
    }
    let objects = check
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(format!("alice/{uuid}/"))
        .send()
        .await
        .expect("list objects");
    assert!(
        objects.contents().is_empty(),
        "objects left: {:?}",
        objects.contents()
    );
    assert_eq!(app.get_post(&id).await.status(), StatusCode::NOT_FOUND);

    worker.stop().await;
    app.stop().await;
}

/// A header-mode name with a space, `/`, `..`, `#` and non-ASCII: its S3 key, post item
/// and profile item hold it escaped (the profile under its lower-case form), the S3
/// event brings the worker back to the post, and the labels arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_header_mode_name_with_key_tricks_is_escaped_in_s3_and_dynamodb_keys() {
    credentials();
    let moto = moto::Moto::start();
    let queue_url = queue_url_of(&init_aws_cli(&moto, 3));
    let moto_url = moto.url.clone();
    let queue = queue_url.clone();
    let app = TestApp::spawn_with(move |c| {
        c.store = StoreKind::Aws;
        c.auth = postagram_api::config::AuthMode::Header;
        c.aws.table = Some(TABLE.into());
        c.aws.bucket = Some(BUCKET.into());
        c.aws.queue_url = Some(queue);
        c.aws.aws_endpoint_url = Some(moto_url);
        c.aws.aws_region = Some("us-east-1".into());
    })
    .await;
    let worker = start_worker(&moto, &queue_url, local_detector()).await;
    let name = "Élodie D/../#x";
    let escaped = "Élodie~20D~2f..~2f~23x";
    let r = app
        .post_json_as(
            "/posts",
            &serde_json::json!({"title": "Chelsea", "body": "my cat"}),
            name.as_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let post: Value = r.json().await.expect("json");
    assert_eq!(post["user"], name);
    let id = post["id"].as_str().expect("id").to_string();
    // The same account in Latin-1 and another case.
    let (put, key) = app
        .upload_as(b"\xe9LODIE d/../#X", &id, "image/png", photo("chelsea.png"))
        .await;
    assert!(put.status().is_success(), "presigned PUT: {}", put.status());
    assert!(key.starts_with(&format!("{escaped}/")), "{key}");
    let labelled = wait_for("labels", Duration::from_secs(90), || async {
        let v: Value = app.get_post(&id).await.json().await.ok()?;
        (v["label_status"] == "done").then_some(v)
    })
    .await;
    assert!(
        labelled["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .any(|l| l == "cat"),
        "{labelled}"
    );
    assert_eq!(app.list("/posts?label=cat").await.len(), 1);
    let check = AwsClients::connect(&moto.settings()).await;
    let uuid = id.trim_start_matches("POST#");
    for (pk, sk) in [
        (format!("USER#{escaped}"), format!("POST#{uuid}")),
        (
            "USER#élodie~20d~2f..~2f~23x".to_string(),
            "PROFILE".to_string(),
        ),
    ] {
        let item = check
            .dynamo
            .get_item()
            .table_name(TABLE)
            .key("PK", AttributeValue::S(pk.clone()))
            .key("SK", AttributeValue::S(sk.clone()))
            .send()
            .await
            .expect("get item");
        assert!(item.item().is_some(), "no item {pk} / {sk}");
    }
    let objects = check
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list objects");
    let keys: Vec<_> = objects.contents().iter().filter_map(|o| o.key()).collect();
    // The original and its two derived sizes, all inside the escaped prefix (a derived
    // picture's own S3 event is not mistaken for an upload although the name holds `~`).
    assert_eq!(
        keys,
        [
            key.clone(),
            format!("{key}~display.jpg"),
            format!("{key}~thumb.jpg")
        ]
    );
    let del = app.delete_post_as(&id, name.as_bytes()).await;
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    worker.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emulator_outage_gives_503_and_the_api_and_worker_recover_without_restart() {
    credentials();
    let mut moto = moto::Moto::start();
    let queue_url = queue_url_of(&init_aws_cli(&moto, 3));
    let app = spawn_api(&moto, None).await;
    let worker = start_worker(&moto, &queue_url, Arc::new(NoDetector)).await;
    let worker_ready = |app: &TestApp, url: String| {
        let client = app.client.clone();
        async move {
            let r = client
                .get(format!("{url}/readyz"))
                .send()
                .await
                .expect("worker readyz");
            let status = r.status();
            let body: Value = r.json().await.expect("worker readyz answers JSON");
            (status, body)
        }
    };
    let (status, body) = worker_ready(&app, worker.url.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = app.user("alice").await;
    app.new_post(&token, "before", "the outage").await;

    moto.stop();
    let (status, body) = worker_ready(&app, worker.url.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "not_ready", "{body}");
    let metrics = app
        .get_url(&format!("{}/metrics", worker.url))
        .await
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("postagram_labeler_ready 0"), "{metrics}");
    let r = app.get("/posts").await;
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.expect("json error");
    assert!(body["error"].is_string(), "{body}");
    let r = app
        .post_json(
            "/posts",
            &serde_json::json!({"title": "t", "body": "b"}),
            Some(&token),
        )
        .await;
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // the emulator comes back (in-memory: empty, so provision again); same API process
    moto.restart();
    init_aws_cli(&moto, 3);
    wait_for("readyz", Duration::from_secs(30), || async {
        let r = app.client.get(app.at("/readyz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(Value::Null)
    })
    .await;
    // the worker's queue URL is the same after re-provisioning (same account and name)
    let worker_url = worker.url.clone();
    wait_for("worker readyz", Duration::from_secs(30), || {
        let probe = worker_ready(&app, worker_url.clone());
        async move {
            let (status, _) = probe.await;
            (status == StatusCode::OK).then_some(Value::Null)
        }
    })
    .await;
    let token = app.user("bob").await;
    app.new_post(&token, "after", "the outage").await;
    let list = app.list("/posts").await;
    assert_eq!(list[0]["title"], "after");
    worker.stop().await;
    app.stop().await;
}

/// A detector that must never be called (poison messages carry no picture).
struct NoDetector;

#[async_trait::async_trait]
impl Detector for NoDetector {
    async fn detect(
        &self,
        _picture: bytes::Bytes,
    ) -> Result<Vec<postagram_core::Label>, postagram_labeler::DetectError> {
        Err(postagram_labeler::DetectError::Model("not expected".into()))
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_ends_in_the_dead_letter_queue_not_in_a_loop() {
    credentials();
    let moto = moto::Moto::start();
    let report = init_aws_cli(&moto, 2);
    let queue_url = queue_url_of(&report);
    let clients = AwsClients::connect(&moto.settings()).await;
    let dlq_url = clients
        .sqs
        .get_queue_url()
        .queue_name("uploads-dlq")
        .send()
        .await
        .expect("dlq url")
        .queue_url()
        .expect("url")
        .to_string();
    clients
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body("this is not an S3 event {")
        .send()
        .await
        .expect("send poison");
    // and an s3:TestEvent, which is simply acknowledged
    clients
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"pictures"}"#)
        .send()
        .await
        .expect("send test event");
    let worker = start_worker(&moto, &queue_url, Arc::new(NoDetector)).await;

    let dead = wait_for(
        "the poison message in the DLQ",
        Duration::from_secs(60),
        || async {
            let out = clients
                .sqs
                .receive_message()
                .queue_url(&dlq_url)
                .wait_time_seconds(1)
                .send()
                .await
                .ok()?;
            let body = out.messages().first()?.body()?.to_string();
            Some(Value::String(body))
        },
    )
    .await;
    assert_eq!(dead, Value::String("this is not an S3 event {".into()));
    let metrics = reqwest::get(format!("{}/metrics", worker.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let poison: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("postagram_labeler_poison_events_total "))
        .and_then(|n| n.parse().ok())
        .expect("poison counter");
    assert!(
        (1..=3).contains(&poison),
        "received {poison} times: a loop?\n{metrics}"
    );
    worker.stop().await;
    // nothing left in the main queue: the test event was deleted, the poison moved
    assert_eq!(messages_left(&clients, &queue_url).await, 0);
}

/// Messages in a queue, visible or being processed.
async fn messages_left(clients: &AwsClients, queue_url: &str) -> u64 {
    use postagram_core::aws::aws_sdk_sqs::types::QueueAttributeName;
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes");
    attrs
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

/// A detector that takes its time, so a picture is surely in flight when the worker is
/// told to stop; it says when it starts and how often it was called.
struct SlowDetector {
    started: tokio::sync::Notify,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Detector for SlowDetector {
    async fn detect(
        &self,
        _picture: bytes::Bytes,
    ) -> Result<Vec<postagram_core::Label>, postagram_labeler::DetectError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.started.notify_one();
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(vec![postagram_core::Label {
            name: "cat".into(),
            confidence: 91.0,
        }])
    }
    fn name(&self) -> &'static str {
        "slow"
    }
}

/// SIGTERM during a rollout: the worker stops receiving but finishes the picture it is
/// labelling, writes its labels and deletes the message (no redelivery, no lost work).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_picture_in_flight_when_the_worker_stops_is_finished_and_acknowledged() {
    credentials();
    let moto = moto::Moto::start();
    let queue_url = queue_url_of(&init_aws_cli(&moto, 3));
    let app = spawn_api(&moto, Some(queue_url.clone())).await;
    let detector = Arc::new(SlowDetector {
        started: tokio::sync::Notify::new(),
        calls: std::sync::atomic::AtomicUsize::new(0),
    });
    let worker = start_worker(&moto, &queue_url, detector.clone()).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "Chelsea", "my cat").await;
    let id = post["id"].as_str().expect("id").to_string();
    let (put, _) = app
        .upload(&token, &id, "image/png", photo("chelsea.png"))
        .await;
    assert!(put.status().is_success());
    tokio::time::timeout(Duration::from_secs(60), detector.started.notified())
        .await
        .expect("the worker picks the picture up");
    let v: Value = app.get_post(&id).await.json().await.expect("json");
    assert_eq!(v["label_status"], "pending", "still in flight: {v}");

    worker.stop().await; // returns only once the worker has finished

    let v: Value = app.get_post(&id).await.json().await.expect("json");
    assert_eq!(v["label_status"], "done", "{v}");
    assert_eq!(v["labels"], serde_json::json!(["cat"]), "{v}");
    let clients = AwsClients::connect(&moto.settings()).await;
    assert_eq!(
        messages_left(&clients, &queue_url).await,
        0,
        "the message was deleted after its labels were written"
    );
    assert_eq!(detector.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    app.stop().await;
}

/// Every item of the table whose partition key is `pk` (strongly consistent).
async fn partition(clients: &AwsClients, pk: &str) -> Vec<String> {
    let out = clients
        .dynamo
        .query()
        .table_name(TABLE)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("query");
    out.items()
        .iter()
        .filter_map(|i| i.get("SK").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

/// The S3 keys under `prefix`.
async fn objects_under(clients: &AwsClients, prefix: &str) -> Vec<String> {
    let out = clients
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list objects");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

async fn token_of(app: &TestApp, user: &str, password: &str) -> String {
    let r = app.login(user, password).await;
    assert_eq!(r.status(), StatusCode::OK, "login {user}");
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_string()
}

/// Two API replicas on one table: a password change on one revokes the tokens issued by
/// both, on both, at once; the account's deletion on the other removes its profile,
/// posts, id and label index items and S3 objects (checked with an independent client),
/// revokes every token on both replicas, and frees the name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_tokens_are_refused_on_every_replica_and_a_deleted_account_leaves_nothing() {
    use postagram_core::store::LabelOutcome;

    credentials();
    let moto = moto::Moto::start();
    init_aws_cli(&moto, 3);
    let one = spawn_api(&moto, None).await;
    let two = spawn_api(&moto, None).await;
    let from_one = one.user("alice").await;
    let from_two = token_of(&two, "alice", one.password()).await;
    let post = two.new_post(&from_one, "replicated", "post").await;
    let id = post["id"].as_str().expect("id").to_string();

    let r = one
        .change_password(&from_two, one.password(), "battery staple")
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for app in [&one, &two] {
        for stale in [&from_one, &from_two] {
            let tried = postagram_testkit::assert_token_revoked_everywhere(app, stale, &id).await;
            assert!(tried.len() >= 7, "{tried:?}");
        }
    }
    let token = token_of(&two, "alice", "battery staple").await;
    let other = token_of(&one, "alice", "battery staple").await;

    // Pictures in S3 and labels in the index (recorded as the labeller would).
    let store = one.state.as_ref().expect("state").store.clone();
    let mut ids = vec![id.clone()];
    ids.push(
        one.new_post(&token, "second", "post").await["id"]
            .as_str()
            .expect("id")
            .to_string(),
    );
    for id in &ids {
        let (put, key) = one
            .upload(&token, id, "image/png", photo("chelsea.png"))
            .await;
        assert!(put.status().is_success(), "{}", put.status());
        let post_id = postagram_core::parse_post_id(id).expect("id");
        store
            .set_image(post_id, &key, postagram_core::store::now_millis())
            .await
            .expect("set image");
        store
            .set_labels(
                post_id,
                &key,
                LabelOutcome::Labelled(vec![postagram_core::Label {
                    name: "cat".into(),
                    confidence: 90.0,
                }]),
            )
            .await
            .expect("labels");
    }
    let bob = one.user("bob").await;
    let bobs = one.new_post(&bob, "bob's", "post").await;
    let check = AwsClients::connect(&moto.settings()).await;
    assert_eq!(partition(&check, "LABEL#cat").await.len(), 2);
    assert_eq!(objects_under(&check, "alice/").await.len(), 2);

    let r = two.delete_account(Some(&token), "wrong password").await;
    assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    let r = two.delete_account(Some(&token), "battery staple").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    assert!(
        partition(&check, "USER#alice").await.is_empty(),
        "profile or posts left"
    );
    for id in &ids {
        assert!(
            partition(&check, id).await.is_empty(),
            "id item of {id} left"
        );
        assert_eq!(one.get_post(id).await.status(), StatusCode::NOT_FOUND);
    }
    assert!(
        partition(&check, "LABEL#cat").await.is_empty(),
        "label items left"
    );
    assert!(
        partition(&check, "ACCOUNT_DELETIONS").await.is_empty(),
        "deletion marker left"
    );
    assert!(
        objects_under(&check, "alice/").await.is_empty(),
        "objects left"
    );
    for app in [&one, &two] {
        for stale in [&token, &other] {
            postagram_testkit::assert_token_revoked_everywhere(app, stale, &id).await;
        }
        assert_error(
            app.login("alice", "battery staple").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let list = two.list("/posts").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], bobs["id"]);
    // The name is free again, on either replica.
    let fresh = one.user("alice").await;
    assert!(two.list("/posts?user=alice").await.is_empty());
    two.new_post(&fresh, "new alice", "hello").await;
    one.stop().await;
    two.stop().await;
}

/// An aws-mode deletion interrupted after the account was marked (a crash): the account
/// is refused meanwhile; the sweep of the next API start finishes it (marker included).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_aws_deletion_is_finished_by_the_next_start() {
    credentials();
    let moto = moto::Moto::start();
    init_aws_cli(&moto, 3);
    let app = spawn_api(&moto, None).await;
    let token = app.user("alice").await;
    let post = app.new_post(&token, "left", "behind").await;
    let id = post["id"].as_str().expect("id").to_string();
    let (put, _) = app
        .upload(&token, &id, "image/png", photo("chelsea.png"))
        .await;
    assert!(put.status().is_success());
    let store = app.state.as_ref().expect("state").store.clone();
    store.mark_account_deleting("alice").await.expect("mark");
    assert_error(
        app.post_json(
            "/posts",
            &serde_json::json!({"title": "t", "body": "b"}),
            Some(&token),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_error(app.signup("alice").await, StatusCode::CONFLICT, "conflict").await;
    drop(store);
    app.stop().await;

    let app = spawn_api(&moto, None).await;
    wait_for(
        "the sweep to free the name",
        Duration::from_secs(30),
        || async {
            let r = app.signup("alice").await;
            (r.status() == StatusCode::CREATED).then_some(Value::Null)
        },
    )
    .await;
    let check = AwsClients::connect(&moto.settings()).await;
    assert_eq!(app.get_post(&id).await.status(), StatusCode::NOT_FOUND);
    assert!(objects_under(&check, "alice/").await.is_empty());
    assert!(partition(&check, "ACCOUNT_DELETIONS").await.is_empty());
    assert_eq!(
        partition(&check, "USER#alice").await,
        ["PROFILE"],
        "only the new account's profile"
    );
    app.stop().await;
}

/// `GET /posts?q=` in aws mode: the words of titles and bodies (prefixes, any case,
/// diacritics folded), edits followed at once, newest first in pages linked by `Link`,
/// deleted posts gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_search_pages_through_link_headers_in_aws_mode() {
    credentials();
    let moto = moto::Moto::start();
    init_aws_cli(&moto, 3);
    let app = spawn_api(&moto, None).await;
    let token = app.user("alice").await;
    let mut made = Vec::new();
    for i in 0..7 {
        let p = app
            .new_post(&token, &format!("Café walk {i}"), "along the river")
            .await;
        made.push(p["id"].as_str().expect("id").to_string());
    }
    app.new_post(&token, "Mountains", "snow").await;
    let mut got = Vec::new();
    let mut next = Some(format!("{}/posts?q=CAFE%20riv&limit=3", app.url));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let r = app.get_url(&url).await;
        assert_eq!(r.status(), StatusCode::OK);
        next = r
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.trim_start_matches('<').split('>').next())
            .map(String::from);
        let page: Vec<Value> = r.json().await.expect("json");
        assert!(page.len() <= 3);
        got.extend(
            page.iter()
                .filter_map(|p| p["id"].as_str().map(String::from)),
        );
        pages += 1;
    }
    made.reverse();
    assert_eq!(got, made, "newest first, every match once");
    assert_eq!(pages, 3);

    // an edit is searchable at once, its old words are not
    let first = made.last().expect("a post").clone();
    let path = format!("/posts/{}", urlencoding::encode(&first));
    let r = reqwest::Client::new()
        .patch(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Tea time"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    let found = app.list("/posts?q=tea").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], first.as_str());
    assert_eq!(app.list("/posts?q=caf%C3%A9").await.len(), 6);
    let r = app.delete_post(&first, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.list("/posts?q=tea").await.is_empty());
}
