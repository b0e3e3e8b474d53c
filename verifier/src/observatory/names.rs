//! Every result this grader can produce, with the Observatory's score modifier for it
//! (its `SCORE_TABLE`, algorithm version 6).

pub(crate) const SCORE_TABLE: &[(&str, i32)] = &[
    // content-security-policy
    ("csp-implemented-with-no-unsafe-default-src-none", 10),
    ("csp-implemented-with-no-unsafe", 5),
    ("csp-implemented-with-unsafe-inline-in-style-src-only", 0),
    (
        "csp-implemented-with-insecure-scheme-in-passive-content-only",
        -10,
    ),
    ("csp-implemented-with-unsafe-eval", -10),
    ("csp-implemented-with-unsafe-inline", -20),
    ("csp-implemented-with-insecure-scheme", -20),
    ("csp-header-invalid", -25),
    ("csp-not-implemented", -25),
    ("csp-not-implemented-but-reporting-enabled", -25),
    ("csp-implemented-but-duplicate-directives", 0),
    // cookies
    ("cookies-secure-with-httponly-sessions-and-samesite", 5),
    ("cookies-secure-with-httponly-sessions", 0),
    ("cookies-not-found", 0),
    ("cookies-without-secure-flag-but-protected-by-hsts", -5),
    (
        "cookies-session-without-secure-flag-but-protected-by-hsts",
        -10,
    ),
    ("cookies-without-secure-flag", -20),
    ("cookies-samesite-flag-invalid", -20),
    ("cookies-anticsrf-without-samesite-flag", -20),
    ("cookies-session-without-httponly-flag", -30),
    ("cookies-session-without-secure-flag", -40),
    // cross-origin-embedder-policy
    ("coep-implemented-with-require-corp", 10),
    ("coep-implemented-with-credentialless", 10),
    ("coep-implemented-with-unsafe-none", 0),
    ("coep-not-implemented", 0),
    ("coep-header-invalid", -5),
    // cross-origin-opener-policy
    ("coop-implemented-with-same-origin", 10),
    ("coop-implemented-with-same-origin-allow-popups", 10),
    ("coop-implemented-with-noopener-allow-popups", 10),
    ("coop-implemented-with-unsafe-none", 0),
    ("coop-not-implemented", 0),
    ("coop-header-invalid", -5),
    // cross-origin-resource-sharing
    ("cross-origin-resource-sharing-not-implemented", 0),
    (
        "cross-origin-resource-sharing-implemented-with-public-access",
        0,
    ),
    (
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        0,
    ),
    (
        "cross-origin-resource-sharing-implemented-with-universal-access",
        -50,
    ),
    // redirection
    ("redirection-all-redirects-preloaded", 0),
    ("redirection-to-https", 0),
    ("redirection-not-needed-no-http", 0),
    ("redirection-off-host-from-http", -5),
    ("redirection-not-to-https-on-initial-redirection", -10),
    ("redirection-not-to-https", -20),
    ("redirection-missing", -20),
    ("redirection-invalid-cert", -20),
    // referrer-policy
    ("referrer-policy-private", 5),
    ("referrer-policy-not-implemented", 0),
    ("referrer-policy-unsafe", -5),
    ("referrer-policy-header-invalid", -5),
    // strict-transport-security
    ("hsts-preloaded", 5),
    ("hsts-implemented-max-age-at-least-six-months", 0),
    ("hsts-implemented-max-age-less-than-six-months", -10),
    ("hsts-not-implemented", -20),
    ("hsts-header-invalid", -20),
    ("hsts-not-implemented-no-https", -20),
    ("hsts-invalid-cert", -20),
    // x-content-type-options
    ("x-content-type-options-nosniff", 0),
    ("x-content-type-options-not-implemented", -5),
    ("x-content-type-options-header-invalid", -5),
    // x-frame-options
    ("x-frame-options-implemented-via-csp", 5),
    ("x-frame-options-sameorigin-or-deny", 5),
    ("x-frame-options-allow-from-origin", 0),
    ("x-frame-options-not-implemented", -20),
    ("x-frame-options-header-invalid", -20),
    // cross-origin-resource-policy
    ("corp-implemented-with-same-origin", 10),
    ("corp-implemented-with-same-site", 10),
    ("corp-implemented-with-cross-origin", 0),
    ("corp-not-implemented", 0),
    ("corp-header-invalid", -5),
];

/// The score modifier of a result; 0 for a name not in the table, as the Observatory does.
pub(crate) fn modifier(result: &str) -> i32 {
    SCORE_TABLE
        .iter()
        .find(|(name, _)| *name == result)
        .map_or(0, |(_, m)| *m)
}
