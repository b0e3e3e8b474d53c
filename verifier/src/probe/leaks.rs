//! Leaks: version banners and AWS debug headers on the main response, and what the error probes
//! (a missing path, an unknown method, a malformed SigV4 Authorization, a bogus API key) reveal in
//! their bodies and headers. Evidence is always redacted.

use http::Method;
use rampart_config::leak::{DetectorSet, LeakMatch};
use url::Url;

use crate::model::{Category, Check, Finding, Severity, TargetReport};
use crate::probe::fetch::{Exchange, Fetcher};

pub const HEADERS_CHECK: &str = "leak/headers";

const FIX_BODIES: &str = "Replace verbose error bodies with generic ones: rampart-proxy does it by default (policy `error_bodies = { mode = \"leaky\" }`); for API Gateway, customise the DEFAULT_4XX/DEFAULT_5XX gateway responses (`rampart-verify emit apigateway`)";

/// One error probe: what is sent, and the check it reports under.
pub struct ErrorProbe {
    pub check: &'static str,
    pub description: &'static str,
    method: &'static str,
    path: ProbePath,
    headers: &'static [(&'static str, &'static str)],
}

enum ProbePath {
    /// A random path that cannot exist.
    Missing,
    /// The URL as given.
    Same,
}

pub const ERROR_PROBES: &[ErrorProbe] = &[
    ErrorProbe {
        check: "leak/error-probe-not-found",
        description: "a request for a path that does not exist reveals nothing",
        method: "GET",
        path: ProbePath::Missing,
        headers: &[],
    },
    ErrorProbe {
        check: "leak/error-probe-method",
        description: "a request with a method the server does not allow reveals nothing",
        // An invented method: safe on production (no server acts on it) and disallowed everywhere.
        method: "RAMPARTPROBE",
        path: ProbePath::Same,
        headers: &[],
    },
    ErrorProbe {
        check: "leak/error-probe-sigv4",
        description: "a malformed AWS SigV4 Authorization header reveals nothing",
        method: "GET",
        path: ProbePath::Same,
        headers: &[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDRAMPARTPROBE/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0000",
        )],
    },
    ErrorProbe {
        check: "leak/error-probe-api-key",
        description: "a bogus x-api-key reveals nothing",
        method: "GET",
        path: ProbePath::Same,
        headers: &[("x-api-key", "rampart-probe-invalid-api-key")],
    },
];

/// Headers that name the product behind a response.
const BANNER_HEADERS: &[&str] = &[
    "server",
    "x-powered-by",
    "via",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
    "x-runtime",
];

/// Banners and AWS debug headers on a response.
pub fn header_leaks(
    report: &mut TargetReport,
    ex: &Exchange,
    detectors: &DetectorSet,
    check: &str,
) {
    for (name, value) in ex.header_pairs() {
        let lower = name.to_ascii_lowercase();
        if BANNER_HEADERS.contains(&lower.as_str()) {
            let versioned = detectors
                .scan(value.as_bytes())
                .iter()
                .any(|m| m.detector.as_str() == "version-banner")
                || value
                    .split(['/', ' ', '('])
                    .skip(1)
                    .any(|p| p.starts_with(|c: char| c.is_ascii_digit()));
            if versioned {
                report.findings.push(Finding {
                    id: "leak-version-banner".to_owned(),
                    check: check.to_owned(),
                    category: Category::Leak,
                    severity: Severity::Medium,
                    title: format!("{name} names the software and its version"),
                    evidence: format!("{name}: {}", mask_versions(&value)),
                    remediation: if lower == "server" {
                        "Send one neutral `Server` value; rampart policy: `server = \"app\"` (the strict preset sends `Server: rampart`)".to_owned()
                    } else {
                        format!("Remove `{name}`; rampart policy: `also_remove = [\"{lower}\"]` (the strict preset removes it)")
                    },
                });
            } else if lower != "server" && lower != "via" {
                report.findings.push(Finding {
                    id: "leak-stack-header".to_owned(),
                    check: check.to_owned(),
                    category: Category::Leak,
                    severity: Severity::Low,
                    title: format!("{name} names the software behind the site"),
                    evidence: format!("{name}: {value}"),
                    remediation: format!("Remove `{name}`; rampart policy: `also_remove = [\"{lower}\"]` (the strict preset removes it)"),
                });
            }
        } else if lower.starts_with("x-amzn-") || lower.starts_with("x-amz-") {
            let severity = if lower == "x-amzn-errortype" {
                Severity::Medium
            } else {
                Severity::Low
            };
            report.findings.push(Finding {
                id: "leak-aws-debug-header".to_owned(),
                check: check.to_owned(),
                category: Category::Leak,
                severity,
                title: format!("{name} exposes AWS internals"),
                evidence: format!("{name}: {}", truncate(&value, 60)),
                remediation: "Strip AWS debug headers at the edge (CloudFront cannot remove x-amzn-*): rampart policy `also_remove = [\"x-amzn-*\", \"x-amz-*\"]` (the strict preset removes them)".to_owned(),
            });
        }
    }
}

/// Runs the error probes against `url` and reports what they reveal.
pub async fn error_probes(
    report: &mut TargetReport,
    fetcher: &Fetcher,
    url: &Url,
    detectors: &DetectorSet,
) -> Result<(), crate::probe::fetch::FetchError> {
    for probe in ERROR_PROBES {
        report.checks.push(Check {
            id: probe.check.to_owned(),
            description: probe.description.to_owned(),
        });
        let target = match probe.path {
            ProbePath::Same => url.clone(),
            ProbePath::Missing => {
                let mut u = url.clone();
                u.set_path(&format!("/rampart-probe-{}", nonce()));
                u.set_query(None);
                u
            }
        };
        let method = Method::from_bytes(probe.method.as_bytes()).unwrap_or(Method::GET);
        let ex = fetcher
            .once(method.clone(), &target, probe.headers, 64 * 1024)
            .await?;
        let what = format!("{method} {} -> {}", target.path(), ex.status);
        // Headers the main response already showed are reported once, not once per probe.
        let mut probe_headers = TargetReport::new("", "");
        header_leaks(&mut probe_headers, &ex, detectors, probe.check);
        for f in probe_headers.findings {
            if !report
                .findings
                .iter()
                .any(|g| g.id == f.id && g.evidence == f.evidence)
            {
                report.findings.push(f);
            }
        }
        let matches = detectors.scan(&ex.body);
        let mut seen: Vec<&str> = Vec::new();
        for m in &matches {
            let id = m.detector.as_str();
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            report.findings.push(Finding {
                id: format!("leak-{}", id.replace(':', "-")),
                check: probe.check.to_owned(),
                category: Category::Leak,
                severity: severity_of(id),
                title: format!("The error response reveals {}", describe(id)),
                evidence: format!("{what}: {}", evidence(&ex.body, m, &matches)),
                remediation: FIX_BODIES.to_owned(),
            });
        }
    }
    Ok(())
}

/// How bad each kind of leak is: secrets and exact internals are high, hints medium.
pub fn severity_of(detector: &str) -> Severity {
    match detector {
        "aws-arn"
        | "aws-account-id"
        | "aws-account-id-masked"
        | "aws-access-key-id"
        | "aws-sigv4-message"
        | "sql-error" => Severity::High,
        d if d.starts_with("stack-trace-") || d.starts_with("debug-page-") => Severity::High,
        "version-banner" => Severity::Low,
        _ => Severity::Medium,
    }
}

fn describe(detector: &str) -> String {
    match detector {
        "aws-arn" => "an AWS ARN".to_owned(),
        "aws-account-id" | "aws-account-id-masked" => "an AWS account id".to_owned(),
        "aws-access-key-id" => "an AWS access key id".to_owned(),
        "aws-apigateway-message" => "an API Gateway default message".to_owned(),
        "aws-sigv4-message" => "SigV4 signing details".to_owned(),
        "aws-waf-message" => "a WAF/CloudFront error page".to_owned(),
        "aws-exception-name" => "an exception class name".to_owned(),
        "sql-error" => "a SQL error".to_owned(),
        "private-ipv4" | "private-ipv6" => "a private IP address".to_owned(),
        "internal-hostname" => "an internal host name".to_owned(),
        "filesystem-path" => "a server file path".to_owned(),
        "version-banner" => "a software version".to_owned(),
        d if d.starts_with("stack-trace-") => {
            format!("a {} stack trace", &d["stack-trace-".len()..])
        }
        d if d.starts_with("debug-page-") => format!("a {} debug page", &d["debug-page-".len()..]),
        d => format!("text matching {d}"),
    }
}

/// Context around the first match with every match masked: a report never repeats a secret.
pub fn evidence(body: &[u8], first: &LeakMatch, all: &[LeakMatch]) -> String {
    let start = first.start.saturating_sub(60);
    let end = (first.end + 60).min(body.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut pos = start;
    let mut covered: Vec<&LeakMatch> = all
        .iter()
        .filter(|m| m.end > start && m.start < end)
        .collect();
    covered.sort_by_key(|m| m.start);
    for m in covered {
        if m.start > pos {
            out.push_str(&printable(&body[pos..m.start]));
        }
        if m.end > pos {
            out.push_str(&format!("[{} redacted]", m.detector.as_str()));
            pos = m.end;
        }
    }
    if pos < end {
        out.push_str(&printable(&body[pos..end]));
    }
    if end < body.len() {
        out.push('…');
    }
    out
}

fn printable(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn mask_versions(v: &str) -> String {
    truncate(v, 80)
}

fn truncate(v: &str, n: usize) -> String {
    if v.chars().count() <= n {
        v.to_owned()
    } else {
        format!("{}…", v.chars().take(n).collect::<String>())
    }
}

/// A path segment no site has: a per-process random key over a counter.
fn nonce() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let key = std::collections::hash_map::RandomState::new();
    format!("{:016x}", key.hash_one(N.fetch_add(1, Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_masks_every_match_in_context() {
        let body = br#"{"Message":"User: arn:aws:iam::123456789012:role/x is not authorized to perform: execute-api:Invoke"}"#;
        let set = DetectorSet::builtin();
        let all = set.scan(body);
        let e = evidence(body, &all[0], &all);
        assert!(!e.contains("123456789012"), "{e}");
        assert!(!e.contains("arn:aws:iam"), "{e}");
        assert!(e.contains("redacted"), "{e}");
    }

    #[test]
    fn severities() {
        assert_eq!(severity_of("aws-arn"), Severity::High);
        assert_eq!(severity_of("stack-trace-java"), Severity::High);
        assert_eq!(severity_of("private-ipv4"), Severity::Medium);
    }
}
