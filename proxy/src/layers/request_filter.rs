//! Request filter: picks the route and policy for a request from one config snapshot and decides
//! whether the client's connection counts as HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use http::header::HOST;
use rampart_config::{ErrorBodyPolicy, HeaderPolicy, Route};
use tower_layer::Layer;
use tower_service::Service;

use crate::forward::X_FORWARDED_PROTO;
use crate::generic::ClientPrefs;
use crate::metrics::RouteStats;
use crate::state::{Runtime, Shared};

/// Facts about the client connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The client connection is TLS (terminated by this proxy).
    pub tls: bool,
}

/// Everything later phases need, fixed when the request arrives.
#[derive(Clone)]
pub struct RequestContext {
    pub runtime: Arc<Runtime>,
    pub route: Option<Arc<Route>>,
    pub conn: ConnInfo,
    /// The peer is in `trusted_proxies`, so its X-Forwarded-* headers are believed.
    pub trusted_peer: bool,
    /// The client's connection is HTTPS: ours, or a trusted peer's per X-Forwarded-Proto.
    pub https: bool,
    /// The route's metric handles (or the unrouted ones).
    pub stats: Arc<RouteStats>,
    /// What the client said about an error body it would want (Accept, X-Request-Id).
    pub prefs: ClientPrefs,
    /// The header policy for this request (the header-policy layer reads it here rather than
    /// from a separate extension: one allocation less per request).
    pub policy: Arc<HeaderPolicy>,
    /// The header-policy layer leaves its lines to the HTTP/1.1 head writer (set by that
    /// layer): the response's header map needs no room for them.
    pub policy_in_lines: bool,
}

impl RequestContext {
    /// The error-body policy for this request: its route's, or the default policy's when no
    /// route matched.
    pub fn error_bodies(&self) -> &Arc<ErrorBodyPolicy> {
        match &self.route {
            Some(r) => &r.error_bodies,
            None => &self.runtime.config.default_policy.error_bodies,
        }
    }
}

#[derive(Clone)]
pub struct RequestFilterLayer {
    shared: Arc<Shared>,
    conn: ConnInfo,
}

impl RequestFilterLayer {
    pub fn new(shared: Arc<Shared>, conn: ConnInfo) -> Self {
        RequestFilterLayer { shared, conn }
    }
}

impl<S> Layer<S> for RequestFilterLayer {
    type Service = RequestFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestFilter {
            inner,
            shared: self.shared.clone(),
            conn: self.conn,
        }
    }
}

#[derive(Clone)]
pub struct RequestFilter<S> {
    inner: S,
    shared: Arc<Shared>,
    conn: ConnInfo,
}

impl<S, B> Service<Request<B>> for RequestFilter<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let runtime = self.shared.snapshot();
        let config = &runtime.config;
        // One walk over the request's few headers for everything this phase and the error
        // phases read (first value of each), instead of a hashed lookup per name.
        let mut host = None;
        let mut forwarded_proto = None;
        let mut prefs = ClientPrefs::default();
        for (name, value) in req.headers() {
            if name == HOST {
                host = host.or(Some(value));
            } else if name == X_FORWARDED_PROTO {
                forwarded_proto = forwarded_proto.or(Some(value));
            } else {
                prefs.offer(name, value);
            }
        }
        let host = host
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let route = config.routes.select(host, req.uri().path()).cloned();
        let trusted_peer = config.server.is_trusted(self.conn.peer.ip());
        let https = self.conn.tls
            || (trusted_peer
                && forwarded_proto
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")));
        let policy = route
            .as_ref()
            .map_or_else(|| config.default_policy.clone(), |r| r.policy.clone());
        let stats = runtime.stats_for(route.as_ref()).clone();
        let ext = req.extensions_mut();
        ext.insert(RequestContext {
            stats,
            runtime,
            route,
            conn: self.conn,
            trusted_peer,
            https,
            prefs,
            policy,
            policy_in_lines: false,
        });
        self.inner.call(req)
    }
}
