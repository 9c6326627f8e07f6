//! The EfficientNet-Lite0 network and the pieces it is built from.

pub mod bias_act;
pub mod depthwise;
pub mod efficientnet;
pub mod im2col;
pub mod padding;
pub mod weights;

pub use efficientnet::EfficientNetLite0;
