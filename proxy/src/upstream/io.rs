//! The byte stream to an upstream: plain TCP or TLS over TCP, opened with a deadline.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::UpstreamError;

pub(crate) enum Io {
    Plain(TcpStream),
    // Boxed: a TLS session is large, and most upstreams on a sidecar are plain.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Where and how to connect.
pub(crate) struct Dial {
    /// `host:port` as configured, for messages.
    pub addr: String,
    pub host: String,
    pub port: u16,
    /// Parsed once when the host is a literal address: no resolver call per connection.
    pub ip: Option<IpAddr>,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub timeout: Duration,
}

impl Dial {
    pub fn new(
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> Result<Dial, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ip = bare.parse::<IpAddr>().ok();
        let tls = match tls {
            None => None,
            Some(config) => {
                let name = ServerName::try_from(bare.to_owned())
                    .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
                Some((TlsConnector::from(config), name))
            }
        };
        Ok(Dial {
            addr: if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            },
            host: bare.to_owned(),
            port,
            ip,
            tls,
            timeout,
        })
    }

    pub async fn connect(&self) -> Result<Io, UpstreamError> {
        match tokio::time::timeout(self.timeout, self.connect_inner()).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::ConnectTimeout {
                addr: self.addr.clone(),
                after: self.timeout,
            }),
        }
    }

    /// The TCP connection alone (no TLS): what a readiness check of the upstream opens.
    pub async fn connect_tcp(&self) -> Result<TcpStream, UpstreamError> {
        match self.ip {
            Some(ip) => TcpStream::connect(SocketAddr::new(ip, self.port)).await,
            None => self.connect_resolved().await,
        }
        .map_err(|source| UpstreamError::Connect {
            addr: self.addr.clone(),
            source,
        })
    }

    async fn connect_inner(&self) -> Result<Io, UpstreamError> {
        let tcp = self.connect_tcp().await?;
        // Small proxied messages would otherwise wait on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Io::Plain(tcp)),
            Some((connector, name)) => connector
                .connect(name.clone(), tcp)
                .await
                .map(|s| Io::Tls(Box::new(s)))
                .map_err(|source| UpstreamError::Tls {
                    addr: self.addr.clone(),
                    source,
                }),
        }
    }

    /// Tries each resolved address in turn, like a browser without the racing.
    async fn connect_resolved(&self) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address")
        }))
    }
}

impl Io {
    /// Whether an idle pooled connection can still carry a request: it has neither been closed
    /// by the upstream nor received bytes nobody asked for. Uses the readiness the runtime has
    /// already recorded, so a healthy idle connection costs no system call.
    pub fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        matches!(Pin::new(self).poll_read(&mut cx, &mut buf), Poll::Pending)
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
