//! Defaults of the settings more than one binary (or the operator) relies on, written once.

/// Port every Postagram HTTP server listens on inside a pod (API, labeler worker, operator).
pub const HTTP_PORT: u16 = 8080;
/// Listen address of every Postagram HTTP server when `POSTAGRAM_ADDR` is unset.
pub const ADDR: &str = "0.0.0.0:8080";
/// Data folder of the embedded store when `POSTAGRAM_DATA_DIR` is unset.
pub const DATA_DIR: &str = "./data";
/// Mount path of the embedded data volume in the pods the operator builds.
pub const DATA_MOUNT: &str = "/data";
/// Local model weights, relative to the working directory (`make model` writes them).
pub const MODEL_PATH: &str = "models/efficientnet-lite0.safetensors";
/// Most labels kept per picture.
pub const MAX_LABELS: u32 = 5;
/// Least confidence, in percent, for a label to be kept. The local model spreads its
/// probability over 1 000 classes, so a higher bar (75) drops most correct labels.
pub const MIN_CONFIDENCE: u8 = 10;
/// Log filter when `RUST_LOG` is unset.
pub const RUST_LOG: &str = "info";
