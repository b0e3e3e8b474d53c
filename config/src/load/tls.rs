//! The TLS parts of the configuration: the listener's certificates, the HTTP->HTTPS redirect
//! listener and client certificates for upstreams.
//!
//! Only paths are checked here (that they name files); the proxy reads and parses the PEM and
//! names the file when that fails, at start and on every reload.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{Loader, Overrides, span};
use crate::raw::{RawRoute, RawServer, RawTls};
use crate::route::ClientCert;
use crate::settings::{CertificateSource, ServerSettings, TlsSettings};

const FIELD: &str = "server.tls";

impl Loader<'_> {
    /// Fills `s.tls` and `s.redirect_http` from the file and the command line.
    pub(super) fn listener_tls(&mut self, r: &RawServer, o: &Overrides, s: &mut ServerSettings) {
        let file_tls = r.tls.as_ref();
        let reload_interval = file_tls
            .and_then(|t| t.get_ref().reload_interval.as_ref())
            .map_or(Some(TlsSettings::DEFAULT_RELOAD_INTERVAL), |v| {
                match humantime::parse_duration(v.get_ref()) {
                    // Zero switches polling off: certificates then reload on SIGHUP only.
                    Ok(d) => (!d.is_zero()).then_some(d),
                    Err(e) => {
                        self.err(
                            span(v),
                            format!("{FIELD}.reload_interval"),
                            format!(
                                "{:?} is not a duration such as \"10s\" (\"0s\" checks only on SIGHUP): {e}",
                                v.get_ref()
                            ),
                        );
                        None
                    }
                }
            });

        s.tls = match (&o.tls_cert, &o.tls_key, file_tls) {
            (Some(cert), Some(key), _) => {
                let cert = self.cli_path(cert, "--tls-cert");
                let key = self.cli_path(key, "--tls-key");
                cert.zip(key).map(|(cert, key)| TlsSettings {
                    certificates: vec![CertificateSource {
                        cert,
                        key,
                        sni: Vec::new(),
                    }],
                    default: 0,
                    reload_interval,
                })
            }
            (Some(_), None, _) => {
                self.cli_err(
                    "--tls-cert",
                    "needs --tls-key (the certificate's private key)",
                );
                None
            }
            (None, Some(_), _) => {
                self.cli_err("--tls-key", "needs --tls-cert (the certificate chain)");
                None
            }
            (None, None, Some(t)) => self.tls_table(t, reload_interval),
            (None, None, None) => None,
        };

        let redirect = match (o.redirect_http, &r.redirect_http) {
            (Some(a), _) => Some((a, None, "--redirect-http".to_owned())),
            (None, Some(v)) => match v.get_ref().parse::<SocketAddr>() {
                Ok(a) => Some((a, span(v), "server.redirect_http".to_owned())),
                Err(_) => {
                    self.err(
                        span(v),
                        "server.redirect_http",
                        format!(
                            "{:?} is not an address:port such as 0.0.0.0:80",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
            (None, None) => None,
        };
        let redirect_asked = redirect.is_some();
        if let Some((addr, at, field)) = redirect {
            let problem = if s.tls.is_none() && !self.tls_requested(o, file_tls) {
                Some("redirects to this proxy's HTTPS listener, so it needs [server.tls] (or --tls-cert and --tls-key)".to_owned())
            } else if addr == s.listen && addr.port() != 0 {
                Some(format!("{addr} is also the HTTPS listener's address"))
            } else {
                None
            };
            match (problem, at) {
                (Some(m), Some(at)) => self.err(Some(at), field, m),
                (Some(m), None) => self.cli_err(&field, m),
                (None, _) => s.redirect_http = Some(addr),
            }
        }
        if let Some(p) = &r.redirect_https_port {
            if !redirect_asked {
                self.err(
                    span(p),
                    "server.redirect_https_port",
                    "only applies with redirect_http (or --redirect-http)",
                );
            } else if *p.get_ref() == 0 {
                self.err(
                    span(p),
                    "server.redirect_https_port",
                    "must be a port from 1 to 65535",
                );
            } else {
                s.redirect_https_port = Some(*p.get_ref());
            }
        }
    }

    /// TLS was asked for but its settings had errors (already reported): do not add a
    /// misleading "needs [server.tls]" on top.
    fn tls_requested(&self, o: &Overrides, file_tls: Option<&Spanned<RawTls>>) -> bool {
        o.tls_cert.is_some() || o.tls_key.is_some() || file_tls.is_some()
    }

    fn tls_table(
        &mut self,
        t: &Spanned<RawTls>,
        reload_interval: Option<std::time::Duration>,
    ) -> Option<TlsSettings> {
        let raw = t.get_ref();
        if raw.certificates.is_empty() {
            self.err(
                span(t),
                format!("{FIELD}.certificates"),
                "list at least one certificate: certificates = [{ cert = \"site.pem\", key = \"site.key\" }]",
            );
            return None;
        }
        let before = self.errors.len();
        let mut certificates = Vec::with_capacity(raw.certificates.len());
        let mut default: Option<usize> = None;
        // Server name -> the certificate that claimed it first.
        let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
        for (i, c) in raw.certificates.iter().enumerate() {
            let field = format!("{FIELD}.certificates[{i}]");
            let c = c.get_ref();
            let cert = self.file_path(&c.cert, format!("{field}.cert"));
            let key = self.file_path(&c.key, format!("{field}.key"));
            let mut sni = Vec::new();
            for name in c.sni.iter().flatten() {
                let Some(n) = server_name(name.get_ref()) else {
                    self.err(
                        span(name),
                        format!("{field}.sni"),
                        format!(
                            "{:?} is not a server name such as api.example.com or *.example.com",
                            name.get_ref()
                        ),
                    );
                    continue;
                };
                if let Some(first) = claimed.get(&n) {
                    self.err(
                        span(name),
                        format!("{field}.sni"),
                        format!("{n} is already listed by {FIELD}.certificates[{first}]"),
                    );
                    continue;
                }
                claimed.insert(n.clone(), i);
                sni.push(n);
            }
            if let Some(d) = c.default.as_ref().filter(|d| *d.get_ref()) {
                match default {
                    Some(first) => self.err(
                        span(d),
                        format!("{field}.default"),
                        format!(
                            "{FIELD}.certificates[{first}] is already the default; only one can be"
                        ),
                    ),
                    None => default = Some(i),
                }
            }
            if let (Some(cert), Some(key)) = (cert, key) {
                certificates.push(CertificateSource { cert, key, sni });
            }
        }
        (self.errors.len() == before).then(|| TlsSettings {
            certificates,
            default: default.unwrap_or(0),
            reload_interval,
        })
    }

    /// A route's `client_cert` + `client_key` (both or neither, HTTPS upstreams only).
    pub(super) fn client_cert(
        &mut self,
        f: &str,
        r: &RawRoute,
        https: Option<bool>,
    ) -> Option<ClientCert> {
        match (&r.client_cert, &r.client_key) {
            (None, None) => None,
            (Some(c), None) => {
                self.err(
                    span(c),
                    format!("{f}.client_cert"),
                    "needs client_key (the certificate's private key)",
                );
                None
            }
            (None, Some(k)) => {
                self.err(
                    span(k),
                    format!("{f}.client_key"),
                    "needs client_cert (the certificate chain)",
                );
                None
            }
            (Some(c), Some(k)) => {
                if https == Some(false) {
                    self.err(
                        span(c),
                        format!("{f}.client_cert"),
                        "only applies to https:// upstreams",
                    );
                    return None;
                }
                let cert = self.file_path(c, format!("{f}.client_cert"));
                let key = self.file_path(k, format!("{f}.client_key"));
                cert.zip(key).map(|(cert, key)| ClientCert { cert, key })
            }
        }
    }

    /// A path from the file, relative to the file's directory, that must name a file.
    fn file_path(&mut self, v: &Spanned<String>, field: String) -> Option<PathBuf> {
        let p = self.base_dir.join(v.get_ref());
        match not_a_file(&p) {
            None => Some(p),
            Some(m) => {
                self.err(span(v), field, m);
                None
            }
        }
    }

    /// A path from the command line, relative to the working directory.
    fn cli_path(&mut self, p: &Path, flag: &str) -> Option<PathBuf> {
        match not_a_file(p) {
            None => Some(p.to_path_buf()),
            Some(m) => {
                self.cli_err(flag, m);
                None
            }
        }
    }
}

fn not_a_file(p: &Path) -> Option<String> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => None,
        Ok(_) => Some(format!("{} is not a file", p.display())),
        Err(e) => Some(format!("{}: {e}", p.display())),
    }
}

/// A DNS name or a one-label wildcard (`*.example.com`), lowercased; `None` when it is neither.
fn server_name(v: &str) -> Option<String> {
    let v = v.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = v.strip_prefix("*.").unwrap_or(&v);
    let ok = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(v)
}

#[cfg(test)]
mod tests {
    use super::server_name;

    #[test]
    fn server_names_are_lowercased_and_checked() {
        assert_eq!(
            server_name("API.Example.com").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(
            server_name("*.example.com").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(server_name("example.com.").as_deref(), Some("example.com"));
        for bad in [
            "",
            "*",
            "*.",
            "a..b",
            "-a.com",
            "a_b.com",
            "*.*.com",
            "a.com:443",
            "x/y",
        ] {
            assert_eq!(server_name(bad), None, "{bad:?}");
        }
    }
}
