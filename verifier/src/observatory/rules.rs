//! The Observatory's tests, one function each, reading what the probe observed.
//!
//! Each function mirrors the decision order of the corresponding Observatory test because the
//! order decides which result wins when several apply (a CSP with both `'unsafe-inline'` and
//! an `http:` source is `csp-implemented-with-unsafe-inline`, not `...-insecure-scheme`).

use url::Url;

use super::cookies::{self, JarCookie};
use super::csp;
use super::headers::NodeHeaders;
use super::{js, sf};

/// One test's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub result: &'static str,
    pub pass: bool,
}

/// Everything the tests read, derived once from [`super::Observed`].
pub(crate) struct Ctx<'a> {
    /// The final response of the scan (the Observatory's "auto" response).
    pub auto: NodeHeaders<'a>,
    /// The response to the request carrying `Origin`.
    pub cors: NodeHeaders<'a>,
    pub probe_origin: &'a str,
    /// Whether the scan started from an `https://` URL (the Observatory's session URL, which
    /// decides whether `http:` sources in a CSP count as insecure).
    pub session_https: bool,
    /// Host of the URL the scan started from (the site).
    pub site_host: Option<String>,
    /// Where the final response came from (cookie domains and default paths).
    pub final_url: Option<Url>,
    /// `Some` when the final response came over HTTPS: whether its certificate verified.
    pub certificate_valid: Option<bool>,
    pub hsts_preloaded: bool,
    /// `<meta http-equiv="Content-Security-Policy">` contents (HTML responses only).
    pub meta_csp: Vec<String>,
    /// `<meta name="referrer">` content, the last one (HTML responses only).
    pub meta_referrer: Vec<String>,
    /// Hops of the `http://` fetch, `None` when it was not possible.
    pub http_route: Option<Vec<Option<Url>>>,
}

fn outcome(result: &'static str, passing: &[&str]) -> Outcome {
    Outcome {
        result,
        pass: passing.contains(&result),
    }
}

const BROAD: [&str; 8] = [
    "ftp:",
    "http:",
    "https:",
    "*",
    "http://*",
    "http://*.*",
    "https://*",
    "https://*.*",
];

fn broad(s: &str) -> bool {
    BROAD.contains(&s)
}

fn broad_or_inline(s: &str) -> bool {
    broad(s) || s == "'unsafe-inline'" || s == "data:"
}

fn insecure_scheme(s: &str) -> bool {
    s.starts_with("http:") || s.starts_with("ftp:")
}

/// The CSP verdict plus what the X-Frame-Options test and the advice need from it.
pub(crate) struct CspOutcome {
    pub outcome: Outcome,
    /// `frame-ancestors` is in the analysed policy (header or `<meta>`): X-Frame-Options is
    /// then considered implemented via CSP.
    pub frame_ancestors: bool,
    pub advice: Vec<String>,
}

/// Source lists that can be shared between directives, as in the Observatory, where
/// `script-src` falling back to `default-src` *is* the `default-src` set: removing
/// `'unsafe-inline'` from one removes it from the other.
struct SharedSets {
    sets: Vec<Vec<String>>,
    names: Vec<(String, usize)>,
}

impl SharedSets {
    fn id(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// The first present directive's set, or a new set holding `*`.
    fn first_or_star(&mut self, candidates: &[Option<usize>]) -> usize {
        if let Some(id) = candidates.iter().flatten().next() {
            return *id;
        }
        self.sets.push(vec!["*".to_owned()]);
        self.sets.len() - 1
    }

    fn any(&self, id: usize, f: impl Fn(&str) -> bool) -> bool {
        self.sets[id].iter().any(|s| f(s))
    }
}

pub(crate) fn content_security_policy(ctx: &Ctx) -> CspOutcome {
    let early = |result: &'static str| CspOutcome {
        outcome: Outcome {
            result,
            pass: false,
        },
        frame_ancestors: false,
        advice: Vec::new(),
    };
    let http_values: Vec<String> = ctx
        .auto
        .get("content-security-policy")
        .into_iter()
        .collect();
    let http = csp::split_policies(&http_values);
    let meta = csp::split_policies(&ctx.meta_csp);
    let both: Vec<String> = http.iter().chain(&meta).cloned().collect();
    let Ok(combined) = csp::parse_list(&both) else {
        return early("csp-header-invalid");
    };
    let http_only = csp::parse_list(&http).unwrap_or_default();
    let meta_only = csp::parse_meta(&meta).unwrap_or_default();
    if http_only.is_empty() && meta_only.is_empty() {
        let reporting = ctx
            .auto
            .get("content-security-policy-report-only")
            .is_some_and(|v| !v.is_empty());
        return early(if reporting {
            "csp-not-implemented-but-reporting-enabled"
        } else {
            "csp-not-implemented"
        });
    }

    let mut s = SharedSets {
        sets: Vec::new(),
        names: Vec::new(),
    };
    for (name, sources) in combined {
        s.names.push((name, s.sets.len()));
        s.sets.push(sources);
    }
    let base_uri = s.first_or_star(&[s.id("base-uri")]);
    // frame-ancestors only counts from the header: browsers ignore it in <meta>.
    let frame_ancestors: Vec<String> = http_only
        .iter()
        .find(|(d, _)| d == "frame-ancestors")
        .map_or_else(|| vec!["*".to_owned()], |(_, v)| v.clone());
    let form_action = s.first_or_star(&[s.id("form-action")]);
    let default = s.id("default-src");
    let object_src = s.first_or_star(&[s.id("object-src"), default]);
    let script_src = s.first_or_star(&[s.id("script-src"), default]);
    let style_src = s.first_or_star(&[s.id("style-src"), default]);

    // A nonce or hash makes browsers ignore 'unsafe-inline'.
    for id in [script_src, style_src] {
        if s.any(id, csp::is_nonce_or_hash) {
            s.sets[id].retain(|x| x != "'unsafe-inline'");
        }
    }

    let mut result: Option<&'static str> = None;
    let strict_dynamic = s.any(script_src, |x| x == "'strict-dynamic'");
    if strict_dynamic && s.any(script_src, csp::is_nonce_or_hash) {
        // With 'strict-dynamic' browsers ignore host and scheme sources, 'self' and
        // 'unsafe-inline' in script-src.
        s.sets[script_src].retain(|x| {
            !(BROAD.iter().any(|b| x.starts_with(b)) || x == "'self'" || x == "'unsafe-inline'")
        });
    } else if strict_dynamic {
        result = Some("csp-header-invalid");
    }

    let mut active: Vec<&str> = Vec::new();
    for (name, id) in &s.names {
        if !matches!(name.as_str(), "img-src" | "media-src" | "script-src") {
            active.extend(s.sets[*id].iter().map(String::as_str));
        }
    }
    active.extend(s.sets[script_src].iter().map(String::as_str));
    let mut passive: Vec<&str> = Vec::new();
    for d in ["img-src", "media-src"] {
        if let Some(id) = s.id(d).or(default) {
            passive.extend(s.sets[id].iter().map(String::as_str));
        }
    }

    if s.any(script_src, broad_or_inline) || s.any(object_src, broad) {
        result.get_or_insert("csp-implemented-with-unsafe-inline");
    }
    if ctx.session_https && active.iter().any(|x| insecure_scheme(x)) {
        result.get_or_insert("csp-implemented-with-insecure-scheme");
    }
    if s.any(script_src, |x| x == "'unsafe-eval'") || s.any(style_src, |x| x == "'unsafe-eval'") {
        result.get_or_insert("csp-implemented-with-unsafe-eval");
    }
    if ctx.session_https && passive.iter().any(|x| insecure_scheme(x)) {
        result.get_or_insert("csp-implemented-with-insecure-scheme-in-passive-content-only");
    }
    if s.any(style_src, broad_or_inline) {
        result.get_or_insert("csp-implemented-with-unsafe-inline-in-style-src-only");
    }
    let default_none = default.is_some_and(|id| s.sets[id] == ["'none'"]);
    let mut result = result.unwrap_or(if default_none {
        "csp-implemented-with-no-unsafe-default-src-none"
    } else {
        "csp-implemented-with-no-unsafe"
    });

    let pass = [
        "csp-implemented-with-no-unsafe",
        "csp-implemented-with-no-unsafe-default-src-none",
        "csp-implemented-with-unsafe-inline-in-style-src-only",
        "csp-implemented-with-insecure-scheme-in-passive-content-only",
    ]
    .contains(&result);
    if pass && s.id(csp::DUPLICATE_WARNINGS_KEY).is_some() {
        result = "csp-implemented-but-duplicate-directives";
    }

    let mut advice = Vec::new();
    if s.id("object-src").is_none() && !default_none {
        advice.push("CSP has no object-src (and no default-src 'none')".to_owned());
    } else if s.any(object_src, broad) {
        advice.push("CSP object-src allows overly broad sources".to_owned());
    }
    if s.id("base-uri").is_none() {
        advice.push("CSP has no base-uri".to_owned());
    } else if s.any(base_uri, broad_or_inline) {
        advice.push("CSP base-uri allows overly broad or unsafe sources".to_owned());
    }
    if s.id("form-action").is_none() {
        advice.push("CSP has no form-action".to_owned());
    } else if s.any(form_action, broad) {
        advice.push("CSP form-action allows overly broad sources".to_owned());
    }
    if !http_only.iter().any(|(d, _)| d == "frame-ancestors") {
        advice.push(if s.id("frame-ancestors").is_some() {
            "CSP frame-ancestors is only in a <meta> tag, where browsers ignore it".to_owned()
        } else {
            "CSP has no frame-ancestors".to_owned()
        });
    } else if frame_ancestors.iter().any(|x| broad(x)) {
        advice.push("CSP frame-ancestors allows overly broad sources".to_owned());
    }

    CspOutcome {
        outcome: Outcome { result, pass },
        frame_ancestors: s.id("frame-ancestors").is_some(),
        advice,
    }
}

/// Cookie results from best to worst: a cookie only makes the verdict worse.
const COOKIE_BADNESS: [&str; 7] = [
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
];

fn only_if_worse(new: &'static str, old: &mut Option<&'static str>) {
    let rank = |r: &str| COOKIE_BADNESS.iter().position(|x| *x == r);
    match old {
        Some(o) if rank(new) <= rank(o) => {}
        _ => *old = Some(new),
    }
}

/// The raw-header check: a `SameSite` attribute that is empty or not Strict/Lax/None.
fn invalid_same_site(line: &str) -> bool {
    js::trim(line).split(';').any(|part| {
        let mut kv = js::trim(part).split('=');
        let key = kv.next().unwrap_or_default();
        let value = kv.next();
        js::trim(key).to_lowercase() == "samesite"
            && value.is_none_or(|v| {
                v.is_empty()
                    || !["lax", "strict", "none"].contains(&js::trim(v).to_lowercase().as_str())
            })
    })
}

/// `hsts_pass`: the HSTS test passed (six months or preloaded), so plain-HTTP cookie theft is
/// prevented and missing `Secure` flags cost less.
pub(crate) fn cookies(ctx: &Ctx, hsts_pass: bool) -> Outcome {
    let lines = ctx.auto.all("set-cookie");
    let mut result: Option<&'static str> = None;
    if lines.iter().any(|l| invalid_same_site(l)) {
        only_if_worse("cookies-samesite-flag-invalid", &mut result);
    }
    let jar: Vec<JarCookie> = cookies::jar(&lines, ctx.final_url.as_ref())
        .into_iter()
        .filter(|c| !c.key.is_empty() && c.key != "heroku-session-affinity")
        .collect();
    if jar.is_empty() {
        result = Some("cookies-not-found");
    } else {
        let mut missing_same_site = false;
        for c in &jar {
            let key = c.key.to_lowercase();
            let session = key.contains("login") || key.contains("sess");
            let anticsrf = key.contains("csrf");
            if !c.secure && c.same_site == Some("none") {
                only_if_worse("cookies-samesite-flag-invalid", &mut result);
            }
            if !c.secure {
                only_if_worse(
                    if hsts_pass {
                        "cookies-without-secure-flag-but-protected-by-hsts"
                    } else {
                        "cookies-without-secure-flag"
                    },
                    &mut result,
                );
            }
            if anticsrf && c.same_site.is_none() {
                only_if_worse("cookies-anticsrf-without-samesite-flag", &mut result);
            }
            if session && !c.secure {
                only_if_worse(
                    if hsts_pass {
                        "cookies-session-without-secure-flag-but-protected-by-hsts"
                    } else {
                        "cookies-session-without-secure-flag"
                    },
                    &mut result,
                );
            }
            if session && !c.http_only {
                only_if_worse("cookies-session-without-httponly-flag", &mut result);
            }
            missing_same_site |= c.same_site.is_none();
        }
        result.get_or_insert(if missing_same_site {
            "cookies-secure-with-httponly-sessions"
        } else {
            "cookies-secure-with-httponly-sessions-and-samesite"
        });
    }
    outcome(
        result.unwrap_or("cookies-not-found"),
        &[
            "cookies-not-found",
            "cookies-secure-with-httponly-sessions-and-samesite",
            "cookies-secure-with-httponly-sessions",
        ],
    )
}

/// A structured-field policy header (COOP, COEP) read as the Observatory reads it: missing
/// (or empty), one of the known tokens, or anything else.
enum StructuredPolicy {
    Missing,
    Known(&'static str),
    Invalid,
}

fn structured_policy(ctx: &Ctx, header: &str, values: &[(&str, &'static str)]) -> StructuredPolicy {
    let Some(raw) = ctx.auto.get(header).filter(|v| !v.is_empty()) else {
        return StructuredPolicy::Missing;
    };
    let token = sf::item_token(js::trim(js::slice_units(&raw, 1024)));
    values
        .iter()
        .find(|(v, _)| Some(*v) == token.as_deref())
        .map_or(StructuredPolicy::Invalid, |(_, r)| {
            StructuredPolicy::Known(r)
        })
}

fn structured_outcome(
    policy: StructuredPolicy,
    missing: &'static str,
    invalid: &'static str,
) -> Outcome {
    let result = match policy {
        StructuredPolicy::Missing => missing,
        StructuredPolicy::Known(r) => r,
        StructuredPolicy::Invalid => invalid,
    };
    Outcome {
        result,
        pass: result != invalid,
    }
}

pub(crate) fn cross_origin_embedder_policy(ctx: &Ctx) -> Outcome {
    let values = [
        ("require-corp", "coep-implemented-with-require-corp"),
        ("credentialless", "coep-implemented-with-credentialless"),
        ("unsafe-none", "coep-implemented-with-unsafe-none"),
    ];
    structured_outcome(
        structured_policy(ctx, "cross-origin-embedder-policy", &values),
        "coep-not-implemented",
        "coep-header-invalid",
    )
}

pub(crate) fn cross_origin_opener_policy(ctx: &Ctx) -> Outcome {
    let values = [
        ("same-origin", "coop-implemented-with-same-origin"),
        (
            "same-origin-allow-popups",
            "coop-implemented-with-same-origin-allow-popups",
        ),
        (
            "noopener-allow-popups",
            "coop-implemented-with-noopener-allow-popups",
        ),
        ("unsafe-none", "coop-implemented-with-unsafe-none"),
    ];
    structured_outcome(
        structured_policy(ctx, "cross-origin-opener-policy", &values),
        "coop-not-implemented",
        "coop-header-invalid",
    )
}

pub(crate) fn cross_origin_resource_sharing(ctx: &Ctx) -> Outcome {
    let result = match ctx
        .cors
        .get("access-control-allow-origin")
        .filter(|v| !v.is_empty())
    {
        None => "cross-origin-resource-sharing-not-implemented",
        Some(acao) => {
            let data = js::trim(js::slice_units(&acao, 256)).to_lowercase();
            let credentials = ctx
                .cors
                .get("access-control-allow-credentials")
                .is_some_and(|c| js::trim(&c.to_lowercase()) == "true");
            if data == "*" {
                "cross-origin-resource-sharing-implemented-with-public-access"
            } else if !ctx.probe_origin.is_empty() && acao == ctx.probe_origin && credentials {
                "cross-origin-resource-sharing-implemented-with-universal-access"
            } else {
                "cross-origin-resource-sharing-implemented-with-restricted-access"
            }
        }
    };
    outcome(
        result,
        &[
            "cross-origin-resource-sharing-not-implemented",
            "cross-origin-resource-sharing-implemented-with-public-access",
            "cross-origin-resource-sharing-implemented-with-restricted-access",
        ],
    )
}

pub(crate) fn redirection(ctx: &Ctx) -> Outcome {
    const PASSING: [&str; 3] = [
        "redirection-not-needed-no-http",
        "redirection-all-redirects-preloaded",
        "redirection-to-https",
    ];
    let route = match &ctx.http_route {
        Some(r) if !r.is_empty() => r,
        _ => return outcome("redirection-not-needed-no-http", &PASSING),
    };
    fn scheme(u: &Option<Url>) -> &str {
        u.as_ref().map_or("", Url::scheme)
    }
    let host = |u: &Option<Url>| {
        u.as_ref()
            .and_then(Url::host_str)
            .map(str::to_ascii_lowercase)
    };
    let preloaded = |u: &Option<Url>| {
        ctx.hsts_preloaded
            && match (host(u), &ctx.site_host) {
                (Some(h), Some(site)) => h == *site || h.ends_with(&format!(".{site}")),
                _ => false,
            }
    };
    // The certificate the probe checked is the one an https:// hop of this chain reaches.
    let cert_failed =
        ctx.certificate_valid == Some(false) && route.iter().any(|u| scheme(u) == "https");
    let first = &route[0];
    let second = route.get(1).unwrap_or(first);
    let last = route.last().unwrap_or(first);
    let result = if cert_failed {
        "redirection-invalid-cert"
    } else if route.iter().all(preloaded) {
        "redirection-all-redirects-preloaded"
    } else if route.len() == 1 {
        "redirection-missing"
    } else if scheme(last) != "https" {
        "redirection-not-to-https"
    } else if scheme(second) == "http" {
        "redirection-not-to-https-on-initial-redirection"
    } else if scheme(first) == "http" && scheme(second) == "https" && host(first) != host(second) {
        "redirection-off-host-from-http"
    } else {
        "redirection-to-https"
    };
    outcome(result, &PASSING)
}

pub(crate) fn referrer_policy(ctx: &Ctx) -> Outcome {
    const PRIVATE: [&str; 4] = [
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ];
    const UNSAFE: [&str; 4] = [
        "origin",
        "origin-when-cross-origin",
        "unsafe-url",
        "no-referrer-when-downgrade",
    ];
    const PASSING: [&str; 2] = ["referrer-policy-private", "referrer-policy-not-implemented"];
    let http: Vec<String> = ctx.auto.get("referrer-policy").into_iter().collect();
    if http.is_empty() && ctx.meta_referrer.is_empty() {
        return outcome("referrer-policy-not-implemented", &PASSING);
    }
    // The <meta> value comes last, so it wins over the header, as in browsers.
    let data = http
        .iter()
        .chain(&ctx.meta_referrer)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let policy = data
        .split(',')
        .map(|e| js::trim(&e.to_lowercase()).to_owned())
        .rfind(|e| PRIVATE.contains(&e.as_str()) || UNSAFE.contains(&e.as_str()))
        .unwrap_or_default();
    let result = if PRIVATE.contains(&policy.as_str()) {
        "referrer-policy-private"
    } else if UNSAFE.contains(&policy.as_str()) {
        "referrer-policy-unsafe"
    } else {
        "referrer-policy-header-invalid"
    };
    outcome(result, &PASSING)
}

/// 15768000 s is six months; the Observatory accepts the common 15552000 (180 days).
const SIX_MONTHS: f64 = 15_552_000.0;

fn hsts_header(value: &str) -> &'static str {
    let data = js::slice_units(value, 1024);
    // A comma means the header was sent twice (folded), which the Observatory rejects.
    if data.contains(',') {
        return "hsts-header-invalid";
    }
    let mut max_age: Option<f64> = None;
    for parameter in data.split(';') {
        let parameter = js::trim(parameter).to_lowercase();
        if let Some(rest) = parameter.strip_prefix("max-age=") {
            max_age = Some(js::parse_int(js::slice_units(rest, 120)));
        }
    }
    match max_age {
        None => "hsts-header-invalid",
        // NaN (`max-age="63072000"`) compares false, so it counts as long enough, as in the
        // Observatory.
        Some(age) if age < SIX_MONTHS => "hsts-implemented-max-age-less-than-six-months",
        Some(_) => "hsts-implemented-max-age-at-least-six-months",
    }
}

pub(crate) fn strict_transport_security(ctx: &Ctx) -> Outcome {
    let mut result = match ctx.certificate_valid {
        None => "hsts-not-implemented-no-https",
        Some(false) => "hsts-invalid-cert",
        Some(true) => ctx
            .auto
            .get("strict-transport-security")
            .map_or("hsts-not-implemented", |v| hsts_header(&v)),
    };
    if ctx.certificate_valid.is_some() && ctx.hsts_preloaded {
        result = "hsts-preloaded";
    }
    outcome(
        result,
        &[
            "hsts-implemented-max-age-at-least-six-months",
            "hsts-preloaded",
        ],
    )
}

pub(crate) fn x_content_type_options(ctx: &Ctx) -> Outcome {
    let result = match ctx
        .auto
        .get("x-content-type-options")
        .filter(|v| !v.is_empty())
    {
        None => "x-content-type-options-not-implemented",
        Some(v) if js::trim(js::slice_units(&v, 256)).to_lowercase() == "nosniff" => {
            "x-content-type-options-nosniff"
        }
        Some(_) => "x-content-type-options-header-invalid",
    };
    outcome(result, &["x-content-type-options-nosniff"])
}

pub(crate) fn x_frame_options(ctx: &Ctx, csp: &CspOutcome) -> Outcome {
    let mut result = match ctx.auto.get("x-frame-options").filter(|v| !v.is_empty()) {
        None => "x-frame-options-not-implemented",
        Some(v) => {
            let xfo = js::trim(js::slice_units(&v, 1024)).to_lowercase();
            if xfo == "deny" || xfo == "sameorigin" {
                "x-frame-options-sameorigin-or-deny"
            } else if xfo.starts_with("allow-from") {
                "x-frame-options-allow-from-origin"
            } else {
                "x-frame-options-header-invalid"
            }
        }
    };
    if csp.frame_ancestors {
        result = "x-frame-options-implemented-via-csp";
    }
    outcome(
        result,
        &[
            "x-frame-options-allow-from-origin",
            "x-frame-options-sameorigin-or-deny",
            "x-frame-options-implemented-via-csp",
        ],
    )
}

pub(crate) fn cross_origin_resource_policy(ctx: &Ctx) -> Outcome {
    let value = ctx
        .auto
        .get("cross-origin-resource-policy")
        .map(|v| js::trim(js::slice_units(&v, 256)).to_lowercase())
        .filter(|v| !v.is_empty());
    let result = match value.as_deref() {
        None => "corp-not-implemented",
        Some("same-site") => "corp-implemented-with-same-site",
        Some("same-origin") => "corp-implemented-with-same-origin",
        Some("cross-origin") => "corp-implemented-with-cross-origin",
        Some(_) => "corp-header-invalid",
    };
    Outcome {
        result,
        pass: result != "corp-header-invalid",
    }
}
