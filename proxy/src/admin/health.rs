//! What `/healthz` and `/readyz` report: the process is draining or not, and whether every
//! route's upstream answered the last readiness check.
//!
//! Checks run in the background on an interval, so a probe reads a result instead of waiting on
//! upstreams, and a burst of probes never becomes a burst of upstream connections.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Empty;
use rampart_config::UpstreamCheck;
use tokio::sync::Notify;

use crate::state::{Runtime, Shared};

#[derive(Default)]
pub struct Health {
    draining: AtomicBool,
    /// The last completed round of upstream checks; `None` until the first one finishes.
    last: Mutex<Option<Round>>,
    recheck: Notify,
}

/// One round of checks against one configuration generation.
#[derive(Clone)]
struct Round {
    generation: u64,
    results: Vec<(String, Result<(), String>)>,
}

/// `/readyz`'s answer.
pub struct Readiness {
    pub ready: bool,
    pub report: String,
}

impl Health {
    /// From now on `/readyz` says unready (the first step of a graceful shutdown).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Asks the checker for a new round now (a reload may have changed the upstreams).
    pub fn recheck(&self) {
        self.recheck.notify_one();
    }

    pub fn readiness(&self, runtime: &Runtime) -> Readiness {
        let mut report = String::new();
        let mut ready = true;
        if self.is_draining() {
            ready = false;
            report.push_str("draining: shutting down, not taking new requests\n");
        }
        let _ = writeln!(
            report,
            "config: loaded (generation {}, sha256 {})",
            runtime.generation, runtime.fingerprint
        );
        let check = runtime
            .config
            .admin
            .as_ref()
            .map_or(&UpstreamCheck::None, |a| &a.readiness.check);
        if *check == UpstreamCheck::None {
            report.push_str("upstreams: not checked (readiness.check = \"none\")\n");
        } else {
            match &*self.last.lock().unwrap_or_else(PoisonError::into_inner) {
                None => {
                    ready = false;
                    report.push_str("upstreams: not checked yet\n");
                }
                Some(round) => {
                    if round.generation != runtime.generation {
                        let _ = writeln!(
                            report,
                            "upstreams: last checked for generation {}",
                            round.generation
                        );
                    }
                    for (url, result) in &round.results {
                        match result {
                            Ok(()) => {
                                let _ = writeln!(report, "upstream {url}: reachable");
                            }
                            Err(e) => {
                                ready = false;
                                let _ = writeln!(report, "upstream {url}: unreachable ({e})");
                            }
                        }
                    }
                }
            }
        }
        let verdict = if ready { "ready\n" } else { "not ready\n" };
        report.insert_str(0, verdict);
        Readiness { ready, report }
    }
}

/// Checks every route's upstream each interval (and on reload) until the process ends.
pub async fn run_checks(shared: Arc<Shared>) {
    loop {
        let runtime = shared.snapshot();
        let settings = runtime
            .config
            .admin
            .as_ref()
            .map(|a| a.readiness.clone())
            .unwrap_or_default();
        if settings.check != UpstreamCheck::None {
            let results = check_round(&runtime, &settings.check, settings.timeout).await;
            for (url, result) in &results {
                if let Err(e) = result {
                    tracing::warn!(upstream = %url, error = %e, "readiness check failed");
                }
            }
            *shared
                .health()
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Round {
                generation: runtime.generation,
                results,
            });
        }
        drop(runtime);
        tokio::select! {
            () = tokio::time::sleep(settings.interval) => {}
            () = shared.health().recheck.notified() => {}
        }
    }
}

async fn check_round(
    runtime: &Runtime,
    check: &UpstreamCheck,
    timeout: Duration,
) -> Vec<(String, Result<(), String>)> {
    let mut seen = Vec::new();
    let mut results = Vec::new();
    for route in runtime.config.routes.iter() {
        let Some(endpoint) = runtime.upstreams.for_route(route) else {
            continue;
        };
        // Routes sharing an upstream share its endpoint: check it once.
        if seen.iter().any(|e| Arc::ptr_eq(e, endpoint)) {
            continue;
        }
        seen.push(endpoint.clone());
        let up = &route.upstream;
        let name = format!("{}://{}", up.scheme, up.authority);
        let attempt = async {
            match check {
                UpstreamCheck::None => Ok(()),
                UpstreamCheck::Tcp => endpoint.tcp_reachable().await.map_err(|e| e.to_string()),
                UpstreamCheck::Http { path } => {
                    let req = Request::get(format!("{name}{path}"))
                        .header(header::HOST, up.authority.as_str())
                        .header(header::USER_AGENT, "rampart-proxy-readiness")
                        .body(Empty::<Bytes>::new())
                        .map_err(|e| e.to_string())?;
                    let res = endpoint
                        .send(req, &[], timeout, |_: &[u8]| false, 0, |r| r)
                        .await
                        .map_err(|e| e.to_string())?;
                    if res.status().is_server_error() {
                        Err(format!("GET {path} answered {}", res.status()))
                    } else {
                        Ok(())
                    }
                }
            }
        };
        let result = match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        results.push((name, result));
    }
    results
}
