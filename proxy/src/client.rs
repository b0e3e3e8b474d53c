//! Upstream endpoints for one configuration: each route's upstream resolved once, at load, to
//! an [`Endpoint`] holding its address, TLS settings and pool of keep-alive connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_config::{ClientCert, Config, Route};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::upstream::Endpoint;

/// hyper-util's pool allowed this many idle connections per upstream; kept for continuity.
const MAX_IDLE_PER_ENDPOINT: usize = 1024;

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
    #[error("{path}: cannot read the upstream client certificate: {source}")]
    ClientCertRead {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: cannot read the upstream client key: {source}")]
    ClientKeyRead {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{cert} / {key}: the upstream client certificate and key do not go together: {source}")]
    ClientCertMismatch {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("upstream {url}: {message}")]
    Endpoint { url: String, message: String },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// What makes two routes' upstreams the same endpoint (and so share connections).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EndpointKey {
    https: bool,
    authority: String,
    ca_file: Option<PathBuf>,
    client_cert: Option<ClientCert>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Duration,
    idle: Duration,
}

/// Every route's endpoint, looked up by the route's address (routes live as long as their
/// config, and so do these).
#[derive(Clone)]
pub struct Upstreams {
    timeouts: Timeouts,
    endpoints: HashMap<EndpointKey, Arc<Endpoint>>,
    /// Sorted by route address for a binary search per request: no hashing on the hot path.
    by_route: Vec<(usize, Arc<Endpoint>)>,
}

impl Upstreams {
    /// Builds the endpoints for `config`, reusing `previous`'s when their settings are unchanged
    /// so a reload keeps warm upstream connections. CA bundles and client certificates are
    /// always read again: a reload is how rotated ones are picked up.
    pub fn build(config: &Config, previous: Option<&Upstreams>) -> Result<Upstreams, ClientError> {
        let timeouts = Timeouts {
            connect: config.server.timeouts.upstream_connect,
            idle: config.server.timeouts.idle,
        };
        let reuse = previous.filter(|p| p.timeouts == timeouts);
        let mut endpoints: HashMap<EndpointKey, Arc<Endpoint>> = HashMap::new();
        let mut by_route = Vec::with_capacity(config.routes.len());
        let mut webpki: Option<Arc<rustls::ClientConfig>> = None;
        for route in config.routes.iter() {
            let up = &route.upstream;
            let key = EndpointKey {
                https: up.scheme == http::uri::Scheme::HTTPS,
                authority: up.authority.as_str().to_owned(),
                ca_file: up.ca_file.clone(),
                client_cert: up.client_cert.clone(),
            };
            let endpoint = match endpoints.get(&key) {
                Some(e) => e.clone(),
                None => {
                    let tls = if !key.https {
                        None
                    } else if key.ca_file.is_none() && key.client_cert.is_none() {
                        match &webpki {
                            Some(c) => Some(c.clone()),
                            None => {
                                let c = tls_config(webpki_roots(), None)?;
                                webpki = Some(c.clone());
                                Some(c)
                            }
                        }
                    } else {
                        let roots = match &key.ca_file {
                            Some(ca) => load_ca(ca)?,
                            None => webpki_roots(),
                        };
                        Some(tls_config(roots, key.client_cert.as_ref())?)
                    };
                    // Plain upstreams carry no state that a reload could change: keep their
                    // warm connections. TLS ones are rebuilt with the freshly read material.
                    let kept = reuse
                        .filter(|_| !key.https)
                        .and_then(|p| p.endpoints.get(&key).cloned());
                    let e = match kept {
                        Some(e) => e,
                        None => Arc::new(new_endpoint(up, tls, timeouts)?),
                    };
                    endpoints.insert(key, e.clone());
                    e
                }
            };
            by_route.push((route_id(route), endpoint));
        }
        by_route.sort_by_key(|(id, _)| *id);
        Ok(Upstreams {
            timeouts,
            endpoints,
            by_route,
        })
    }

    /// The endpoint of a route of this configuration.
    pub fn for_route(&self, route: &Arc<Route>) -> Option<&Arc<Endpoint>> {
        let id = route_id(route);
        self.by_route
            .binary_search_by_key(&id, |(k, _)| *k)
            .ok()
            .map(|i| &self.by_route[i].1)
    }
}

/// A route's identity within one configuration generation: its address (routes are `Arc`s
/// that live as long as the generation), so tables keyed by it need no hashing.
pub(crate) fn route_id(route: &Route) -> usize {
    std::ptr::from_ref(route) as usize
}

fn new_endpoint(
    up: &rampart_config::Upstream,
    tls: Option<Arc<rustls::ClientConfig>>,
    t: Timeouts,
) -> Result<Endpoint, ClientError> {
    let https = tls.is_some();
    let port = up
        .authority
        .port_u16()
        .unwrap_or(if https { 443 } else { 80 });
    Endpoint::new(
        up.authority.host(),
        port,
        tls,
        t.connect,
        t.idle,
        MAX_IDLE_PER_ENDPOINT,
    )
    .map_err(|message| ClientError::Endpoint {
        url: up.url.clone(),
        message,
    })
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

fn tls_config(
    roots: RootCertStore,
    client_cert: Option<&ClientCert>,
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let chain = CertificateDer::pem_file_iter(&cc.cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|source| ClientError::ClientCertRead {
                    path: cc.cert.clone(),
                    source,
                })?;
            let key = PrivateKeyDer::from_pem_file(&cc.key).map_err(|source| {
                ClientError::ClientKeyRead {
                    path: cc.key.clone(),
                    source,
                }
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| ClientError::ClientCertMismatch {
                    cert: cc.cert.clone(),
                    key: cc.key.clone(),
                    source,
                })?
        }
    };
    // Our client speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
