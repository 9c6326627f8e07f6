//! Picture decoding (with decompression-bomb guards) and model input preparation.

use std::io::Cursor;

use candle_core::{Device, Tensor};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::model::efficientnet::INPUT_SIZE;
use crate::DetectError;

/// Largest accepted encoded picture, in bytes (32 MiB).
pub const MAX_PICTURE_BYTES: usize = 32 * 1024 * 1024;
/// Largest accepted width or height, in pixels.
pub const MAX_DIMENSION: u32 = 12_000;
/// Largest accepted pixel count (width × height): 64 megapixels.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Largest memory the decoder may allocate, in bytes (512 MiB).
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// TensorFlow's EfficientNet evaluation crop: the centre `224 / (224 + 32)` of the shorter side.
const CROP_PADDING: usize = 32;

/// How pixel values (0–255) are scaled before entering the network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalization {
    /// `(v - 127) / 128` per channel: what the TensorFlow EfficientNet-Lite checkpoints were
    /// trained with (`MEAN_RGB = 127`, `STDDEV_RGB = 128` in `efficientnet_lite_builder.py`).
    Lite,
    /// ImageNet mean/std on the 0–1 scale (`mean = [0.485, 0.456, 0.406]`, `std = [0.229, 0.224, 0.225]`).
    ImageNet,
}

impl Normalization {
    fn mean_std(self) -> ([f32; 3], [f32; 3]) {
        match self {
            Normalization::Lite => ([127.0; 3], [128.0; 3]),
            Normalization::ImageNet => (
                [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
                [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
            ),
        }
    }
}

/// Decodes a JPEG, PNG, WebP or GIF (first frame) picture and applies its EXIF orientation.
///
/// Rejects pictures over [`MAX_PICTURE_BYTES`], [`MAX_DIMENSION`] or [`MAX_PIXELS`] before
/// decoding their pixels.
pub fn decode(picture: &[u8]) -> Result<DynamicImage, DetectError> {
    if picture.is_empty() {
        return Err(DetectError::NotAnImage("empty file".into()));
    }
    if picture.len() > MAX_PICTURE_BYTES {
        return Err(DetectError::TooLarge(format!(
            "{} bytes, at most {MAX_PICTURE_BYTES} accepted",
            picture.len()
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .map_err(|e| DetectError::NotAnImage(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg) => {
            if !crate::jpeg::is_complete(picture) {
                return Err(DetectError::Truncated(
                    "JPEG data ends before its end-of-image marker".into(),
                ));
            }
        }
        Some(ImageFormat::WebP) => {
            // The RIFF header states the file size: a shorter file was cut off.
            let declared = picture
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 4]| u64::from(u32::from_le_bytes(b)) + 8);
            if declared.is_some_and(|d| (picture.len() as u64) < d) {
                return Err(DetectError::Truncated(format!(
                    "WebP data is {} bytes, its header says {}",
                    picture.len(),
                    declared.unwrap_or_default()
                )));
            }
        }
        Some(ImageFormat::Png | ImageFormat::Gif) => {}
        Some(other) => {
            return Err(DetectError::NotAnImage(format!(
                "unsupported format {other:?}"
            )));
        }
        None => return Err(DetectError::NotAnImage("unrecognised file format".into())),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);

    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(DetectError::NotAnImage(format!("empty picture ({w}x{h})")));
    }
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(DetectError::TooLarge(format!(
            "{w}x{h} pixels, at most {MAX_PIXELS} accepted"
        )));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Estimated peak bytes of decoding `picture` with [`prepare`], read from its header
/// only: the decoded pixels (width × height × bytes per pixel of its colour type), a
/// second copy when the EXIF orientation rotates or flips it, and the RGB8 copy the
/// crop makes. `None` when the header cannot be read (decoding then fails early, with
/// little memory, and reports why).
pub fn decode_cost(picture: &[u8]) -> Option<u64> {
    let reader = ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .ok()?;
    let mut decoder = reader.into_decoder().ok()?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    let decoded = pixels * u64::from(decoder.color_type().bytes_per_pixel());
    let oriented = match decoder.orientation().unwrap_or(Orientation::NoTransforms) {
        Orientation::NoTransforms => 0,
        _ => decoded,
    };
    Some(decoded + oriented + pixels * 3)
}

/// Estimated extra bytes the derived sizes ([`crate::derive`]) need beyond
/// [`decode_cost`]: one more RGB8 copy of the picture (transparency flattened) and the
/// display size. `None` when the header cannot be read.
pub fn derive_cost(picture: &[u8]) -> Option<u64> {
    let (w, h) = ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    let display = u64::from(postagram_core::keys::DerivedSize::Display.long_side()).pow(2);
    Some((u64::from(w) * u64::from(h) + display) * 3)
}

/// Maps the `image` crate's errors onto ours.
fn map_image_error(e: ImageError) -> DetectError {
    match e {
        ImageError::Limits(l) => DetectError::TooLarge(l.to_string()),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DetectError::Truncated(io.to_string())
        }
        ImageError::Decoding(d) => {
            let msg = d.to_string();
            if looks_truncated(&msg) {
                DetectError::Truncated(msg)
            } else {
                DetectError::NotAnImage(format!("corrupt picture: {msg}"))
            }
        }
        other => DetectError::NotAnImage(other.to_string()),
    }
}

fn looks_truncated(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "unexpected end",
        "truncat",
        "no more data",
        "not enough data",
        "fill whole buffer",
        "exhausted",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Centre crop (TensorFlow's padded centre crop) and resize to 224×224 RGB.
pub fn crop_and_resize(img: &DynamicImage) -> RgbImage {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    let short = w.min(h) as usize;
    // int(224 / (224 + 32) * short), at least one pixel.
    let crop = ((INPUT_SIZE * short) / (INPUT_SIZE + CROP_PADDING)).max(1) as u32;
    let x = (w - crop).div_ceil(2);
    let y = (h - crop).div_ceil(2);
    let view = image::imageops::crop_imm(&rgb, x.min(w - crop), y.min(h - crop), crop, crop);
    let size = INPUT_SIZE as u32;
    if crop > size * 2 {
        // Big photos: area averaging first (fast, no aliasing), then a clean final resize.
        let small = image::imageops::thumbnail(&*view, size * 2, size * 2);
        image::imageops::resize(&small, size, size, FilterType::CatmullRom)
    } else {
        image::imageops::resize(&*view, size, size, FilterType::CatmullRom)
    }
}

/// `(3, 224, 224)` f32 tensor in channel-first order, normalised.
pub fn to_tensor(rgb: &RgbImage, norm: Normalization) -> Result<Tensor, DetectError> {
    let (w, h) = rgb.dimensions();
    let (w, h) = (w as usize, h as usize);
    let (mean, std) = norm.mean_std();
    let mut data = vec![0f32; 3 * w * h];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (f32::from(px[c]) - mean[c]) / std[c];
        }
    }
    Ok(Tensor::from_vec(data, (3, h, w), &Device::Cpu)?)
}

/// Decode, crop, resize and normalise: the network's input for one picture.
pub fn prepare(picture: &[u8], norm: Normalization) -> Result<Tensor, DetectError> {
    let img = decode(picture)?;
    to_tensor(&crop_and_resize(&img), norm)
}
