//! `postagram-api`: the REST API (posts, auth, uploads, OpenAPI, probes, metrics) and,
//! in embedded mode, the in-process labeler workers.

pub mod all_posts;
pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod error;
pub mod extract;
pub mod http_cache;
pub mod json;
pub mod labeling;
pub mod limits;
pub mod list_cache;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod startup;
pub mod state;
