//! Command-line arguments, parsed into a plain struct and then resolved into a validated plan.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rampart_config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "rampart-proxy",
    version,
    about = "Security-hardening reverse proxy: adds security headers, strips leaky ones and replaces verbose error bodies, on every response",
    after_help = "Examples:\n  rampart-proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:3000\n  rampart-proxy --listen 0.0.0.0:443 --tls-cert site.pem --tls-key site.key --redirect-http 0.0.0.0:80 --upstream http://app:3000\n  rampart-proxy --config rampart.toml --admin 127.0.0.1:9901\n  rampart-proxy check --config rampart.toml\n  rampart-proxy --demo"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Configuration file (TOML); flags given alongside override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Send every request to this upstream (replaces the file's routes).
    #[arg(long, global = true, value_name = "URL")]
    pub upstream: Option<String>,

    /// Policy for routes that name none: strict (default), helmet, cloudfront-security-headers, none.
    #[arg(long, global = true, value_name = "NAME")]
    pub preset: Option<String>,

    /// Runtime worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub workers: Option<usize>,

    /// Terminate TLS with this PEM certificate chain (leaf first); replaces the file's
    /// [server.tls] certificates. Needs --tls-key.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Also listen for plain HTTP here and answer every request with a 308 to the https URL.
    #[arg(long, global = true, value_name = "ADDR")]
    pub redirect_http: Option<SocketAddr>,

    /// Serve /healthz, /readyz and /metrics on this address (a port alone means 127.0.0.1);
    /// replaces the file's [admin] listen address.
    #[arg(long, global = true, value_name = "ADDR", value_parser = admin_addr)]
    pub admin: Option<SocketAddr>,

    /// Start a deliberately leaky origin with the proxy in front and print curl commands.
    #[arg(long, conflicts_with_all = ["config", "upstream", "tls_cert", "redirect_http"])]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print the effective headers per route.
    Check,
}

/// What the binary will do, with the configuration inputs resolved.
#[derive(Debug)]
pub enum Plan {
    Serve {
        file: Option<PathBuf>,
        overrides: Overrides,
        workers: Option<usize>,
    },
    Check {
        file: Option<PathBuf>,
        overrides: Overrides,
    },
    Demo {
        workers: Option<usize>,
    },
}

fn admin_addr(s: &str) -> Result<SocketAddr, String> {
    rampart_config::parse_admin_addr(s)
        .ok_or_else(|| format!("{s:?} is not an address:port such as 127.0.0.1:9901 or a port"))
}

impl Args {
    pub fn into_plan(self) -> Plan {
        let overrides = Overrides {
            listen: self.listen,
            workers: self.workers,
            preset: self.preset,
            upstream: self.upstream,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            redirect_http: self.redirect_http,
            admin: self.admin,
        };
        match (self.command, self.demo) {
            (Some(Command::Check), _) => Plan::Check {
                file: self.config,
                overrides,
            },
            (None, true) => Plan::Demo {
                workers: self.workers,
            },
            (None, false) => Plan::Serve {
                file: self.config,
                overrides,
                workers: self.workers,
            },
        }
    }
}
