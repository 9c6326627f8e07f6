//! The derived pictures made once per upload from the decode that feeds the model: a
//! thumbnail and a display size, upright, as baseline JPEGs without any metadata.
//!
//! The pixels come from [`crate::preprocess::decode`], which has already applied the EXIF
//! orientation. The JPEG encoder of the `image` crate writes only the JFIF header and the
//! pixels: no EXIF (GPS, camera, serial, dates), XMP, IPTC or ICC profile is carried
//! over. The ICC profile is dropped, not converted: the pixel values are kept as they are
//! and shown as sRGB, which is exact for sRGB pictures (nearly every upload) and a little
//! less saturated for wide-gamut (Display P3) ones. Transparent pixels are put on white.

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, RgbImage};
use postagram_core::keys::DerivedSize;

use crate::DetectError;

/// JPEG quality of the display size (see BENCHMARKS.md: bytes and decode time per quality).
pub const DISPLAY_QUALITY: u8 = 80;
/// JPEG quality of the thumbnail.
pub const THUMBNAIL_QUALITY: u8 = 75;
/// The MIME type of every derived picture.
pub const CONTENT_TYPE: &str = "image/jpeg";

/// One derived picture, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedPicture {
    /// Which size it is.
    pub size: DerivedSize,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// The JPEG bytes.
    pub jpeg: Bytes,
}

/// The dimensions of `(w, h)` shrunk so the long side is at most `long` (never grown),
/// keeping the aspect ratio; each side at least 1.
pub fn fit(w: u32, h: u32, long: u32) -> (u32, u32) {
    let side = w.max(h);
    if side <= long {
        return (w, h);
    }
    let scale = |v: u32| (u64::from(v) * u64::from(long) + u64::from(side) / 2) / u64::from(side);
    (scale(w).max(1) as u32, scale(h).max(1) as u32)
}

/// RGB pixels of `img`, with transparency composited on white.
fn flatten(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

fn encode(rgb: &RgbImage, quality: u8) -> Result<Bytes, DetectError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(rgb)
        .map_err(|e| DetectError::Model(format!("encoding a derived picture: {e}")))?;
    Ok(Bytes::from(out))
}

fn shrink(rgb: &RgbImage, long: u32) -> Option<RgbImage> {
    let (w, h) = rgb.dimensions();
    let (tw, th) = fit(w, h, long);
    // Area averaging: fast on 12 MP photos and free of aliasing.
    ((tw, th) != (w, h)).then(|| image::imageops::thumbnail(rgb, tw, th))
}

/// Makes every [`DerivedSize`] of an (already upright) decoded picture: the display size
/// from the full picture, the thumbnail from the display size.
pub fn derive(img: &DynamicImage) -> Result<Vec<DerivedPicture>, DetectError> {
    let full = flatten(img);
    let display = shrink(&full, DerivedSize::Display.long_side()).unwrap_or(full);
    let thumb = shrink(&display, DerivedSize::Thumbnail.long_side());
    let thumb = thumb.as_ref().unwrap_or(&display);
    let picture = |size, rgb: &RgbImage, quality| -> Result<DerivedPicture, DetectError> {
        Ok(DerivedPicture {
            size,
            width: rgb.width(),
            height: rgb.height(),
            jpeg: encode(rgb, quality)?,
        })
    };
    Ok(vec![
        picture(DerivedSize::Thumbnail, thumb, THUMBNAIL_QUALITY)?,
        picture(DerivedSize::Display, &display, DISPLAY_QUALITY)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_long_side_and_never_grows() {
        assert_eq!(fit(4000, 3000, 1280), (1280, 960));
        assert_eq!(fit(3000, 4000, 320), (240, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
        assert_eq!(fit(10_000, 1, 320), (320, 1));
    }

    #[test]
    fn derives_both_sizes_as_plain_jpegs() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2000,
            1000,
            image::Rgba([10, 20, 30, 0]),
        ));
        let out = derive(&img).expect("derive");
        let dims: Vec<_> = out.iter().map(|d| (d.size, d.width, d.height)).collect();
        assert_eq!(
            dims,
            [
                (DerivedSize::Thumbnail, 320, 160),
                (DerivedSize::Display, 1280, 640)
            ]
        );
        for d in &out {
            let back = image::load_from_memory(&d.jpeg).expect("decodes").to_rgb8();
            assert_eq!(back.dimensions(), (d.width, d.height));
            // Fully transparent pixels are white.
            assert!(back.pixels().all(|p| p.0.iter().all(|&c| c > 245)), "white");
            // No metadata the decoder can find (the exiftool test checks with a real tool).
            let mut dec =
                image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&d.jpeg)).expect("jpeg");
            use image::ImageDecoder;
            assert_eq!(dec.exif_metadata().expect("exif"), None);
            assert_eq!(dec.icc_profile().expect("icc"), None);
        }
    }
}
