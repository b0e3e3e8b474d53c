//! Turns a configuration file (and command-line overrides) into a validated [`Config`].
//!
//! Every check happens here, once: the proxy receives header names and values already parsed
//! and never re-validates per request.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};
use ipnet::IpNet;
use toml::Spanned;

use crate::error::{ConfigError, ConfigErrors, SourceMap};
use crate::errors_policy::{self, ErrorBodyMode, ErrorBodyPolicy, OverLimit, StatusSet, Templates};
use crate::leak::{CustomDetector, DetectorSet, LeakError};
use crate::policy::{
    HeaderPolicy, HeaderSpec, HstsSpec, Mode, PolicySpec, ServerSpec, TypedHeader,
};
use crate::presets::{self, DEFAULT_PRESET, PRESET_NAMES};
use crate::raw::{self, RawFile, RawPolicy, RawServerHeader, Toggle};
use crate::route::{HostHeader, HostMatch, Route, RouteTable, Upstream};
use crate::settings::{AdminSettings, LogFormat, ServerSettings};
use crate::values;

mod admin;
mod tls;

pub use admin::parse_admin_addr;

/// A validated configuration: what the proxy runs and what the verifier expects.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    /// Every policy by name: the file's named policies and the presets.
    pub policies: BTreeMap<String, Arc<HeaderPolicy>>,
    /// Applied to responses that match no route (the proxy's own 404).
    pub default_policy: Arc<HeaderPolicy>,
    pub routes: RouteTable,
    /// The admin listener, when configured (`[admin]` or `--admin`).
    pub admin: Option<AdminSettings>,
    /// The file this came from, if any (for reloads and messages).
    pub source: Option<PathBuf>,
}

/// Settings given on the command line; they win over the file and are applied again on reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub workers: Option<usize>,
    /// The policy for routes that name none (and for the proxy's own responses).
    pub preset: Option<String>,
    /// Replaces the file's routes with one catch-all route to this URL.
    pub upstream: Option<String>,
    /// `--tls-cert` and `--tls-key`: one certificate replacing the file's list (paths as given,
    /// relative to the working directory).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--redirect-http`: the plain-HTTP redirect listener's address.
    pub redirect_http: Option<SocketAddr>,
    /// `--admin`: the admin listener's address.
    pub admin: Option<SocketAddr>,
}

const CLI: &str = "<command line>";

impl Config {
    /// Reads and validates a file.
    pub fn load_file(path: &Path, overrides: &Overrides) -> Result<Config, ConfigErrors> {
        let text = Self::read_file(path)?;
        Self::parse_file(&text, path, overrides)
    }

    /// The file's text, or an error naming it. With [`Config::parse_file`], lets a caller keep
    /// exactly the bytes it validated (to fingerprint the running configuration).
    pub fn read_file(path: &Path) -> Result<String, ConfigErrors> {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
            }])
        })
    }

    /// Validates the text of the file at `path` (relative paths in it resolve from its folder).
    pub fn parse_file(
        text: &str,
        path: &Path,
        overrides: &Overrides,
    ) -> Result<Config, ConfigErrors> {
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cfg = Self::parse(text, &path.display().to_string(), &base_dir, overrides)?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Validates configuration text; `file` names it in errors, relative paths resolve from
    /// `base_dir`.
    pub fn parse(
        text: &str,
        file: &str,
        base_dir: &Path,
        overrides: &Overrides,
    ) -> Result<Config, ConfigErrors> {
        let map = SourceMap::new(file, text);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let field = span
                .as_ref()
                .map(|s| map.field_at(s.start))
                .unwrap_or_default();
            map.error_at(span, field, e.message().trim().to_owned())
        })?;
        Loader {
            map,
            base_dir,
            errors: Vec::new(),
        }
        .build(raw, overrides)
    }

    /// No file: the default settings, the `strict` preset (or `--preset`), one route to
    /// `--upstream`.
    pub fn from_overrides(overrides: &Overrides) -> Result<Config, ConfigErrors> {
        Self::parse("", CLI, Path::new("."), overrides)
    }

    /// The policy a route or `--preset` names.
    pub fn policy(&self, name: &str) -> Option<&Arc<HeaderPolicy>> {
        self.policies.get(name)
    }
}

struct Loader<'a> {
    map: SourceMap<'a>,
    base_dir: &'a Path,
    errors: Vec<ConfigError>,
}

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

impl Loader<'_> {
    fn err(
        &mut self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) {
        let e = self.map.error_at(span, field, msg);
        self.errors.push(e);
    }

    fn cli_err(&mut self, field: &str, msg: impl Into<String>) {
        self.errors.push(ConfigError {
            file: CLI.to_owned(),
            line: 0,
            column: 0,
            field: field.to_owned(),
            message: msg.into(),
        });
    }

    fn build(mut self, raw: RawFile, o: &Overrides) -> Result<Config, ConfigErrors> {
        let server = self.server(&raw.server, o);
        let admin = self.admin(raw.admin.as_ref(), o);

        let mut policies = BTreeMap::new();
        for name in PRESET_NAMES {
            if let Some(spec) = presets::preset(name) {
                self.compile_into(&mut policies, name, spec, None);
            }
        }
        for (name, rp) in &raw.policies {
            let field = format!("policies.{}", name.get_ref());
            if PRESET_NAMES.contains(&name.get_ref().as_str()) {
                self.err(
                    span(name),
                    field,
                    "this name is a preset's; give the policy another name and `extends` the preset",
                );
                continue;
            }
            let Some(spec) = self.policy(&field, rp) else {
                continue;
            };
            let base_mode = match rp
                .error_bodies
                .as_ref()
                .and_then(|e| e.get_ref().mode.as_ref())
            {
                Some(m) => match ErrorBodyMode::parse(m.get_ref()) {
                    Some(mode) => mode,
                    None => {
                        self.err(
                            span(m),
                            format!("{field}.error_bodies.mode"),
                            format!("{:?} is not \"leaky\", \"always\" or \"off\"", m.get_ref()),
                        );
                        continue;
                    }
                },
                None => spec.error_body_mode,
            };
            let errors_policy = self.error_bodies(&field, base_mode, rp.error_bodies.as_ref());
            match (HeaderPolicy::compile(name.get_ref(), spec), errors_policy) {
                (Ok(mut p), Some(e)) => {
                    p.error_bodies = Arc::new(e);
                    policies.insert(name.get_ref().clone(), Arc::new(p));
                }
                (Err(e), _) => self.err(span(name), format!("{field}.{}", e.field), e.message),
                (Ok(_), None) => {}
            }
        }

        let default_name = match (&o.preset, &raw.server.default_policy) {
            (Some(p), _) => {
                if !policies.contains_key(p) {
                    self.cli_err(
                        "--preset",
                        format!(
                            "unknown preset {p:?}; choose one of: {}",
                            PRESET_NAMES.join(", ")
                        ),
                    );
                }
                p.clone()
            }
            (None, Some(d)) => {
                if !policies.contains_key(d.get_ref()) {
                    let msg = unknown_policy(d.get_ref(), &policies);
                    self.err(span(d), "server.default_policy", msg);
                }
                d.get_ref().clone()
            }
            (None, None) => DEFAULT_PRESET.to_owned(),
        };
        let default_policy = policies
            .get(&default_name)
            .or_else(|| policies.get(DEFAULT_PRESET))
            .cloned();

        let routes = match &default_policy {
            Some(d) => self.routes(&raw, o, &policies, d),
            None => Vec::new(),
        };

        match (self.errors.is_empty(), default_policy) {
            (true, Some(default_policy)) => Ok(Config {
                server,
                policies,
                default_policy,
                routes: RouteTable::new(routes),
                admin,
                source: None,
            }),
            _ => {
                if self.errors.is_empty() {
                    self.cli_err("", "internal error: the strict preset failed to compile");
                }
                Err(ConfigErrors(self.errors))
            }
        }
    }

    fn compile_into(
        &mut self,
        policies: &mut BTreeMap<String, Arc<HeaderPolicy>>,
        name: &str,
        spec: PolicySpec,
        at: Option<Range<usize>>,
    ) {
        match HeaderPolicy::compile(name, spec) {
            Ok(p) => {
                policies.insert(name.to_owned(), Arc::new(p));
            }
            Err(e) => self.err(at, format!("policies.{name}.{}", e.field), e.message),
        }
    }

    fn server(&mut self, r: &raw::RawServer, o: &Overrides) -> ServerSettings {
        let mut s = ServerSettings::default();
        if let Some(l) = &r.listen {
            match l.get_ref().parse::<SocketAddr>() {
                Ok(a) => s.listen = a,
                Err(_) => self.err(
                    span(l),
                    "server.listen",
                    format!(
                        "{:?} is not an address:port such as 0.0.0.0:8080",
                        l.get_ref()
                    ),
                ),
            }
        }
        if let Some(w) = &r.workers {
            if *w.get_ref() == 0 {
                self.err(span(w), "server.workers", "must be at least 1");
            } else {
                s.workers = Some(*w.get_ref());
            }
        }
        for t in r.trusted_proxies.iter().flatten() {
            let v = t.get_ref().trim();
            match v
                .parse::<IpNet>()
                .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(n) => s.trusted_proxies.push(n),
                Err(_) => self.err(
                    span(t),
                    "server.trusted_proxies",
                    format!("{v:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"),
                ),
            }
        }
        if let Some(a) = r.access_log {
            s.access_log = a;
        }
        if let Some(f) = &r.log_format {
            match f.get_ref().as_str() {
                "text" => s.log_format = LogFormat::Text,
                "json" => s.log_format = LogFormat::Json,
                other => self.err(
                    span(f),
                    "server.log_format",
                    format!("{other:?} is not \"text\" or \"json\""),
                ),
            }
        }
        let t = &r.timeouts;
        let slots: [(&Option<Spanned<String>>, &str, &mut Duration, bool); 6] = [
            (
                &t.client_header,
                "client_header",
                &mut s.timeouts.client_header,
                false,
            ),
            (
                &t.upstream_connect,
                "upstream_connect",
                &mut s.timeouts.upstream_connect,
                false,
            ),
            (
                &t.upstream_response,
                "upstream_response",
                &mut s.timeouts.upstream_response,
                false,
            ),
            (&t.idle, "idle", &mut s.timeouts.idle, false),
            (&t.drain, "drain", &mut s.timeouts.drain, true),
            (
                &t.drain_delay,
                "drain_delay",
                &mut s.timeouts.drain_delay,
                true,
            ),
        ];
        let mut errs = Vec::new();
        for (value, key, slot, zero_ok) in slots {
            if let Some(v) = value {
                match humantime::parse_duration(v.get_ref()) {
                    Ok(d) if d.is_zero() && !zero_ok => {
                        errs.push((span(v), key, "must be longer than zero".to_owned()));
                    }
                    Ok(d) => *slot = d,
                    Err(e) => errs.push((
                        span(v),
                        key,
                        format!(
                            "{:?} is not a duration such as \"10s\" or \"1m 30s\": {e}",
                            v.get_ref()
                        ),
                    )),
                }
            }
        }
        for (sp, key, msg) in errs {
            self.err(sp, format!("server.timeouts.{key}"), msg);
        }
        if let Some(m) = &r.limits.max_request_header_bytes {
            let v = *m.get_ref();
            if !(8192..=1 << 20).contains(&v) {
                self.err(
                    span(m),
                    "server.limits.max_request_header_bytes",
                    "must be between 8192 and 1048576",
                );
            } else {
                s.limits.max_request_header_bytes = v;
            }
        }
        if let Some(m) = &r.limits.max_connections {
            if *m.get_ref() == 0 {
                self.err(
                    span(m),
                    "server.limits.max_connections",
                    "must be at least 1",
                );
            } else {
                s.limits.max_connections = *m.get_ref();
            }
        }
        if let Some(v) = &r.config_watch_interval {
            match humantime::parse_duration(v.get_ref()) {
                // Zero switches polling off: the file then reloads on SIGHUP only.
                Ok(d) => s.config_watch = (!d.is_zero()).then_some(d),
                Err(e) => self.err(
                    span(v),
                    "server.config_watch_interval",
                    format!(
                        "{:?} is not a duration such as \"2s\" (\"0s\" reloads on SIGHUP only): {e}",
                        v.get_ref()
                    ),
                ),
            }
        }
        if let Some(l) = o.listen {
            s.listen = l;
        }
        if let Some(w) = o.workers {
            if w == 0 {
                self.cli_err("--workers", "must be at least 1");
            } else {
                s.workers = Some(w);
            }
        }
        // Last: the redirect listener is checked against the final listen address.
        self.listener_tls(r, o, &mut s);
        s
    }

    fn policy(&mut self, field: &str, rp: &RawPolicy) -> Option<PolicySpec> {
        let base_name = rp
            .extends
            .as_ref()
            .map_or(DEFAULT_PRESET, |e| e.get_ref().as_str());
        let Some(mut spec) = presets::preset(base_name) else {
            let at = rp.extends.as_ref().and_then(span);
            self.err(
                at,
                format!("{field}.extends"),
                format!(
                    "unknown preset {base_name:?}; choose one of: {}",
                    PRESET_NAMES.join(", ")
                ),
            );
            return None;
        };
        let before = self.errors.len();

        if let Some(s) = &rp.server {
            spec.server = match s.get_ref() {
                RawServerHeader::Flag(true) => ServerSpec::Keep,
                RawServerHeader::Flag(false) => ServerSpec::Remove,
                RawServerHeader::Value(v) => match values::check_header_value(v) {
                    Ok(()) => ServerSpec::Set(v.trim().to_owned()),
                    Err(m) => {
                        self.err(span(s), format!("{field}.server"), m);
                        ServerSpec::Keep
                    }
                },
            };
        }

        if let Some(h) = &rp.strict_transport_security {
            spec.hsts = self.hsts(field, spec.hsts.take(), h);
        }

        let typed: [(&Option<Spanned<Toggle<raw::RawHeader>>>, TypedHeader); 11] = [
            (
                &rp.content_security_policy,
                TypedHeader::ContentSecurityPolicy,
            ),
            (
                &rp.content_security_policy_report_only,
                TypedHeader::ContentSecurityPolicyReportOnly,
            ),
            (&rp.x_frame_options, TypedHeader::XFrameOptions),
            (&rp.x_content_type_options, TypedHeader::XContentTypeOptions),
            (&rp.referrer_policy, TypedHeader::ReferrerPolicy),
            (&rp.permissions_policy, TypedHeader::PermissionsPolicy),
            (
                &rp.cross_origin_opener_policy,
                TypedHeader::CrossOriginOpenerPolicy,
            ),
            (
                &rp.cross_origin_resource_policy,
                TypedHeader::CrossOriginResourcePolicy,
            ),
            (
                &rp.cross_origin_embedder_policy,
                TypedHeader::CrossOriginEmbedderPolicy,
            ),
            (
                &rp.x_permitted_cross_domain_policies,
                TypedHeader::XPermittedCrossDomainPolicies,
            ),
            (&rp.x_xss_protection, TypedHeader::XXssProtection),
        ];
        for (raw, th) in typed {
            if let Some(r) = raw {
                let merged = self.typed(field, th, spec.get(th).cloned(), r);
                spec.set(th, merged);
            }
        }

        for c in &rp.custom {
            self.custom(field, &mut spec, c);
        }

        if let Some(list) = &rp.remove {
            spec.remove.clear();
            self.remove_entries(field, "remove", &mut spec, list);
        }
        if let Some(list) = &rp.also_remove {
            self.remove_entries(field, "also_remove", &mut spec, list);
        }
        self.remove_conflicts(field, &spec, rp);

        (self.errors.len() == before).then_some(spec)
    }

    fn error_bodies(
        &mut self,
        field: &str,
        mode: ErrorBodyMode,
        raw: Option<&Spanned<raw::RawErrorBodies>>,
    ) -> Option<ErrorBodyPolicy> {
        let mut p = ErrorBodyPolicy::default_for(mode);
        let Some(raw) = raw else { return Some(p) };
        let r = raw.get_ref();
        let f = format!("{field}.error_bodies");
        let before = self.errors.len();
        if let Some(list) = &r.statuses {
            let mut ranges = Vec::new();
            for item in list {
                let parsed = match item.get_ref() {
                    raw::RawStatus::Code(c) => StatusSet::parse_item(&c.to_string()),
                    raw::RawStatus::Text(t) => StatusSet::parse_item(t),
                };
                match parsed {
                    Some(r) => ranges.push(r),
                    None => self.err(
                        span(item),
                        format!("{f}.statuses"),
                        "each entry is an error status (400-599) or \"4xx\" / \"5xx\"",
                    ),
                }
            }
            p.statuses = StatusSet::from_ranges(ranges);
        }
        for (key, slot) in [
            ("inspect_limit", &r.inspect_limit),
            ("decoded_limit", &r.decoded_limit),
        ] {
            let Some(v) = slot else { continue };
            let bytes = match v.get_ref() {
                raw::RawSize::Bytes(b) => usize::try_from(*b).ok(),
                raw::RawSize::Text(t) => errors_policy::parse_size(t),
            };
            match bytes {
                Some(b) if (1..=64 << 20).contains(&b) => {
                    if key == "inspect_limit" {
                        p.inspect_limit = b;
                    } else {
                        p.decoded_limit = b;
                    }
                }
                _ => self.err(
                    span(v),
                    format!("{f}.{key}"),
                    "a size between 1 byte and 64MiB, e.g. 65536 or \"64KiB\"",
                ),
            }
        }
        if let Some(o) = &r.over_limit {
            match o.get_ref().as_str() {
                "replace" => p.over_limit = OverLimit::Replace,
                "pass" => p.over_limit = OverLimit::Pass,
                other => self.err(
                    span(o),
                    format!("{f}.over_limit"),
                    format!("{other:?} is not \"replace\" or \"pass\""),
                ),
            }
        }
        if p.decoded_limit < p.inspect_limit {
            let at = r.decoded_limit.as_ref().map_or(Some(raw.span()), span);
            self.err(
                at,
                format!("{f}.decoded_limit"),
                "must be at least inspect_limit (the decoded body is what gets inspected)",
            );
        }
        if !r.detectors.is_empty() {
            let custom: Vec<CustomDetector> = r
                .detectors
                .iter()
                .map(|d| CustomDetector {
                    name: d.get_ref().name.get_ref().clone(),
                    pattern: d.get_ref().pattern.get_ref().clone(),
                })
                .collect();
            match DetectorSet::with_custom(&custom) {
                Ok(set) => {
                    p.detectors = set;
                    p.custom_names = custom.into_iter().map(|c| c.name).collect();
                }
                Err(e) => {
                    // Point at the detector the error names, else at the list.
                    let named = match &e {
                        LeakError::InvalidRegex { name, .. }
                        | LeakError::MatchesEmpty { name }
                        | LeakError::InvalidName { name }
                        | LeakError::DuplicateName { name } => Some(name.clone()),
                        LeakError::EmptyName
                        | LeakError::TooLarge { .. }
                        | LeakError::FirstMatchTooLarge { .. } => None,
                    };
                    let at = r
                        .detectors
                        .iter()
                        .find(|d| Some(d.get_ref().name.get_ref()) == named.as_ref())
                        .map_or(Some(r.detectors[0].span()), |d| span(&d.get_ref().pattern));
                    self.err(at, format!("{f}.detectors"), e.to_string());
                }
            }
        }
        for (status, t) in &r.templates {
            let code = status
                .get_ref()
                .parse::<u16>()
                .ok()
                .filter(|c| (400..=599).contains(c));
            let Some(code) = code else {
                self.err(
                    span(status),
                    format!("{f}.templates"),
                    format!("{:?} is not an error status (400-599)", status.get_ref()),
                );
                continue;
            };
            let t = t.get_ref();
            let mut out = Templates::default();
            for (kind, v, slot) in [
                ("json", &t.json, &mut out.json),
                ("html", &t.html, &mut out.html),
                ("text", &t.text, &mut out.text),
            ] {
                let Some(v) = v else { continue };
                if v.get_ref().is_empty() {
                    self.err(
                        span(v),
                        format!("{f}.templates.{code}.{kind}"),
                        "an empty template; omit it to use the built-in body",
                    );
                } else if DetectorSet::builtin().is_leaky(v.get_ref().as_bytes()) {
                    self.err(
                        span(v),
                        format!("{f}.templates.{code}.{kind}"),
                        "this template itself matches a leak detector",
                    );
                } else {
                    *slot = Some(v.get_ref().clone());
                }
            }
            p.templates.insert(code, out);
        }
        (self.errors.len() == before).then_some(p)
    }

    fn hsts(
        &mut self,
        field: &str,
        base: Option<HstsSpec>,
        r: &Spanned<Toggle<raw::RawHsts>>,
    ) -> Option<HstsSpec> {
        let f = format!("{field}.strict_transport_security");
        let Toggle::On(h) = r.get_ref() else {
            return None;
        };
        let b = base.unwrap_or(HstsSpec {
            max_age: 63_072_000,
            include_subdomains: true,
            preload: false,
            mode: Mode::Override,
            force: false,
        });
        let spec = HstsSpec {
            max_age: h.max_age.as_ref().map_or(b.max_age, |v| *v.get_ref()),
            include_subdomains: h
                .include_subdomains
                .as_ref()
                .map_or(b.include_subdomains, |v| *v.get_ref()),
            preload: h.preload.as_ref().map_or(b.preload, |v| *v.get_ref()),
            mode: h.override_.map_or(b.mode, Mode::from_override),
            force: h.force.unwrap_or(b.force),
        };
        if spec.preload {
            let at = h.preload.as_ref().map_or(Some(r.span()), span);
            if !spec.include_subdomains {
                self.err(
                    at.clone(),
                    format!("{f}.preload"),
                    "preload requires include_subdomains = true (the preload list rejects the site otherwise)",
                );
            }
            if spec.max_age < 31_536_000 {
                self.err(
                    at,
                    format!("{f}.preload"),
                    format!(
                        "preload requires max_age >= 31536000 (one year); it is {}",
                        spec.max_age
                    ),
                );
            }
        }
        Some(spec)
    }

    fn typed(
        &mut self,
        field: &str,
        th: TypedHeader,
        base: Option<HeaderSpec>,
        r: &Spanned<Toggle<raw::RawHeader>>,
    ) -> Option<HeaderSpec> {
        let f = format!("{field}.{}", th.config_key());
        let Toggle::On(h) = r.get_ref() else {
            return None;
        };
        let mode = h
            .override_
            .map(Mode::from_override)
            .or(base.as_ref().map(|b| b.mode))
            .unwrap_or(Mode::Override);
        let (value, at) = match (&h.value, base, th) {
            (Some(v), _, _) => (v.get_ref().clone(), span(v)),
            (None, Some(b), _) => (b.value, Some(r.span())),
            (None, None, TypedHeader::XContentTypeOptions) => {
                ("nosniff".to_owned(), Some(r.span()))
            }
            (None, None, TypedHeader::XXssProtection) => ("0".to_owned(), Some(r.span())),
            (None, None, _) => {
                self.err(
                    Some(r.span()),
                    format!("{f}.value"),
                    "needs a value: the preset this policy extends does not set this header",
                );
                return None;
            }
        };
        match values::check_typed(th, &value) {
            Ok(value) => Some(HeaderSpec { value, mode }),
            Err(m) => {
                self.err(at, format!("{f}.value"), m);
                None
            }
        }
    }

    fn custom(&mut self, field: &str, spec: &mut PolicySpec, c: &Spanned<raw::RawCustom>) {
        let c_span = c.span();
        let c = c.get_ref();
        let f = format!("{field}.custom");
        let name = c.name.get_ref().trim().to_owned();
        if let Err(m) = values::check_header_name(&name) {
            self.err(span(&c.name), format!("{f}.name"), m);
            return;
        }
        let lower = name.to_ascii_lowercase();
        if lower == "strict-transport-security" {
            self.err(
                span(&c.name),
                format!("{f}.name"),
                "use the typed rule `strict_transport_security`",
            );
            return;
        }
        if let Some(t) = TypedHeader::ALL
            .iter()
            .find(|t| t.header_name().eq_ignore_ascii_case(&lower))
        {
            self.err(
                span(&c.name),
                format!("{f}.name"),
                format!(
                    "use the typed rule `{}`, which validates the value",
                    t.config_key()
                ),
            );
            return;
        }
        if lower == "server" {
            self.err(
                span(&c.name),
                format!("{f}.name"),
                "use `server = \"...\"` on the policy",
            );
            return;
        }
        if is_framing_header(&lower) {
            self.err(
                span(&c.name),
                format!("{f}.name"),
                format!(
                    "{name} describes the connection or the body framing; a policy cannot set it"
                ),
            );
            return;
        }
        let existing = spec
            .custom
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name));
        if c.enabled == Some(false) {
            if let Some(i) = existing {
                spec.custom.remove(i);
            }
            return;
        }
        let Some(value) = &c.value else {
            self.err(
                Some(c_span),
                format!("{f}.value"),
                "a custom header needs a value",
            );
            return;
        };
        if let Err(m) = values::check_header_value(value.get_ref()) {
            self.err(span(value), format!("{f}.value"), m);
            return;
        }
        let hs = HeaderSpec {
            value: value.get_ref().trim().to_owned(),
            mode: Mode::from_override(c.override_.unwrap_or(true)),
        };
        match existing {
            Some(i) => spec.custom[i] = (name, hs),
            None => spec.custom.push((name, hs)),
        }
    }

    fn remove_entries(
        &mut self,
        field: &str,
        key: &str,
        spec: &mut PolicySpec,
        list: &[Spanned<String>],
    ) {
        for e in list {
            let v = e.get_ref().trim().to_ascii_lowercase();
            let bare = v.strip_suffix('*').unwrap_or(&v);
            let check = if bare.is_empty() {
                Err("an entry must name a header (a lone `*` would strip every header)".to_owned())
            } else if bare.contains('*') {
                Err("`*` is only allowed at the end, as a prefix wildcard".to_owned())
            } else {
                values::check_header_name(bare)
            };
            if let Err(m) = check {
                self.err(span(e), format!("{field}.{key}"), m);
            } else if v == "server" {
                self.err(
                    span(e),
                    format!("{field}.{key}"),
                    "use `server = false` to remove Server",
                );
            } else if !spec.remove.contains(&v) {
                spec.remove.push(v);
            }
        }
    }

    /// Removing a header the same policy sets would make its effect depend on rule order.
    fn remove_conflicts(&mut self, field: &str, spec: &PolicySpec, rp: &RawPolicy) {
        let set: Vec<String> = spec
            .headers()
            .into_iter()
            .map(|(n, _, _)| n.to_ascii_lowercase())
            .collect();
        for r in spec.remove.iter().filter(|r| !r.ends_with('*')) {
            if set.contains(r) {
                let at = rp
                    .remove
                    .iter()
                    .chain(rp.also_remove.iter())
                    .flatten()
                    .find(|e| e.get_ref().trim().eq_ignore_ascii_case(r))
                    .map(|e| e.span());
                self.err(
                    at,
                    format!("{field}.remove"),
                    format!("removes {r}, which this policy also sets; drop one of the two"),
                );
            }
        }
    }

    fn routes(
        &mut self,
        raw: &RawFile,
        o: &Overrides,
        policies: &BTreeMap<String, Arc<HeaderPolicy>>,
        default: &Arc<HeaderPolicy>,
    ) -> Vec<Route> {
        if let Some(url) = &o.upstream {
            return match parse_upstream(url) {
                Ok((scheme, authority)) => vec![Route {
                    name: "default".to_owned(),
                    host: None,
                    path_prefix: "/".to_owned(),
                    upstream: Upstream {
                        scheme,
                        authority,
                        url: url.clone(),
                        ca_file: None,
                        client_cert: None,
                    },
                    policy: default.clone(),
                    host_header: HostHeader::Preserve,
                    error_bodies: default.error_bodies.clone(),
                }],
                Err(m) => {
                    self.cli_err("--upstream", m);
                    Vec::new()
                }
            };
        }
        if raw.routes.is_empty() {
            let msg = "no routes: add a [[routes]] table with an upstream, or pass --upstream URL";
            if self.map.text.is_empty() {
                self.cli_err("--upstream", msg);
            } else {
                self.err(None, "routes", msg);
            }
            return Vec::new();
        }
        let mut out: Vec<Route> = Vec::new();
        for (i, sr) in raw.routes.iter().enumerate() {
            let r = sr.get_ref();
            let f = format!("routes[{i}]");
            let before = self.errors.len();
            let name = r
                .name
                .as_ref()
                .map_or_else(|| format!("route-{}", i + 1), |n| n.get_ref().clone());
            if out.iter().any(|o| o.name == name) {
                self.err(
                    r.name.as_ref().and_then(span),
                    format!("{f}.name"),
                    format!("another route is already named {name:?}"),
                );
            }
            let host = r.host.as_ref().and_then(|h| {
                let v = h.get_ref().trim();
                let bare = v.strip_prefix("*.").unwrap_or(v);
                let ok = !bare.is_empty()
                    && bare.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || b == b'-'
                            || b == b'.'
                            || b == b':'
                            || b == b'['
                            || b == b']'
                    });
                if ok {
                    Some(HostMatch::parse(if v.starts_with("*.") {
                        &v[1..]
                    } else {
                        v
                    }))
                    .map(|m| match m {
                        HostMatch::Suffix(s) => HostMatch::Suffix(s),
                        HostMatch::Exact(e) if v.starts_with("*.") => HostMatch::Suffix(e),
                        other => other,
                    })
                } else {
                    self.err(
                        span(h),
                        format!("{f}.host"),
                        format!("{v:?} is not a host name or `*.domain` pattern"),
                    );
                    None
                }
            });
            let path_prefix = match &r.path_prefix {
                Some(p) if !p.get_ref().starts_with('/') => {
                    self.err(span(p), format!("{f}.path_prefix"), "must start with `/`");
                    "/".to_owned()
                }
                Some(p) => p.get_ref().clone(),
                None => "/".to_owned(),
            };
            let upstream = match parse_upstream(r.upstream.get_ref()) {
                Ok((scheme, authority)) => Some(Upstream {
                    scheme,
                    authority,
                    url: r.upstream.get_ref().clone(),
                    ca_file: None,
                    client_cert: None,
                }),
                Err(m) => {
                    self.err(span(&r.upstream), format!("{f}.upstream"), m);
                    None
                }
            };
            let policy = match &r.policy {
                Some(p) => match policies.get(p.get_ref()) {
                    Some(pol) => pol.clone(),
                    None => {
                        let msg = unknown_policy(p.get_ref(), policies);
                        self.err(span(p), format!("{f}.policy"), msg);
                        default.clone()
                    }
                },
                None => default.clone(),
            };
            let host_header = match (r.preserve_host, &r.host_rewrite) {
                (Some(false), Some(h)) => {
                    self.err(
                        span(h),
                        format!("{f}.host_rewrite"),
                        "contradicts preserve_host = false; set only one",
                    );
                    HostHeader::Preserve
                }
                (_, Some(h)) => match HeaderValue::from_str(h.get_ref().trim()) {
                    Ok(v) if !h.get_ref().trim().is_empty() => HostHeader::Rewrite(v),
                    _ => {
                        self.err(
                            span(h),
                            format!("{f}.host_rewrite"),
                            "not a valid Host value",
                        );
                        HostHeader::Preserve
                    }
                },
                (Some(false), None) => HostHeader::Upstream,
                _ => HostHeader::Preserve,
            };
            let ca_file = r.ca_file.as_ref().and_then(|c| {
                let p = self.base_dir.join(c.get_ref());
                if upstream.as_ref().is_some_and(|u| !u.is_https()) {
                    self.err(
                        span(c),
                        format!("{f}.ca_file"),
                        "only applies to https:// upstreams",
                    );
                    None
                } else if !p.is_file() {
                    self.err(
                        span(c),
                        format!("{f}.ca_file"),
                        format!("{} is not a readable file", p.display()),
                    );
                    None
                } else {
                    Some(p)
                }
            });
            let client_cert = self.client_cert(&f, r, upstream.as_ref().map(Upstream::is_https));
            if let Some(dup) = out
                .iter()
                .find(|o| o.host == host && o.path_prefix == path_prefix)
            {
                let msg = format!(
                    "matches exactly what route {:?} matches, so it would never be used",
                    dup.name
                );
                self.err(Some(sr.span()), f.clone(), msg);
            }
            let error_bodies = match &r.error_bodies {
                None => policy.error_bodies.clone(),
                Some(m) => match ErrorBodyMode::parse(m.get_ref()) {
                    Some(mode) => {
                        let mut e = (*policy.error_bodies).clone();
                        e.mode = mode;
                        Arc::new(e)
                    }
                    None => {
                        self.err(
                            span(m),
                            format!("{f}.error_bodies"),
                            format!("{:?} is not \"leaky\", \"always\" or \"off\"", m.get_ref()),
                        );
                        policy.error_bodies.clone()
                    }
                },
            };
            if let (true, Some(mut upstream)) = (self.errors.len() == before, upstream) {
                upstream.ca_file = ca_file;
                upstream.client_cert = client_cert;
                out.push(Route {
                    name,
                    host,
                    path_prefix,
                    upstream,
                    policy,
                    host_header,
                    error_bodies,
                });
            }
        }
        out
    }
}

fn unknown_policy(name: &str, policies: &BTreeMap<String, Arc<HeaderPolicy>>) -> String {
    let known: Vec<&str> = policies.keys().map(String::as_str).collect();
    format!("unknown policy {name:?}; known: {}", known.join(", "))
}

/// Hop-by-hop and framing headers belong to the connection, not to a policy.
pub fn is_framing_header(lower: &str) -> bool {
    matches!(
        lower,
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "content-length"
            | "host"
    )
}

fn parse_upstream(url: &str) -> Result<(Scheme, Authority), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL such as http://127.0.0.1:3000: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::HTTP,
        Some("https") => Scheme::HTTPS,
        Some(s) => {
            return Err(format!(
                "scheme {s:?} is not supported; use http:// or https://"
            ));
        }
        None => return Err(format!("{url:?} has no scheme; write http://{url}")),
    };
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err("credentials in the upstream URL are not supported".to_owned());
    }
    if authority.host().is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "{url:?} has a path or query; the upstream is scheme://host:port and the request path is passed through unchanged"
        ));
    }
    Ok((scheme, authority))
}
