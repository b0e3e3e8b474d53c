//! Rampart's integration tests: one binary, one module per area.
mod support;
mod support_selftest;

mod cli;
mod config;
mod failures;
mod headers;
mod proxying;
