//! Test support shared by every area of the integration tests: a scriptable
//! origin server and raw/HTTP clients.

// Each area uses its own subset of the helpers.
#![allow(dead_code)]
// Helpers fail the calling test by panicking; clippy only exempts #[test]
// functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bin;
pub mod client;
pub mod moto;
pub mod origin;
pub mod proxy;
pub mod temp;
pub mod tls;

// Shortcuts for the areas; until one uses a name, rustc calls it unused.
#[allow(unused_imports)]
pub use client::{
    RawConn, RawResponse, h2c_client, h2c_get, h2c_send, http_client, raw_exchange, ws_connect,
};
#[allow(unused_imports)]
pub use origin::{OriginBody, RecordedRequest, TestOrigin};
#[allow(unused_imports)]
pub use proxy::TestProxy;
