//! Depthwise convolution with TensorFlow "SAME" padding, fused bias and ReLU6.
//!
//! candle runs a grouped convolution as one convolution per group, which is
//! very slow for depthwise layers (up to 1152 groups). This custom op does the
//! whole layer in one pass over a contiguous `(channels, height, width)` f32
//! tensor.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::padding::same_padding;
use crate::DetectError;

/// A depthwise `k x k` convolution (one filter per channel) plus bias and optional ReLU6.
#[derive(Debug, Clone)]
pub struct DepthwiseConv {
    weight: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    kernel: usize,
    stride: usize,
    relu6: bool,
}

impl DepthwiseConv {
    /// Builds the op from a `(channels, 1, k, k)` kernel and a `(channels)` bias.
    pub fn new(
        kernel: &Tensor,
        bias: &Tensor,
        stride: usize,
        relu6: bool,
    ) -> Result<Self, DetectError> {
        let (channels, one, kh, kw) = kernel.dims4()?;
        if one != 1 || kh != kw || kh == 0 || stride == 0 {
            return Err(DetectError::Model(format!(
                "depthwise kernel of shape {:?} / stride {stride} not supported",
                kernel.dims()
            )));
        }
        if bias.dims() != [channels] {
            return Err(DetectError::Model(format!(
                "depthwise bias shape {:?}",
                bias.dims()
            )));
        }
        Ok(DepthwiseConv {
            weight: kernel.flatten_all()?.to_vec1::<f32>()?,
            bias: bias.to_vec1::<f32>()?,
            channels,
            kernel: kh,
            stride,
            relu6,
        })
    }

    /// Runs the op on a `(channels, height, width)` tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, DetectError> {
        Ok(x.contiguous()?.apply_op1_no_bwd(self)?)
    }

    /// The convolution on plain slices; `input` is `(channels, h, w)` row-major.
    pub fn run(&self, input: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
        let (k, s) = (self.kernel, self.stride);
        let (pad_top, _, oh) = same_padding(h, k, s);
        let (pad_left, _, ow) = same_padding(w, k, s);
        let mut out = vec![0f32; self.channels * oh * ow];
        for c in 0..self.channels {
            let plane = &input[c * h * w..(c + 1) * h * w];
            let filt = &self.weight[c * k * k..(c + 1) * k * k];
            let dst = &mut out[c * oh * ow..(c + 1) * oh * ow];
            dst.fill(self.bias[c]);
            for ky in 0..k {
                for kx in 0..k {
                    let wgt = filt[ky * k + kx];
                    // Output columns whose input column ox*s + kx - pad_left is inside [0, w).
                    let ox_lo = pad_left.saturating_sub(kx).div_ceil(s);
                    let ox_hi = ((w + pad_left).saturating_sub(kx)).div_ceil(s).min(ow);
                    if ox_lo >= ox_hi {
                        continue;
                    }
                    for oy in 0..oh {
                        let iy = oy * s + ky;
                        if iy < pad_top || iy - pad_top >= h {
                            continue;
                        }
                        let row = &plane[(iy - pad_top) * w..(iy - pad_top + 1) * w];
                        let out_row = &mut dst[oy * ow..(oy + 1) * ow];
                        let ix0 = ox_lo * s + kx - pad_left;
                        if s == 1 {
                            let n = ox_hi - ox_lo;
                            for (o, i) in out_row[ox_lo..ox_hi].iter_mut().zip(&row[ix0..ix0 + n]) {
                                *o += wgt * i;
                            }
                        } else {
                            for (j, o) in out_row[ox_lo..ox_hi].iter_mut().enumerate() {
                                *o += wgt * row[ix0 + j * s];
                            }
                        }
                    }
                }
            }
            if self.relu6 {
                for v in dst.iter_mut() {
                    *v = v.clamp(0.0, 6.0);
                }
            }
        }
        (out, oh, ow)
    }
}

impl CustomOp1 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "depthwise-conv-same"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (c, h, w) = layout.shape().dims3()?;
        if c != self.channels {
            candle_core::bail!(
                "depthwise conv: {c} channels in, {} expected",
                self.channels
            );
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("depthwise conv: input must be contiguous");
        };
        let input = &storage.as_slice::<f32>()?[start..end];
        let (out, oh, ow) = self.run(input, h, w);
        Ok((CpuStorage::F32(out), Shape::from((c, oh, ow))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Reference: explicit zero padding, then a direct convolution.
    fn reference(
        input: &[f32],
        c: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        k: usize,
        s: usize,
    ) -> Vec<f32> {
        let (pt, _, oh) = same_padding(h, k, s);
        let (pl, _, ow) = same_padding(w, k, s);
        let mut out = vec![0f32; c * oh * ow];
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0f32;
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky) as isize - pt as isize;
                            let ix = (ox * s + kx) as isize - pl as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                acc += input[ch * h * w + iy as usize * w + ix as usize]
                                    * wt[ch * k * k + ky * k + kx];
                            }
                        }
                    }
                    out[ch * oh * ow + oy * ow + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn matches_reference_for_all_shapes() -> Result<(), DetectError> {
        for &(h, w, k, s) in &[
            (7, 7, 3, 1),
            (8, 8, 3, 2),
            (9, 6, 5, 2),
            (5, 5, 5, 1),
            (1, 1, 5, 2),
            (14, 14, 5, 2),
        ] {
            let c = 3;
            let input: Vec<f32> = (0..c * h * w)
                .map(|i| ((i * 37 % 17) as f32) - 8.0)
                .collect();
            let wt: Vec<f32> = (0..c * k * k)
                .map(|i| ((i * 13 % 7) as f32) * 0.25 - 0.5)
                .collect();
            let kernel = Tensor::from_vec(wt.clone(), (c, 1, k, k), &Device::Cpu)?;
            let bias = Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu)?;
            let op = DepthwiseConv::new(&kernel, &bias, s, false)?;
            let x = Tensor::from_vec(input.clone(), (c, h, w), &Device::Cpu)?;
            let got = op.forward(&x)?;
            let want = reference(&input, c, h, w, &wt, k, s);
            let got_v = got.flatten_all()?.to_vec1::<f32>()?;
            assert_eq!(got_v.len(), want.len(), "{h}x{w} k{k} s{s}");
            for (a, b) in got_v.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "{h}x{w} k{k} s{s}: {a} vs {b}");
            }
        }
        Ok(())
    }

    #[test]
    fn matches_candle_conv2d_with_tf_padding() -> Result<(), DetectError> {
        // Cross-check against candle's own grouped conv with explicit asymmetric padding.
        let (c, h, w, k, s) = (4, 10, 10, 3, 2);
        let input: Vec<f32> = (0..c * h * w).map(|i| (i as f32 * 0.37).sin()).collect();
        let wt: Vec<f32> = (0..c * k * k).map(|i| (i as f32 * 0.91).cos()).collect();
        let bias_v = vec![0.5f32, -1.0, 2.0, 7.0];
        let dev = Device::Cpu;
        let kernel = Tensor::from_vec(wt, (c, 1, k, k), &dev)?;
        let bias = Tensor::from_vec(bias_v, c, &dev)?;
        let x = Tensor::from_vec(input, (c, h, w), &dev)?;
        let got = DepthwiseConv::new(&kernel, &bias, s, true)?.forward(&x)?;
        let (pt, pb, _) = same_padding(h, k, s);
        let (pl, pr, _) = same_padding(w, k, s);
        let padded = x
            .unsqueeze(0)?
            .pad_with_zeros(2, pt, pb)?
            .pad_with_zeros(3, pl, pr)?;
        let want = padded
            .conv2d(&kernel, 0, s, 1, c)?
            .broadcast_add(&bias.reshape((1, c, 1, 1))?)?
            .clamp(0f32, 6f32)?
            .squeeze(0)?;
        let diff = (got - want)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-5, "max diff {diff}");
        Ok(())
    }
}
