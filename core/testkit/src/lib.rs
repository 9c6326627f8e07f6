//! Test support shared by the Postagram crates' tests (a dev-dependency only, never
//! published): one copy of what the tests of several crates used to include with
//! `#[path]`.
//!
//! - [`moto`]: starts the real AWS API emulator (`moto_server`) on a free port (core's
//!   DynamoDB/S3 tests, the API's aws tests, the labeler's Lambda test).
//! - With feature `api`: [`TestApp`], the real `postagram-api` on a real socket (in-process
//!   or as its binary), its request helpers (one method per request the tests send), the
//!   error-body assertion, tiny pictures, and raw-socket helpers for what an HTTP client
//!   will not do.
//! - [`exiftool`]: the real ExifTool writing and reading picture metadata (privacy tests).
//! - With feature `aws`: [`moto::Moto::settings`], AWS client settings for the emulator.

pub mod exiftool;
pub mod moto;

#[cfg(feature = "api")]
mod app;
#[cfg(feature = "api")]
mod assertions;
#[cfg(feature = "api")]
mod big_bodies;
#[cfg(feature = "api")]
mod pictures;
#[cfg(feature = "api")]
mod raw;
#[cfg(feature = "api")]
mod requests;

#[cfg(feature = "api")]
pub use app::{header_mode, TestApp};
#[cfg(feature = "api")]
pub use assertions::{assert_error, assert_token_revoked_everywhere};
#[cfg(feature = "api")]
pub use big_bodies::{assert_big_bodies_get_413, big_json};
#[cfg(feature = "api")]
pub use pictures::{jpeg_bytes, png_bytes};
#[cfg(feature = "api")]
pub use raw::{closed_within, read_response, RawResponse};
