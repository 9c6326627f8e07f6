//! Patch extraction for a dense convolution with TensorFlow "SAME" padding.
//!
//! The stem (3 -> 32 channels, 3x3, stride 2) runs as `weight (32, 27) x patches (27, h*w)`;
//! this builds the patch matrix in one pass, zero padding included, which is
//! several times faster than padding the input and calling candle's `conv2d`.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};

use super::padding::same_padding;

/// Turns a `(channels, h, w)` tensor into the `(channels * k * k, oh * ow)` patch matrix.
///
/// Row `c * k * k + ky * k + kx` matches a PyTorch `(out, in, k, k)` kernel flattened to
/// `(out, in * k * k)`.
#[derive(Debug, Clone, Copy)]
pub struct Im2Col {
    /// Kernel size (square).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col-same"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (c, h, w) = layout.shape().dims3()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("im2col: input must be contiguous");
        };
        let input = &storage.as_slice::<f32>()?[start..end];
        let (k, s) = (self.kernel, self.stride.max(1));
        let (pt, _, oh) = same_padding(h, k, s);
        let (pl, _, ow) = same_padding(w, k, s);
        let mut out = vec![0f32; c * k * k * oh * ow];
        for ci in 0..c {
            let plane = &input[ci * h * w..(ci + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let row = (ci * k + ky) * k + kx;
                    let dst = &mut out[row * oh * ow..(row + 1) * oh * ow];
                    for oy in 0..oh {
                        let iy = oy * s + ky;
                        if iy < pt || iy - pt >= h {
                            continue;
                        }
                        let src = &plane[(iy - pt) * w..(iy - pt + 1) * w];
                        let d = &mut dst[oy * ow..(oy + 1) * ow];
                        for (ox, v) in d.iter_mut().enumerate() {
                            let ix = ox * s + kx;
                            if ix >= pl && ix - pl < w {
                                *v = src[ix - pl];
                            }
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((c * k * k, oh * ow))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DetectError;
    use candle_core::{Device, Tensor};

    #[test]
    fn matmul_of_patches_equals_padded_conv2d() -> Result<(), DetectError> {
        let dev = Device::Cpu;
        for &(h, w, k, s) in &[(9, 9, 3, 2), (8, 10, 3, 2), (7, 7, 3, 1), (6, 6, 5, 2)] {
            let (c, o) = (3, 4);
            let x = Tensor::from_vec(
                (0..c * h * w)
                    .map(|i| (i as f32 * 0.3).sin())
                    .collect::<Vec<_>>(),
                (c, h, w),
                &dev,
            )?;
            let kern = Tensor::from_vec(
                (0..o * c * k * k)
                    .map(|i| (i as f32 * 0.7).cos())
                    .collect::<Vec<_>>(),
                (o, c, k, k),
                &dev,
            )?;
            let (pt, pb, oh) = same_padding(h, k, s);
            let (pl, pr, ow) = same_padding(w, k, s);
            let want = x
                .unsqueeze(0)?
                .pad_with_zeros(2, pt, pb)?
                .pad_with_zeros(3, pl, pr)?
                .conv2d(&kern, 0, s, 1, 1)?
                .squeeze(0)?;
            let patches = x.apply_op1_no_bwd(&Im2Col {
                kernel: k,
                stride: s,
            })?;
            let got = kern
                .reshape((o, c * k * k))?
                .matmul(&patches)?
                .reshape((o, oh, ow))?;
            let diff = (got - want)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(diff < 1e-4, "{h}x{w} k{k} s{s}: {diff}");
        }
        Ok(())
    }
}
