//! Shared test support: the scripted API server (tower-test) and the loopback API server.
#![allow(dead_code)]

pub mod scripted;
