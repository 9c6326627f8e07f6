//! The settings contract shared by every Postagram binary and the operator: environment
//! variable names ([`env`]), their shared defaults ([`defaults`]), the flag groups more than
//! one binary uses ([`args`]), the one log initialisation ([`log`]) and the one shutdown
//! signal ([`shutdown`]). Compiled without any feature, so the operator and the TUI use it
//! without SQLite or the AWS SDK.

pub mod args;
pub mod defaults;
pub mod env;
pub mod log;
pub mod shutdown;

pub use args::{
    AwsArgs, DetectorArgs, DetectorKind, ListenArgs, LogArgs, LogFormat, ModelArgs, SettingError,
};
