//! Process signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop.

use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::server::ProxyHandle;
use crate::state::Shared;

/// Validates and swaps in the file again; a bad file is logged with its location and the
/// running configuration stays.
pub fn reload(shared: &Shared) {
    match shared.reload() {
        Ok(generation) => tracing::info!(generation, "configuration reloaded"),
        Err(e) => {
            tracing::error!(error = %e, "configuration reload failed; keeping the running configuration")
        }
    }
}

/// Serves until SIGTERM or SIGINT, reloading on SIGHUP; then shuts down gracefully.
pub async fn run_until_stopped(handle: ProxyHandle) -> std::io::Result<()> {
    Signals::install()?.run(handle, || {}).await
}

/// The signals the proxy acts on. Install them before announcing readiness: until then
/// SIGHUP still has its default action, which kills the process.
pub struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully. On SIGHUP: reloads the
    /// configuration, then runs `after_reload` (whether the reload succeeded or not): the TLS
    /// certificates are re-read there, against the configuration now running.
    pub async fn run(
        mut self,
        handle: ProxyHandle,
        mut after_reload: impl FnMut(),
    ) -> std::io::Result<()> {
        let shared: Arc<Shared> = handle.shared().clone();
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    reload(&shared);
                    after_reload();
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
        tracing::info!("shutting down");
        handle.shutdown().await;
        Ok(())
    }
}
