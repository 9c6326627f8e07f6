//! The labelling pipeline on the real SQLite job table and picture folder, with a
//! scripted detector for the failure paths (the real model is exercised in
//! `accuracy.rs` and in the API's end-to-end test).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use postagram_core::blob::BlobStore;
use postagram_core::folder::FolderBlobStore;
use postagram_core::jobs::LabelJobQueue;
use postagram_core::keys::object_key;
use postagram_core::signing::UrlSigner;
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::{NewUser, PostStore};
use postagram_core::wire::NewPost;
use postagram_core::{Label, LabelStatus, PostId};
use postagram_labeler::pipeline::{JobOutcome, Pipeline, PipelineConfig};
use postagram_labeler::{DetectError, Detector};

/// Answers from a script, counting calls.
struct Scripted {
    answers: std::sync::Mutex<Vec<Result<Vec<Label>, DetectError>>>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Detector for Scripted {
    async fn detect(&self, _picture: Bytes) -> Result<Vec<Label>, DetectError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut a = self.answers.lock().expect("lock");
        if a.len() > 1 {
            a.remove(0)
        } else {
            a[0].clone()
        }
    }
    fn name(&self) -> &'static str {
        "scripted"
    }
}

fn labels() -> Vec<Label> {
    vec![
        Label {
            name: "dog".into(),
            confidence: 93.0,
        },
        Label {
            name: "beagle".into(),
            confidence: 60.0,
        },
    ]
}

struct World {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    blobs: Arc<FolderBlobStore>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db.sqlite")).expect("open");
    let blobs = Arc::new(
        FolderBlobStore::open(dir.path().join("pics"), UrlSigner::new(b"k"), "http://x")
            .expect("blobs"),
    );
    store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "!".into(),
        })
        .await
        .expect("user");
    World {
        _dir: dir,
        store,
        blobs,
    }
}

async fn uploaded_post(w: &World) -> (PostId, String) {
    let post = w
        .store
        .create_post(
            "alice",
            NewPost {
                title: "t".into(),
                body: "b".into(),
            },
        )
        .await
        .expect("post");
    let key = object_key("alice", post.id, "p.png");
    w.blobs
        .put(
            &key,
            Bytes::from_static(b"\x89PNG\r\n\x1a\nfake"),
            "image/png",
        )
        .await
        .expect("put");
    w.store
        .set_image(post.id, &key, 1000)
        .await
        .expect("set image");
    (post.id, key)
}

fn pipeline(w: &World, detector: Arc<Scripted>, max_attempts: u32) -> Pipeline {
    let config = PipelineConfig {
        max_attempts,
        base_backoff: Duration::ZERO,
        ..PipelineConfig::default()
    };
    Pipeline::new(Arc::new(w.store.clone()), w.blobs.clone(), detector, config)
}

fn scripted(answers: Vec<Result<Vec<Label>, DetectError>>) -> Arc<Scripted> {
    Arc::new(Scripted {
        answers: std::sync::Mutex::new(answers),
        calls: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn labels_are_written_once_even_when_a_job_runs_twice() {
    let w = world().await;
    let (id, _) = uploaded_post(&w).await;
    let p = pipeline(&w, scripted(vec![Ok(labels())]), 5);
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(
        p.process(job.clone()).await.outcome,
        JobOutcome::Labelled(2)
    );
    // At-least-once delivery: the same job again.
    assert_eq!(p.process(job).await.outcome, JobOutcome::Labelled(2));
    let post = w.store.get_post(id).await.expect("get").expect("post");
    assert_eq!(post.label_status, LabelStatus::Done);
    assert_eq!(post.labels, labels());
    let counts = w.store.counts().await.expect("counts");
    assert_eq!((counts.pending, counts.running, counts.done), (0, 0, 1));
    assert!(w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .is_none());
}

#[tokio::test]
async fn bad_pictures_fail_with_a_reason() {
    let w = world().await;
    let (id, _) = uploaded_post(&w).await;
    let p = pipeline(
        &w,
        scripted(vec![Err(DetectError::Truncated("ends early".into()))]),
        5,
    );
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job");
    assert!(matches!(
        p.process(job).await.outcome,
        JobOutcome::Failed(_)
    ));
    let post = w.store.get_post(id).await.expect("get").expect("post");
    assert_eq!(post.label_status, LabelStatus::Failed);
    assert!(post.label_error.expect("reason").contains("truncated"));
    assert_eq!(w.store.counts().await.expect("counts").failed, 1);
}

#[tokio::test]
async fn transient_errors_are_retried_then_given_up() {
    let w = world().await;
    let (id, _) = uploaded_post(&w).await;
    let det = scripted(vec![Err(DetectError::Model("hiccup".into())), Ok(labels())]);
    let p = pipeline(&w, det.clone(), 5);
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job");
    assert!(matches!(
        p.process(job).await.outcome,
        JobOutcome::Retried(_)
    ));
    assert_eq!(
        w.store
            .get_post(id)
            .await
            .expect("get")
            .expect("post")
            .label_status,
        LabelStatus::Pending
    );
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job back in the queue");
    assert_eq!(job.attempts, 2);
    assert_eq!(p.process(job).await.outcome, JobOutcome::Labelled(2));

    let (id2, _) = uploaded_post(&w).await;
    let p = pipeline(
        &w,
        scripted(vec![Err(DetectError::Model("broken".into()))]),
        2,
    );
    for _ in 0..2 {
        let job = w
            .store
            .claim(Duration::from_secs(60))
            .await
            .expect("claim")
            .expect("job");
        p.process(job).await;
    }
    let post = w.store.get_post(id2).await.expect("get").expect("post");
    assert_eq!(post.label_status, LabelStatus::Failed);
    assert!(post
        .label_error
        .expect("reason")
        .contains("gave up after 2 attempts"));
    assert!(
        w.store
            .claim(Duration::from_secs(60))
            .await
            .expect("claim")
            .is_none(),
        "no stuck job"
    );
}

#[tokio::test]
async fn a_job_for_a_replaced_picture_does_not_overwrite_the_new_one() {
    let w = world().await;
    let (id, _old) = uploaded_post(&w).await;
    let old_job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job");
    // A new picture arrives while the old one is being labelled.
    let new_key = object_key("alice", id, "new.png");
    w.blobs
        .put(
            &new_key,
            Bytes::from_static(b"\x89PNG\r\n\x1a\nnew"),
            "image/png",
        )
        .await
        .expect("put");
    w.store
        .set_image(id, &new_key, 2000)
        .await
        .expect("set image");
    let p = pipeline(&w, scripted(vec![Ok(labels())]), 5);
    p.process(old_job).await;
    let post = w.store.get_post(id).await.expect("get").expect("post");
    assert_eq!(
        post.label_status,
        LabelStatus::Pending,
        "old labels must not land on the new picture"
    );
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("new job");
    assert_eq!(job.object_key, new_key);
    p.process(job).await;
    assert_eq!(
        w.store
            .get_post(id)
            .await
            .expect("get")
            .expect("post")
            .label_status,
        LabelStatus::Done
    );
}

#[tokio::test]
async fn interrupted_jobs_come_back_after_a_crash() {
    let w = world().await;
    let (id, _) = uploaded_post(&w).await;
    let job = w
        .store
        .claim(Duration::from_secs(3600))
        .await
        .expect("claim")
        .expect("job");
    drop(job); // the worker dies here
    assert!(
        w.store
            .claim(Duration::from_secs(60))
            .await
            .expect("claim")
            .is_none(),
        "leased"
    );
    assert_eq!(
        w.store.recover_interrupted_jobs().await.expect("recover"),
        1
    );
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job is back");
    let p = pipeline(&w, scripted(vec![Ok(labels())]), 5);
    p.process(job).await;
    assert_eq!(
        w.store
            .get_post(id)
            .await
            .expect("get")
            .expect("post")
            .labels
            .len(),
        2
    );
}

#[tokio::test]
async fn expired_leases_are_taken_again() {
    let w = world().await;
    uploaded_post(&w).await;
    let first = w
        .store
        .claim(Duration::from_millis(1))
        .await
        .expect("claim")
        .expect("job");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("lease expired");
    assert_eq!(first.handle, again.handle);
    assert_eq!(again.attempts, 2);
}

#[tokio::test]
async fn deleting_a_post_drops_its_job() {
    let w = world().await;
    let (id, _) = uploaded_post(&w).await;
    let job = w
        .store
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("job");
    w.store.delete_post(id).await.expect("delete");
    let p = pipeline(&w, scripted(vec![Ok(labels())]), 5);
    // The picture is still in the folder here, but the job is gone with its post.
    p.process(job).await;
    assert!(w.store.get_post(id).await.expect("get").is_none());
    let c = w.store.counts().await.expect("counts");
    assert_eq!(c.pending + c.running + c.done + c.failed, 0);
}
