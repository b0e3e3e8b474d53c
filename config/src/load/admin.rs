//! `[admin]`: the listener for `/healthz`, `/readyz` and `/metrics`, and what readiness checks.

use std::net::SocketAddr;
use std::time::Duration;

use toml::Spanned;

use super::{Loader, Overrides, span};
use crate::raw::RawAdmin;
use crate::settings::{AdminSettings, UpstreamCheck};

const FIELD: &str = "admin";

impl Loader<'_> {
    /// The admin listener: `--admin` wins over the file's address; the readiness settings come
    /// from the file either way.
    pub(super) fn admin(
        &mut self,
        raw: Option<&Spanned<RawAdmin>>,
        o: &Overrides,
    ) -> Option<AdminSettings> {
        let raw = raw.map(Spanned::get_ref);
        if raw.is_none() && o.admin.is_none() {
            return None;
        }
        let mut admin = AdminSettings::at(AdminSettings::DEFAULT_LISTEN);
        let Some(raw) = raw else {
            admin.listen = o.admin.unwrap_or(AdminSettings::DEFAULT_LISTEN);
            return Some(admin);
        };
        if let Some(l) = &raw.listen {
            match parse_admin_addr(l.get_ref()) {
                Some(a) => admin.listen = a,
                None => self.err(
                    span(l),
                    format!("{FIELD}.listen"),
                    format!(
                        "{:?} is not an address:port such as 127.0.0.1:9901 (or a port alone, which listens on 127.0.0.1)",
                        l.get_ref()
                    ),
                ),
            }
        }
        if let Some(a) = o.admin {
            admin.listen = a;
        }
        let r = &raw.readiness;
        let field = format!("{FIELD}.readiness");
        if let Some(c) = &r.check {
            admin.readiness.check = match c.get_ref().as_str() {
                "none" => UpstreamCheck::None,
                "tcp" => UpstreamCheck::Tcp,
                "http" => UpstreamCheck::Http {
                    path: "/".to_owned(),
                },
                other => {
                    self.err(
                        span(c),
                        format!("{field}.check"),
                        format!("{other:?} is not \"tcp\", \"http\" or \"none\""),
                    );
                    UpstreamCheck::Tcp
                }
            };
        }
        if let Some(p) = &r.path {
            match &mut admin.readiness.check {
                UpstreamCheck::Http { path } => {
                    if p.get_ref().starts_with('/') && !p.get_ref().contains(char::is_whitespace) {
                        *path = p.get_ref().clone();
                    } else {
                        self.err(
                            span(p),
                            format!("{field}.path"),
                            format!(
                                "{:?} is not a request path such as \"/healthz\"",
                                p.get_ref()
                            ),
                        );
                    }
                }
                _ => self.err(
                    span(p),
                    format!("{field}.path"),
                    "only the \"http\" check requests a path; set check = \"http\"",
                ),
            }
        }
        for (value, key) in [(&r.interval, "interval"), (&r.timeout, "timeout")] {
            let Some(v) = value else { continue };
            match humantime::parse_duration(v.get_ref()) {
                Ok(d) if d.is_zero() => {
                    self.err(
                        span(v),
                        format!("{field}.{key}"),
                        "must be longer than zero",
                    );
                }
                Ok(d) => {
                    let slot: &mut Duration = match key {
                        "interval" => &mut admin.readiness.interval,
                        _ => &mut admin.readiness.timeout,
                    };
                    *slot = d;
                }
                Err(e) => self.err(
                    span(v),
                    format!("{field}.{key}"),
                    format!("{:?} is not a duration such as \"5s\": {e}", v.get_ref()),
                ),
            }
        }
        Some(admin)
    }
}

/// `ADDR:PORT`, or a port alone meaning 127.0.0.1 (the admin listener is loopback unless set).
pub fn parse_admin_addr(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    match s.parse::<u16>() {
        Ok(port) => Some(SocketAddr::new(AdminSettings::DEFAULT_LISTEN.ip(), port)),
        Err(_) => s.parse().ok(),
    }
}
