//! [`LocalDetector`]: EfficientNet-Lite0 on the CPU.

use std::path::Path;
use std::sync::Arc;

use image::DynamicImage;

use crate::categories::Taxonomy;
use crate::decode_budget::DecodeBudget;
use crate::model::weights::Weights;
use crate::model::EfficientNetLite0;
use crate::preprocess::{self, Normalization};
use crate::{DetectError, DetectOptions, Detector, Label};

/// The pixel normalisation these weights need.
///
/// Verified on real photos (scikit-image's cat, coffee, astronaut, …): the
/// TensorFlow Lite recipe `(v - 127) / 128` gives the right top-1 classes with
/// higher confidence than ImageNet mean/std.
pub const NORMALIZATION: Normalization = Normalization::Lite;

struct Inner {
    model: EfficientNetLite0,
    taxonomy: Taxonomy,
    opts: DetectOptions,
}

/// Labels pictures with a local EfficientNet-Lite0 ImageNet classifier.
///
/// Cheap to clone (shares the loaded model). Inference is CPU-bound and runs on
/// tokio's blocking pool in [`Detector::detect`].
#[derive(Clone)]
pub struct LocalDetector {
    inner: Arc<Inner>,
    budget: Option<DecodeBudget>,
}

impl LocalDetector {
    /// Loads the safetensors weights written by `scripts/fetch-model.sh`.
    pub fn load(model_path: &Path, opts: DetectOptions) -> Result<Self, DetectError> {
        let weights = Weights::load(model_path)?;
        let model = EfficientNetLite0::new(&weights)?;
        let taxonomy = Taxonomy::builtin()?;
        Ok(LocalDetector {
            inner: Arc::new(Inner {
                model,
                taxonomy,
                opts,
            }),
            budget: None,
        })
    }

    /// Makes [`Detector::detect`] hold each picture's estimated decoding memory from
    /// `budget` (shared with every other clone and detector given it) while it runs.
    pub fn with_decode_budget(mut self, budget: DecodeBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The options this detector was loaded with.
    pub fn options(&self) -> DetectOptions {
        self.inner.opts
    }

    /// Class probabilities (0–1, 1000 of them) for one encoded picture.
    pub fn probabilities(&self, picture: &[u8]) -> Result<Vec<f32>, DetectError> {
        self.probabilities_with(picture, NORMALIZATION)
    }

    /// Like [`LocalDetector::probabilities`] with an explicit normalisation (for experiments).
    pub fn probabilities_with(
        &self,
        picture: &[u8],
        norm: Normalization,
    ) -> Result<Vec<f32>, DetectError> {
        let input = preprocess::prepare(picture, norm)?;
        let logits = self.inner.model.forward(&input)?.to_vec1::<f32>()?;
        Ok(softmax(&logits))
    }

    /// The `k` most likely ImageNet classes: `(class index, short name, probability 0–1)`,
    /// most likely first.
    pub fn classify_topk(
        &self,
        picture: &[u8],
        k: usize,
    ) -> Result<Vec<(usize, String, f32)>, DetectError> {
        let probs = self.probabilities(picture)?;
        Ok(self.topk(&probs, k))
    }

    /// The `k` largest entries of `probs` with their class names.
    pub fn topk(&self, probs: &[f32], k: usize) -> Vec<(usize, String, f32)> {
        let mut idx: Vec<usize> = (0..probs.len()).collect();
        idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        idx.into_iter()
            .take(k)
            .map(|i| {
                let name = self
                    .inner
                    .taxonomy
                    .classes
                    .get(i)
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                (i, name, probs[i])
            })
            .collect()
    }

    /// Labels one picture synchronously (what [`Detector::detect`] runs off the async runtime).
    pub fn detect_blocking(&self, picture: &[u8]) -> Result<Vec<Label>, DetectError> {
        let probs = self.probabilities(picture)?;
        Ok(self.labels_of(&probs))
    }

    /// Labels already decoded, upright pixels (no second decode).
    pub fn detect_image_blocking(&self, img: &DynamicImage) -> Result<Vec<Label>, DetectError> {
        let input = preprocess::to_tensor(&preprocess::crop_and_resize(img), NORMALIZATION)?;
        let logits = self.inner.model.forward(&input)?.to_vec1::<f32>()?;
        Ok(self.labels_of(&softmax(&logits)))
    }

    fn labels_of(&self, probs: &[f32]) -> Vec<Label> {
        let o = &self.inner.opts;
        self.inner
            .taxonomy
            .labels(probs, o.max_labels, o.min_confidence)
    }
}

#[async_trait::async_trait]
impl Detector for LocalDetector {
    async fn detect(&self, picture: bytes::Bytes) -> Result<Vec<Label>, DetectError> {
        let permit = match &self.budget {
            Some(budget) => {
                let cost = preprocess::decode_cost(&picture).unwrap_or(picture.len() as u64);
                Some(budget.acquire(cost).await?)
            }
            None => None,
        };
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let labels = this.detect_blocking(&picture);
            drop(permit);
            labels
        })
        .await
        .map_err(|e| DetectError::Model(format!("inference task failed: {e}")))?
    }

    async fn detect_decoded(
        &self,
        _picture: bytes::Bytes,
        decoded: Arc<DynamicImage>,
    ) -> Result<Vec<Label>, DetectError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.detect_image_blocking(&decoded))
            .await
            .map_err(|e| DetectError::Model(format!("inference task failed: {e}")))?
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        exps.into_iter().map(|e| e / sum).collect()
    } else {
        vec![0.0; logits.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::softmax;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0]);
        // Large logits do not overflow.
        let q = softmax(&[1000.0, 0.0]);
        assert!(q[0] > 0.99 && q.iter().all(|v| v.is_finite()));
    }
}
