//! Rampart's integration tests: one binary, one module per area.

// Test code fails by panicking; clippy exempts #[test] functions but not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod support_selftest;

mod admin;
mod aws;
mod cli;
mod config;
mod error_bodies;
mod failures;
mod headers;
mod iac;
mod proxying;
mod tls;
mod verify;
