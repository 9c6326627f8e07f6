//! The real model on real photographs (scikit-image's sample photos).
//!
//! Needs the weights (`make model`, i.e. `scripts/fetch-model.sh`) and the photos
//! (`scripts/fetch-test-photos.sh`); fails, rather than skips, when they are missing.

use postagram_core::settings::env;
use std::path::{Path, PathBuf};

use postagram_labeler::{DetectOptions, Detector, LocalDetector};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_path() -> PathBuf {
    std::env::var_os(env::MODEL_PATH)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models/efficientnet-lite0.safetensors"))
}

fn detector(opts: DetectOptions) -> LocalDetector {
    let path = model_path();
    assert!(
        path.is_file(),
        "model weights missing at {}: run `make model` (scripts/fetch-model.sh) first",
        path.display()
    );
    match LocalDetector::load(&path, opts) {
        Ok(d) => d,
        Err(e) => panic!("loading {}: {e}", path.display()),
    }
}

fn photo(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/photos")
        .join(name);
    match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => panic!(
            "test photo {} missing ({e}): run scripts/fetch-test-photos.sh first",
            path.display()
        ),
    }
}

/// (photo, acceptable ImageNet classes for the top 5, a category the labels must contain)
const CASES: &[(&str, &[usize], &str)] = &[
    // tabby, tiger cat, Persian, Siamese, Egyptian cat
    ("chelsea.png", &[281, 282, 283, 284, 285], "cat"),
    // espresso, cup, coffee mug
    ("coffee.png", &[967, 968, 504], "cup"),
    // moped, motor scooter
    ("motorcycle_left.png", &[665, 670], "motorcycle"),
    ("motorcycle_right.png", &[665, 670], "vehicle"),
    // missile, projectile, space shuttle
    ("rocket.jpg", &[657, 744, 812], "spacecraft"),
    // tripod (the cameraman's)
    ("camera.png", &[872], "tripod"),
];

#[test]
fn expected_classes_are_in_top5_and_categories_in_labels() {
    let det = detector(DetectOptions::default());
    let mut failures = Vec::new();
    for &(name, expected, category) in CASES {
        let bytes = photo(name);
        let top = match det.classify_topk(&bytes, 5) {
            Ok(t) => t,
            Err(e) => panic!("{name}: {e}"),
        };
        if !top.iter().any(|(i, _, _)| expected.contains(i)) {
            failures.push(format!("{name}: none of {expected:?} in top 5 {top:?}"));
        }
        let labels = match det.detect_blocking(&bytes) {
            Ok(l) => l,
            Err(e) => panic!("{name}: {e}"),
        };
        if !labels.iter().any(|l| l.name == category) {
            failures.push(format!(
                "{name}: category {category:?} missing from {labels:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cat_photo_top1_is_a_cat_with_confident_labels() {
    let det = detector(DetectOptions::default());
    let bytes = photo("chelsea.png");
    let top = det.classify_topk(&bytes, 1).unwrap_or_default();
    assert!(matches!(top.first(), Some((281..=285, _, _))), "{top:?}");
    let labels = det.detect_blocking(&bytes).unwrap_or_default();
    let cat = labels
        .iter()
        .find(|l| l.name == "cat")
        .map(|l| l.confidence)
        .unwrap_or(0.0);
    assert!(cat > 75.0, "cat confidence {cat} in {labels:?}");
    assert!(labels.iter().any(|l| l.name == "animal"), "{labels:?}");
}

#[test]
fn coffee_photo_is_espresso() {
    let det = detector(DetectOptions::default());
    let top = det
        .classify_topk(&photo("coffee.png"), 1)
        .unwrap_or_default();
    assert_eq!(top.first().map(|t| t.0), Some(967), "{top:?}");
}

#[test]
fn labels_honour_options_and_are_deterministic() {
    let det = detector(DetectOptions {
        max_labels: 2,
        min_confidence: 50.0,
    });
    let bytes = photo("coffee.png");
    let a = det.detect_blocking(&bytes).unwrap_or_default();
    let b = det.detect_blocking(&bytes).unwrap_or_default();
    assert_eq!(a, b);
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(
        a.iter().all(|l| (50.0..=100.0).contains(&l.confidence)),
        "{a:?}"
    );
    assert!(a[0].confidence >= a[1].confidence);
}

#[test]
fn async_detect_runs_and_bad_pictures_are_typed() {
    let det = detector(DetectOptions::default());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    rt.block_on(async {
        assert_eq!(det.name(), "local");
        let labels = det.detect(photo("chelsea.png").into()).await;
        assert!(
            matches!(&labels, Ok(l) if l.iter().any(|l| l.name == "cat")),
            "{labels:?}"
        );
        let err = det
            .detect(bytes::Bytes::from_static(b"not a picture"))
            .await;
        assert!(matches!(&err, Err(e) if e.is_bad_picture()), "{err:?}");
    });
}

#[test]
fn tiny_and_animated_pictures_label() {
    let det = detector(DetectOptions::default());
    // A 1x1 PNG runs through the whole model.
    let mut png = std::io::Cursor::new(Vec::new());
    let one = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        1,
        1,
        image::Rgb([200, 30, 30]),
    ));
    if let Err(e) = one.write_to(&mut png, image::ImageFormat::Png) {
        panic!("{e}");
    }
    let probs = det.probabilities(png.get_ref());
    assert!(
        matches!(&probs, Ok(p) if p.len() == 1000 && (p.iter().sum::<f32>() - 1.0).abs() < 1e-3),
        "{probs:?}"
    );
    // An animated GIF labels from its first frame.
    assert!(det
        .detect_blocking(&photo("no_time_for_that_tiny.gif"))
        .is_ok());
}
