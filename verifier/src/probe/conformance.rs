//! Policy conformance: does the live response carry every header the rampart policy sets, at least
//! as strong, none of the headers it removes, and its `Server` value?

use rampart_config::{HeaderPolicy, HstsSpec, Mode, ServerSpec, TypedHeader};

use crate::aws::strength;
use crate::model::{Category, Check, Finding, Severity, TargetReport};
use crate::observatory::csp;

/// Compares the observed headers with `policy`. `https` says whether HSTS is expected.
pub fn check(
    report: &mut TargetReport,
    policy: &HeaderPolicy,
    headers: &[(String, String)],
    https: bool,
) {
    let spec = &policy.spec;
    let values = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };

    if let Some(hsts) = &spec.hsts
        && (https || hsts.force)
    {
        let check = "policy/strict-transport-security";
        push_check(
            report,
            check,
            "HSTS is present and at least as strong as the policy's",
        );
        if let Some(problem) = hsts_problem(hsts, &values("strict-transport-security")) {
            report.findings.push(finding(
                check,
                "policy-hsts-weaker",
                Severity::High,
                problem.0,
                problem.1,
                format!(
                    "Send `Strict-Transport-Security: {}`; rampart policy: `strict_transport_security = {{ max_age = {}, include_subdomains = {}, preload = {} }}`",
                    hsts.value(),
                    hsts.max_age,
                    hsts.include_subdomains,
                    hsts.preload
                ),
            ));
        }
    }

    for t in TypedHeader::ALL {
        let Some(want) = spec.get(t) else { continue };
        let name = t.header_name();
        let lower = name.to_ascii_lowercase();
        let check = format!("policy/{lower}");
        push_check(
            report,
            &check,
            &format!("{name} is present and at least as strong as the policy's"),
        );
        let got = values(&lower);
        let fix = format!(
            "Send `{name}: {}`; rampart policy: `{} = {{ value = \"{}\" }}`",
            want.value,
            t.config_key(),
            want.value.replace('"', "\\\"")
        );
        if got.is_empty() {
            report.findings.push(finding(
                &check,
                "policy-header-missing",
                severity_for(t),
                format!("{name} is missing"),
                format!("the policy sets `{name}: {}`", want.value),
                fix,
            ));
            continue;
        }
        // An `if-absent` rule accepts whatever the application chose, as long as it is there.
        if want.mode == Mode::IfAbsent && t != TypedHeader::XContentTypeOptions {
            continue;
        }
        if let Some(why) = weaker(t, &want.value, &got) {
            report.findings.push(finding(
                &check,
                "policy-header-weaker",
                severity_for(t),
                format!("{name} is weaker than the policy"),
                format!("{name}: {} ({why})", got.join(", ")),
                fix,
            ));
        }
    }

    for (name, want) in &spec.custom {
        let lower = name.to_ascii_lowercase();
        let check = format!("policy/{lower}");
        push_check(
            report,
            &check,
            &format!("{name} is present as the policy sets it"),
        );
        let got = values(&lower);
        let ok = match want.mode {
            Mode::IfAbsent => !got.is_empty(),
            Mode::Override => {
                got.len() == 1 && got[0].trim().eq_ignore_ascii_case(want.value.trim())
            }
        };
        if !ok {
            report.findings.push(finding(
                &check,
                if got.is_empty() { "policy-header-missing" } else { "policy-header-weaker" },
                Severity::Low,
                format!("{name} differs from the policy"),
                if got.is_empty() { format!("missing; the policy sets `{name}: {}`", want.value) } else { format!("{name}: {}", got.join(", ")) },
                format!("Send `{name}: {}`; rampart policy: `[[policies.NAME.custom]] name = \"{name}\", value = \"{}\"`", want.value, want.value),
            ));
        }
    }

    let check = "policy/server";
    push_check(report, check, "Server is exactly the policy's value");
    let servers = values("server");
    match &spec.server {
        ServerSpec::Keep => {}
        ServerSpec::Set(v) => {
            if servers.len() != 1 || servers[0] != v {
                report.findings.push(finding(
                    check,
                    "policy-server-mismatch",
                    Severity::Medium,
                    "Server is not the policy's value".to_owned(),
                    if servers.is_empty() {
                        "no Server header".to_owned()
                    } else {
                        format!("Server: {}", servers.join(" | "))
                    },
                    format!("Send exactly one `Server: {v}`; rampart policy: `server = \"{v}\"`"),
                ));
            }
        }
        ServerSpec::Remove => {
            if !servers.is_empty() {
                report.findings.push(finding(
                    check,
                    "policy-server-mismatch",
                    Severity::Medium,
                    "Server is present but the policy removes it".to_owned(),
                    format!("Server: {}", servers.join(" | ")),
                    "Remove `Server`; rampart policy: `server = false`".to_owned(),
                ));
            }
        }
    }

    let check = "policy/remove";
    push_check(
        report,
        check,
        "none of the headers the policy removes is present",
    );
    for (name, value) in headers {
        if policy.removes(name) {
            report.findings.push(finding(
                check,
                "policy-removed-header-present",
                Severity::Medium,
                format!("{name} is present but the policy removes it"),
                format!("{name}: {}", value.chars().take(80).collect::<String>()),
                format!(
                    "Strip `{name}`; rampart policy: `also_remove = [\"{}\"]`",
                    name.to_ascii_lowercase()
                ),
            ));
        }
    }
}

fn push_check(report: &mut TargetReport, id: &str, description: &str) {
    report.checks.push(Check {
        id: id.to_owned(),
        description: description.to_owned(),
    });
}

fn finding(
    check: &str,
    id: &str,
    severity: Severity,
    title: String,
    evidence: String,
    remediation: String,
) -> Finding {
    crate::aws::finding(
        check,
        id,
        Category::Policy,
        severity,
        title,
        evidence,
        remediation,
    )
}

fn severity_for(t: TypedHeader) -> Severity {
    match t {
        TypedHeader::ContentSecurityPolicy | TypedHeader::XFrameOptions => Severity::High,
        TypedHeader::XContentTypeOptions
        | TypedHeader::ReferrerPolicy
        | TypedHeader::PermissionsPolicy => Severity::Medium,
        _ => Severity::Low,
    }
}

/// (title, evidence) when the observed HSTS is weaker than `want`.
fn hsts_problem(want: &HstsSpec, got: &[&str]) -> Option<(String, String)> {
    let Some(value) = got.first() else {
        return Some((
            "Strict-Transport-Security is missing".to_owned(),
            "no header on an HTTPS response".to_owned(),
        ));
    };
    if got.len() > 1 {
        return Some((
            "Strict-Transport-Security is sent more than once".to_owned(),
            got.join(" | "),
        ));
    }
    let mut max_age = None;
    let mut sub = false;
    let mut preload = false;
    for d in value.split(';').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("max-age=") {
            max_age = v.trim_matches('"').parse::<u64>().ok();
        } else if lower == "includesubdomains" {
            sub = true;
        } else if lower == "preload" {
            preload = true;
        }
    }
    let mut problems = Vec::new();
    match max_age {
        None => problems.push("no valid max-age".to_owned()),
        Some(a) if a < want.max_age => problems.push(format!("max-age {a} < {}", want.max_age)),
        Some(_) => {}
    }
    if want.include_subdomains && !sub {
        problems.push("includeSubDomains missing".to_owned());
    }
    if want.preload && !preload {
        problems.push("preload missing".to_owned());
    }
    (!problems.is_empty()).then(|| {
        (
            "Strict-Transport-Security is weaker than the policy".to_owned(),
            format!("{value} ({})", problems.join(", ")),
        )
    })
}

/// Why the observed values are weaker than `want`, or `None` when they are at least as strong.
/// The ranking itself is shared with the AWS audits (configured values are judged the same way).
fn weaker(t: TypedHeader, want: &str, got: &[&str]) -> Option<String> {
    let is_csp = matches!(
        t,
        TypedHeader::ContentSecurityPolicy | TypedHeader::ContentSecurityPolicyReportOnly
    );
    if got.len() > 1 && !is_csp {
        return Some("sent more than once".to_owned());
    }
    if is_csp && got.len() > 1 {
        // Several CSP headers all apply: judge their intersection.
        let want_p = csp::parse(want).ok()?;
        return match csp::parse_all(got) {
            Ok(p) if csp::at_least_as_strict(&p, &want_p) => None,
            Ok(_) => Some("less strict than the policy's CSP".to_owned()),
            Err(e) => Some(format!("invalid: {e}")),
        };
    }
    strength::weaker(
        t.header_name(),
        want,
        got.first().copied().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_comparison() {
        let want = HstsSpec {
            max_age: 63072000,
            include_subdomains: true,
            preload: false,
            mode: Mode::Override,
            force: false,
        };
        assert!(hsts_problem(&want, &["max-age=63072000; includeSubDomains"]).is_none());
        assert!(hsts_problem(&want, &["max-age=31536000; includeSubDomains; preload"]).is_some());
        assert!(hsts_problem(&want, &["max-age=63072000"]).is_some());
        assert!(hsts_problem(&want, &[]).is_some());
    }

    #[test]
    fn ranked_headers() {
        assert!(weaker(TypedHeader::XFrameOptions, "DENY", &["SAMEORIGIN"]).is_some());
        assert!(weaker(TypedHeader::XFrameOptions, "SAMEORIGIN", &["deny"]).is_none());
        assert!(
            weaker(
                TypedHeader::ReferrerPolicy,
                "strict-origin-when-cross-origin",
                &["no-referrer"]
            )
            .is_none()
        );
        assert!(weaker(TypedHeader::ReferrerPolicy, "no-referrer", &["unsafe-url"]).is_some());
        assert!(
            weaker(
                TypedHeader::CrossOriginResourcePolicy,
                "same-origin",
                &["cross-origin"]
            )
            .is_some()
        );
    }

    #[test]
    fn permissions_policy_must_restrict_each_feature() {
        let pp = TypedHeader::PermissionsPolicy;
        assert!(
            weaker(
                pp,
                "camera=(), geolocation=(self)",
                &["camera=(), geolocation=()"]
            )
            .is_none()
        );
        assert_eq!(
            weaker(pp, "camera=()", &["geolocation=()"]).as_deref(),
            Some("camera unrestricted")
        );
        assert!(weaker(pp, "camera=()", &["camera=*"]).is_some());
    }

    #[test]
    fn several_csp_headers_are_judged_together() {
        let csp = TypedHeader::ContentSecurityPolicy;
        assert!(
            weaker(
                csp,
                "default-src 'self'",
                &["default-src *", "default-src 'self'"]
            )
            .is_none()
        );
        assert!(weaker(csp, "default-src 'self'", &["default-src *"]).is_some());
    }
}
