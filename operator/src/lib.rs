//! `postagram-operator`: reconciles `Postagram` custom resources into the Postagram stack
//! (API, labeler, storage, autoscaling, ingress) with server-side apply.

pub mod cli;
pub mod controller;
pub mod crd;
pub mod desired;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod server;
pub mod status;
