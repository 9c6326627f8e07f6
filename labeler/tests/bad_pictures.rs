//! Picture guards: what is rejected before the model runs, and with which error.
//! These tests need no model file.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use postagram_labeler::preprocess::{self, Normalization, MAX_PICTURE_BYTES};
use postagram_labeler::DetectError;

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    if let Err(e) = img.write_to(&mut out, format) {
        panic!("encoding test picture: {e}");
    }
    out.into_inner()
}

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + y) % 256) as u8,
        ])
    }))
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A tiny PNG file whose header claims `w` x `h` RGB pixels (a decompression bomb).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    // A few bytes of a zlib stream; the header alone must be enough to reject it.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn text_file_is_not_an_image() {
    let err = preprocess::decode(b"hello, this is a text file\n").err();
    assert!(matches!(err, Some(DetectError::NotAnImage(_))), "{err:?}");
    assert!(err.is_some_and(|e| e.is_bad_picture()));
}

#[test]
fn empty_file_is_not_an_image() {
    assert!(matches!(
        preprocess::decode(b""),
        Err(DetectError::NotAnImage(_))
    ));
}

#[test]
fn truncated_jpeg_is_reported_as_truncated() {
    let jpeg = encode(&gradient(256, 192), ImageFormat::Jpeg);
    assert!(preprocess::decode(&jpeg).is_ok());
    for cut in [jpeg.len() / 2, jpeg.len() - 10, 600] {
        let err = preprocess::decode(&jpeg[..cut]).err();
        assert!(
            matches!(err, Some(DetectError::Truncated(_))),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn truncated_png_is_reported_as_truncated() {
    let png = encode(&gradient(256, 192), ImageFormat::Png);
    let err = preprocess::decode(&png[..png.len() / 2]).err();
    assert!(matches!(err, Some(DetectError::Truncated(_))), "{err:?}");
}

#[test]
fn truncated_gif_and_webp_are_bad_pictures() {
    for format in [ImageFormat::Gif, ImageFormat::WebP] {
        let bytes = encode(&gradient(128, 96), format);
        let err = preprocess::decode(&bytes[..bytes.len() / 2]).err();
        assert!(
            matches!(err, Some(DetectError::Truncated(_))),
            "{format:?}: {err:?}"
        );
    }
}

#[test]
fn one_pixel_png_is_prepared() {
    let png = encode(&gradient(1, 1), ImageFormat::Png);
    let t = preprocess::prepare(&png, Normalization::Lite);
    match t {
        Ok(t) => assert_eq!(t.dims(), &[3, 224, 224]),
        Err(e) => panic!("1x1 PNG rejected: {e}"),
    }
}

#[test]
fn all_supported_formats_decode() {
    let img = gradient(40, 30);
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ] {
        let bytes = encode(&img, format);
        match preprocess::decode(&bytes) {
            Ok(d) => assert_eq!((d.width(), d.height()), (40, 30), "{format:?}"),
            Err(e) => panic!("{format:?}: {e}"),
        }
    }
}

#[test]
fn huge_dimension_png_bomb_is_too_large() {
    // 100 000 x 100 000 pixels claimed by a ~70 byte file: over the dimension limit.
    let err = preprocess::decode(&png_claiming(100_000, 100_000)).err();
    assert!(matches!(err, Some(DetectError::TooLarge(_))), "{err:?}");
    // 10 000 x 10 000 is under the per-side limit but 100 megapixels.
    let err = preprocess::decode(&png_claiming(10_000, 10_000)).err();
    assert!(matches!(err, Some(DetectError::TooLarge(_))), "{err:?}");
}

#[test]
fn oversized_file_is_too_large() {
    let mut big = encode(&gradient(8, 8), ImageFormat::Png);
    big.resize(MAX_PICTURE_BYTES + 1, 0);
    assert!(matches!(
        preprocess::decode(&big),
        Err(DetectError::TooLarge(_))
    ));
}

#[test]
fn exif_orientation_is_applied() {
    // A 40x20 JPEG with an EXIF Orientation=6 (rotate 90° clockwise) APP1 segment.
    let jpeg = encode(&gradient(40, 20), ImageFormat::Jpeg);
    let mut exif =
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    app1.append(&mut exif);
    let mut with_exif = jpeg[..2].to_vec(); // SOI
    with_exif.extend_from_slice(&app1);
    with_exif.extend_from_slice(&jpeg[2..]);
    match preprocess::decode(&with_exif) {
        Ok(d) => assert_eq!((d.width(), d.height()), (20, 40)),
        Err(e) => panic!("{e}"),
    }
}
