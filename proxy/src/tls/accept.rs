//! The rustls server configuration and the per-connection handshake.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{cipher_suite, default_provider};
use rustls::server::ResolvesServerCert;
use rustls::version::{TLS12, TLS13};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// aws-lc-rs with the suites spelled out rather than inherited from the library's defaults, so
/// that an upgrade can never widen them: AEAD ciphers only, and for TLS 1.2 only ECDHE key
/// exchange (forward secrecy). TLS 1.3 suites first; within a version, AES-GCM (hardware
/// accelerated almost everywhere) before ChaCha20-Poly1305.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..default_provider()
    }
}

/// TLS 1.3 and 1.2 only (1.0 and 1.1 are refused with a protocol_version alert), certificates
/// from `resolver`, ALPN h2 then http/1.1. No 0-RTT: early data can be replayed.
pub fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&TLS13, &TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTP version a TLS connection speaks, from ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    Http1,
    H2,
}

/// Completes the handshake within `timeout` (the client-header timeout: a client that stalls
/// the handshake is treated like one that stalls its request head). `None` when the client
/// failed or gave up; the reason is logged at debug level.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<(TlsStream<TcpStream>, Negotiated)> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            // No ALPN (curl --no-alpn, old clients) means HTTP/1.1, as RFC 7301 has it.
            let negotiated = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => Negotiated::H2,
                _ => Negotiated::Http1,
            };
            Some((tls, negotiated))
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}
