//! Integration tests: the real server on a random port, called through a real socket.

#![allow(clippy::unwrap_used)]

mod helpers;

mod abuse;
mod auth;
mod binary;
mod connections;
mod labels;
mod names;
mod objects;
mod ops;
mod persistence;
mod pictures;
mod posts;
mod rejections;
mod uploads;
mod users;
