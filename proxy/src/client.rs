//! Upstream clients: pooled keep-alive HTTP/1.1 connections, HTTPS through rustls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rampart_config::{ClientCert, Config, Route};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::tls::PemError;
use crate::tls::pem::{chain_from, key_from};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Incoming>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: cannot read the CA bundle: {source}")]
    CaRead {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: the CA bundle holds no usable certificate")]
    CaEmpty { path: PathBuf },
    #[error("cannot load the upstream client certificate: {0}")]
    ClientCert(#[from] PemError),
    #[error("{cert}: the upstream client certificate cannot be used: {source}")]
    ClientCertRejected {
        cert: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// The clients for one configuration: a shared one trusting the webpki roots, and one per
/// custom CA bundle and client certificate (mTLS) combination.
#[derive(Clone)]
pub struct Upstreams {
    key: ClientKey,
    default: HttpClient,
    by_tls: HashMap<TlsKey, HttpClient>,
}

/// What an upstream's TLS needs beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TlsKey {
    ca_file: Option<PathBuf>,
    client_cert: Option<ClientCert>,
}

impl TlsKey {
    fn of(route: &Route) -> Option<TlsKey> {
        let u = &route.upstream;
        (u.ca_file.is_some() || u.client_cert.is_some()).then(|| TlsKey {
            ca_file: u.ca_file.clone(),
            client_cert: u.client_cert.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClientKey {
    connect: Duration,
    idle: Duration,
}

impl Upstreams {
    /// Builds the clients for `config`, reusing `previous`'s when their settings are unchanged so
    /// a reload keeps warm upstream connections.
    pub fn build(config: &Config, previous: Option<&Upstreams>) -> Result<Upstreams, ClientError> {
        let key = ClientKey {
            connect: config.server.timeouts.upstream_connect,
            idle: config.server.timeouts.idle,
        };
        let reuse = previous.filter(|p| p.key == key);
        let default = match reuse {
            Some(p) => p.default.clone(),
            None => build_client(key, webpki_roots(), None)?,
        };
        let mut by_tls = HashMap::new();
        for route in config.routes.iter() {
            let Some(tls) = TlsKey::of(route) else {
                continue;
            };
            if by_tls.contains_key(&tls) {
                continue;
            }
            // Always re-read the files: a reload is how a rotated CA or client certificate
            // gets picked up.
            let roots = match &tls.ca_file {
                Some(ca) => load_ca(ca)?,
                None => webpki_roots(),
            };
            let identity = tls.client_cert.as_ref().map(load_identity).transpose()?;
            let client = build_client(key, roots, identity)?;
            by_tls.insert(tls, client);
        }
        Ok(Upstreams {
            key,
            default,
            by_tls,
        })
    }

    pub fn for_route(&self, route: &Route) -> &HttpClient {
        TlsKey::of(route)
            .and_then(|k| self.by_tls.get(&k))
            .unwrap_or(&self.default)
    }
}

fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn load_ca(path: &Path) -> Result<RootCertStore, ClientError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| ClientError::CaRead {
            path: path.to_path_buf(),
            source,
        })?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ClientError::CaEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// A client certificate chain and key for mTLS to the upstream.
struct Identity {
    cert: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn load_identity(c: &ClientCert) -> Result<Identity, ClientError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| PemError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    Ok(Identity {
        cert: c.cert.clone(),
        chain: chain_from(&read(&c.cert)?, &c.cert)?,
        key: key_from(&read(&c.key)?, &c.key)?,
    })
}

fn build_client(
    key: ClientKey,
    roots: RootCertStore,
    identity: Option<Identity>,
) -> Result<HttpClient, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    // SNI is on by default: hyper-rustls sends the upstream URL's host name (none for an IP).
    let tls = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain, id.key)
            .map_err(|source| ClientError::ClientCertRejected {
                cert: id.cert,
                source,
            })?,
        None => builder.with_no_client_auth(),
    };
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Small proxied messages would otherwise wait on Nagle's algorithm.
    http.set_nodelay(true);
    http.set_connect_timeout(Some(key.connect));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(key.idle)
        .pool_max_idle_per_host(1024)
        // The Host header is set explicitly per route; never derive it from the upstream URL.
        .set_host(false)
        .build(connector))
}
