//! rampart-proxy: a reverse proxy that makes every response carry a security-header policy,
//! never shows the stack behind it, and fails with generic errors.
//!
//! The binary is a thin shell over this library; tests run the same code in-process.
#![forbid(unsafe_code)]

pub mod admin;
pub mod body;
pub mod check;
pub mod cli;
pub mod client;
pub mod decode;
pub mod demo;
pub mod error;
pub mod forward;
pub mod generic;
pub mod h1;
mod header_map;
pub mod hop;
pub mod layers;
pub mod listeners;
pub mod logging;
pub mod metrics;
pub mod redirect;
pub mod server;
pub mod signals;
pub mod state;
pub mod tls;
pub mod upstream;
mod wire;

pub use server::{ProxyHandle, serve, start};
pub use state::{ReloadError, Runtime, Shared};
