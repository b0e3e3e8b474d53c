//! Transport: the certificate an https URL presented, its validity window and days to expiry.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::{Category, Check, Finding, Severity, TargetReport};

pub const CHECK: &str = "transport/certificate";

/// Days left before `not_after`, negative when expired; `None` when the DER does not parse.
pub fn days_to_expiry(der: &[u8], now_unix: i64) -> Option<(i64, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let not_after = cert.validity().not_after;
    let secs = not_after.timestamp() - now_unix;
    Some((secs.div_euclid(86_400), not_after.to_string()))
}

/// Adds the transport check and its findings for an https target.
pub fn check(report: &mut TargetReport, der: Option<&[u8]>, verified: bool, now_unix: i64) {
    report.checks.push(Check {
        id: CHECK.to_owned(),
        description: "the certificate is trusted and not close to expiry".to_owned(),
    });
    let finding = |severity, id: &str, title: String, evidence: String| {
        Finding {
        id: id.to_owned(),
        check: CHECK.to_owned(),
        category: Category::Transport,
        severity,
        title,
        evidence,
        remediation: "Renew the certificate (automate it: ACME or ACM) and serve the full chain; rampart-proxy reloads certificate files without dropping connections".to_owned(),
    }
    };
    if !verified {
        report.findings.push(finding(
            Severity::High,
            "certificate-untrusted",
            "The certificate is not trusted (checked with --insecure)".to_owned(),
            "the TLS handshake only succeeded with certificate verification off".to_owned(),
        ));
    }
    let Some(der) = der else { return };
    match days_to_expiry(der, now_unix) {
        Some((days, when)) if days < 0 => report.findings.push(finding(
            Severity::High,
            "certificate-expired",
            format!("The certificate expired {} day(s) ago", -days),
            format!("notAfter {when}"),
        )),
        Some((days, when)) if days < 14 => report.findings.push(finding(
            Severity::Medium,
            "certificate-expires-soon",
            format!("The certificate expires in {days} day(s)"),
            format!("notAfter {when}"),
        )),
        Some((days, when)) if days < 30 => report.findings.push(finding(
            Severity::Low,
            "certificate-expires-soon",
            format!("The certificate expires in {days} day(s)"),
            format!("notAfter {when}"),
        )),
        Some(_) => {}
        None => report.findings.push(finding(
            Severity::Medium,
            "certificate-unparsable",
            "The certificate could not be parsed".to_owned(),
            format!("{} bytes of DER", der.len()),
        )),
    }
}
