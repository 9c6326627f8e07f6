//! The settings contract shared by every Postagram binary and the operator: environment
//! variable names ([`env`]) and their shared defaults ([`defaults`]). Compiled without any
//! feature, so the operator and the TUI use it without SQLite or the AWS SDK.

pub mod defaults;
pub mod env;
