//! Routes: which upstream and which policy serve a request, by host and longest path prefix.

use std::path::PathBuf;
use std::sync::Arc;

use http::HeaderValue;
use http::uri::{Authority, Scheme};

use crate::errors_policy::ErrorBodyPolicy;
use crate::policy::HeaderPolicy;

/// Which host a route answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// `api.example.com` (stored lowercase, no port).
    Exact(String),
    /// `*.example.com`: any subdomain, stored as `.example.com`.
    Suffix(String),
}

impl HostMatch {
    pub fn parse(pattern: &str) -> HostMatch {
        let p = pattern.to_ascii_lowercase();
        match p.strip_prefix('*') {
            Some(suffix) => HostMatch::Suffix(suffix.to_owned()),
            None => HostMatch::Exact(p),
        }
    }

    /// `host` may carry a port and any case; neither affects the match.
    pub fn matches(&self, host: &str) -> bool {
        let host = strip_port(host);
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Suffix(s) => {
                host.len() > s.len()
                    && host.is_char_boundary(host.len() - s.len())
                    && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        }
    }

    fn rank(&self) -> u8 {
        match self {
            HostMatch::Exact(_) => 2,
            HostMatch::Suffix(_) => 1,
        }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: the port, if any, follows the closing bracket.
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Where a route sends requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// The URL as written, for logs and `check` output.
    pub url: String,
    /// A CA bundle to trust instead of the webpki roots (HTTPS upstreams only).
    pub ca_file: Option<PathBuf>,
    /// A client certificate presented to the upstream (mTLS; HTTPS upstreams only).
    pub client_cert: Option<ClientCert>,
}

/// A client certificate chain and its key, as PEM file paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Upstream {
    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }
}

/// What the upstream sees as `Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostHeader {
    /// The client's Host (the default, like nginx with `proxy_set_header Host $host`).
    Preserve,
    /// The upstream URL's authority.
    Upstream,
    /// A fixed value.
    Rewrite(HeaderValue),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub host: Option<HostMatch>,
    pub path_prefix: String,
    pub upstream: Upstream,
    pub policy: Arc<HeaderPolicy>,
    pub host_header: HostHeader,
    /// This route's error-body policy: the policy's, with the route's mode if it sets one.
    pub error_bodies: Arc<ErrorBodyPolicy>,
}

impl Route {
    /// Prefixes match whole path segments: `/api` serves `/api` and `/api/x`, not `/apix`, so a
    /// route never captures a sibling path by accident. A prefix ending in `/` matches as written.
    pub fn matches_path(&self, path: &str) -> bool {
        let p = self.path_prefix.as_str();
        if p == "/" || p.ends_with('/') {
            return path.starts_with(p);
        }
        path.starts_with(p)
            && matches!(path.as_bytes().get(p.len()), None | Some(b'/') | Some(b'?'))
    }
}

/// Routes in matching order: longest prefix first, then exact host before wildcard before none.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    pub fn new(mut routes: Vec<Route>) -> RouteTable {
        // A stable sort keeps file order among equals, so the first written route wins a tie.
        routes.sort_by(|a, b| {
            b.path_prefix
                .len()
                .cmp(&a.path_prefix.len())
                .then_with(|| host_rank(b).cmp(&host_rank(a)))
        });
        RouteTable {
            routes: routes.into_iter().map(Arc::new).collect(),
        }
    }

    /// The route for a request, or `None` when no route matches.
    pub fn select(&self, host: Option<&str>, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| {
            let host_ok = match (&r.host, host) {
                (None, _) => true,
                (Some(m), Some(h)) => m.matches(h),
                (Some(_), None) => false,
            };
            host_ok && r.matches_path(path)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.iter()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

fn host_rank(r: &Route) -> u8 {
    r.host.as_ref().map_or(0, HostMatch::rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySpec;

    fn route(name: &str, host: Option<&str>, prefix: &str) -> Route {
        Route {
            name: name.into(),
            host: host.map(HostMatch::parse),
            path_prefix: prefix.into(),
            upstream: Upstream {
                scheme: Scheme::HTTP,
                authority: Authority::from_static("127.0.0.1:1"),
                url: "http://127.0.0.1:1".into(),
                ca_file: None,
                client_cert: None,
            },
            policy: Arc::new(HeaderPolicy::compile("none", PolicySpec::empty()).unwrap()),
            host_header: HostHeader::Preserve,
            error_bodies: Arc::new(ErrorBodyPolicy::default_for(crate::ErrorBodyMode::Off)),
        }
    }

    fn pick<'a>(t: &'a RouteTable, host: Option<&str>, path: &str) -> Option<&'a str> {
        t.select(host, path).map(|r| r.name.as_str())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = RouteTable::new(vec![
            route("root", None, "/"),
            route("api", None, "/api"),
            route("v2", None, "/api/v2"),
        ]);
        assert_eq!(pick(&t, None, "/api/v2/x"), Some("v2"));
        assert_eq!(pick(&t, None, "/api/v1"), Some("api"));
        assert_eq!(pick(&t, None, "/api"), Some("api"));
        assert_eq!(pick(&t, None, "/apix"), Some("root"));
    }

    #[test]
    fn host_specific_route_beats_catch_all_with_same_prefix() {
        let t = RouteTable::new(vec![
            route("any", None, "/"),
            route("wild", Some("*.example.com"), "/"),
            route("exact", Some("api.example.com"), "/"),
        ]);
        assert_eq!(pick(&t, Some("API.example.com:8443"), "/"), Some("exact"));
        assert_eq!(pick(&t, Some("www.example.com"), "/"), Some("wild"));
        assert_eq!(pick(&t, Some("example.com"), "/"), Some("any"));
        assert_eq!(pick(&t, None, "/"), Some("any"));
    }

    #[test]
    fn no_route_when_nothing_matches() {
        let t = RouteTable::new(vec![route("api", Some("api.example.com"), "/api")]);
        assert_eq!(pick(&t, Some("other"), "/api"), None);
    }

    #[test]
    fn ipv6_host_port_is_stripped() {
        assert!(HostMatch::parse("[::1]").matches("[::1]:8080"));
    }
}
