//! Prometheus metrics for the admin listener's `/metrics`.
//!
//! One registry lives as long as the process (reloads keep counting). The request path never
//! looks a label up: each configuration generation resolves its routes' handles once
//! ([`RouteStats`]), and the header and connection handles are resolved at start. A handle is an
//! atomic behind an `Arc`, so recording is an uncontended atomic add.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::StatusCode;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::layers::header_policy::Applied;

type Labels = [(&'static str, String); 1];
type RouteClassLabels = [(&'static str, String); 2];
type StaticLabels = [(&'static str, &'static str); 1];

/// The label routes that matched no route are counted under.
pub const UNROUTED: &str = "-";

/// Seconds, from half a millisecond (a local upstream) to the default response timeout's range.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    responses: Family<RouteClassLabels, Counter>,
    upstream_latency: Family<Labels, Histogram, fn() -> Histogram>,
    rewritten: Family<Labels, Counter>,
    /// `rewritten`'s handles by detector, found by comparing names: a few dozen at most, and
    /// a label lookup would allocate its key on every replaced body.
    rewritten_by: RwLock<Vec<(Box<str>, Counter)>>,
    headers: Arc<HeaderCounts>,
    connections_open: Gauge,
    connections: Counter,
    reload_ok: Counter,
    reload_failed: Counter,
    last_reload_ok: Gauge,
    config_info: Family<Labels, Gauge>,
    config_generation: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rampart");
        let responses = Family::<RouteClassLabels, Counter>::default();
        registry.register(
            "responses",
            "Responses sent to clients, by route and status class (1xx..5xx)",
            responses.clone(),
        );
        let upstream_latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "upstream_response_seconds",
            "Time from sending a request upstream to receiving the response head, by route",
            upstream_latency.clone(),
        );
        let rewritten = Family::<Labels, Counter>::default();
        registry.register(
            "error_bodies_replaced",
            "Upstream error bodies replaced by a generic one, by the detector that fired (or why the body could not be inspected)",
            rewritten.clone(),
        );
        let header_family = Family::<StaticLabels, Counter>::default();
        registry.register(
            "policy_headers",
            "Security-policy header decisions on responses: injected (absent before), overridden (origin value replaced), kept (origin value kept by an if-absent rule), removed",
            header_family.clone(),
        );
        let headers = Arc::new(HeaderCounts {
            injected: header_family.get_or_create_owned(&[("action", "injected")]),
            overridden: header_family.get_or_create_owned(&[("action", "overridden")]),
            kept: header_family.get_or_create_owned(&[("action", "kept")]),
            removed: header_family.get_or_create_owned(&[("action", "removed")]),
        });
        let connections_open = Gauge::default();
        registry.register(
            "client_connections_open",
            "Client connections open on the proxy listener",
            connections_open.clone(),
        );
        let connections = Counter::default();
        registry.register(
            "client_connections",
            "Client connections accepted on the proxy listener",
            connections.clone(),
        );
        let reloads = Family::<StaticLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP or file change), by result",
            reloads.clone(),
        );
        let last_reload_ok = Gauge::default();
        last_reload_ok.set(1);
        registry.register(
            "config_last_reload_successful",
            "1 if the last configuration reload succeeded (or none was tried), 0 if it failed and the previous configuration is still running",
            last_reload_ok.clone(),
        );
        let config_info = Family::<Labels, Gauge>::default();
        registry.register(
            "config_info",
            "The running configuration: its file's SHA-256 (or the command line's, without a file)",
            config_info.clone(),
        );
        let config_generation = Gauge::default();
        registry.register(
            "config_generation",
            "Successful reloads since start (0: the configuration loaded at start)",
            config_generation.clone(),
        );
        Metrics {
            registry,
            responses,
            upstream_latency,
            rewritten,
            rewritten_by: RwLock::default(),
            headers,
            connections_open,
            connections,
            reload_ok: reloads.get_or_create_owned(&[("result", "ok")]),
            reload_failed: reloads.get_or_create_owned(&[("result", "failed")]),
            last_reload_ok,
            config_info,
            config_generation,
        }
    }

    /// The handles for one route (by its name), shared by every generation that has it.
    pub fn route(&self, name: &str) -> Arc<RouteStats> {
        let class = |c: &str| {
            self.responses
                .get_or_create_owned(&[("route", name.to_owned()), ("class", c.to_owned())])
        };
        Arc::new(RouteStats {
            by_class: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            upstream_latency: self
                .upstream_latency
                .get_or_create_owned(&[("route", name.to_owned())]),
        })
    }

    pub fn headers(&self) -> &Arc<HeaderCounts> {
        &self.headers
    }

    /// Counts a replaced error body under the detector (or reason) that caused it.
    pub fn body_replaced(&self, why: &str) {
        let known = self
            .rewritten_by
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counter)) = known.iter().find(|(name, _)| **name == *why) {
            counter.inc();
            return;
        }
        drop(known);
        let counter = self
            .rewritten
            .get_or_create_owned(&[("detector", why.to_owned())]);
        counter.inc();
        self.rewritten_by
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((why.into(), counter));
    }

    /// Counts a client connection; it stays counted as open until the guard drops.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections.inc();
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    /// Records the configuration now running.
    pub fn config_loaded(&self, sha256: &str, generation: u64) {
        self.config_info.clear();
        self.config_info
            .get_or_create(&[("sha256", sha256.to_owned())])
            .set(1);
        self.config_generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
    }

    pub fn reload_succeeded(&self) {
        self.reload_ok.inc();
        self.last_reload_ok.set(1);
    }

    pub fn reload_failed(&self) {
        self.reload_failed.inc();
        self.last_reload_ok.set(0);
    }

    /// The registry in the text exposition format (OpenMetrics, which Prometheus scrapes).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail; an error here would be a bug in the encoder.
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// One route's handles.
pub struct RouteStats {
    by_class: [Counter; 5],
    upstream_latency: Histogram,
}

impl RouteStats {
    pub fn response(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
    }

    pub fn upstream_latency(&self, elapsed: Duration) {
        self.upstream_latency.observe(elapsed.as_secs_f64());
    }
}

/// What the header policy did, summed over every response.
pub struct HeaderCounts {
    injected: Counter,
    overridden: Counter,
    kept: Counter,
    removed: Counter,
}

impl HeaderCounts {
    pub fn record(&self, a: Applied) {
        for (counter, n) in [
            (&self.injected, a.injected),
            (&self.overridden, a.overridden),
            (&self.kept, a.kept),
            (&self.removed, a.removed),
        ] {
            if n > 0 {
                counter.inc_by(u64::from(n));
            }
        }
    }
}

/// Keeps a connection counted as open until dropped.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counted_values_with_labels() {
        let m = Metrics::new();
        let api = m.route("api");
        api.response(StatusCode::OK);
        api.response(StatusCode::FORBIDDEN);
        api.response(StatusCode::FORBIDDEN);
        api.upstream_latency(Duration::from_millis(3));
        m.headers().record(Applied {
            injected: 7,
            overridden: 1,
            kept: 2,
            removed: 3,
        });
        m.body_replaced("aws-arn");
        m.body_replaced("aws-arn");
        m.body_replaced("mode-always");
        let open = m.connection_opened();
        m.config_loaded("abc123", 4);
        m.reload_failed();
        let text = m.render();
        for line in [
            r#"rampart_responses_total{route="api",class="4xx"} 2"#,
            r#"rampart_responses_total{route="api",class="2xx"} 1"#,
            r#"rampart_upstream_response_seconds_bucket{le="0.005",route="api"} 1"#,
            r#"rampart_upstream_response_seconds_count{route="api"} 1"#,
            r#"rampart_policy_headers_total{action="injected"} 7"#,
            r#"rampart_policy_headers_total{action="kept"} 2"#,
            r#"rampart_error_bodies_replaced_total{detector="aws-arn"} 2"#,
            r#"rampart_error_bodies_replaced_total{detector="mode-always"} 1"#,
            "rampart_client_connections_open 1",
            r#"rampart_config_info{sha256="abc123"} 1"#,
            "rampart_config_generation 4",
            r#"rampart_config_reloads_total{result="failed"} 1"#,
            r#"rampart_config_reloads_total{result="ok"} 0"#,
            "rampart_config_last_reload_successful 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        drop(open);
        assert!(
            m.render()
                .lines()
                .any(|l| l == "rampart_client_connections_open 0")
        );
    }

    #[test]
    fn a_new_config_replaces_the_fingerprint() {
        let m = Metrics::new();
        m.config_loaded("first", 0);
        m.config_loaded("second", 1);
        let text = m.render();
        assert!(!text.contains("first"), "{text}");
        assert!(
            text.contains(r#"rampart_config_info{sha256="second"} 1"#),
            "{text}"
        );
    }
}
