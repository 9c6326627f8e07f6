//! [`Detector`] on Amazon Rekognition `DetectLabels`.
//!
//! The picture bytes the pipeline already read are sent inline (`Image.Bytes`, up to
//! 5 MB; the API's default upload limit is 20 MiB, so larger pictures end `failed`). Label
//! names are lower-cased; each label's parents ("Dog" → "Animal", "Pet") are kept as
//! category labels with the child's confidence, like the local model's categories.

use aws_sdk_rekognition::operation::detect_labels::DetectLabelsError;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::Image;
use aws_sdk_rekognition::Client;
use postagram_core::aws::sdk_message;

use crate::{DetectError, DetectOptions, Detector, Label};

/// Largest inline picture Rekognition accepts.
pub const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;

/// Labels pictures with Rekognition.
#[derive(Debug, Clone)]
pub struct RekognitionDetector {
    client: Client,
    opts: DetectOptions,
}

impl RekognitionDetector {
    /// A detector using the shared AWS configuration (region, credentials, endpoint).
    pub fn new(sdk_config: &aws_config::SdkConfig, opts: DetectOptions) -> Self {
        RekognitionDetector {
            client: Client::new(sdk_config),
            opts,
        }
    }
}

/// Rekognition's labels (name, confidence, parents) to Postagram labels: lower-case,
/// parents added as categories, highest confidence first, ties by name, no duplicates.
pub fn to_labels(raw: &[(String, f32, Vec<String>)], opts: DetectOptions) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::new();
    let mut add = |name: &str, confidence: f32| {
        let name = name.trim().to_lowercase();
        if name.is_empty() || confidence < opts.min_confidence {
            return;
        }
        match out.iter_mut().find(|l| l.name == name) {
            Some(l) => l.confidence = l.confidence.max(confidence),
            None => out.push(Label { name, confidence }),
        }
    };
    let mut fine: Vec<&(String, f32, Vec<String>)> = raw.iter().collect();
    fine.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, confidence, parents) in fine.into_iter().take(opts.max_labels.max(1)) {
        add(name, *confidence);
        for p in parents {
            add(p, *confidence);
        }
    }
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.name.cmp(&b.name))
    });
    out
}

#[async_trait::async_trait]
impl Detector for RekognitionDetector {
    async fn detect(&self, picture: bytes::Bytes) -> Result<Vec<Label>, DetectError> {
        if picture.len() > MAX_INLINE_BYTES {
            return Err(DetectError::TooLarge(format!(
                "{} bytes; Rekognition accepts at most {MAX_INLINE_BYTES} inline",
                picture.len()
            )));
        }
        let out = self
            .client
            .detect_labels()
            .image(Image::builder().bytes(Blob::new(picture.to_vec())).build())
            .max_labels(i32::try_from(self.opts.max_labels.max(1)).unwrap_or(i32::MAX))
            .min_confidence(self.opts.min_confidence.clamp(0.0, 100.0))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(DetectLabelsError::InvalidImageFormatException(_)) => {
                    DetectError::NotAnImage(sdk_message(&e))
                }
                Some(DetectLabelsError::ImageTooLargeException(_)) => {
                    DetectError::TooLarge(sdk_message(&e))
                }
                // Throttling, outages, credentials: transient, the job is retried.
                _ => DetectError::Model(format!("rekognition: {}", sdk_message(&e))),
            })?;
        let raw: Vec<(String, f32, Vec<String>)> = out
            .labels()
            .iter()
            .filter_map(|l| {
                Some((
                    l.name()?.to_string(),
                    l.confidence()?,
                    l.parents()
                        .iter()
                        .filter_map(|p| p.name().map(String::from))
                        .collect(),
                ))
            })
            .collect();
        Ok(to_labels(&raw, self.opts))
    }

    fn name(&self) -> &'static str {
        "rekognition"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_become_categories() {
        let raw = vec![
            (
                "Dog".to_string(),
                98.0,
                vec!["Animal".to_string(), "Pet".to_string()],
            ),
            (
                "Golden Retriever".to_string(),
                90.0,
                vec!["Dog".to_string(), "Animal".to_string()],
            ),
            ("Grass".to_string(), 5.0, vec!["Plant".to_string()]),
        ];
        let labels = to_labels(
            &raw,
            DetectOptions {
                max_labels: 5,
                min_confidence: 10.0,
            },
        );
        let names: Vec<_> = labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["animal", "dog", "pet", "golden retriever"]);
    }
}
