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
use rampart_config::{Config, Route};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

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
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// The clients for one configuration: a shared one trusting the webpki roots, and one per
/// custom CA bundle.
#[derive(Clone)]
pub struct Upstreams {
    key: ClientKey,
    default: HttpClient,
    by_ca: HashMap<PathBuf, HttpClient>,
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
            None => build_client(key, webpki_roots())?,
        };
        let mut by_ca = HashMap::new();
        for route in config.routes.iter() {
            let Some(ca) = &route.upstream.ca_file else {
                continue;
            };
            if by_ca.contains_key(ca) {
                continue;
            }
            // Always re-read the bundle: a reload is how a rotated CA gets picked up.
            let client = build_client(key, load_ca(ca)?)?;
            by_ca.insert(ca.clone(), client);
        }
        Ok(Upstreams {
            key,
            default,
            by_ca,
        })
    }

    pub fn for_route(&self, route: &Route) -> &HttpClient {
        route
            .upstream
            .ca_file
            .as_ref()
            .and_then(|ca| self.by_ca.get(ca))
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

fn build_client(key: ClientKey, roots: RootCertStore) -> Result<HttpClient, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
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
