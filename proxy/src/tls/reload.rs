//! Certificate reload: polls the files on `server.tls.reload_interval`, and is poked on SIGHUP.
//!
//! Polling the content rather than watching for file-system events: it sees every way a
//! certificate gets replaced (an editor's rename, certbot's symlink switch, Kubernetes' swap of
//! the `..data` link in a mounted secret, a bind mount from the host) with no platform-specific
//! watcher and no missed or coalesced events, and reading a few small files every few seconds
//! costs nothing measurable.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::store::Certificates;
use crate::state::Shared;

/// Used while polling is off (`reload_interval = "0s"`): the task only wakes on a poke, and
/// then re-reads the interval in case a configuration reload switched polling on.
const IDLE: Duration = Duration::from_secs(3600);

/// The running reloader: [`Reloader::poke`] checks the files now (SIGHUP).
pub struct Reloader {
    shared: Arc<Shared>,
    certificates: Arc<Certificates>,
    poke: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Reloader {
    pub fn spawn(shared: Arc<Shared>, certificates: Arc<Certificates>) -> Reloader {
        let poke = Arc::new(Notify::new());
        let task = tokio::spawn(poll(shared.clone(), certificates.clone(), poke.clone()));
        Reloader {
            shared,
            certificates,
            poke,
            task,
        }
    }

    /// Checks the files now, with the running configuration's certificate list; call it after
    /// the configuration itself was reloaded so that a changed list is seen at once.
    pub fn reload_now(&self) {
        refresh(&self.shared, &self.certificates);
        // The interval may have changed with the configuration.
        self.poke.notify_one();
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn poll(shared: Arc<Shared>, certificates: Arc<Certificates>, poke: Arc<Notify>) {
    loop {
        let interval = shared
            .snapshot()
            .config
            .server
            .tls
            .as_ref()
            .and_then(|t| t.reload_interval);
        tokio::select! {
            () = tokio::time::sleep(interval.unwrap_or(IDLE)) => {}
            () = poke.notified() => continue,
        }
        if interval.is_none() {
            continue;
        }
        let (s, c) = (shared.clone(), certificates.clone());
        // File reads: off the async workers.
        if tokio::task::spawn_blocking(move || refresh(&s, &c))
            .await
            .is_err()
        {
            tracing::error!("certificate check failed unexpectedly; retrying on the next interval");
        }
    }
}

fn refresh(shared: &Shared, certificates: &Certificates) {
    let runtime = shared.snapshot();
    match &runtime.config.server.tls {
        Some(settings) => {
            certificates.refresh(settings);
        }
        // TLS cannot be switched off under a running listener; the restart will.
        None => tracing::debug!(
            "server.tls is gone from the configuration; keeping the certificates until restart"
        ),
    }
}
