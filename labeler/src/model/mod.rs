//! The EfficientNet-Lite0 network and the pieces it is built from.

pub mod depthwise;
pub mod efficientnet;
pub mod padding;
pub mod weights;

pub use efficientnet::EfficientNetLite0;
