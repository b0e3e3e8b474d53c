//! The running configuration, swapped atomically on reload.
//!
//! Each request takes one snapshot ([`Runtime`]) when it arrives and uses it to the end, so a
//! reload never mixes old routes with new policies, and in-flight requests finish on the config
//! they started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use rampart_config::{Config, ConfigErrors, Overrides, Route};
use sha2::{Digest, Sha256};

use crate::admin::Health;
use crate::client::{ClientError, Upstreams, route_id};
use crate::metrics::{Metrics, RouteStats, UNROUTED};

/// One consistent generation of everything a request needs.
pub struct Runtime {
    pub config: Arc<Config>,
    pub upstreams: Upstreams,
    /// Increments on every successful reload.
    pub generation: u64,
    /// SHA-256 (hex) of the configuration file's text, or of the command line without a file.
    pub fingerprint: String,
    pub metrics: Arc<Metrics>,
    /// Sorted by route identity, like the upstreams: resolved once per generation.
    route_stats: Vec<(usize, Arc<RouteStats>)>,
    unrouted: Arc<RouteStats>,
}

impl Runtime {
    fn new(
        config: Config,
        upstreams: Upstreams,
        generation: u64,
        fingerprint: String,
        metrics: Arc<Metrics>,
    ) -> Runtime {
        let mut route_stats: Vec<_> = config
            .routes
            .iter()
            .map(|r| (route_id(r), metrics.route(&r.name)))
            .collect();
        route_stats.sort_by_key(|(id, _)| *id);
        metrics.config_loaded(&fingerprint, generation);
        Runtime {
            config: Arc::new(config),
            upstreams,
            generation,
            fingerprint,
            unrouted: metrics.route(UNROUTED),
            metrics,
            route_stats,
        }
    }

    /// The metric handles of a request's route (or of requests no route matched).
    pub fn stats_for(&self, route: Option<&Arc<Route>>) -> &Arc<RouteStats> {
        route
            .and_then(|r| {
                let id = route_id(r);
                self.route_stats.binary_search_by_key(&id, |(k, _)| *k).ok()
            })
            .map_or(&self.unrouted, |i| &self.route_stats[i].1)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("there is no configuration file to reload (the proxy was started from flags)")]
    NoFile,
}

pub struct Shared {
    current: ArcSwap<Runtime>,
    file: Option<PathBuf>,
    overrides: Overrides,
    metrics: Arc<Metrics>,
    health: Health,
    /// Serialises reloads (SIGHUP and the file watcher may ask at once) and remembers the
    /// fingerprint of the text last read, loaded or rejected, so the watcher reloads only when
    /// the file changes again.
    last_read: Mutex<String>,
}

impl Shared {
    /// Loads the initial configuration: from `file` if given, else from the flags alone.
    pub fn load(file: Option<PathBuf>, overrides: Overrides) -> Result<Arc<Shared>, ReloadError> {
        let (config, fingerprint) = read(file.as_deref(), &overrides)?;
        Self::build(config, fingerprint, file, overrides)
    }

    /// Wraps a configuration built in code (tests, the demo).
    pub fn from_config(
        config: Config,
        file: Option<PathBuf>,
        overrides: Overrides,
    ) -> Result<Arc<Shared>, ReloadError> {
        let fingerprint = flags_fingerprint(&overrides);
        Self::build(config, fingerprint, file, overrides)
    }

    fn build(
        config: Config,
        fingerprint: String,
        file: Option<PathBuf>,
        overrides: Overrides,
    ) -> Result<Arc<Shared>, ReloadError> {
        let metrics = Arc::new(Metrics::new());
        let upstreams = Upstreams::build(&config, None)?;
        let runtime = Runtime::new(config, upstreams, 0, fingerprint.clone(), metrics.clone());
        Ok(Arc::new(Shared {
            current: ArcSwap::from_pointee(runtime),
            file,
            overrides,
            metrics,
            health: Health::default(),
            last_read: Mutex::new(fingerprint),
        }))
    }

    /// The current generation.
    pub fn snapshot(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// Re-reads the file; on success swaps in the new generation, on failure keeps the running
    /// one and returns why. Either way the outcome is counted in the metrics.
    pub fn reload(&self) -> Result<u64, ReloadError> {
        let result = self.try_reload();
        match &result {
            Ok(_) => self.metrics.reload_succeeded(),
            Err(_) => self.metrics.reload_failed(),
        }
        result
    }

    fn try_reload(&self) -> Result<u64, ReloadError> {
        let file = self.file.as_deref().ok_or(ReloadError::NoFile)?;
        let mut last_read = self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let text = Config::read_file(file)?;
        let fingerprint = sha256_hex(text.as_bytes());
        last_read.clone_from(&fingerprint);
        let config = Config::parse_file(&text, file, &self.overrides)?;
        let old = self.current.load_full();
        let upstreams = Upstreams::build(&config, Some(&old.upstreams))?;
        if config.server.listen != old.config.server.listen {
            tracing::warn!(
                old = %old.config.server.listen,
                new = %config.server.listen,
                "the listen address changed; it takes effect on restart"
            );
        }
        let admin_listen = |c: &Config| c.admin.as_ref().map(|a| a.listen);
        if admin_listen(&config) != admin_listen(&old.config) {
            tracing::warn!("the admin listener's address changed; it takes effect on restart");
        }
        let generation = old.generation + 1;
        let runtime = Runtime::new(
            config,
            upstreams,
            generation,
            fingerprint,
            self.metrics.clone(),
        );
        self.current.store(Arc::new(runtime));
        Ok(generation)
    }

    /// The fingerprint of the file's text when it differs from the text last read (loaded or
    /// rejected). An unreadable file counts as unchanged: a reload would only fail the same way.
    pub fn changed_file(&self) -> Option<String> {
        let text = std::fs::read(self.file.as_deref()?).ok()?;
        let fingerprint = sha256_hex(&text);
        let last = self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (*last != fingerprint).then_some(fingerprint)
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Health {
        &self.health
    }
}

fn read(file: Option<&Path>, overrides: &Overrides) -> Result<(Config, String), ConfigErrors> {
    match file {
        Some(f) => {
            let text = Config::read_file(f)?;
            let config = Config::parse_file(&text, f, overrides)?;
            Ok((config, sha256_hex(text.as_bytes())))
        }
        None => Ok((
            Config::from_overrides(overrides)?,
            flags_fingerprint(overrides),
        )),
    }
}

/// Without a file, the configuration is the command line: its fingerprint stands in.
fn flags_fingerprint(overrides: &Overrides) -> String {
    sha256_hex(format!("{overrides:?}").as_bytes())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
