//! `rampart-proxy check`: the effective headers per route, as the proxy will send them.

use std::fmt::Write;

use rampart_config::{
    Config, ErrorBodyMode, ErrorBodyPolicy, HeaderPolicy, HostHeader, HostMatch, OverLimit,
    ServerSettings, ServerSpec, UpstreamCheck,
};

/// Renders the report printed by `check`.
pub fn report(config: &Config) -> String {
    let mut out = String::new();
    let source = config.source.as_ref().map_or_else(
        || "command-line flags".to_owned(),
        |p| p.display().to_string(),
    );
    let _ = writeln!(out, "configuration OK: {source}");
    let _ = writeln!(out, "listen: {}", config.server.listen);
    tls_lines(&mut out, &config.server);
    operations_lines(&mut out, config);
    for route in config.routes.iter() {
        let host = match &route.host {
            None => "*".to_owned(),
            Some(HostMatch::Exact(h)) => h.clone(),
            Some(HostMatch::Suffix(s)) => format!("*{s}"),
        };
        let host_header = match &route.host_header {
            HostHeader::Preserve => "client's".to_owned(),
            HostHeader::Upstream => "upstream's".to_owned(),
            HostHeader::Rewrite(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        };
        let _ = writeln!(
            out,
            "\nroute {:?}: host {host}, path {} -> {} (policy {}, Host {host_header})",
            route.name, route.path_prefix, route.upstream.url, route.policy.name
        );
        policy_lines(&mut out, &route.policy);
        error_body_line(&mut out, &route.error_bodies);
    }
    let _ = writeln!(
        out,
        "\nunmatched requests: 404, policy {}",
        config.default_policy.name
    );
    out
}

/// The admin listener, reloads and the drain: how the proxy is operated.
fn operations_lines(out: &mut String, config: &Config) {
    if let Some(admin) = &config.admin {
        let check = match &admin.readiness.check {
            UpstreamCheck::None => "none".to_owned(),
            UpstreamCheck::Tcp => "TCP connect".to_owned(),
            UpstreamCheck::Http { path } => format!("GET {path} below 500"),
        };
        let _ = writeln!(
            out,
            "admin: {} (/healthz, /readyz, /metrics); upstream check: {check}, every {:?}, timeout {:?}",
            admin.listen, admin.readiness.interval, admin.readiness.timeout
        );
    }
    let s = &config.server;
    let watch = s.config_watch.map_or_else(
        || "on SIGHUP only".to_owned(),
        |d| format!("on SIGHUP and on change (checked every {d:?})"),
    );
    let _ = writeln!(out, "reload: {watch}");
    let _ = writeln!(
        out,
        "shutdown: unready, then the listener closes after {:?}, then up to {:?} for in-flight requests",
        s.timeouts.drain_delay, s.timeouts.drain
    );
}

/// The TLS listener's certificates and the redirect listener, when configured.
fn tls_lines(out: &mut String, server: &ServerSettings) {
    if let Some(tls) = &server.tls {
        let reload = tls.reload_interval.map_or_else(
            || "on SIGHUP only".to_owned(),
            |d| format!("every {d:?} and on SIGHUP"),
        );
        let _ = writeln!(
            out,
            "tls: TLS 1.2/1.3, ALPN h2 and http/1.1; certificates reloaded {reload}"
        );
        for (i, c) in tls.certificates.iter().enumerate() {
            let names = if c.sni.is_empty() {
                "the certificate's own DNS names".to_owned()
            } else {
                c.sni.join(", ")
            };
            let default = if i == tls.default { " (default)" } else { "" };
            let _ = writeln!(
                out,
                "  {} + {}: {names}{default}",
                c.cert.display(),
                c.key.display()
            );
        }
    }
    if let Some(r) = server.redirect_http {
        let port = server.redirect_https_port.map_or_else(
            || "the TLS listener's port".to_owned(),
            |p| format!("port {p}"),
        );
        let _ = writeln!(out, "redirect_http: {r} -> 308 to https ({port}), no HSTS");
    }
}

fn policy_lines(out: &mut String, policy: &HeaderPolicy) {
    let spec = &policy.spec;
    if let Some(h) = &spec.hsts {
        let when = if h.force { "always" } else { "HTTPS only" };
        let _ = writeln!(
            out,
            "  Strict-Transport-Security: {}  [{}, {when}]",
            h.value(),
            h.mode.as_str()
        );
    }
    for (name, value, mode) in spec
        .headers()
        .into_iter()
        .filter(|(n, _, _)| n != "Strict-Transport-Security")
    {
        let _ = writeln!(out, "  {name}: {value}  [{}]", mode.as_str());
    }
    match &spec.server {
        ServerSpec::Keep => {
            let _ = writeln!(out, "  Server: (origin's, unchanged)");
        }
        ServerSpec::Remove => {
            let _ = writeln!(out, "  Server: (removed)");
        }
        ServerSpec::Set(v) => {
            let _ = writeln!(out, "  Server: {v}  [override, exactly once]");
        }
    }
    if spec.remove.is_empty() {
        let _ = writeln!(out, "  removes: nothing");
    } else {
        let _ = writeln!(out, "  removes: {}", spec.remove.join(", "));
    }
}

fn error_body_line(out: &mut String, e: &ErrorBodyPolicy) {
    if e.mode == ErrorBodyMode::Off {
        let _ = writeln!(out, "  error bodies: passed through (mode off)");
        return;
    }
    let over = match e.over_limit {
        OverLimit::Replace => "replaced",
        OverLimit::Pass => "passed on",
    };
    let _ = write!(
        out,
        "  error bodies: {} for {}; inspect {} bytes (decoded up to {}), larger ones {over}",
        e.mode.as_str(),
        e.statuses.describe(),
        e.inspect_limit,
        e.decoded_limit
    );
    if !e.custom_names.is_empty() {
        let _ = write!(out, "; custom detectors: {}", e.custom_names.join(", "));
    }
    if !e.templates.is_empty() {
        let codes: Vec<String> = e.templates.keys().map(u16::to_string).collect();
        let _ = write!(out, "; templates for {}", codes.join(", "));
    }
    out.push('\n');
}
