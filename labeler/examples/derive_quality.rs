//! Bytes, decode time and loss (PSNR against the unencoded pixels) of the derived sizes
//! per JPEG quality, on the test photos:
//! `cargo run --release -p postagram-labeler --example derive_quality` (numbers in
//! BENCHMARKS.md, "Derived pictures").

use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use postagram_core::keys::DerivedSize;
use postagram_labeler::derive::fit;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/photos");
    let names = [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "horse.png",
    ];
    let photos: Vec<RgbImage> = names
        .iter()
        .map(|n| {
            image::open(dir.join(n))
                .unwrap_or_else(|e| panic!("{n}: {e} (scripts/fetch-test-photos.sh)"))
                .to_rgb8()
        })
        .collect();
    // A phone-sized picture: the photos tiled into 4000×3000 (real detail, no upscaling blur).
    let big = RgbImage::from_fn(4000, 3000, |x, y| {
        let p = &photos[((x / 500 + y / 500) as usize) % photos.len()];
        *p.get_pixel(x % p.width(), y % p.height())
    });
    for size in DerivedSize::ALL {
        println!("{} (long side {}):", size.as_str(), size.long_side());
        for q in [60u8, 70, 75, 80, 85, 90] {
            let (mut bytes, mut decode_us, mut n, mut psnr) = (0usize, 0u128, 0u32, 0f64);
            for img in photos.iter().chain(std::iter::once(&big)) {
                let (w, h) = fit(img.width(), img.height(), size.long_side());
                let small = image::imageops::thumbnail(img, w, h);
                let mut out = Vec::new();
                JpegEncoder::new_with_quality(&mut out, q)
                    .encode_image(&small)
                    .expect("encode");
                let start = Instant::now();
                for _ in 0..20 {
                    image::load_from_memory(&out).expect("decode");
                }
                let back = image::load_from_memory(&out).expect("decode").to_rgb8();
                let mse = small
                    .as_raw()
                    .iter()
                    .zip(back.as_raw())
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>()
                    / small.as_raw().len() as f64;
                psnr += 10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10();
                decode_us += start.elapsed().as_micros() / 20;
                bytes += out.len();
                n += 1;
            }
            println!(
                "  q{q}: mean {:>6} bytes, decode {:>5} µs, PSNR {:.1} dB",
                bytes / n as usize,
                decode_us / u128::from(n),
                psnr / f64::from(n)
            );
        }
    }
}
