//! Per-channel bias plus optional ReLU6 in one pass.
//!
//! `broadcast_add` followed by `clamp` walks (and allocates) the activation
//! three times; after every convolution that adds up, so it is fused here.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::DetectError;

/// Adds `bias[c]` to every element of channel `c` of a `(channels, …)` tensor, then
/// clamps to `[0, 6]` if `relu6`.
#[derive(Debug, Clone)]
pub struct BiasAct {
    bias: Vec<f32>,
    relu6: bool,
}

impl BiasAct {
    /// Builds the op from a `(channels)` bias tensor.
    pub fn new(bias: &Tensor, relu6: bool) -> Result<Self, DetectError> {
        Ok(BiasAct {
            bias: bias.flatten_all()?.to_vec1::<f32>()?,
            relu6,
        })
    }

    /// Applies the op to a tensor whose first dimension is the channel.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, DetectError> {
        Ok(x.contiguous()?.apply_op1_no_bwd(self)?)
    }
}

impl CustomOp1 for BiasAct {
    fn name(&self) -> &'static str {
        "bias-relu6"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let shape = layout.shape().clone();
        let channels = shape.dims().first().copied().unwrap_or(0);
        if channels != self.bias.len() {
            candle_core::bail!(
                "bias-relu6: {channels} channels, {} biases",
                self.bias.len()
            );
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("bias-relu6: input must be contiguous");
        };
        let input = &storage.as_slice::<f32>()?[start..end];
        let per_channel = input.len() / channels.max(1);
        let mut out = Vec::with_capacity(input.len());
        for (chunk, &b) in input.chunks_exact(per_channel.max(1)).zip(&self.bias) {
            if self.relu6 {
                out.extend(chunk.iter().map(|&v| (v + b).clamp(0.0, 6.0)));
            } else {
                out.extend(chunk.iter().map(|&v| v + b));
            }
        }
        Ok((CpuStorage::F32(out), shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_broadcast_add_and_clamp() -> Result<(), DetectError> {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..24).map(|i| i as f32 - 10.0).collect::<Vec<_>>(),
            (3, 2, 4),
            &dev,
        )?;
        let bias = Tensor::from_vec(vec![1.0f32, -2.0, 0.5], 3, &dev)?;
        let want = x
            .broadcast_add(&bias.reshape((3, 1, 1))?)?
            .clamp(0f32, 6f32)?;
        let got = BiasAct::new(&bias, true)?.forward(&x)?;
        assert_eq!(got.to_vec3::<f32>()?, want.to_vec3::<f32>()?);
        let plain = BiasAct::new(&bias, false)?.forward(&x)?;
        assert_eq!(
            plain.to_vec3::<f32>()?,
            x.broadcast_add(&bias.reshape((3, 1, 1))?)?
                .to_vec3::<f32>()?
        );
        Ok(())
    }
}
