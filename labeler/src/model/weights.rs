//! Loading the safetensors weights by name, with shape checks and batch-norm folding.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::DetectError;

/// Batch-norm epsilon of the TensorFlow EfficientNet-Lite checkpoints.
pub const BN_EPSILON: f64 = 1e-3;

/// The named tensors of a checkpoint.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    /// Reads a safetensors file onto the CPU.
    pub fn load(path: &Path) -> Result<Self, DetectError> {
        if !path.is_file() {
            return Err(DetectError::Model(format!(
                "model file {} not found (run `make model` or scripts/fetch-model.sh)",
                path.display()
            )));
        }
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| DetectError::Model(format!("reading {}: {e}", path.display())))?;
        Ok(Weights { tensors })
    }

    /// Wraps already loaded tensors (tests).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Self {
        Weights { tensors }
    }

    /// The f32 tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, DetectError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| DetectError::Model(format!("weight {name} missing")))?;
        if t.dims() != shape {
            return Err(DetectError::Model(format!(
                "weight {name} has shape {:?}, expected {shape:?}",
                t.dims()
            )));
        }
        Ok(t.to_dtype(DType::F32)?)
    }

    /// Folds batch norm `prefix.{weight,bias,running_mean,running_var}` into the
    /// preceding bias-free convolution `conv` (output channels first).
    ///
    /// Returns the scaled kernel and the new bias: `y = conv(x) * s + (beta - mean * s)`
    /// with `s = gamma / sqrt(var + eps)`.
    pub fn fold_batch_norm(
        &self,
        conv: &Tensor,
        prefix: &str,
    ) -> Result<(Tensor, Tensor), DetectError> {
        let out = conv.dim(0)?;
        let gamma = self.get(&format!("{prefix}.weight"), &[out])?;
        let beta = self.get(&format!("{prefix}.bias"), &[out])?;
        let mean = self.get(&format!("{prefix}.running_mean"), &[out])?;
        let var = self.get(&format!("{prefix}.running_var"), &[out])?;
        let scale = gamma.div(&(var + BN_EPSILON)?.sqrt()?)?;
        let mut scale_shape = vec![out];
        scale_shape.resize(conv.rank(), 1);
        let kernel = conv.broadcast_mul(&scale.reshape(scale_shape)?)?;
        let bias = beta.sub(&mean.mul(&scale)?)?;
        Ok((kernel, bias))
    }
}
