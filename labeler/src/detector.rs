//! The detector abstraction shared by the local model and cloud services.

use crate::{DetectError, Label};

use postagram_core::settings::{defaults, ModelArgs};

/// Default number of labels returned per picture (the settings contract's).
pub const DEFAULT_MAX_LABELS: usize = defaults::MAX_LABELS as usize;

/// Default minimum confidence (percent) for a label to be returned.
///
/// A 1000-class softmax rarely puts a single class above 75 % (near-duplicate
/// classes such as "tabby" / "tiger cat" share the mass), so Rekognition's
/// usual 75 would drop most fine classes. Categories sum their members and are
/// usually well above this; 10 % keeps the plausible fine classes too while
/// dropping the long tail of near-zero guesses.
pub const DEFAULT_MIN_CONFIDENCE: f32 = defaults::MIN_CONFIDENCE as f32;

/// How many labels a detector returns and how sure it must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// At most this many labels per picture (highest confidence first).
    pub max_labels: usize,
    /// Labels below this confidence (percent, 0–100) are dropped.
    pub min_confidence: f32,
}

impl DetectOptions {
    /// The options the shared model flags describe.
    pub fn from_args(model: &ModelArgs) -> Self {
        DetectOptions {
            max_labels: model.max_labels,
            min_confidence: model.min_confidence,
        }
    }
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            max_labels: DEFAULT_MAX_LABELS,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
        }
    }
}

/// Something that labels pictures.
#[async_trait::async_trait]
pub trait Detector: Send + Sync {
    /// Labels one picture (encoded JPEG, PNG, WebP or GIF bytes).
    ///
    /// Labels come highest confidence first, ties by name; confidences are in percent.
    async fn detect(&self, picture: bytes::Bytes) -> Result<Vec<Label>, DetectError>;

    /// Labels a picture the caller has already decoded (and turned upright): `decoded`
    /// is `picture`'s pixels. A detector that works on pixels uses them instead of
    /// decoding again; the default sends the encoded bytes to [`Detector::detect`]
    /// (a cloud service decodes on its side). The caller holds the decoding memory.
    async fn detect_decoded(
        &self,
        picture: bytes::Bytes,
        decoded: std::sync::Arc<image::DynamicImage>,
    ) -> Result<Vec<Label>, DetectError> {
        drop(decoded);
        self.detect(picture).await
    }

    /// A short stable name for logs and metrics, e.g. `"local"`.
    fn name(&self) -> &'static str;
}
