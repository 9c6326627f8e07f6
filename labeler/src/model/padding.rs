//! TensorFlow "SAME" padding.
//!
//! The weights were trained in TensorFlow, whose `padding="SAME"` makes the
//! output `ceil(input / stride)` long and puts the odd pixel of padding at the
//! end (right / bottom). PyTorch's symmetric padding would shift every
//! stride-2 layer by one pixel.

/// Padding `(before, after)` for one spatial axis, and the output length.
///
/// `before + after = max((out - 1) * stride + kernel - input, 0)` with
/// `out = ceil(input / stride)`; `before` gets the smaller half.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let stride = stride.max(1);
    let out = input.div_ceil(stride);
    let needed = (out.saturating_sub(1) * stride + kernel).saturating_sub(input);
    let before = needed / 2;
    (before, needed - before, out)
}

#[cfg(test)]
mod tests {
    use super::same_padding;

    #[test]
    fn stride_one_is_symmetric() {
        assert_eq!(same_padding(112, 3, 1), (1, 1, 112));
        assert_eq!(same_padding(14, 5, 1), (2, 2, 14));
        assert_eq!(same_padding(7, 1, 1), (0, 0, 7));
    }

    #[test]
    fn stride_two_pads_the_end_more() {
        // 224 -> 112 with a 3x3 kernel needs one pixel, all of it at the end.
        assert_eq!(same_padding(224, 3, 2), (0, 1, 112));
        // 56 -> 28 with 5x5: 27*2+5-56 = 3 -> 1 before, 2 after.
        assert_eq!(same_padding(56, 5, 2), (1, 2, 28));
        assert_eq!(same_padding(28, 3, 2), (0, 1, 14));
        assert_eq!(same_padding(14, 5, 2), (1, 2, 7));
    }

    #[test]
    fn odd_inputs() {
        // 7 -> 4 with 3x3/2: 3*2+3-7 = 2 -> 1 and 1.
        assert_eq!(same_padding(7, 3, 2), (1, 1, 4));
        // 1 -> 1 with 5x5/2: 0*2+5-1 = 4 -> 2 and 2.
        assert_eq!(same_padding(1, 5, 2), (2, 2, 1));
    }
}
