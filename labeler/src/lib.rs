//! Postagram picture labelling.
//!
//! The [`Detector`] trait is what the rest of the system calls; [`LocalDetector`]
//! implements it with a local EfficientNet-Lite0 ImageNet classifier (candle, CPU
//! only) whose 1000 classes are mapped to short human names and broader
//! categories ("dog", "animal", "drink", …).
//!
//! Public modules are what the binaries and the API use; `bench` serves only the CLI.

pub mod categories;
pub mod cli;
#[cfg(feature = "aws")]
pub mod cloud;
pub mod decode_budget;
pub mod derive;
pub mod detector;
pub mod error;
pub mod jpeg;
pub mod local;
pub mod model;
pub mod pipeline;
pub mod preprocess;
pub mod worker_args;

mod bench;

pub use detector::{DetectOptions, Detector};
pub use error::DetectError;
pub use local::LocalDetector;
pub use postagram_core::Label;
