//! Everything the proxy listens on, started together: the proxy listener (plain or TLS), the
//! optional HTTP->HTTPS redirect listener, the optional admin listener, and the certificate
//! reloader.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admin::{self, AdminHandle};
use crate::redirect::{self, RedirectHandle};
use crate::server::{self, ProxyHandle};
use crate::signals::Signals;
use crate::state::Shared;
use crate::tls::{self, Certificates, TlsError, reload::Reloader};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub struct Listeners {
    pub proxy: ProxyHandle,
    pub redirect: Option<RedirectHandle>,
    pub admin: Option<AdminHandle>,
    reloader: Option<Reloader>,
}

impl Listeners {
    /// Loads the certificates (a bad file stops the start, naming the file), binds the
    /// configured addresses and starts serving.
    pub async fn start(shared: Arc<Shared>) -> Result<Listeners, StartError> {
        let config = shared.snapshot().config.clone();
        let server = &config.server;
        let certificates = match &server.tls {
            Some(settings) => {
                let provider = Arc::new(tls::provider());
                let certs = Arc::new(Certificates::load(settings, provider.clone())?);
                let tls_config =
                    tls::server_config(provider, certs.resolver()).map_err(TlsError::from)?;
                Some((certs, TlsAcceptor::from(Arc::new(tls_config))))
            }
            None => None,
        };
        let listener = bind(server.listen).await?;
        let acceptor = certificates.as_ref().map(|(_, a)| a.clone());
        let proxy = server::serve_with(shared.clone(), listener, acceptor);
        let redirect = match server.redirect_http {
            Some(addr) => {
                let port = server
                    .redirect_https_port
                    .unwrap_or(proxy.local_addr().port());
                Some(redirect::serve(shared.clone(), bind(addr).await?, port))
            }
            None => None,
        };
        let admin = match &config.admin {
            Some(a) => Some(admin::serve(shared.clone(), bind(a.listen).await?)),
            None => None,
        };
        let reloader = certificates.map(|(certs, _)| Reloader::spawn(shared.clone(), certs));
        Ok(Listeners {
            proxy,
            redirect,
            admin,
            reloader,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.proxy.local_addr()
    }

    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(RedirectHandle::local_addr)
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminHandle::local_addr)
    }

    pub fn is_tls(&self) -> bool {
        self.reloader.is_some()
    }

    /// Serves until SIGTERM/SIGINT; SIGHUP (or a changed file) reloads the configuration, then
    /// the certificates. The admin listener answers until the drain is over.
    pub async fn run_until_stopped(self, signals: Signals) -> std::io::Result<()> {
        let Listeners {
            proxy,
            redirect,
            admin,
            reloader,
        } = self;
        signals
            .run(proxy, || {
                if let Some(r) = &reloader {
                    r.reload_now();
                }
            })
            .await?;
        if let Some(r) = redirect {
            r.shutdown().await;
        }
        drop(admin);
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}
