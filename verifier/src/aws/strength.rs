//! How strong a header value is compared with the one a rampart policy sets. The same ranking
//! the probe's conformance check applies to live responses, here applied to configured values
//! (a CloudFront policy's headers, a gateway response's static header parameters).

use crate::model::Severity;
use crate::observatory::csp;

/// Why `got` is weaker than `want` for the header `name`, or `None` when it is at least as
/// strong. Headers without a known ranking must match exactly (case and surrounding space
/// aside).
pub(crate) fn weaker(name: &str, want: &str, got: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let g = got.trim();
    let w = want.trim();
    let first = |v: &str| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase();
    let rank = |order: &[&str]| -> Option<String> {
        let pos = |v: &str| order.iter().position(|o| *o == first(v));
        match (pos(g), pos(w)) {
            (Some(a), Some(b)) if a <= b => None,
            (None, _) => Some(format!("{g:?} is not a recognised value")),
            _ => Some(format!("{g} is weaker than {w}")),
        }
    };
    match lower.as_str() {
        "strict-transport-security" => hsts_weaker(w, g),
        "content-security-policy" | "content-security-policy-report-only" => {
            let Ok(want_p) = csp::parse(w) else {
                return (g != w).then(|| format!("{g:?} differs from {w:?}"));
            };
            match csp::parse(g) {
                Ok(p) if csp::at_least_as_strict(&p, &want_p) => None,
                Ok(_) => Some("less strict than the policy's CSP".to_owned()),
                Err(e) => Some(format!("invalid: {e}")),
            }
        }
        "x-frame-options" => rank(&["deny", "sameorigin"]),
        "x-content-type-options" => {
            (!g.eq_ignore_ascii_case("nosniff")).then(|| format!("{g:?} is not nosniff"))
        }
        "referrer-policy" => referrer_weaker(w, g),
        "permissions-policy" => permissions_weaker(w, g),
        "cross-origin-opener-policy" => rank(&[
            "same-origin",
            "noopener-allow-popups",
            "same-origin-allow-popups",
            "unsafe-none",
        ]),
        "cross-origin-resource-policy" => rank(&["same-origin", "same-site", "cross-origin"]),
        "cross-origin-embedder-policy" => rank(&["require-corp", "credentialless", "unsafe-none"]),
        "x-permitted-cross-domain-policies" => rank(&[
            "none",
            "master-only",
            "by-content-type",
            "by-ftp-filename",
            "all",
        ]),
        "x-xss-protection" => {
            let norm = |v: &str| {
                v.chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_lowercase()
            };
            (norm(g) != norm(w)).then(|| format!("{g:?} instead of {w:?}"))
        }
        _ => (!g.eq_ignore_ascii_case(w)).then(|| format!("{g:?} instead of {w:?}")),
    }
}

/// A missing header matters as much as the probe says it does for a live response.
pub(crate) fn missing_severity(name: &str) -> Severity {
    match name.to_ascii_lowercase().as_str() {
        "strict-transport-security" | "content-security-policy" | "x-frame-options" => {
            Severity::High
        }
        "x-content-type-options" | "referrer-policy" | "permissions-policy" => Severity::Medium,
        _ => Severity::Low,
    }
}

/// An origin's own (possibly weaker) value winning over ours matters most where the header
/// is the main defence.
pub(crate) fn not_overriding_severity(name: &str) -> Severity {
    match name.to_ascii_lowercase().as_str() {
        "strict-transport-security" | "content-security-policy" | "x-frame-options" => {
            Severity::Medium
        }
        _ => Severity::Low,
    }
}

/// Referrer policies that send the full URL (path and query) to other origins.
pub(crate) fn unsafe_referrer(value: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .rev()
        .find(|t| !t.is_empty())
        .is_some_and(|last| {
            last.eq_ignore_ascii_case("unsafe-url")
                || last.eq_ignore_ascii_case("no-referrer-when-downgrade")
        })
}

/// The parts of an HSTS value: (max-age, includeSubDomains, preload).
pub(crate) fn parse_hsts(value: &str) -> (Option<u64>, bool, bool) {
    let mut max_age = None;
    let (mut sub, mut preload) = (false, false);
    for d in value.split(';').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("max-age=") {
            max_age = v.trim().trim_matches('"').parse::<u64>().ok();
        } else if lower == "includesubdomains" {
            sub = true;
        } else if lower == "preload" {
            preload = true;
        }
    }
    (max_age, sub, preload)
}

fn hsts_weaker(want: &str, got: &str) -> Option<String> {
    let (want_age, want_sub, want_preload) = parse_hsts(want);
    let (age, sub, preload) = parse_hsts(got);
    let mut problems = Vec::new();
    match (age, want_age) {
        (None, _) => problems.push("no valid max-age".to_owned()),
        (Some(a), Some(w)) if a < w => problems.push(format!("max-age {a} < {w}")),
        _ => {}
    }
    if want_sub && !sub {
        problems.push("no includeSubDomains".to_owned());
    }
    if want_preload && !preload {
        problems.push("no preload".to_owned());
    }
    (!problems.is_empty()).then(|| problems.join(", "))
}

const REFERRER_ORDER: [&str; 8] = [
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "origin",
    "origin-when-cross-origin",
    "no-referrer-when-downgrade",
    "unsafe-url",
];

fn referrer_weaker(want: &str, got: &str) -> Option<String> {
    // Browsers apply the last token they recognise.
    let last = |v: &str| {
        v.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .rev()
            .find(|t| REFERRER_ORDER.contains(&t.as_str()))
    };
    let pos = |t: &str| REFERRER_ORDER.iter().position(|o| *o == t);
    match (last(got), last(want)) {
        (None, _) => Some(format!("{got:?} is not a valid referrer policy")),
        (Some(g), Some(w)) => match (pos(&g), pos(&w)) {
            (Some(a), Some(b)) if a <= b => None,
            _ => Some(format!("{g} is weaker than {w}")),
        },
        (Some(_), None) => None,
    }
}

/// Every feature the wanted policy restricts must be at least as restricted in `got`.
fn permissions_weaker(want: &str, got: &str) -> Option<String> {
    let parse = |v: &str| -> Vec<(String, String)> {
        v.split(',')
            .filter_map(|item| item.split_once('='))
            .map(|(f, a)| (f.trim().to_ascii_lowercase(), a.trim().to_ascii_lowercase()))
            .collect()
    };
    let strength = |a: &str| match a {
        "()" => 0,
        "(self)" | "self" => 1,
        _ => 2,
    };
    let observed = parse(got);
    let mut looser = Vec::new();
    for (feature, allow) in parse(want) {
        match observed.iter().find(|(f, _)| *f == feature) {
            Some((_, a)) if strength(a) <= strength(&allow) => {}
            Some((_, a)) => looser.push(format!("{feature}={a}")),
            None => looser.push(format!("{feature} unrestricted")),
        }
    }
    (!looser.is_empty()).then(|| looser.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_needs_age_subdomains_and_preload_as_wanted() {
        let want = "max-age=63072000; includeSubDomains";
        assert!(weaker("Strict-Transport-Security", want, want).is_none());
        assert!(
            weaker(
                "strict-transport-security",
                want,
                "max-age=63072000; includeSubDomains; preload"
            )
            .is_none()
        );
        let w = weaker("Strict-Transport-Security", want, "max-age=31536000").unwrap();
        assert!(w.contains("max-age 31536000 < 63072000"), "{w}");
        assert!(w.contains("includeSubDomains"), "{w}");
    }

    #[test]
    fn ranked_values() {
        assert!(weaker("X-Frame-Options", "DENY", "SAMEORIGIN").is_some());
        assert!(weaker("X-Frame-Options", "SAMEORIGIN", "DENY").is_none());
        assert!(
            weaker(
                "Referrer-Policy",
                "no-referrer",
                "strict-origin-when-cross-origin"
            )
            .is_some()
        );
        assert!(weaker("Referrer-Policy", "strict-origin", "no-referrer").is_none());
        assert!(weaker("Cross-Origin-Resource-Policy", "same-site", "same-origin").is_none());
        assert!(weaker("X-XSS-Protection", "0", "1; mode=block").is_some());
        assert!(weaker("X-DNS-Prefetch-Control", "off", "OFF").is_none());
        assert!(weaker("Permissions-Policy", "camera=()", "camera=(self)").is_some());
    }

    #[test]
    fn csp_compares_by_strictness() {
        let strict = "default-src 'self'; object-src 'none'; frame-ancestors 'none'";
        assert!(
            weaker(
                "Content-Security-Policy",
                strict,
                "default-src 'none'; frame-ancestors 'none'"
            )
            .is_none()
        );
        assert!(weaker("Content-Security-Policy", strict, "default-src *").is_some());
    }

    #[test]
    fn unsafe_referrer_policies() {
        assert!(unsafe_referrer("unsafe-url"));
        assert!(unsafe_referrer("no-referrer, no-referrer-when-downgrade"));
        assert!(!unsafe_referrer("unsafe-url, strict-origin"));
    }
}
