//! TLS termination for the proxy's listener: certificates from PEM files chosen by SNI, TLS 1.2
//! and 1.3 with AEAD/ECDHE suites only, ALPN h2 and http/1.1, and certificate reload without
//! dropping connections.
//!
//! - [`pem`]: PEM files to a checked certificate + key, errors naming the file;
//! - [`resolver`]: SNI -> certificate, swapped atomically;
//! - [`store`]: the configured certificates and their reload;
//! - [`reload`]: the task that polls the files;
//! - [`accept`]: the rustls server configuration and the per-connection handshake.

pub mod accept;
pub mod pem;
pub mod reload;
pub mod resolver;
pub mod store;

pub use accept::{Negotiated, handshake, provider, server_config};
pub use pem::PemError;
pub use store::Certificates;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot load TLS certificate: {0}")]
    Pem(#[from] PemError),
    #[error("no TLS certificate configured")]
    NoCertificates,
    #[error("TLS setup failed: {0}")]
    Setup(#[from] rustls::Error),
}
