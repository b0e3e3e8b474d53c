//! Checks for the values of the typed headers: what browsers accept, so a typo fails at load
//! instead of silently weakening every response.

use crate::policy::TypedHeader;

/// Checks `value` for header `h`; returns the value normalised (e.g. `deny` -> `DENY`).
pub fn check_typed(h: TypedHeader, value: &str) -> Result<String, String> {
    check_header_value(value)?;
    let v = value.trim();
    match h {
        TypedHeader::ContentSecurityPolicy | TypedHeader::ContentSecurityPolicyReportOnly => {
            check_csp(v).map(|()| v.to_owned())
        }
        TypedHeader::XFrameOptions => {
            let up = v.to_ascii_uppercase();
            match up.as_str() {
                "DENY" | "SAMEORIGIN" => Ok(up),
                _ if up.starts_with("ALLOW-FROM") => Err(
                    "ALLOW-FROM is obsolete and ignored by browsers; use DENY or SAMEORIGIN, and CSP frame-ancestors for allow-lists"
                        .to_owned(),
                ),
                _ => Err(format!("{v:?} is not DENY or SAMEORIGIN")),
            }
        }
        TypedHeader::XContentTypeOptions => one_of(v, &["nosniff"]),
        TypedHeader::ReferrerPolicy => {
            for token in v.split(',').map(str::trim) {
                one_of(token, REFERRER_POLICIES)?;
            }
            Ok(v.to_owned())
        }
        TypedHeader::PermissionsPolicy => check_permissions_policy(v).map(|()| v.to_owned()),
        TypedHeader::CrossOriginOpenerPolicy => with_params(
            v,
            &[
                "same-origin",
                "same-origin-allow-popups",
                "noopener-allow-popups",
                "unsafe-none",
            ],
        ),
        TypedHeader::CrossOriginResourcePolicy => {
            one_of(v, &["same-origin", "same-site", "cross-origin"])
        }
        TypedHeader::CrossOriginEmbedderPolicy => {
            with_params(v, &["require-corp", "credentialless", "unsafe-none"])
        }
        TypedHeader::XPermittedCrossDomainPolicies => one_of(
            v,
            &[
                "none",
                "master-only",
                "by-content-type",
                "by-ftp-filename",
                "all",
                "none-this-response",
            ],
        ),
        TypedHeader::XXssProtection => {
            let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            if compact == "0"
                || compact == "1"
                || compact.eq_ignore_ascii_case("1;mode=block")
                || compact.to_ascii_lowercase().starts_with("1;report=")
            {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "{v:?} is not a valid X-XSS-Protection value; use \"0\" (the XSS auditor is gone and could be abused)"
                ))
            }
        }
    }
}

pub const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// Visible ASCII, space and tab only: what every HTTP stack passes through unchanged.
pub fn check_header_value(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Err("the value is empty".to_owned());
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(*c == ' ' || *c == '\t' || c.is_ascii_graphic()))
    {
        return Err(format!(
            "the value contains {c:?}, which is not allowed in a header value (visible ASCII only)"
        ));
    }
    Ok(())
}

/// A header name as RFC 9110 defines a token.
pub fn check_header_name(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("the header name is empty".to_owned());
    }
    if let Some(c) = n.chars().find(|c| !is_tchar(*c)) {
        return Err(format!(
            "{n:?} is not a valid header name ({c:?} is not allowed)"
        ));
    }
    Ok(())
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn one_of(v: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = v.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("{v:?} is not one of: {}", allowed.join(", ")))
    }
}

fn with_params(v: &str, allowed: &[&str]) -> Result<String, String> {
    let (head, params) = v.split_once(';').unwrap_or((v, ""));
    let head = one_of(head.trim(), allowed)?;
    Ok(if params.is_empty() {
        head
    } else {
        format!("{head};{params}")
    })
}

fn check_csp(v: &str) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    for directive in v.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let name = directive
            .split_ascii_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("{name:?} is not a CSP directive name"));
        }
        if seen.contains(&name) {
            return Err(format!(
                "directive `{name}` appears twice; browsers ignore the second one"
            ));
        }
        seen.push(name);
    }
    if seen.is_empty() {
        return Err("the policy has no directives".to_owned());
    }
    Ok(())
}

fn check_permissions_policy(v: &str) -> Result<(), String> {
    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((feature, allow)) = item.split_once('=') else {
            return Err(format!(
                "{item:?} is not `feature=(allowlist)`; the old Feature-Policy syntax (`camera 'none'`) is ignored by browsers"
            ));
        };
        let feature = feature.trim();
        if feature.is_empty()
            || !feature
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "{feature:?} is not a permissions-policy feature name"
            ));
        }
        let allow = allow.trim();
        let ok =
            allow == "*" || allow == "self" || (allow.starts_with('(') && allow.ends_with(')'));
        if !ok {
            return Err(format!(
                "the allowlist of `{feature}` is {allow:?}; write `()` (none), `(self)`, `*` or a list of origins in parentheses"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use TypedHeader::*;

    #[test]
    fn frame_options_normalises_case_and_rejects_allow_from() {
        assert_eq!(check_typed(XFrameOptions, "deny").unwrap(), "DENY");
        assert!(
            check_typed(XFrameOptions, "ALLOW-FROM https://a")
                .unwrap_err()
                .contains("obsolete")
        );
        assert!(check_typed(XFrameOptions, "NOPE").is_err());
    }

    #[test]
    fn csp_rejects_duplicate_directives() {
        assert!(
            check_typed(
                ContentSecurityPolicy,
                "default-src 'self'; script-src 'self'"
            )
            .is_ok()
        );
        let e = check_typed(ContentSecurityPolicy, "script-src a; script-src b").unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn referrer_policy_accepts_fallback_lists() {
        assert!(
            check_typed(
                ReferrerPolicy,
                "no-referrer, strict-origin-when-cross-origin"
            )
            .is_ok()
        );
        assert!(check_typed(ReferrerPolicy, "never").is_err());
    }

    #[test]
    fn permissions_policy_rejects_feature_policy_syntax() {
        assert!(check_typed(PermissionsPolicy, "camera=(), geolocation=(self)").is_ok());
        assert!(check_typed(PermissionsPolicy, "camera 'none'").is_err());
    }

    #[test]
    fn control_characters_are_rejected() {
        assert!(check_typed(CrossOriginResourcePolicy, "same-origin\r\nX: y").is_err());
        assert!(check_header_value("caf\u{e9}").is_err());
    }

    #[test]
    fn coop_keeps_report_params() {
        assert_eq!(
            check_typed(CrossOriginOpenerPolicy, "same-origin; report-to=\"r\"").unwrap(),
            "same-origin; report-to=\"r\""
        );
    }
}
