//! The API tests' helpers: `TestApp` (the real server on a random port with its own data
//! directory) and its request helpers live in `postagram-testkit` (core/testkit), shared
//! with the aws tests; this adds what only this crate's tests can name.

pub use postagram_testkit::*;

/// The `postagram-api` binary of this build, for [`TestApp::binary`].
pub const API_BIN: &str = env!("CARGO_BIN_EXE_postagram-api");
