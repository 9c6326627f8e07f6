//! Postagram's domain: posts, users, labels, their wire form, and the storage
//! traits (with the embedded SQLite + picture-folder backends) every binary shares.
//!
//! Without default features only the wire types are compiled, so clients such as the
//! TUI do not build SQLite.

pub mod id;
pub mod label;
pub mod private_fs;
#[cfg(feature = "openapi")]
pub mod schemas;
pub mod settings;
pub mod username;
pub mod validate;
pub mod wire;

#[cfg(feature = "storage")]
pub mod accounts;
#[cfg(feature = "storage")]
pub mod blob;
#[cfg(feature = "storage")]
pub mod cursor;
#[cfg(feature = "storage")]
pub mod jobs;
#[cfg(feature = "storage")]
pub mod keys;
#[cfg(feature = "storage")]
pub mod media;
#[cfg(feature = "storage")]
pub mod model;
#[cfg(feature = "storage")]
pub mod signing;
#[cfg(feature = "storage")]
pub mod store;

#[cfg(feature = "embedded")]
pub mod folder;
#[cfg(feature = "embedded")]
pub mod sqlite;

pub use id::{parse_post_id, PostId};
pub use label::{Label, LabelStatus};

#[cfg(feature = "aws")]
pub mod aws;
