#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use rampart_config::{Config, LogFormat};
use rampart_proxy::cli::{Args, Plan};
use rampart_proxy::listeners::Listeners;
use rampart_proxy::signals::Signals;
use rampart_proxy::{check, demo, logging, signals, state::Shared};

/// Small per-request allocations dominate the proxy's allocator traffic; mimalloc handles them
/// with thread-local free lists (see benches/README.md for the measured difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart-proxy: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match Args::parse().into_plan() {
        Plan::Check { file, overrides } => {
            let loaded = match &file {
                Some(f) => Config::load_file(f, &overrides),
                None => Config::from_overrides(&overrides),
            };
            match loaded {
                Ok(config) => {
                    print!("{}", check::report(&config));
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Plan::Demo { workers } => {
            logging::init(LogFormat::Text);
            runtime(workers)?.block_on(async {
                let d = demo::start().await.context("starting the demo")?;
                print!("{}", demo::instructions(d.origin, d.proxy.local_addr()));
                signals::run_until_stopped(d.proxy).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Plan::Serve {
            file,
            overrides,
            workers,
        } => {
            let shared = match Shared::load(file, overrides) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let config = shared.snapshot().config.clone();
            logging::init(config.server.log_format);
            let workers = workers.or(config.server.workers);
            runtime(workers)?.block_on(async {
                let listeners = match Listeners::start(shared).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("rampart-proxy: {e}");
                        return Ok(ExitCode::from(2));
                    }
                };
                // Before the ready line: a SIGHUP sent as soon as it appears must not kill us.
                let signals = Signals::install()?;
                let redirect = listeners
                    .redirect_addr()
                    .map_or_else(|| "-".to_owned(), |a| a.to_string());
                let admin = listeners
                    .admin_addr()
                    .map_or_else(|| "-".to_owned(), |a| a.to_string());
                tracing::info!(
                    listen = %listeners.local_addr(),
                    tls = listeners.is_tls(),
                    redirect_http = %redirect,
                    admin = %admin,
                    routes = config.routes.len(),
                    "rampart-proxy ready"
                );
                listeners.run_until_stopped(signals).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

fn runtime(workers: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    // One worker needs no work-stealing scheduler: a single-threaded runtime avoids cross-thread
    // wake-ups and atomic handoffs on every request.
    let mut b = if workers == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    b.enable_all();
    if let Some(n) = workers.filter(|n| *n > 1) {
        b.worker_threads(n);
    }
    b.build().context("cannot start the async runtime")
}
