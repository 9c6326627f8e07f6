//! The derived pictures the pipeline makes from a real photo (scikit-image's rocket, with
//! metadata written by ExifTool): upright for every EXIF orientation (compared with a
//! reference rotation of the raw pixels), the right dimensions, no metadata (read back
//! with ExifTool); replaced pictures and stray objects swept from the real folder.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use image::{imageops, DynamicImage, RgbImage};
use postagram_core::blob::BlobStore;
use postagram_core::folder::FolderBlobStore;
use postagram_core::keys::{derived_key, object_key, post_prefix, DerivedSize};
use postagram_core::signing::UrlSigner;
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::{NewUser, PostStore};
use postagram_core::wire::NewPost;
use postagram_core::{Label, LabelStatus, PostId};
use postagram_labeler::derive::fit;
use postagram_labeler::pipeline::{JobOutcome, Pipeline, PipelineConfig};
use postagram_labeler::{DetectError, Detector};
use postagram_testkit::exiftool;

/// Finds nothing; counts nothing: these tests are about pictures.
struct NoLabels;

#[async_trait::async_trait]
impl Detector for NoLabels {
    async fn detect(&self, _picture: Bytes) -> Result<Vec<Label>, DetectError> {
        Ok(Vec::new())
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

fn photo_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/photos")
        .join(name)
}

/// The rocket photo with private tags and `extra` exiftool arguments written into a copy.
fn tagged_rocket(dir: &std::path::Path, extra: &[&str]) -> Vec<u8> {
    let src = photo_path("rocket.jpg");
    let dst = dir.join(format!("rocket-{}.jpg", uuid_like()));
    std::fs::copy(&src, &dst)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-photos.sh)", src.display()));
    exiftool::write_private_tags(&dst, extra);
    std::fs::read(&dst).expect("read tagged photo")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

struct World {
    dir: tempfile::TempDir,
    store: SqliteStore,
    blobs: Arc<FolderBlobStore>,
    pipeline: Pipeline,
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
    let pipeline = Pipeline::new(
        Arc::new(store.clone()),
        blobs.clone(),
        Arc::new(NoLabels),
        PipelineConfig::default(),
    );
    World {
        dir,
        store,
        blobs,
        pipeline,
    }
}

impl World {
    async fn post(&self) -> PostId {
        self.store
            .create_post(
                "alice",
                NewPost {
                    title: "t".into(),
                    body: "b".into(),
                },
            )
            .await
            .expect("post")
            .id
    }

    /// Stores `bytes` as a new picture of `post` (as an upload does) and runs its job.
    async fn upload_and_process(&self, post: PostId, bytes: &[u8], at_ms: i64) -> String {
        let key = self.store_only(post, bytes).await;
        assert!(self
            .store
            .set_image(post, &key, at_ms)
            .await
            .expect("image"));
        self.run_jobs().await;
        key
    }

    /// Stores `bytes` under a fresh key of `post` without telling the post (a crash
    /// between the upload and `set_image`, or an S3 event still on its way).
    async fn store_only(&self, post: PostId, bytes: &[u8]) -> String {
        // Folder times have millisecond precision here: keep uploads apart.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let key = object_key("alice", post, "photo.jpg");
        self.blobs
            .put(&key, Bytes::copy_from_slice(bytes), "image/jpeg")
            .await
            .expect("put");
        key
    }

    async fn run_jobs(&self) {
        use postagram_core::jobs::LabelJobQueue;
        while let Some(job) = self
            .store
            .claim(Duration::from_secs(60))
            .await
            .expect("claim")
        {
            let report = self.pipeline.process(job).await;
            assert_eq!(report.outcome, JobOutcome::Labelled(0), "{report:?}");
        }
    }

    fn files(&self, post: PostId) -> Vec<String> {
        let dir = self
            .dir
            .path()
            .join("pics")
            .join(post_prefix("alice", post));
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    async fn derived(&self, key: &str, size: DerivedSize) -> Vec<u8> {
        self.blobs
            .get(&derived_key(key, size))
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("no {} size of {key}", size.as_str()))
            .bytes
            .to_vec()
    }
}

/// The EXIF orientation transform, written out from the specification (not the decoder's).
fn reference(raw: &RgbImage, orientation: u8) -> RgbImage {
    match orientation {
        1 => raw.clone(),
        2 => imageops::flip_horizontal(raw),
        3 => imageops::rotate180(raw),
        4 => imageops::flip_vertical(raw),
        5 => imageops::flip_horizontal(&imageops::rotate90(raw)),
        6 => imageops::rotate90(raw),
        7 => imageops::flip_horizontal(&imageops::rotate270(raw)),
        8 => imageops::rotate270(raw),
        other => panic!("orientation {other}"),
    }
}

/// Mean absolute difference per channel (0–255) of two pictures of the same size.
fn difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[tokio::test]
async fn derived_sizes_are_upright_for_every_orientation_and_carry_no_metadata() {
    let w = world().await;
    let plain = std::fs::read(photo_path("rocket.jpg")).expect("rocket.jpg");
    // The raw pixels, before any orientation (`load_from_memory` does not apply it).
    let raw = image::load_from_memory(&plain).expect("decode").to_rgb8();
    let references: Vec<RgbImage> = (1..=8).map(|o| reference(&raw, o)).collect();
    for orientation in 1..=8u8 {
        let tagged = tagged_rocket(w.dir.path(), &[&format!("-Orientation#={orientation}")]);
        let written = exiftool::private_tags(&tagged);
        for tag in [
            "GPSLatitude",
            "Make",
            "Model",
            "SerialNumber",
            "DateTimeOriginal",
            "Creator",
            "By-line",
        ] {
            assert!(
                written.iter().any(|t| t == tag),
                "{tag} in the upload: {written:?}"
            );
        }
        let post = w.post().await;
        let key = w.upload_and_process(post, &tagged, 1000).await;
        let got = w.store.get_post(post).await.expect("get").expect("post");
        assert_eq!(got.label_status, LabelStatus::Done);
        assert_eq!(got.derived, DerivedSize::ALL);
        let upright = &references[usize::from(orientation - 1)];
        for size in DerivedSize::ALL {
            let bytes = w.derived(&key, size).await;
            assert_eq!(
                exiftool::private_tags(&bytes),
                Vec::<String>::new(),
                "orientation {orientation}, {}",
                size.as_str()
            );
            let tags = exiftool::tag_names(&bytes);
            assert!(
                !tags
                    .iter()
                    .any(|t| t == "Orientation" || t == "ProfileDescription"),
                "no EXIF orientation or ICC profile left: {tags:?}"
            );
            let shown = image::load_from_memory(&bytes).expect("decode").to_rgb8();
            let want = fit(upright.width(), upright.height(), size.long_side());
            assert_eq!(
                shown.dimensions(),
                want,
                "orientation {orientation}, {}",
                size.as_str()
            );
            // Upright: close to the reference rotation, and clearly closer to it than to
            // any other orientation of the same shape.
            let diff = |r: &RgbImage| difference(&shown, &imageops::thumbnail(r, want.0, want.1));
            let right = diff(upright);
            assert!(
                right < 6.0,
                "orientation {orientation}: differs by {right:.1}"
            );
            for (other, r) in references.iter().enumerate() {
                if other + 1 != usize::from(orientation) && r.dimensions() == upright.dimensions() {
                    let wrong = diff(r);
                    assert!(
                        wrong > right + 10.0,
                        "orientation {orientation} vs {}: {right:.1} / {wrong:.1}",
                        other + 1
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_big_picture_gets_the_display_and_thumbnail_sizes() {
    let w = world().await;
    // 3000×2000, a gradient (phone-sized shapes without a phone photo).
    let img = RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([(x / 12) as u8, (y / 8) as u8, ((x + y) / 20) as u8])
    });
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let post = w.post().await;
    let key = w.upload_and_process(post, &png, 1000).await;
    for (size, dims) in [
        (DerivedSize::Thumbnail, (320, 213)),
        (DerivedSize::Display, (1280, 853)),
    ] {
        let shown = image::load_from_memory(&w.derived(&key, size).await).expect("decode");
        assert_eq!((shown.width(), shown.height()), dims);
        assert_eq!(
            image::guess_format(&w.derived(&key, size).await).expect("format"),
            image::ImageFormat::Jpeg
        );
    }
}

#[tokio::test]
async fn a_new_picture_replaces_the_old_files_and_strays_are_swept() {
    let w = world().await;
    let photo = std::fs::read(photo_path("rocket.jpg")).expect("rocket.jpg");
    let post = w.post().await;
    let first = w.upload_and_process(post, &photo, 1000).await;
    assert_eq!(w.files(post).len(), 3, "{:?}", w.files(post));
    let second = w.upload_and_process(post, &photo, 2000).await;
    let name = |k: &str| k.rsplit('/').next().unwrap_or_default().to_string();
    let mut want = vec![
        name(&second),
        name(&derived_key(&second, DerivedSize::Display)),
        name(&derived_key(&second, DerivedSize::Thumbnail)),
    ];
    want.sort();
    assert_eq!(
        w.files(post),
        want,
        "the first picture {first} and its sizes are gone"
    );

    // A crash left an upload the post never learnt of, and derived sizes of a picture
    // that is gone: the stray derived sizes go at once, the upload only after the window
    // (its S3 event may still be on its way).
    let orphan = w.store_only(post, &photo).await;
    let gone = object_key("alice", post, "gone.jpg");
    w.blobs
        .put(
            &derived_key(&gone, DerivedSize::Thumbnail),
            Bytes::from_static(b"x"),
            "image/jpeg",
        )
        .await
        .expect("put");
    assert_eq!(w.pipeline.sweep(&second).await.expect("sweep"), 1);
    assert_eq!(w.files(post).len(), 4, "the fresh upload stays");
    let impatient = Pipeline::new(
        Arc::new(w.store.clone()),
        w.blobs.clone(),
        Arc::new(NoLabels),
        PipelineConfig::default(),
    )
    .with_upload_window(Duration::ZERO);
    assert_eq!(impatient.sweep(&second).await.expect("sweep"), 1);
    assert_eq!(w.files(post), want, "{orphan} swept after the window");

    // The post's picture is the one kept, with its sizes recorded.
    let current = w.store.get_post(post).await.expect("get").expect("post");
    assert_eq!(current.image_key.as_deref(), Some(second.as_str()));
    assert_eq!(current.derived, DerivedSize::ALL);
}
