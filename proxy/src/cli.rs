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
    after_help = "Examples:\n  rampart-proxy --listen 127.0.0.1:8080 --upstream http://127.0.0.1:3000\n  rampart-proxy --config rampart.toml\n  rampart-proxy check --config rampart.toml\n  rampart-proxy --demo"
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

    /// Start a deliberately leaky origin with the proxy in front and print curl commands.
    #[arg(long, conflicts_with_all = ["config", "upstream"])]
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

impl Args {
    pub fn into_plan(self) -> Plan {
        let overrides = Overrides {
            listen: self.listen,
            workers: self.workers,
            preset: self.preset,
            upstream: self.upstream,
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
