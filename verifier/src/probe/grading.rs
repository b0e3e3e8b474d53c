//! Turns Observatory test results into findings with a concrete fix.

use crate::model::{Category, Finding, Severity, TestResult};

/// The check id of an Observatory test.
pub fn check_id(test: &str) -> String {
    format!("observatory/{test}")
}

/// A finding for each failed test: severity from the score modifier, remediation naming the
/// header value to send and the rampart policy line that sends it.
pub fn findings(tests: &[TestResult]) -> Vec<Finding> {
    tests
        .iter()
        .filter(|t| !t.pass)
        .map(|t| Finding {
            id: t.result.clone(),
            check: check_id(&t.name),
            category: category(&t.name),
            severity: match t.score_modifier {
                m if m <= -20 => Severity::High,
                m if m <= -10 => Severity::Medium,
                m if m < 0 => Severity::Low,
                _ => Severity::Info,
            },
            title: title(&t.name, &t.result),
            evidence: format!("{} ({:+})", t.result, t.score_modifier),
            remediation: remediation(&t.name).to_owned(),
        })
        .collect()
}

fn category(test: &str) -> Category {
    match test {
        "cookies" => Category::Cookie,
        "cross-origin-resource-sharing" => Category::Cors,
        "redirection" => Category::Transport,
        _ => Category::Header,
    }
}

fn title(test: &str, result: &str) -> String {
    let what = result.replace('-', " ");
    format!("{test}: {what}")
}

fn remediation(test: &str) -> &'static str {
    match test {
        "content-security-policy" => {
            "Send `Content-Security-Policy: default-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; upgrade-insecure-requests` (no 'unsafe-inline'/'unsafe-eval' in script-src); rampart policy: the strict preset, or `content_security_policy = { value = \"...\" }`"
        }
        "cookies" => {
            "Set every cookie with `Secure; HttpOnly; SameSite=Lax` (session cookies at least Secure and HttpOnly); this is the application's job: rampart does not rewrite cookies"
        }
        "cross-origin-resource-sharing" => {
            "Never reflect arbitrary origins with `Access-Control-Allow-Credentials: true`; allow-list the origins that need credentials"
        }
        "redirection" => {
            "Redirect http:// to https:// on the same host first (301/308), then let HSTS take over; rampart-proxy: `--redirect-http ADDR` (edge listener)"
        }
        "referrer-policy" => {
            "Send `Referrer-Policy: no-referrer` (or `strict-origin-when-cross-origin`); rampart policy: `referrer_policy = { value = \"no-referrer\" }` (strict preset)"
        }
        "strict-transport-security" => {
            "Send `Strict-Transport-Security: max-age=63072000; includeSubDomains` on HTTPS responses; rampart policy: `strict_transport_security = { max_age = 63072000, include_subdomains = true }` (strict preset)"
        }
        "x-content-type-options" => {
            "Send `X-Content-Type-Options: nosniff`; rampart policy: `x_content_type_options = { override = true }` (every preset)"
        }
        "x-frame-options" => {
            "Send `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`; rampart policy: `x_frame_options = { value = \"DENY\" }` (strict preset)"
        }
        "cross-origin-resource-policy" => {
            "Send `Cross-Origin-Resource-Policy: same-origin`; rampart policy: `cross_origin_resource_policy = { value = \"same-origin\" }` (strict preset)"
        }
        _ => "See the MDN HTTP Observatory documentation for this test",
    }
}
