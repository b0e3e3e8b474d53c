//! Process signals and the configuration file watcher: SIGHUP or a changed file reloads;
//! SIGTERM/SIGINT drain and stop.
//!
//! The drain follows Kubernetes' preStop semantics: `/readyz` turns unready first, requests are
//! still served for `drain_delay` (while load balancers take the endpoint out), then the listener
//! closes and in-flight requests get up to `drain` to finish. A second signal skips the delay.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::server::ProxyHandle;
use crate::state::Shared;

/// Validates and swaps in the file again; a bad file is logged with its location and the
/// running configuration stays.
pub fn reload(shared: &Shared) {
    match shared.reload() {
        Ok(generation) => {
            shared.health().recheck();
            tracing::info!(generation, "configuration reloaded");
        }
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

/// How often to look at the file when watching is off: never fires in practice, and keeps the
/// loop's shape the same either way.
const NO_WATCH: Duration = Duration::from_secs(365 * 24 * 3600);

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Serves until SIGTERM or SIGINT, then drains and shuts down. On SIGHUP, and when the
    /// configuration file's contents change: reloads the configuration, then runs
    /// `after_reload` (whether the reload succeeded or not): the TLS certificates are re-read
    /// there, against the configuration now running.
    pub async fn run(
        mut self,
        handle: ProxyHandle,
        mut after_reload: impl FnMut(),
    ) -> std::io::Result<()> {
        let shared: Arc<Shared> = handle.shared().clone();
        // A changed file reloads once it has read the same on two checks in a row, so a file
        // caught half-written (truncated, then filled) is not loaded.
        let mut settling: Option<String> = None;
        loop {
            let watch = match shared.file() {
                Some(_) => shared.snapshot().config.server.config_watch,
                None => None,
            };
            tokio::select! {
                _ = self.hup.recv() => {
                    reload(&shared);
                    after_reload();
                }
                () = tokio::time::sleep(watch.unwrap_or(NO_WATCH)), if watch.is_some() => {
                    match shared.changed_file() {
                        Some(now) if settling.as_ref() == Some(&now) => {
                            settling = None;
                            tracing::info!("the configuration file changed; reloading");
                            reload(&shared);
                            after_reload();
                        }
                        now => settling = now,
                    }
                }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
        shared.health().start_draining();
        let delay = shared.snapshot().config.server.timeouts.drain_delay;
        if !delay.is_zero() {
            tracing::info!(
                delay = ?delay,
                "draining: /readyz reports unready; the listener closes after the delay"
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = self.term.recv() => tracing::info!("second signal: closing the listener now"),
                _ = self.int.recv() => tracing::info!("second signal: closing the listener now"),
            }
        }
        tracing::info!("shutting down");
        handle.shutdown().await;
        Ok(())
    }
}
