//! The running configuration, swapped atomically on reload.
//!
//! Each request takes one snapshot ([`Runtime`]) when it arrives and uses it to the end, so a
//! reload never mixes old routes with new policies, and in-flight requests finish on the config
//! they started with.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rampart_config::{Config, ConfigErrors, Overrides};

use crate::client::{ClientError, Upstreams};

/// One consistent generation of everything a request needs.
pub struct Runtime {
    pub config: Arc<Config>,
    pub upstreams: Upstreams,
    /// Increments on every successful reload.
    pub generation: u64,
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
}

impl Shared {
    /// Loads the initial configuration: from `file` if given, else from the flags alone.
    pub fn load(file: Option<PathBuf>, overrides: Overrides) -> Result<Arc<Shared>, ReloadError> {
        let config = read(file.as_deref(), &overrides)?;
        Self::from_config(config, file, overrides)
    }

    /// Wraps a configuration built in code (tests, the demo).
    pub fn from_config(
        config: Config,
        file: Option<PathBuf>,
        overrides: Overrides,
    ) -> Result<Arc<Shared>, ReloadError> {
        let upstreams = Upstreams::build(&config, None)?;
        Ok(Arc::new(Shared {
            current: ArcSwap::from_pointee(Runtime {
                config: Arc::new(config),
                upstreams,
                generation: 0,
            }),
            file,
            overrides,
        }))
    }

    /// The current generation.
    pub fn snapshot(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// Re-reads the file; on success swaps in the new generation, on failure keeps the running
    /// one and returns why.
    pub fn reload(&self) -> Result<u64, ReloadError> {
        let file = self.file.as_deref().ok_or(ReloadError::NoFile)?;
        let config = read(Some(file), &self.overrides)?;
        let old = self.current.load_full();
        let upstreams = Upstreams::build(&config, Some(&old.upstreams))?;
        if config.server.listen != old.config.server.listen {
            tracing::warn!(
                old = %old.config.server.listen,
                new = %config.server.listen,
                "the listen address changed; it takes effect on restart"
            );
        }
        let generation = old.generation + 1;
        self.current.store(Arc::new(Runtime {
            config: Arc::new(config),
            upstreams,
            generation,
        }));
        Ok(generation)
    }

    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }
}

fn read(file: Option<&std::path::Path>, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    match file {
        Some(f) => Config::load_file(f, overrides),
        None => Config::from_overrides(overrides),
    }
}
