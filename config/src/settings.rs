//! Listener, timeouts and limits: everything about how the proxy runs rather than what it sends.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a client may take to send a complete request head; slow-header (slowloris)
    /// clients are cut off after it.
    pub client_header: Duration,
    pub upstream_connect: Duration,
    /// From sending the request to receiving the upstream's response head.
    pub upstream_response: Duration,
    /// How long an idle keep-alive connection (client side and pooled upstream side) stays open.
    pub idle: Duration,
    /// How long in-flight requests may run after a shutdown signal.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            client_header: Duration::from_secs(10),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(60),
            idle: Duration::from_secs(75),
            drain: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head accepted (HTTP/1 read buffer and HTTP/2 header list).
    pub max_request_header_bytes: usize,
    /// Connections served at once; beyond it the listener stops accepting until one closes.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_header_bytes: 64 * 1024,
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Runtime worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Peers whose X-Forwarded-* headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    pub access_log: bool,
    pub log_format: LogFormat,
    pub timeouts: Timeouts,
    pub limits: Limits,
    /// The listener terminates TLS with these certificates; `None` serves plain HTTP (and h2c).
    pub tls: Option<TlsSettings>,
    /// A plain-HTTP listener answering every request with a 308 to the HTTPS listener.
    pub redirect_http: Option<SocketAddr>,
    /// The port redirects name; `None` means the HTTPS listener's own port (left out when 443).
    pub redirect_https_port: Option<u16>,
}

/// Certificates for the TLS listener. Only paths: the proxy reads and re-reads the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// In configuration order; never empty.
    pub certificates: Vec<CertificateSource>,
    /// Index into `certificates` of the one served when the client's SNI names none of them
    /// (or sends no SNI, e.g. when connecting by IP address).
    pub default: usize,
    /// How often the files are checked for changes; `None` checks only on SIGHUP.
    pub reload_interval: Option<Duration>,
}

impl TlsSettings {
    pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
}

/// One certificate chain and key, as PEM file paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateSource {
    /// The chain, leaf first.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Server names (lowercase, `*.example.com` allowed) this certificate answers for; empty
    /// means the DNS names of the certificate itself.
    pub sni: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: None,
            trusted_proxies: Vec::new(),
            access_log: true,
            log_format: LogFormat::Text,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            tls: None,
            redirect_http: None,
            redirect_https_port: None,
        }
    }
}

impl ServerSettings {
    pub fn is_trusted(&self, peer: std::net::IpAddr) -> bool {
        let peer = match peer {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }
}
