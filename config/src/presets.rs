//! Built-in policies. Values come from `shared/reference/security-headers.md`: OWASP Secure
//! Headers (strict), helmet 8 defaults, and CloudFront's managed SecurityHeadersPolicy.

use crate::errors_policy::ErrorBodyMode;
use crate::policy::{HeaderSpec, HstsSpec, Mode, PolicySpec, ServerSpec, TypedHeader};

/// Names accepted by `extends`, `--preset` and `policy` on a route.
pub const PRESET_NAMES: [&str; 4] = ["strict", "helmet", "cloudfront-security-headers", "none"];

/// The preset every route gets unless told otherwise.
pub const DEFAULT_PRESET: &str = "strict";

/// The `Server` value the strict preset sends: names no product and no version.
pub const DEFAULT_SERVER: &str = "rampart";

/// OWASP's Permissions-Policy: every powerful feature off, except synchronous XHR from our origin.
pub const STRICT_PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), \
gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), \
picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(self), usb=(), \
web-share=(), xr-spatial-tracking=()";

pub const STRICT_CSP: &str = "default-src 'self'; form-action 'self'; base-uri 'self'; \
object-src 'none'; frame-ancestors 'none'; upgrade-insecure-requests";

pub const HELMET_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;\
form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';\
script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';\
upgrade-insecure-requests";

/// Headers that describe the stack or the cloud behind it. OWASP's remove list has no AWS
/// headers; the AWS ones here are those CloudFront itself cannot remove.
pub const DEFAULT_REMOVE: &[&str] = &[
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
    "x-runtime",
    "x-version",
    "x-backend-server",
    "x-drupal-cache",
    "x-drupal-dynamic-cache",
    "x-varnish",
    "x-turbo-charged-by",
    "x-sourcemap",
    "sourcemap",
    "x-envoy-*",
    "x-kong-*",
    "x-nextjs-*",
    "x-datadog-*",
    "x-amzn-*",
    "x-amz-apigw-id",
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "x-amz-server-side-encryption*",
    "x-amz-version-id",
];

fn h(value: &str, mode: Mode) -> Option<HeaderSpec> {
    Some(HeaderSpec {
        value: value.to_owned(),
        mode,
    })
}

/// The spec of a preset, or `None` for an unknown name.
pub fn preset(name: &str) -> Option<PolicySpec> {
    match name {
        "strict" => Some(strict()),
        "helmet" => Some(helmet()),
        "cloudfront-security-headers" => Some(cloudfront()),
        "none" => Some(PolicySpec::empty()),
        _ => None,
    }
}

fn strict() -> PolicySpec {
    use TypedHeader::*;
    let o = Mode::Override;
    let mut p = PolicySpec::empty();
    p.error_body_mode = ErrorBodyMode::Leaky;
    p.hsts = Some(HstsSpec {
        max_age: 63_072_000,
        include_subdomains: true,
        preload: false,
        mode: o,
        force: false,
    });
    p.set(ContentSecurityPolicy, h(STRICT_CSP, o));
    p.set(XFrameOptions, h("DENY", o));
    p.set(XContentTypeOptions, h("nosniff", o));
    p.set(ReferrerPolicy, h("no-referrer", o));
    p.set(PermissionsPolicy, h(STRICT_PERMISSIONS_POLICY, o));
    p.set(CrossOriginOpenerPolicy, h("same-origin", o));
    p.set(CrossOriginResourcePolicy, h("same-origin", o));
    p.set(XPermittedCrossDomainPolicies, h("none", o));
    p.set(XXssProtection, h("0", o));
    p.custom.push((
        "X-DNS-Prefetch-Control".to_owned(),
        HeaderSpec {
            value: "off".to_owned(),
            mode: o,
        },
    ));
    p.server = ServerSpec::Set(DEFAULT_SERVER.to_owned());
    p.remove = DEFAULT_REMOVE.iter().map(|s| (*s).to_owned()).collect();
    p
}

/// helmet sets its headers before the application runs, so the application's own values win:
/// that is `IfAbsent` here.
fn helmet() -> PolicySpec {
    use TypedHeader::*;
    let a = Mode::IfAbsent;
    let mut p = PolicySpec::empty();
    p.error_body_mode = ErrorBodyMode::Leaky;
    p.hsts = Some(HstsSpec {
        max_age: 31_536_000,
        include_subdomains: true,
        preload: false,
        mode: a,
        force: false,
    });
    p.set(ContentSecurityPolicy, h(HELMET_CSP, a));
    p.set(CrossOriginOpenerPolicy, h("same-origin", a));
    p.set(CrossOriginResourcePolicy, h("same-origin", a));
    p.set(ReferrerPolicy, h("no-referrer", a));
    p.set(XContentTypeOptions, h("nosniff", a));
    p.set(XFrameOptions, h("SAMEORIGIN", a));
    p.set(XPermittedCrossDomainPolicies, h("none", a));
    p.set(XXssProtection, h("0", a));
    for (name, value) in [
        ("Origin-Agent-Cluster", "?1"),
        ("X-DNS-Prefetch-Control", "off"),
        ("X-Download-Options", "noopen"),
    ] {
        p.custom.push((
            name.to_owned(),
            HeaderSpec {
                value: value.to_owned(),
                mode: a,
            },
        ));
    }
    p.remove = vec!["x-powered-by".to_owned()];
    p
}

fn cloudfront() -> PolicySpec {
    use TypedHeader::*;
    let mut p = PolicySpec::empty();
    p.error_body_mode = ErrorBodyMode::Leaky;
    p.hsts = Some(HstsSpec {
        max_age: 31_536_000,
        include_subdomains: false,
        preload: false,
        mode: Mode::IfAbsent,
        force: false,
    });
    p.set(
        ReferrerPolicy,
        h("strict-origin-when-cross-origin", Mode::IfAbsent),
    );
    p.set(XContentTypeOptions, h("nosniff", Mode::Override));
    p.set(XFrameOptions, h("SAMEORIGIN", Mode::IfAbsent));
    p.set(XXssProtection, h("1; mode=block", Mode::IfAbsent));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_preset_exists() {
        for n in PRESET_NAMES {
            assert!(preset(n).is_some(), "{n}");
        }
        assert!(preset("bogus").is_none());
    }

    #[test]
    fn strict_matches_owasp_values() {
        let p = preset("strict").unwrap();
        assert_eq!(
            p.hsts.as_ref().unwrap().value(),
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(p.get(TypedHeader::XFrameOptions).unwrap().value, "DENY");
        assert_eq!(
            p.get(TypedHeader::ReferrerPolicy).unwrap().value,
            "no-referrer"
        );
        assert!(
            p.get(TypedHeader::CrossOriginEmbedderPolicy).is_none(),
            "COEP is opt-in"
        );
        assert!(STRICT_PERMISSIONS_POLICY.contains("sync-xhr=(self)"));
    }

    #[test]
    fn cloudfront_preset_matches_managed_policy_overrides() {
        let p = preset("cloudfront-security-headers").unwrap();
        assert_eq!(p.hsts.as_ref().unwrap().mode, Mode::IfAbsent);
        assert_eq!(
            p.get(TypedHeader::XContentTypeOptions).unwrap().mode,
            Mode::Override
        );
        assert!(p.get(TypedHeader::ContentSecurityPolicy).is_none());
    }
}
