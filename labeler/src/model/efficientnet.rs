//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile/edge).
//!
//! Differences from EfficientNet-B0, as in TensorFlow's `efficientnet_lite_builder.py`
//! and the `efficientnet_lite_pytorch` port whose weight names we load:
//! no squeeze-and-excitation, ReLU6 instead of swish, and the stem (32
//! channels) and head (1280 channels) are not scaled. Convolutions use
//! TensorFlow "SAME" padding. Batch norm (epsilon 1e-3) is folded into the
//! preceding convolution at load time.

use candle_core::{Tensor, D};

use super::bias_act::BiasAct;
use super::depthwise::DepthwiseConv;
use super::im2col::Im2Col;
use super::padding::same_padding;
use super::weights::Weights;
use crate::DetectError;

/// Input resolution (square).
pub const INPUT_SIZE: usize = 224;
/// Number of ImageNet classes.
pub const NUM_CLASSES: usize = 1000;
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;

/// One stage of MBConv blocks: (repeats, kernel, stride, expand ratio, in, out channels).
#[derive(Debug, Clone, Copy)]
pub struct StageArgs {
    /// How many blocks the stage has.
    pub repeats: usize,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Stride of the stage's first block (the others use 1).
    pub stride: usize,
    /// Expansion ratio of the inverted bottleneck.
    pub expand: usize,
    /// Input channels of the first block.
    pub input: usize,
    /// Output channels of every block.
    pub output: usize,
}

/// Lite0 stages: the EfficientNet-B0 table (width and depth multipliers 1.0).
pub const LITE0_STAGES: [StageArgs; 7] = [
    StageArgs {
        repeats: 1,
        kernel: 3,
        stride: 1,
        expand: 1,
        input: 32,
        output: 16,
    },
    StageArgs {
        repeats: 2,
        kernel: 3,
        stride: 2,
        expand: 6,
        input: 16,
        output: 24,
    },
    StageArgs {
        repeats: 2,
        kernel: 5,
        stride: 2,
        expand: 6,
        input: 24,
        output: 40,
    },
    StageArgs {
        repeats: 3,
        kernel: 3,
        stride: 2,
        expand: 6,
        input: 40,
        output: 80,
    },
    StageArgs {
        repeats: 3,
        kernel: 5,
        stride: 1,
        expand: 6,
        input: 80,
        output: 112,
    },
    StageArgs {
        repeats: 4,
        kernel: 5,
        stride: 2,
        expand: 6,
        input: 112,
        output: 192,
    },
    StageArgs {
        repeats: 1,
        kernel: 3,
        stride: 1,
        expand: 6,
        input: 192,
        output: 320,
    },
];

/// A 1x1 convolution (with folded batch norm) as a matrix product.
struct Pointwise {
    /// `(out, in)`
    weight: Tensor,
    /// Folded batch-norm bias, then ReLU6 or nothing.
    bias_act: BiasAct,
}

impl Pointwise {
    fn load(
        w: &Weights,
        conv: &str,
        bn: &str,
        input: usize,
        output: usize,
        relu6: bool,
    ) -> Result<Self, DetectError> {
        let kernel = w.get(&format!("{conv}.weight"), &[output, input, 1, 1])?;
        let (kernel, bias) = w.fold_batch_norm(&kernel, bn)?;
        Ok(Pointwise {
            weight: kernel.reshape((output, input))?.contiguous()?,
            bias_act: BiasAct::new(&bias, relu6)?,
        })
    }

    /// `(in, h, w)` -> `(out, h, w)`
    fn forward(&self, x: &Tensor) -> Result<Tensor, DetectError> {
        let (c, h, w) = x.dims3()?;
        let y = self.weight.matmul(&x.reshape((c, h * w))?)?;
        let y = self.bias_act.forward(&y)?;
        Ok(y.reshape((self.weight.dim(0)?, h, w))?)
    }
}

/// Mobile inverted bottleneck: expand 1x1, depthwise kxk, project 1x1, maybe residual.
struct MbConv {
    expand: Option<Pointwise>,
    depthwise: DepthwiseConv,
    project: Pointwise,
    residual: bool,
}

impl MbConv {
    fn load(
        w: &Weights,
        index: usize,
        input: usize,
        output: usize,
        args: &StageArgs,
        stride: usize,
    ) -> Result<Self, DetectError> {
        let p = format!("_blocks.{index}");
        let hidden = input * args.expand;
        let expand = if args.expand != 1 {
            Some(Pointwise::load(
                w,
                &format!("{p}._expand_conv"),
                &format!("{p}._bn0"),
                input,
                hidden,
                true,
            )?)
        } else {
            None
        };
        let dw = w.get(
            &format!("{p}._depthwise_conv.weight"),
            &[hidden, 1, args.kernel, args.kernel],
        )?;
        let (dw, dw_bias) = w.fold_batch_norm(&dw, &format!("{p}._bn1"))?;
        let depthwise = DepthwiseConv::new(&dw, &dw_bias, stride, true)?;
        let project = Pointwise::load(
            w,
            &format!("{p}._project_conv"),
            &format!("{p}._bn2"),
            hidden,
            output,
            false,
        )?;
        Ok(MbConv {
            expand,
            depthwise,
            project,
            residual: stride == 1 && input == output,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, DetectError> {
        let h = match &self.expand {
            Some(e) => e.forward(x)?,
            None => x.clone(),
        };
        let h = self.depthwise.forward(&h)?;
        let h = self.project.forward(&h)?;
        if self.residual {
            Ok((h + x)?)
        } else {
            Ok(h)
        }
    }
}

/// The whole network, weights folded and ready for inference.
pub struct EfficientNetLite0 {
    /// `(32, 27)`: the stem kernel flattened for the im2col product.
    stem_weight: Tensor,
    stem_bias_act: BiasAct,
    blocks: Vec<MbConv>,
    head: Pointwise,
    /// `(1280, 1000)`
    fc_weight_t: Tensor,
    fc_bias: Tensor,
}

impl EfficientNetLite0 {
    /// Builds the network from lukemelas-style weight names.
    pub fn new(w: &Weights) -> Result<Self, DetectError> {
        let stem = w.get("_conv_stem.weight", &[STEM_CHANNELS, 3, 3, 3])?;
        let (stem_weight, stem_bias) = w.fold_batch_norm(&stem, "_bn0")?;
        let mut blocks = Vec::new();
        for args in &LITE0_STAGES {
            for r in 0..args.repeats {
                let (input, stride) = if r == 0 {
                    (args.input, args.stride)
                } else {
                    (args.output, 1)
                };
                blocks.push(MbConv::load(
                    w,
                    blocks.len(),
                    input,
                    args.output,
                    args,
                    stride,
                )?);
            }
        }
        let last = LITE0_STAGES[LITE0_STAGES.len() - 1].output;
        let head = Pointwise::load(w, "_conv_head", "_bn1", last, HEAD_CHANNELS, true)?;
        let fc_weight = w.get("_fc.weight", &[NUM_CLASSES, HEAD_CHANNELS])?;
        let fc_bias = w.get("_fc.bias", &[NUM_CLASSES])?;
        Ok(EfficientNetLite0 {
            stem_weight: stem_weight
                .reshape((STEM_CHANNELS, 3 * 3 * 3))?
                .contiguous()?,
            stem_bias_act: BiasAct::new(&stem_bias, true)?,
            blocks,
            head,
            fc_weight_t: fc_weight.t()?.contiguous()?,
            fc_bias: fc_bias.reshape((1, NUM_CLASSES))?,
        })
    }

    /// Logits `(1000)` for one normalised `(3, 224, 224)` picture.
    pub fn forward(&self, image: &Tensor) -> Result<Tensor, DetectError> {
        let (_, h, w) = image.dims3()?;
        let (_, _, oh) = same_padding(h, 3, 2);
        let (_, _, ow) = same_padding(w, 3, 2);
        let patches = image.contiguous()?.apply_op1_no_bwd(&Im2Col {
            kernel: 3,
            stride: 2,
        })?;
        let x = self.stem_weight.matmul(&patches)?;
        let x = self
            .stem_bias_act
            .forward(&x)?
            .reshape((STEM_CHANNELS, oh, ow))?;
        let mut x = x.contiguous()?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = self.head.forward(&x)?;
        let pooled = x.flatten_from(1)?.mean(D::Minus1)?.unsqueeze(0)?;
        let logits = pooled
            .matmul(&self.fc_weight_t)?
            .broadcast_add(&self.fc_bias)?;
        Ok(logits.squeeze(0)?)
    }

    /// Number of MBConv blocks (16 for Lite0).
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }
}
