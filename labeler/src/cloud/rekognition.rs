//! [`Detector`] on Amazon Rekognition `DetectLabels`.
//!
//! The picture bytes the pipeline already read are sent inline (`Image.Bytes`, up to
//! 5 MB). Larger pictures (the API accepts 20 MiB by default: phone photos often pass
//! 5 MB) are decoded with the local detector's guards and sent as a JPEG at most
//! [`SHRINK_TO`] pixels on the longest side, which keeps every detail labels need. Label
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
/// Longest side, in pixels, of a picture re-encoded to fit inline (Rekognition
/// recommends at least 640).
pub const SHRINK_TO: u32 = 2048;

/// What to send for `picture`: the bytes themselves when they fit inline, otherwise a
/// JPEG (quality 90) of the picture, EXIF orientation applied, shrunk to at most
/// [`SHRINK_TO`] pixels on its longest side. CPU-bound: call it off the async runtime.
pub fn inline_picture(picture: bytes::Bytes) -> Result<bytes::Bytes, DetectError> {
    if picture.len() <= MAX_INLINE_BYTES {
        return Ok(picture);
    }
    let img = crate::preprocess::decode(&picture)?;
    let img = if img.width().max(img.height()) > SHRINK_TO {
        img.resize(SHRINK_TO, SHRINK_TO, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img.to_rgb8())
        .map_err(|e| DetectError::Model(format!("cannot re-encode the picture: {e}")))?;
    if out.len() > MAX_INLINE_BYTES {
        return Err(DetectError::TooLarge(format!(
            "{} bytes even as a {SHRINK_TO}-pixel JPEG; Rekognition accepts at most {MAX_INLINE_BYTES} inline",
            out.len()
        )));
    }
    Ok(bytes::Bytes::from(out))
}

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
        let picture = if picture.len() > MAX_INLINE_BYTES {
            tokio::task::spawn_blocking(move || inline_picture(picture))
                .await
                .map_err(|e| DetectError::Model(format!("picture task failed: {e}")))??
        } else {
            picture
        };
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

    /// A PNG of noise, which does not compress: `side`² × 3 bytes and a little more.
    fn noise_png(width: u32, height: u32) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let img = image::RgbImage::from_fn(width, height, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [a, b, c, ..] = state.to_le_bytes();
            image::Rgb([a, b, c])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode png");
        out
    }

    #[test]
    fn small_pictures_go_as_they_are_large_ones_shrink_to_fit() {
        let small = bytes::Bytes::from(noise_png(64, 48));
        assert_eq!(inline_picture(small.clone()).expect("small"), small);

        let big = noise_png(2600, 1000);
        assert!(big.len() > MAX_INLINE_BYTES, "{} bytes", big.len());
        let sent = inline_picture(bytes::Bytes::from(big)).expect("shrunk");
        assert!(sent.len() <= MAX_INLINE_BYTES, "{} bytes", sent.len());
        let img = image::load_from_memory(&sent).expect("a picture");
        assert_eq!(
            image::guess_format(&sent).expect("format"),
            image::ImageFormat::Jpeg
        );
        assert_eq!((img.width(), img.height()), (SHRINK_TO, 788));

        let not_a_picture = bytes::Bytes::from(vec![0u8; MAX_INLINE_BYTES + 1]);
        assert!(matches!(
            inline_picture(not_a_picture),
            Err(DetectError::NotAnImage(_))
        ));
    }

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
