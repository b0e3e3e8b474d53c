//! rampart-proxy in-process, on 127.0.0.1 port 0, configured from TOML text.

use std::net::SocketAddr;
use std::path::PathBuf;

use rampart_config::Overrides;
use rampart_proxy::{ProxyHandle, ReloadError, Shared};

use super::temp::TempDir;

pub struct TestProxy {
    handle: Option<ProxyHandle>,
    addr: SocketAddr,
    config_path: PathBuf,
    _dir: TempDir,
}

impl TestProxy {
    /// Starts a proxy from a configuration file with this text; the listen address is forced
    /// to 127.0.0.1:0.
    pub async fn start(toml: &str) -> TestProxy {
        let dir = TempDir::new();
        let config_path = dir.write("rampart.toml", toml);
        let overrides = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Overrides::default()
        };
        let shared = Shared::load(Some(config_path.clone()), overrides)
            .unwrap_or_else(|e| panic!("test config rejected: {e}"));
        let handle = rampart_proxy::start(shared).await.unwrap();
        TestProxy {
            addr: handle.local_addr(),
            handle: Some(handle),
            config_path,
            _dir: dir,
        }
    }

    /// One catch-all route to `upstream` with the given policy (a preset or a policy table
    /// defined in `extra`).
    pub async fn to(upstream: &str, policy: &str, extra: &str) -> TestProxy {
        TestProxy::start(&format!(
            "[server]\naccess_log = false\n{extra}\n[[routes]]\nupstream = \"{upstream}\"\npolicy = \"{policy}\"\n"
        ))
        .await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config_path(&self) -> &PathBuf {
        &self.config_path
    }

    /// Replaces the file and reloads, as SIGHUP does.
    pub fn rewrite_and_reload(&self, toml: &str) -> Result<u64, ReloadError> {
        std::fs::write(&self.config_path, toml).unwrap();
        self.handle.as_ref().unwrap().shared().reload()
    }

    pub fn shared(&self) -> &std::sync::Arc<Shared> {
        self.handle.as_ref().unwrap().shared()
    }

    pub fn trigger_shutdown(&self) {
        self.handle.as_ref().unwrap().trigger_shutdown();
    }

    /// Graceful shutdown; returns when drained.
    pub async fn shutdown(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    pub async fn wait(mut self) {
        if let Some(h) = self.handle.take() {
            h.wait().await;
        }
    }
}

/// Asserts a generic JSON error body (`{"message":REASON,"request_id":ID}`) whose id is also
/// the response's X-Request-Id; returns the id.
pub fn expect_generic_json(res: &super::RawResponse, reason: &str) -> String {
    let id = res
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id in {:?}", res.headers))
        .to_owned();
    assert_eq!(
        res.text(),
        format!(r#"{{"message":"{reason}","request_id":"{id}"}}"#)
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.header("content-length")
            .map(|l| l.parse::<usize>().unwrap()),
        Some(res.body.len())
    );
    id
}
