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
    /// How long in-flight requests may run after the listener closes on shutdown.
    pub drain: Duration,
    /// From SIGTERM to closing the listener: `/readyz` already says unready and requests are
    /// still served, so a load balancer (a Kubernetes Service) can stop sending new ones first.
    pub drain_delay: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            client_header: Duration::from_secs(10),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(60),
            idle: Duration::from_secs(75),
            drain: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
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
    /// How often the configuration file is checked for changes (a change reloads it, like
    /// SIGHUP); `None` reloads on SIGHUP only.
    pub config_watch: Option<Duration>,
}

impl ServerSettings {
    pub const DEFAULT_CONFIG_WATCH: Duration = Duration::from_secs(2);
}

/// The admin listener: liveness, readiness and Prometheus metrics on an address of its own, so
/// they are never exposed on the proxied port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    pub readiness: Readiness,
}

impl AdminSettings {
    /// Loopback unless the operator says otherwise: metrics and health are not for the world.
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9901);

    pub fn at(listen: SocketAddr) -> AdminSettings {
        AdminSettings {
            listen,
            readiness: Readiness::default(),
        }
    }
}

/// What `/readyz` checks besides the configuration being loaded and the proxy not draining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub check: UpstreamCheck,
    /// How often every route's upstream is checked (in the background: probes read the result).
    pub interval: Duration,
    /// How long one check may take before the upstream counts as unreachable.
    pub timeout: Duration,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            check: UpstreamCheck::Tcp,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }
}

/// How an upstream is judged reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCheck {
    /// Not checked: ready as soon as the configuration is loaded.
    None,
    /// A TCP connection to the upstream's address opens.
    Tcp,
    /// `GET path` answers with a status below 500.
    Http { path: String },
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
            config_watch: Some(ServerSettings::DEFAULT_CONFIG_WATCH),
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
