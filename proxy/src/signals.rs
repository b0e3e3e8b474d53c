//! Process signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

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
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let shared: Arc<Shared> = handle.shared().clone();
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&shared),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}
