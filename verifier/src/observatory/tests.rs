//! Vectors for every result, the score and grade rules, and whole pages.
//!
//! Most vectors come from the Observatory's own test suite (its inputs and expected results);
//! the whole-page examples are worked out by hand from the score table.

use std::collections::BTreeSet;

use super::*;

const SITE: &str = "https://example.com/";

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn hop(url: &str, status: u16) -> Hop {
    Hop {
        url: url.to_owned(),
        status,
    }
}

/// An HTTPS site whose http:// form redirects to it, with a valid certificate.
fn https_site(headers: &[(&str, &str)]) -> Observed {
    Observed {
        final_url: SITE.to_owned(),
        headers: h(headers),
        cors_headers: Vec::new(),
        probe_origin: "https://probe.invalid".to_owned(),
        http_redirects: Some(vec![hop("http://example.com/", 301), hop(SITE, 200)]),
        redirects: vec![hop(SITE, 200)],
        certificate_valid: Some(true),
        hsts_preloaded: false,
        meta_http_equiv: Vec::new(),
    }
}

/// A site only reachable over plain HTTP, which does not redirect.
fn http_site(headers: &[(&str, &str)]) -> Observed {
    Observed {
        final_url: "http://example.com/".to_owned(),
        headers: h(headers),
        cors_headers: Vec::new(),
        probe_origin: "https://probe.invalid".to_owned(),
        http_redirects: Some(vec![hop("http://example.com/", 200)]),
        redirects: vec![hop("http://example.com/", 200)],
        certificate_valid: None,
        hsts_preloaded: false,
        meta_http_equiv: Vec::new(),
    }
}

fn html_with_meta(headers: &[(&str, &str)], meta: &[(&str, &str)]) -> Observed {
    let mut all = vec![("Content-Type", "text/html; charset=utf-8")];
    all.extend_from_slice(headers);
    let mut o = https_site(&all);
    o.meta_http_equiv = h(meta);
    o
}

fn test_of<'a>(e: &'a Evaluation, name: &str) -> &'a TestResult {
    e.tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name}"))
}

/// One expected verdict.
struct Case {
    label: String,
    observed: Observed,
    test: &'static str,
    result: &'static str,
    modifier: i32,
    pass: bool,
}

fn case(
    label: impl Into<String>,
    observed: Observed,
    test: &'static str,
    result: &'static str,
    modifier: i32,
    pass: bool,
) -> Case {
    Case {
        label: label.into(),
        observed,
        test,
        result,
        modifier,
        pass,
    }
}

fn csp_cases() -> Vec<Case> {
    const T: &str = "content-security-policy";
    let mut v = Vec::new();
    let with = |value: &str| https_site(&[("Content-Security-Policy", value)]);
    v.push(case(
        "no CSP",
        https_site(&[]),
        T,
        "csp-not-implemented",
        -25,
        false,
    ));
    for value in [
        "  ",
        "",
        "default-src 'none'; default-src 'none'",
        "default-src 'none'; img-src 'self'; default-src 'none'",
        "default-src 'none'; script-src 'strict-dynamic'",
        "defa",
        "default-src 'none',",
    ] {
        v.push(case(
            format!("invalid {value:?}"),
            with(value),
            T,
            "csp-header-invalid",
            -25,
            false,
        ));
    }
    for value in [
        "default-src 'none'; script-src https://*",
        "default-src 'none'; script-src 'unsafe-inline'",
        "script-src 'unsafe-inline'",
        "script-src data:",
        "script-src http:",
        "script-src ftp:",
        "default-src 'unsafe-inline'",
        "default-src 'UNSAFE-INLINE'",
        "upgrade-insecure-requests",
        "script-src 'none'",
        "script-src https:",
        "script-src https://mozilla.org https:",
        "default-src https://mozilla.org https:",
        "default-src 'none'; script-src *",
        "default-src *; script-src *; object-src 'none'",
        "default-src 'none'; script-src 'none'; object-src *",
        "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'",
        "default-src 'none'; script-src 'unsafe-inline' http:",
        "object-src https:; script-src 'none'",
    ] {
        v.push(case(
            format!("unsafe inline {value:?}"),
            with(value),
            T,
            "csp-implemented-with-unsafe-inline",
            -20,
            false,
        ));
    }
    for value in [
        "default-src http://mozilla.org",
        "default-src 'none'; script-src http://mozilla.org",
        "default-src 'none'; script-src ftp://mozilla.org",
        // Every non-passive directive counts, report-uri included.
        "default-src 'none'; report-uri http://mozilla.org/csp",
    ] {
        v.push(case(
            format!("insecure scheme {value:?}"),
            with(value),
            T,
            "csp-implemented-with-insecure-scheme",
            -20,
            false,
        ));
    }
    for value in [
        "default-src 'none'; img-src http://mozilla.org",
        "default-src 'self'; img-src ftp:",
        "default-src 'self'; img-src http:",
        "default-src 'none'; img-src https:; media-src http://mozilla.org",
        "default-src 'none'; img-src http: https:; script-src 'self'; style-src 'self'",
        "default-src 'none'; img-src 'none'; media-src http:; script-src 'self'; style-src 'self'",
        "default-src 'none'; img-src 'none'; media-src http:; script-src 'self'; style-src 'unsafe-inline'",
    ] {
        v.push(case(
            format!("passive {value:?}"),
            with(value),
            T,
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
            -10,
            true,
        ));
    }
    v.push(case(
        "unsafe-eval",
        with("default-src 'none'; script-src 'unsafe-eval'"),
        T,
        "csp-implemented-with-unsafe-eval",
        -10,
        false,
    ));
    for value in [
        "object-src 'none'; script-src 'none'; style-src 'unsafe-inline'",
        "default-src 'none'; script-src https://mozilla.org; style-src 'unsafe-inline'",
        "default-src 'unsafe-inline'; script-src https://mozilla.org",
        "default-src 'none';;; ;;;style-src 'self' 'unsafe-inline'",
        "default-src 'none'; style-src data:",
        "default-src 'none'; style-src *",
        "default-src 'none'; style-src https:",
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB=' 'unsafe-inline'",
    ] {
        v.push(case(
            format!("style only {value:?}"),
            with(value),
            T,
            "csp-implemented-with-unsafe-inline-in-style-src-only",
            0,
            true,
        ));
    }
    for value in [
        "default-src https://mozilla.org",
        "default-src https://mozilla.org;;; ;;;script-src 'none'",
        "object-src 'none'; script-src https://mozilla.org; style-src https://mozilla.org; upgrade-insecure-requests;",
        "object-src 'none'; script-src 'strict-dynamic' 'nonce-abc' 'unsafe-inline'; style-src 'none'",
        "object-src 'none'; style-src 'self';script-src 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBA='",
        "object-src 'none'; style-src 'self'; script-src 'unsafe-inline' 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBA=''sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB='",
        "object-src 'none'; script-src 'unsafe-inline' 'nonce-abc123' 'unsafe-inline'; style-src 'none'",
        "default-src https://mozilla.org; style-src 'unsafe-inline' 'nonce-abc123' 'unsafe-inline'",
        "default-src https://mozilla.org; style-src 'unsafe-inline' 'sha256-hqBEA/HXB3aJU2FgOnYN8rkAgEVgyfi3Vs1j2/XMPBB=' 'unsafe-inline'",
        // A nonce in default-src neutralises 'unsafe-inline' for everything falling back to it.
        "default-src 'self' 'nonce-abc' 'unsafe-inline'",
    ] {
        v.push(case(
            format!("no unsafe {value:?}"),
            with(value),
            T,
            "csp-implemented-with-no-unsafe",
            5,
            true,
        ));
    }
    for value in [
        "default-src",
        "default-src 'none'; script-src 'strict-dynamic' 'nonce-abc123' 'unsafe-inline'",
        "default-src 'none'; script-src https://mozilla.org; style-src https://mozilla.org; upgrade-insecure-requests;",
        "default-src 'none'; object-src https://mozilla.org",
        "default-src 'none'; script-src 'strict-dynamic' 'nonce-abc123'",
        "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123'",
        "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123' https://*",
        "default-src 'none'; script-src 'strict-dynamic' 'sha256-abc123' 'unsafe-inline'",
        "DEFAULT-SRC 'NONE'",
    ] {
        v.push(case(
            format!("default-src none {value:?}"),
            with(value),
            T,
            "csp-implemented-with-no-unsafe-default-src-none",
            10,
            true,
        ));
    }
    v.push(case(
        "report-only only",
        https_site(&[(
            "Content-Security-Policy-Report-Only",
            "default-src 'none'; report-to /_/csp-reports",
        )]),
        T,
        "csp-not-implemented-but-reporting-enabled",
        -25,
        false,
    ));
    v.push(case(
        "repeated report-uri",
        with("default-src 'none'; report-uri /a; report-uri /b"),
        T,
        "csp-implemented-but-duplicate-directives",
        0,
        true,
    ));
    // An http:// site may use http: sources.
    v.push(case(
        "http: source on an http site",
        http_site(&[("Content-Security-Policy", "default-src http://mozilla.org")]),
        T,
        "csp-implemented-with-no-unsafe",
        5,
        true,
    ));
    // Several policies are intersected: the strict middle one removes 'unsafe-inline'.
    let mut three = https_site(&[]);
    three.headers = h(&[
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'",
        ),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'",
        ),
        (
            "CONTENT-SECURITY-POLICY",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'",
        ),
    ]);
    v.push(case(
        "three intersected headers",
        three,
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    v.push(case(
        "two comma-separated identical policies",
        with("default-src 'none'; script-src 'self', default-src 'none'; script-src 'self'"),
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    // <meta> policies.
    v.push(case(
        "meta default-src 'none'",
        html_with_meta(&[], &[("Content-Security-Policy", "default-src 'none';")]),
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    v.push(case(
        "header http: intersected with meta https:",
        html_with_meta(
            &[("Content-Security-Policy", "default-src http:")],
            &[("Content-Security-Policy", "default-src https:")],
        ),
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    v.push(case(
        "header img-src with meta default-src",
        html_with_meta(
            &[("Content-Security-Policy", "img-src 'none'")],
            &[("Content-Security-Policy", "default-src 'none';")],
        ),
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    v.push(case(
        "four meta policies",
        html_with_meta(
            &[],
            &[
                (
                    "Content-Security-Policy",
                    "default-src 'none'; object-src 'none'; media-src 'none';",
                ),
                (
                    "Content-SECURITY-Policy",
                    "connect-src 'self'; font-src 'self'; child-src 'self'",
                ),
                (
                    " Content-Security-Policy ",
                    "img-src 'self'; style-src 'self' 'nonce-gAeQO8jI4VJCsrsXkcUVRCzQjiihKteQ",
                ),
                (
                    "Content-security-Policy",
                    "script-src 'self' 'unsafe-inline' 'nonce-gAeQO8jI4VJCsrsXkcUVRCzQjiihKteQ'",
                ),
            ],
        ),
        T,
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        true,
    ));
    v.push(case(
        "meta with only frame-ancestors",
        html_with_meta(
            &[],
            &[("Content-Security-Policy", "frame-ancestors 'none'")],
        ),
        T,
        "csp-not-implemented",
        -25,
        false,
    ));
    v.push(case(
        "misspelt directive next to a meta frame-ancestors",
        html_with_meta(
            &[("Content-Security-Policy", "frame-anchestors 'none'")],
            &[("Content-Security-Policy", "frame-ancestors 'none'")],
        ),
        T,
        "csp-implemented-with-unsafe-inline",
        -20,
        false,
    ));
    let mut not_html = html_with_meta(&[], &[("Content-Security-Policy", "default-src 'none'")]);
    not_html.headers = h(&[("Content-Type", "application/json")]);
    v.push(case(
        "meta ignored outside HTML",
        not_html,
        T,
        "csp-not-implemented",
        -25,
        false,
    ));
    v
}

fn cookie_site(lines: &[&str], extra: &[(&str, &str)]) -> Observed {
    let mut pairs: Vec<(&str, &str)> = lines.iter().map(|l| ("Set-Cookie", *l)).collect();
    pairs.extend_from_slice(extra);
    https_site(&pairs)
}

fn cookie_cases() -> Vec<Case> {
    const T: &str = "cookies";
    const HSTS: (&str, &str) = ("Strict-Transport-Security", "max-age=15768000");
    let mut v = vec![
        case(
            "no cookies",
            https_site(&[]),
            T,
            "cookies-not-found",
            0,
            true,
        ),
        case(
            "secure, httponly sessions",
            cookie_site(
                &[
                    "SESSIONID=bar; Domain=example.com; Path=/; Secure; HttpOnly",
                    "foo=bar; Domain=example.com; Secure; Path=/",
                    "heroku-session-affinity=bar; Domain=example.com; Path=/",
                ],
                &[],
            ),
            T,
            "cookies-secure-with-httponly-sessions",
            0,
            true,
        ),
        case(
            "secure, httponly sessions, samesite",
            cookie_site(
                &[
                    "SESSIONID_SAMESITE_STRICT=bar; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Strict",
                    "SESSIONID_SAMESITE_LAX=bar; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Lax",
                    "SESSIONID_SAMESITE_NONE=bar; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=None",
                ],
                &[],
            ),
            T,
            "cookies-secure-with-httponly-sessions-and-samesite",
            5,
            true,
        ),
        case(
            "anti-CSRF token without SameSite",
            cookie_site(
                &["CSRFTOKEN=bar; Domain=example.com; Path=/; Secure; HttpOnly"],
                &[],
            ),
            T,
            "cookies-anticsrf-without-samesite-flag",
            -20,
            false,
        ),
        case(
            "regular cookie without Secure, HSTS",
            cookie_site(&["foo=bar; Domain=example.com; Path=/"], &[HSTS]),
            T,
            "cookies-without-secure-flag-but-protected-by-hsts",
            -5,
            false,
        ),
        case(
            "session cookie without Secure, HSTS",
            cookie_site(
                &["SESSIONID=bar; Domain=example.com; Path=/; HttpOnly"],
                &[HSTS],
            ),
            T,
            "cookies-session-without-secure-flag-but-protected-by-hsts",
            -10,
            false,
        ),
        case(
            "regular cookie without Secure",
            cookie_site(&["foo=bar; Domain=example.com; Path=/"], &[]),
            T,
            "cookies-without-secure-flag",
            -20,
            false,
        ),
        case(
            "short HSTS does not protect",
            cookie_site(
                &["foo=bar"],
                &[("Strict-Transport-Security", "max-age=86400")],
            ),
            T,
            "cookies-without-secure-flag",
            -20,
            false,
        ),
        case(
            "session cookie without HttpOnly",
            cookie_site(&["SESSIONID=bar; Domain=example.com; Path=/; Secure"], &[]),
            T,
            "cookies-session-without-httponly-flag",
            -30,
            false,
        ),
        case(
            "login cookie without HttpOnly",
            cookie_site(&["UserLogin=1; Secure; SameSite=Lax"], &[]),
            T,
            "cookies-session-without-httponly-flag",
            -30,
            false,
        ),
        case(
            "session cookie without Secure",
            cookie_site(
                &["SESSIONID=bar; Domain=example.com; Path=/; HttpOnly"],
                &[],
            ),
            T,
            "cookies-session-without-secure-flag",
            -40,
            false,
        ),
        case(
            "session cookie without anything",
            cookie_site(&["SESSIONID=bar; Domain=example.com; Path=/"], &[]),
            T,
            "cookies-session-without-secure-flag",
            -40,
            false,
        ),
        case(
            "SameSite=None without Secure",
            cookie_site(&["a=1; SameSite=None"], &[HSTS]),
            T,
            "cookies-samesite-flag-invalid",
            -20,
            false,
        ),
        // Cookies the jar refuses do not count, even with a bad SameSite.
        case(
            "only a foreign-domain cookie",
            cookie_site(&["a=1; Domain=other.example; SameSite=bogus"], &[]),
            T,
            "cookies-not-found",
            0,
            true,
        ),
        case(
            "the worst cookie decides",
            cookie_site(
                &[
                    "a=1; Secure; SameSite=Lax",
                    "sessionid=2; Secure",
                    "csrf=3; Secure; HttpOnly",
                ],
                &[],
            ),
            T,
            "cookies-session-without-httponly-flag",
            -30,
            false,
        ),
    ];
    for same_site in ["SameSite=", "SameSite=True", "SameSite=Invalid", "SameSite"] {
        v.push(case(
            format!("invalid {same_site}"),
            cookie_site(
                &[&format!(
                    "SESSIONID=bar; Domain=example.com; Path=/; Secure; HttpOnly; {same_site}"
                )],
                &[],
            ),
            T,
            "cookies-samesite-flag-invalid",
            -20,
            false,
        ));
    }
    v
}

fn cors_site(acao: Option<&str>, credentials: Option<&str>) -> Observed {
    let mut o = https_site(&[]);
    if let Some(a) = acao {
        o.cors_headers
            .push(("Access-Control-Allow-Origin".to_owned(), a.to_owned()));
    }
    if let Some(c) = credentials {
        o.cors_headers
            .push(("Access-Control-Allow-Credentials".to_owned(), c.to_owned()));
    }
    o
}

fn structured_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let coep = |value: &str| https_site(&[("Cross-Origin-Embedder-Policy", value)]);
    let coop = |value: &str| https_site(&[("Cross-Origin-Opener-Policy", value)]);
    const E: &str = "cross-origin-embedder-policy";
    const O: &str = "cross-origin-opener-policy";
    v.push(case(
        "no COEP",
        https_site(&[]),
        E,
        "coep-not-implemented",
        0,
        true,
    ));
    v.push(case(
        "COEP require-corp",
        coep("require-corp"),
        E,
        "coep-implemented-with-require-corp",
        10,
        true,
    ));
    v.push(case(
        "COEP credentialless",
        coep("credentialless; report-to=\"e\""),
        E,
        "coep-implemented-with-credentialless",
        10,
        true,
    ));
    v.push(case(
        "COEP unsafe-none",
        coep("unsafe-none"),
        E,
        "coep-implemented-with-unsafe-none",
        0,
        true,
    ));
    v.push(case(
        "COEP invalid",
        coep("Require-Corp"),
        E,
        "coep-header-invalid",
        -5,
        false,
    ));
    v.push(case(
        "no COOP",
        https_site(&[]),
        O,
        "coop-not-implemented",
        0,
        true,
    ));
    for (value, result, modifier) in [
        ("same-origin", "coop-implemented-with-same-origin", 10),
        (
            "same-origin; report-to=\"coop-endpoint\"",
            "coop-implemented-with-same-origin",
            10,
        ),
        (
            "same-origin; report-to",
            "coop-implemented-with-same-origin",
            10,
        ),
        (
            "same-origin-allow-popups",
            "coop-implemented-with-same-origin-allow-popups",
            10,
        ),
        (
            "noopener-allow-popups",
            "coop-implemented-with-noopener-allow-popups",
            10,
        ),
        ("unsafe-none", "coop-implemented-with-unsafe-none", 0),
    ] {
        v.push(case(
            format!("COOP {value}"),
            coop(value),
            O,
            result,
            modifier,
            true,
        ));
    }
    for value in [
        "whimsy",
        "\"same-origin\"",
        "Same-Origin",
        "SAME-ORIGIN",
        "same-origin; report-to=coop endpoint",
    ] {
        v.push(case(
            format!("COOP {value}"),
            coop(value),
            O,
            "coop-header-invalid",
            -5,
            false,
        ));
    }
    let mut twice = https_site(&[]);
    twice.headers = h(&[
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "unsafe-none"),
    ]);
    v.push(case(
        "COOP sent twice",
        twice,
        O,
        "coop-header-invalid",
        -5,
        false,
    ));
    v
}

fn other_cases() -> Vec<Case> {
    let mut v = Vec::new();
    // CORS.
    const C: &str = "cross-origin-resource-sharing";
    v.push(case(
        "no CORS",
        cors_site(None, None),
        C,
        "cross-origin-resource-sharing-not-implemented",
        0,
        true,
    ));
    v.push(case(
        "CORS *",
        cors_site(Some("*"), Some("true")),
        C,
        "cross-origin-resource-sharing-implemented-with-public-access",
        0,
        true,
    ));
    v.push(case(
        "CORS one origin",
        cors_site(Some("https://mozilla.org"), Some("true")),
        C,
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        0,
        true,
    ));
    v.push(case(
        "CORS reflected without credentials",
        cors_site(Some("https://probe.invalid"), None),
        C,
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        0,
        true,
    ));
    v.push(case(
        "CORS reflected with credentials",
        cors_site(Some("https://probe.invalid"), Some(" TRUE ")),
        C,
        "cross-origin-resource-sharing-implemented-with-universal-access",
        -50,
        false,
    ));

    // Redirection.
    const R: &str = "redirection";
    let route = |hops: &[&str]| {
        let mut o = https_site(&[]);
        let last = hops.len().saturating_sub(1);
        o.http_redirects = Some(
            hops.iter()
                .enumerate()
                .map(|(i, u)| hop(u, if i == last { 200 } else { 301 }))
                .collect(),
        );
        o
    };
    let mut no_http = https_site(&[]);
    no_http.http_redirects = None;
    v.push(case(
        "no http",
        no_http,
        R,
        "redirection-not-needed-no-http",
        0,
        true,
    ));
    v.push(case(
        "to https",
        route(&[
            "http://example.com/",
            "https://example.com/",
            "https://www.example.com/",
        ]),
        R,
        "redirection-to-https",
        0,
        true,
    ));
    v.push(case(
        "to https with a port",
        route(&["http://example.com/", "https://example.com:8443/"]),
        R,
        "redirection-to-https",
        0,
        true,
    ));
    v.push(case(
        "missing",
        route(&["http://example.com"]),
        R,
        "redirection-missing",
        -20,
        false,
    ));
    v.push(case(
        "not to https",
        route(&[
            "http://example.com",
            "http://www.example.com",
            "http://www.example.com/en/",
        ]),
        R,
        "redirection-not-to-https",
        -20,
        false,
    ));
    v.push(case(
        "first redirect to http",
        route(&[
            "http://example.com/",
            "http://www.example.com/",
            "https://www.example.com/",
        ]),
        R,
        "redirection-not-to-https-on-initial-redirection",
        -10,
        false,
    ));
    v.push(case(
        "first redirect off host",
        route(&["http://example.com/", "https://www.example.com/"]),
        R,
        "redirection-off-host-from-http",
        -5,
        false,
    ));
    let mut preloaded = route(&[
        "http://example.com/",
        "https://example.com/",
        "https://www.example.com/x",
    ]);
    preloaded.hsts_preloaded = true;
    v.push(case(
        "all preloaded",
        preloaded,
        R,
        "redirection-all-redirects-preloaded",
        0,
        true,
    ));
    let mut preloaded_missing = route(&["http://example.com/"]);
    preloaded_missing.hsts_preloaded = true;
    v.push(case(
        "preloaded host without redirect",
        preloaded_missing,
        R,
        "redirection-all-redirects-preloaded",
        0,
        true,
    ));
    let mut bad_cert = route(&["http://example.com/", "https://example.com/"]);
    bad_cert.certificate_valid = Some(false);
    v.push(case(
        "invalid certificate",
        bad_cert,
        R,
        "redirection-invalid-cert",
        -20,
        false,
    ));

    // Referrer-Policy.
    const P: &str = "referrer-policy";
    for value in [
        "no-referrer",
        "same-origin",
        "strict-origin",
        "STRICT-ORIGIN",
        "strict-origin-when-cross-origin",
        "no-referrer, whimsy",
    ] {
        v.push(case(
            format!("referrer {value}"),
            https_site(&[("Referrer-Policy", value)]),
            P,
            "referrer-policy-private",
            5,
            true,
        ));
    }
    for value in [
        "origin",
        "origin-when-cross-origin",
        "unsafe-url",
        "no-referrer-when-downgrade",
        "origin-when-cross-origin, no-referrer, unsafe-url",
        "no-referrer, unsafe-url",
    ] {
        v.push(case(
            format!("referrer {value}"),
            https_site(&[("Referrer-Policy", value)]),
            P,
            "referrer-policy-unsafe",
            -5,
            false,
        ));
    }
    for value in ["whimsy", "whimsy, whimsy1, whimsy2", ""] {
        v.push(case(
            format!("referrer {value:?}"),
            https_site(&[("Referrer-Policy", value)]),
            P,
            "referrer-policy-header-invalid",
            -5,
            false,
        ));
    }
    v.push(case(
        "no referrer policy",
        https_site(&[]),
        P,
        "referrer-policy-not-implemented",
        0,
        true,
    ));
    v.push(case(
        "meta referrer wins over the header",
        html_with_meta(
            &[("Referrer-Policy", "unsafe-url")],
            &[("referrer", "no-referrer, same-origin")],
        ),
        P,
        "referrer-policy-private",
        5,
        true,
    ));
    v.push(case(
        "duplicate headers: the last valid one counts",
        https_site(&[
            ("Referrer-Policy", "no-referrer"),
            ("Referrer-Policy", "unsafe-url"),
        ]),
        P,
        "referrer-policy-unsafe",
        -5,
        false,
    ));

    // Strict-Transport-Security.
    const S: &str = "strict-transport-security";
    let hsts = |value: &str| https_site(&[("Strict-Transport-Security", value)]);
    v.push(case(
        "no HSTS",
        https_site(&[]),
        S,
        "hsts-not-implemented",
        -20,
        false,
    ));
    for value in [
        "includeSubDomains; preload",
        "max-age=15768000; includeSubDomains, max-age=15768000; includeSubDomains",
        "max-age = 31536000",
        "",
    ] {
        v.push(case(
            format!("HSTS {value:?}"),
            hsts(value),
            S,
            "hsts-header-invalid",
            -20,
            false,
        ));
    }
    let mut twice = https_site(&[]);
    twice.headers = h(&[
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Strict-Transport-Security", "max-age=31536000"),
    ]);
    v.push(case(
        "HSTS sent twice",
        twice,
        S,
        "hsts-header-invalid",
        -20,
        false,
    ));
    v.push(case(
        "HSTS over http",
        http_site(&[("Strict-Transport-Security", "max-age=15768000")]),
        S,
        "hsts-not-implemented-no-https",
        -20,
        false,
    ));
    let mut bad_cert = hsts("max-age=15768000; includeSubDomains; preload");
    bad_cert.certificate_valid = Some(false);
    v.push(case(
        "HSTS bad certificate",
        bad_cert,
        S,
        "hsts-invalid-cert",
        -20,
        false,
    ));
    for value in ["max-age=86400", "max-age=15551999", "max-age=-1; max-age=0"] {
        v.push(case(
            format!("HSTS {value}"),
            hsts(value),
            S,
            "hsts-implemented-max-age-less-than-six-months",
            -10,
            false,
        ));
    }
    for value in [
        "max-age=15768000; includeSubDomains; preload",
        "max-age=15552000",
        "MAX-AGE=63072000",
        "max-age= 31536000",
        // Not a number: parseInt gives NaN, which the Observatory's comparison lets through.
        "max-age=\"31536000\"",
        "max-age=1; max-age=31536000",
    ] {
        v.push(case(
            format!("HSTS {value}"),
            hsts(value),
            S,
            "hsts-implemented-max-age-at-least-six-months",
            0,
            true,
        ));
    }
    let mut preloaded = https_site(&[]);
    preloaded.hsts_preloaded = true;
    v.push(case(
        "HSTS preloaded",
        preloaded,
        S,
        "hsts-preloaded",
        5,
        true,
    ));

    // X-Content-Type-Options.
    const X: &str = "x-content-type-options";
    v.push(case(
        "no XCTO",
        https_site(&[]),
        X,
        "x-content-type-options-not-implemented",
        -5,
        false,
    ));
    for value in ["nosniff", "nosniff ", "NoSniff"] {
        v.push(case(
            format!("XCTO {value:?}"),
            https_site(&[("X-Content-Type-Options", value)]),
            X,
            "x-content-type-options-nosniff",
            0,
            true,
        ));
    }
    for value in ["whimsy", "nosniff, nosniff"] {
        v.push(case(
            format!("XCTO {value:?}"),
            https_site(&[("X-Content-Type-Options", value)]),
            X,
            "x-content-type-options-header-invalid",
            -5,
            false,
        ));
    }
    let mut twice = https_site(&[]);
    twice.headers = h(&[
        ("X-Content-Type-Options", "nosniff"),
        ("X-Content-Type-Options", "nosniff"),
    ]);
    v.push(case(
        "XCTO sent twice",
        twice,
        X,
        "x-content-type-options-header-invalid",
        -5,
        false,
    ));

    // X-Frame-Options.
    const F: &str = "x-frame-options";
    let xfo = |value: &str| https_site(&[("X-Frame-Options", value)]);
    v.push(case(
        "no XFO",
        https_site(&[]),
        F,
        "x-frame-options-not-implemented",
        -20,
        false,
    ));
    v.push(case(
        "XFO whimsy",
        xfo("whimsy"),
        F,
        "x-frame-options-header-invalid",
        -20,
        false,
    ));
    v.push(case(
        "XFO twice",
        xfo("SAMEORIGIN, SAMEORIGIN"),
        F,
        "x-frame-options-header-invalid",
        -20,
        false,
    ));
    v.push(case(
        "XFO allow-from",
        xfo("ALLOW-FROM https://mozilla.org"),
        F,
        "x-frame-options-allow-from-origin",
        0,
        true,
    ));
    for value in ["DENY", "SAMEORIGIN", " sameorigin "] {
        v.push(case(
            format!("XFO {value:?}"),
            xfo(value),
            F,
            "x-frame-options-sameorigin-or-deny",
            5,
            true,
        ));
    }
    v.push(case(
        "XFO via CSP",
        https_site(&[
            ("X-Frame-Options", "DENY"),
            (
                "Content-Security-Policy",
                "frame-ancestors https://mozilla.org",
            ),
        ]),
        F,
        "x-frame-options-implemented-via-csp",
        5,
        true,
    ));
    v.push(case(
        "XFO not via an invalid CSP",
        https_site(&[(
            "Content-Security-Policy",
            "frame-ancestors 'none'; frame-ancestors *",
        )]),
        F,
        "x-frame-options-not-implemented",
        -20,
        false,
    ));

    // Cross-Origin-Resource-Policy.
    const O: &str = "cross-origin-resource-policy";
    let corp = |value: &str| https_site(&[("Cross-Origin-Resource-Policy", value)]);
    v.push(case(
        "no CORP",
        https_site(&[]),
        O,
        "corp-not-implemented",
        0,
        true,
    ));
    v.push(case(
        "CORP blank",
        corp("  "),
        O,
        "corp-not-implemented",
        0,
        true,
    ));
    v.push(case(
        "CORP same-site",
        corp("same-site"),
        O,
        "corp-implemented-with-same-site",
        10,
        true,
    ));
    v.push(case(
        "CORP same-origin",
        corp("Same-Origin"),
        O,
        "corp-implemented-with-same-origin",
        10,
        true,
    ));
    v.push(case(
        "CORP cross-origin",
        corp("cross-origin"),
        O,
        "corp-implemented-with-cross-origin",
        0,
        true,
    ));
    v.push(case(
        "CORP whimsy",
        corp("whimsy"),
        O,
        "corp-header-invalid",
        -5,
        false,
    ));
    let mut twice = https_site(&[]);
    twice.headers = h(&[
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "cross-origin"),
    ]);
    v.push(case(
        "CORP twice",
        twice,
        O,
        "corp-header-invalid",
        -5,
        false,
    ));
    v
}

fn all_cases() -> Vec<Case> {
    let mut v = csp_cases();
    v.extend(cookie_cases());
    v.extend(structured_cases());
    v.extend(other_cases());
    v
}

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let e = evaluate(&c.observed);
        let t = test_of(&e, c.test);
        let got = (t.result.as_str(), t.score_modifier, t.pass);
        if got != (c.result, c.modifier, c.pass) {
            failures.push(format!(
                "{}: got {got:?}, want {:?}",
                c.label,
                (c.result, c.modifier, c.pass)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn csp_vectors() {
    check(csp_cases());
}

#[test]
fn cookie_vectors() {
    check(cookie_cases());
}

#[test]
fn coop_and_coep_vectors() {
    check(structured_cases());
}

#[test]
fn cors_redirection_referrer_hsts_xcto_xfo_corp_vectors() {
    check(other_cases());
}

#[test]
fn every_result_name_is_produced_with_its_modifier() {
    let produced: BTreeSet<&str> = all_cases().iter().map(|c| c.result).collect();
    for (name, modifier) in names::SCORE_TABLE {
        assert!(produced.contains(name), "no vector produces {name}");
        assert_eq!(names::modifier(name), *modifier);
    }
    for c in all_cases() {
        assert!(
            names::SCORE_TABLE.iter().any(|(n, _)| *n == c.result),
            "{} is not a known result",
            c.result
        );
    }
    assert_eq!(names::modifier("no-such-result"), 0);
}

#[test]
fn tests_come_in_the_observatory_order() {
    let e = evaluate(&https_site(&[]));
    let names: Vec<&str> = e.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-security-policy",
            "cookies",
            "cross-origin-embedder-policy",
            "cross-origin-opener-policy",
            "cross-origin-resource-sharing",
            "redirection",
            "referrer-policy",
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
            "cross-origin-resource-policy",
        ]
    );
}

#[test]
fn grade_chart() {
    let chart = [
        (150, "A+"),
        (100, "A+"),
        (99, "A"),
        (95, "A"),
        (90, "A"),
        (89, "A-"),
        (85, "A-"),
        (84, "B+"),
        (80, "B+"),
        (79, "B"),
        (75, "B"),
        (70, "B"),
        (69, "B-"),
        (65, "B-"),
        (64, "C+"),
        (60, "C+"),
        (59, "C"),
        (55, "C"),
        (50, "C"),
        (49, "C-"),
        (45, "C-"),
        (44, "D+"),
        (40, "D+"),
        (39, "D"),
        (35, "D"),
        (30, "D"),
        (29, "D-"),
        (25, "D-"),
        (24, "F"),
        (20, "F"),
        (5, "F"),
        (0, "F"),
        (-10, "F"),
        (i32::MIN, "F"),
        (i32::MAX, "A+"),
    ];
    for (score, grade) in chart {
        assert_eq!(grade_for(score), grade, "{score}");
    }
}

#[test]
fn bonuses_count_only_on_top_of_an_a() {
    assert_eq!(score([10, 5, -10].into_iter()), 105);
    assert_eq!(score([10, 5, -5, -5, 5].into_iter()), 110);
    assert_eq!(score([10, -10, -5].into_iter()), 85);
    assert_eq!(score([20, -11].into_iter()), 89);
    assert_eq!(score([-25, -20, -20, -20, -20, -50].into_iter()), 0);
    assert_eq!(score(std::iter::empty()), 100);
}

fn modifiers(e: &Evaluation) -> Vec<(String, i32)> {
    e.tests
        .iter()
        .map(|t| (t.result.clone(), t.score_modifier))
        .collect()
}

/// No headers at all, HTTPS with http:// redirecting to it: CSP -25, HSTS -20,
/// X-Content-Type-Options -5, X-Frame-Options -20, everything else 0. 100 - 70 = 30: D.
#[test]
fn bare_https_origin_scores_30_d() {
    let e = evaluate(&https_site(&[]));
    assert_eq!(e.score, 30, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "D");
    assert_eq!(test_of(&e, "redirection").result, "redirection-to-https");
    assert!(e.advice.is_empty());
    let failed: Vec<&str> = e
        .tests
        .iter()
        .filter(|t| !t.pass)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "content-security-policy",
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options"
        ]
    );
}

/// Plain HTTP only, no redirect: the same as above plus redirection-missing (-20), and
/// hsts-not-implemented-no-https in place of hsts-not-implemented: 100 - 90 = 10: F.
#[test]
fn bare_http_origin_scores_10_f() {
    let e = evaluate(&http_site(&[]));
    assert_eq!(e.score, 10, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "F");
    assert_eq!(test_of(&e, "redirection").result, "redirection-missing");
    assert_eq!(
        test_of(&e, "strict-transport-security").result,
        "hsts-not-implemented-no-https"
    );
}

const STRICT: &[(&str, &str)] = &[
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (
        "Strict-Transport-Security",
        "max-age=63072000; includeSubDomains",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    (
        "Set-Cookie",
        "__Host-sid=1; Secure; HttpOnly; SameSite=Strict; Path=/",
    ),
];

/// No penalties, so every bonus counts: CSP +10, cookies +5, COEP +10, COOP +10,
/// Referrer-Policy +5, X-Frame-Options via CSP +5, CORP +10: 155, A+.
#[test]
fn strict_site_scores_a_plus() {
    let e = evaluate(&https_site(STRICT));
    assert_eq!(e.score, 155, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "A+");
    assert!(e.tests.iter().all(|t| t.pass), "{:?}", modifiers(&e));
    assert!(e.advice.is_empty(), "{:?}", e.advice);
}

/// Penalties of exactly 10 (XCTO missing, Referrer-Policy unsafe) keep the bonuses:
/// 100 - 10 + 10 + 5 + 10 + 10 + 5 + 10 = 140. One more -5 (invalid CORP instead of
/// same-origin) drops them all: 100 - 15 = 85, A-.
#[test]
fn bonus_rule_on_whole_pages() {
    let mut headers: Vec<(&str, &str)> = STRICT
        .iter()
        .copied()
        .filter(|(n, _)| *n != "X-Content-Type-Options" && *n != "Referrer-Policy")
        .collect();
    headers.push(("Referrer-Policy", "unsafe-url"));
    let e = evaluate(&https_site(&headers));
    assert_eq!(e.score, 140, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "A+");
    headers.retain(|(n, _)| *n != "Cross-Origin-Resource-Policy");
    headers.push(("Cross-Origin-Resource-Policy", "whimsy"));
    let e = evaluate(&https_site(&headers));
    assert_eq!(e.score, 85, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "A-");
}

/// The Observatory's own fixture for observatory.mozilla.org (captured 2026-01-12), whose
/// expected result there is 110, A+: CSP unsafe-inline in style-src only (0), X-Frame-Options
/// DENY (+5), Referrer-Policy strict-origin-when-cross-origin (+5), HSTS two years (0), the
/// rest 0 (its subresource-integrity result is 0 as well).
#[test]
fn observatory_fixture_observatory_mozilla_org() {
    let csp = "default-src 'self'; script-src 'report-sample' 'self' 'wasm-unsafe-eval' https://www.google-analytics.com/analytics.js https://*.googletagmanager.com assets.codepen.io production-assets.codepen.io https://js.stripe.com 'sha256-XNBp89FG76amD8BqrJzyflxOF9PaWPqPqvJfKZPCv7M=' 'sha256-YCNoU9DNiinACbd8n6UPyB/8vj0kXvhkOni9/06SuYw=' 'sha256-PZjP7OR6mBEtnvXIZfCZ5PuOlxoDF1LDZL8aj8c42rw='; script-src-elem 'report-sample' 'self' 'wasm-unsafe-eval' https://www.google-analytics.com/analytics.js https://*.googletagmanager.com assets.codepen.io production-assets.codepen.io https://js.stripe.com 'sha256-XNBp89FG76amD8BqrJzyflxOF9PaWPqPqvJfKZPCv7M=' 'sha256-YCNoU9DNiinACbd8n6UPyB/8vj0kXvhkOni9/06SuYw=' 'sha256-PZjP7OR6mBEtnvXIZfCZ5PuOlxoDF1LDZL8aj8c42rw='; style-src 'report-sample' 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; connect-src 'self' developer.allizom.org bcd.developer.allizom.org bcd.developer.mozilla.org updates.developer.allizom.org updates.developer.mozilla.org https://*.google-analytics.com https://*.analytics.google.com https://*.googletagmanager.com https://incoming.telemetry.mozilla.org https://observatory-api.mdn.allizom.net https://observatory-api.mdn.mozilla.net https://api.github.com/search/issues stats.g.doubleclick.net https://api.stripe.com; font-src 'self'; frame-src 'self' mdn.github.io *.mdnplay.dev *.mdnyalp.dev *.play.test.mdn.allizom.net https://v2.scrimba.com https://scrimba.com jsfiddle.net www.youtube-nocookie.com codepen.io survey.alchemer.com https://js.stripe.com; img-src 'self' data: *.githubusercontent.com *.googleusercontent.com *.gravatar.com mozillausercontent.com firefoxusercontent.com profile.stage.mozaws.net profile.accounts.firefox.com developer.mozilla.org mdn.dev wikipedia.org upload.wikimedia.org https://mdn.github.io/shared-assets/ https://mdn.dev/ https://*.google-analytics.com https://*.googletagmanager.com www.gstatic.com; manifest-src 'self'; media-src 'self' archive.org videos.cdn.mozilla.net https://mdn.github.io/shared-assets/; child-src 'self'; worker-src 'self';";
    let o = Observed {
        final_url: "https://developer.mozilla.org/en-US/observatory".to_owned(),
        headers: h(&[
            ("content-type", "text/html"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("content-security-policy", csp),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("strict-transport-security", "max-age=63072000"),
        ]),
        cors_headers: Vec::new(),
        probe_origin: "https://http-observatory.security.mozilla.org".to_owned(),
        http_redirects: Some(vec![
            hop("http://observatory.mozilla.org/", 302),
            hop("https://observatory.mozilla.org/", 301),
            hop("https://developer.mozilla.org/en-US/observatory", 200),
        ]),
        redirects: vec![
            hop("https://observatory.mozilla.org/", 301),
            hop("https://developer.mozilla.org/en-US/observatory", 200),
        ],
        certificate_valid: Some(true),
        hsts_preloaded: false,
        meta_http_equiv: Vec::new(),
    };
    let e = evaluate(&o);
    assert_eq!(e.score, 110, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "A+");
    assert!(e.tests.iter().all(|t| t.pass));
    assert_eq!(
        test_of(&e, "content-security-policy").result,
        "csp-implemented-with-unsafe-inline-in-style-src-only"
    );
    assert_eq!(
        e.advice,
        ["CSP has no form-action", "CSP has no frame-ancestors"]
    );
}

/// The Observatory's mozilla.org fixture grades 75 (B) there; 5 of that is a
/// subresource-integrity penalty (external scripts without SRI) this grader cannot see, so it
/// grades 80 (B+): CSP unsafe-inline -20 takes the penalty-only score below 90, which voids
/// the bonuses (COOP +10, Referrer-Policy +5, X-Frame-Options via CSP +5).
#[test]
fn observatory_fixture_mozilla_org_without_sri() {
    let csp = "frame-src 'self' accounts.firefox.com js.stripe.com www.google-analytics.com www.googletagmanager.com www.youtube.com; script-src 'self' 'unsafe-eval' 'unsafe-inline' cdn.transcend.io js.stripe.com s.ytimg.com tagmanager.google.com transcend-cdn.com www.google-analytics.com www.googletagmanager.com www.mozilla.org www.youtube.com; form-action 'self' https://abdri3ttkb.execute-api.us-east-2.amazonaws.com https://accounts.firefox.com/ https://basket.mozilla.org; font-src 'self' www.mozilla.org; style-src 'self' 'unsafe-inline' cdn.transcend.io transcend-cdn.com www.mozilla.org; default-src 'self' *.mozilla.org; frame-ancestors 'none'; connect-src 'self' cdn.transcend.io https://abdri3ttkb.execute-api.us-east-2.amazonaws.com https://accounts.firefox.com/ https://basket.mozilla.org o1069899.ingest.sentry.io o1069899.sentry.io region1.google-analytics.com telemetry.transcend.io telemetry.us.transcend.io transcend-cdn.com www.google-analytics.com www.googletagmanager.com www.mozilla.org/submit/bedrock/; upgrade-insecure-requests; img-src 'self' blog.mozilla.org data: images.ctfassets.net www.google-analytics.com www.googletagmanager.com www.mozilla.org; object-src 'none'; media-src 'self' assets.mozilla.net videos.cdn.mozilla.net www.mozilla.org; base-uri 'none'";
    let o = Observed {
        final_url: "https://www.mozilla.org/".to_owned(),
        headers: h(&[
            ("content-type", "text/html; charset=utf-8"),
            ("content-security-policy", csp),
            ("content-security-policy-report-only", csp),
            ("strict-transport-security", "max-age=31536000"),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("cross-origin-opener-policy", "same-origin"),
        ]),
        cors_headers: Vec::new(),
        probe_origin: "https://http-observatory.security.mozilla.org".to_owned(),
        http_redirects: Some(vec![
            hop("http://mozilla.org/", 302),
            hop("https://mozilla.org/", 301),
            hop("https://www.mozilla.org/", 200),
        ]),
        redirects: vec![
            hop("https://mozilla.org/", 301),
            hop("https://www.mozilla.org/", 200),
        ],
        certificate_valid: Some(true),
        hsts_preloaded: false,
        meta_http_equiv: Vec::new(),
    };
    let e = evaluate(&o);
    assert_eq!(e.score, 80, "{:?}", modifiers(&e));
    assert_eq!(e.grade, "B+");
    assert_eq!(
        test_of(&e, "content-security-policy").result,
        "csp-implemented-with-unsafe-inline"
    );
    assert_eq!(
        test_of(&e, "x-frame-options").result,
        "x-frame-options-implemented-via-csp"
    );
    assert_eq!(
        test_of(&e, "cross-origin-opener-policy").result,
        "coop-implemented-with-same-origin"
    );
}

#[test]
fn csp_advice() {
    let e = evaluate(&https_site(&[(
        "Content-Security-Policy",
        "default-src 'self'",
    )]));
    assert_eq!(
        e.advice,
        [
            "CSP has no object-src (and no default-src 'none')",
            "CSP has no base-uri",
            "CSP has no form-action",
            "CSP has no frame-ancestors",
        ]
    );
    let e = evaluate(&https_site(&[(
        "Content-Security-Policy",
        "default-src 'none'; object-src *; base-uri data:; form-action https:; frame-ancestors *",
    )]));
    assert_eq!(
        e.advice,
        [
            "CSP object-src allows overly broad sources",
            "CSP base-uri allows overly broad or unsafe sources",
            "CSP form-action allows overly broad sources",
            "CSP frame-ancestors allows overly broad sources",
        ]
    );
    let e = evaluate(&html_with_meta(
        &[],
        &[(
            "Content-Security-Policy",
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )],
    ));
    assert_eq!(
        e.advice,
        ["CSP frame-ancestors is only in a <meta> tag, where browsers ignore it"]
    );
    // The Observatory still takes the <meta> frame-ancestors as X-Frame-Options via CSP.
    assert_eq!(
        test_of(&e, "x-frame-options").result,
        "x-frame-options-implemented-via-csp"
    );
}

/// A tiny deterministic generator so the robustness test needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let len = u64::try_from(items.len()).unwrap_or(1);
        items[usize::try_from(self.next() % len).unwrap_or(0)]
    }
}

#[test]
fn malformed_input_never_panics() {
    const PIECES: &[&str] = &[
        "default-src",
        "script-src",
        "'none'",
        "'self'",
        "'unsafe-inline'",
        "'nonce-",
        "'strict-dynamic'",
        "*",
        "http:",
        "%",
        "%zz",
        "%C3",
        "%e9",
        ";",
        ",",
        " ",
        "\t",
        "\u{a0}",
        "\u{feff}",
        "é",
        "😀",
        "\u{0}",
        "\u{1}",
        "=",
        "\"",
        ":",
        "?",
        "@",
        "max-age=",
        "samesite",
        "Secure",
        "HttpOnly",
        "Domain=",
        ".",
        "__Host-",
        "__Secure-",
        "same-origin",
        "https://",
        "//",
        "[::1]",
        "nosniff",
        "DENY",
        "allow-from",
        "\r",
        "\n",
        "-",
        "99999999999999999999999",
    ];
    const NAMES: &[&str] = &[
        "Content-Security-Policy",
        "Content-Security-Policy-Report-Only",
        "Set-Cookie",
        "Strict-Transport-Security",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Resource-Policy",
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Embedder-Policy",
        "Access-Control-Allow-Origin",
        "Access-Control-Allow-Credentials",
        "Content-Type",
    ];
    let mut rng = Lcg(42);
    for _ in 0..1500 {
        let value = |rng: &mut Lcg| {
            let n = rng.next() % 12;
            (0..n).map(|_| rng.pick(PIECES)).collect::<String>()
        };
        let mut headers = Vec::new();
        for _ in 0..(rng.next() % 8) {
            headers.push((rng.pick(NAMES).to_owned(), value(&mut rng)));
        }
        let o = Observed {
            final_url: value(&mut rng),
            headers: headers.clone(),
            cors_headers: headers,
            probe_origin: value(&mut rng),
            http_redirects: Some(vec![
                hop(&value(&mut rng), 301),
                hop("http://[::1]:0/", 200),
            ]),
            redirects: vec![hop(&value(&mut rng), 0)],
            certificate_valid: Some(rng.next() % 2 == 0),
            hsts_preloaded: rng.next() % 2 == 0,
            meta_http_equiv: vec![
                ("content-security-policy".to_owned(), value(&mut rng)),
                ("referrer".to_owned(), value(&mut rng)),
            ],
        };
        let e = evaluate(&o);
        assert_eq!(e.tests.len(), 11);
        assert!(e.score >= 0);
        let _ = csp::parse(&value(&mut rng));
    }

    // Huge values, many duplicates, an empty observation.
    let huge_csp = format!(
        "default-src 'self' {}",
        "https://a.example/x ".repeat(50_000)
    );
    let many_directives: String = (0..20_000).map(|i| format!("d{i}-src 'self';")).collect();
    let cookie = format!("sess={}; Secure", "x".repeat(1_000_000));
    let mut headers = vec![
        ("Content-Security-Policy", huge_csp.as_str()),
        ("Content-Security-Policy", many_directives.as_str()),
        ("Set-Cookie", cookie.as_str()),
    ];
    for _ in 0..1000 {
        headers.push(("Strict-Transport-Security", "max-age=1"));
        headers.push(("Set-Cookie", "a=1"));
    }
    let e = evaluate(&https_site(&headers));
    assert_eq!(
        test_of(&e, "strict-transport-security").result,
        "hsts-header-invalid"
    );
    assert_eq!(
        test_of(&e, "cookies").result,
        "cookies-session-without-httponly-flag"
    );
    let e = evaluate(&Observed::default());
    assert_eq!(e.tests.len(), 11);
    assert_eq!(e.grade, grade_for(e.score));
}
