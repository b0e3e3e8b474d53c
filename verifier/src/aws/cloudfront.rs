//! CloudFront: response-headers policies (what a rampart policy becomes in CloudFront, and how a
//! configured policy compares with a rampart policy) and the distribution settings around them
//! (cache behaviors without a policy, plain-HTTP viewers, old TLS).
//!
//! The structs deserialize from the CloudFront API's JSON (PascalCase, `Quantity` + `Items`
//! lists) and from CloudFormation's property shapes (plain lists, strings for booleans), and
//! serialize to the exact input of `CreateResponseHeadersPolicy`.

use rampart_config::{PolicySpec, ServerSpec, TypedHeader};
use serde::{Deserialize, Serialize};

use super::{Assessment, finding, lenient, strength};
use crate::model::{Category, Severity};

/// CloudFront rejects a Content-Security-Policy longer than this.
pub const CSP_MAX_LEN: usize = 1783;

/// `Name` and `Comment` are limited to 128 characters.
const NAME_MAX_LEN: usize = 128;

/// Headers CloudFront will neither remove nor let a policy add (as AWS documents them);
/// `*` marks a prefix.
pub const NOT_REMOVABLE: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
    "x-accel-*",
    "x-amz-cf-*",
    "x-amzn-auth",
    "x-amzn-cf-billing",
    "x-amzn-cf-id",
    "x-amzn-cf-xff",
    "x-amzn-errortype",
    "x-amzn-fle-profile",
    "x-amzn-header-count",
    "x-amzn-header-order",
    "x-amzn-lambda-integration-tag",
    "x-amzn-requestid",
    "x-cache",
    "x-edge-*",
    "x-forwarded-proto",
    "x-real-ip",
];

/// True when CloudFront refuses to remove (or add) the header `name`.
pub fn not_removable(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    NOT_REMOVABLE.iter().any(|n| match n.strip_suffix('*') {
        Some(prefix) => lower.starts_with(prefix),
        None => lower == *n,
    })
}

/// `ResponseHeadersPolicyConfig`: the input of `CreateResponseHeadersPolicy`, the
/// `ResponseHeadersPolicyConfig` property of `AWS::CloudFront::ResponseHeadersPolicy`, and
/// what `GetResponseHeadersPolicy` returns. CORS and Server-Timing settings are not security
/// headers and are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseHeadersPolicyConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_headers_config: Option<SecurityHeadersConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers_config: Option<CustomHeadersConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_headers_config: Option<RemoveHeadersConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityHeadersConfig {
    #[serde(
        rename = "XSSProtection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xss_protection: Option<XssProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_options: Option<FrameOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_policy: Option<ReferrerPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_security_policy: Option<ContentSecurityPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type_options: Option<ContentTypeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_transport_security: Option<StrictTransportSecurity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XssProtection {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub protection: bool,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode_block: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrameOptions {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
    #[serde(default)]
    pub frame_option: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReferrerPolicy {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
    #[serde(default)]
    pub referrer_policy: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContentSecurityPolicy {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
    #[serde(default)]
    pub content_security_policy: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContentTypeOptions {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StrictTransportSecurity {
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub access_control_max_age_sec: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_subdomains: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub preload: Option<bool>,
}

/// `Quantity` is required by the API and absent from CloudFormation: `None` leaves it out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomHeadersConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    #[serde(default)]
    pub items: Vec<CustomHeader>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomHeader {
    pub header: String,
    #[serde(default)]
    pub value: String,
    #[serde(rename = "Override", default, deserialize_with = "lenient::bool")]
    pub override_: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveHeadersConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    #[serde(default)]
    pub items: Vec<RemoveHeader>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveHeader {
    pub header: String,
}

impl ResponseHeadersPolicyConfig {
    /// Sets or clears the API's `Quantity` counts (the API requires them, CloudFormation
    /// rejects them).
    pub fn with_quantities(mut self, on: bool) -> ResponseHeadersPolicyConfig {
        if let Some(c) = &mut self.custom_headers_config {
            c.quantity = on.then_some(c.items.len() as u64);
        }
        if let Some(r) = &mut self.remove_headers_config {
            r.quantity = on.then_some(r.items.len() as u64);
        }
        self
    }
}

/// One header a response-headers policy adds, as a browser would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredHeader {
    pub name: String,
    pub value: String,
    /// CloudFront's `Override`: replace the origin's value.
    pub override_: bool,
}

/// Every header `config` adds, with the value CloudFront renders for it.
pub fn configured_headers(config: &ResponseHeadersPolicyConfig) -> Vec<ConfiguredHeader> {
    let mut out = Vec::new();
    let mut add = |name: &str, value: String, override_: bool| {
        out.push(ConfiguredHeader {
            name: name.to_owned(),
            value,
            override_,
        });
    };
    if let Some(s) = &config.security_headers_config {
        if let Some(h) = &s.strict_transport_security {
            let mut v = format!("max-age={}", h.access_control_max_age_sec.unwrap_or(0));
            if h.include_subdomains == Some(true) {
                v.push_str("; includeSubDomains");
            }
            if h.preload == Some(true) {
                v.push_str("; preload");
            }
            add("Strict-Transport-Security", v, h.override_);
        }
        if let Some(h) = &s.content_security_policy {
            add(
                "Content-Security-Policy",
                h.content_security_policy.clone(),
                h.override_,
            );
        }
        if let Some(h) = &s.frame_options {
            add("X-Frame-Options", h.frame_option.clone(), h.override_);
        }
        if let Some(h) = &s.content_type_options {
            add("X-Content-Type-Options", "nosniff".to_owned(), h.override_);
        }
        if let Some(h) = &s.referrer_policy {
            add("Referrer-Policy", h.referrer_policy.clone(), h.override_);
        }
        if let Some(h) = &s.xss_protection {
            add("X-XSS-Protection", xss_value(h), h.override_);
        }
    }
    if let Some(c) = &config.custom_headers_config {
        for item in &c.items {
            add(&item.header, item.value.clone(), item.override_);
        }
    }
    out
}

fn xss_value(h: &XssProtection) -> String {
    if !h.protection {
        return "0".to_owned();
    }
    if h.mode_block == Some(true) {
        "1; mode=block".to_owned()
    } else if let Some(uri) = h.report_uri.as_deref().filter(|u| !u.is_empty()) {
        format!("1; report={uri}")
    } else {
        "1".to_owned()
    }
}

/// An AWS managed response-headers policy that can be attached by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub id: &'static str,
    pub name: &'static str,
    /// Whether it sets the SecurityHeadersPolicy's headers (the others only add CORS headers).
    pub security_headers: bool,
}

/// The managed policies by id, as AWS publishes them. The SDK-based audits should prefer what
/// `ListResponseHeadersPolicies(Type=managed)` returns; this table lets a template be judged
/// offline.
pub const MANAGED_POLICIES: [ManagedPolicy; 5] = [
    ManagedPolicy {
        id: "67f7725c-6f97-4210-82d7-5512b31e9d03",
        name: "Managed-SecurityHeadersPolicy",
        security_headers: true,
    },
    ManagedPolicy {
        id: "e61eb60c-9c35-4d20-a928-2b84e02af89c",
        name: "Managed-CORS-and-SecurityHeadersPolicy",
        security_headers: true,
    },
    ManagedPolicy {
        id: "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
        name: "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
        security_headers: true,
    },
    ManagedPolicy {
        id: "60669652-455b-4ae9-85a4-c4c02393f86c",
        name: "Managed-SimpleCORS",
        security_headers: false,
    },
    ManagedPolicy {
        id: "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
        name: "Managed-CORS-With-Preflight",
        security_headers: false,
    },
];

/// The managed policy with this id or name (names compare case-insensitively).
pub fn managed_policy(id_or_name: &str) -> Option<ManagedPolicy> {
    let key = id_or_name.trim();
    MANAGED_POLICIES
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(key) || m.name.eq_ignore_ascii_case(key))
        .copied()
}

impl ManagedPolicy {
    /// What the managed policy sends, as a configuration that can be compared like a custom one.
    pub fn config(&self) -> ResponseHeadersPolicyConfig {
        let security_headers_config = self.security_headers.then(|| SecurityHeadersConfig {
            xss_protection: Some(XssProtection {
                override_: false,
                protection: true,
                mode_block: Some(true),
                report_uri: None,
            }),
            frame_options: Some(FrameOptions {
                override_: false,
                frame_option: "SAMEORIGIN".to_owned(),
            }),
            referrer_policy: Some(ReferrerPolicy {
                override_: false,
                referrer_policy: "strict-origin-when-cross-origin".to_owned(),
            }),
            content_security_policy: None,
            content_type_options: Some(ContentTypeOptions { override_: true }),
            strict_transport_security: Some(StrictTransportSecurity {
                override_: false,
                access_control_max_age_sec: Some(31_536_000),
                include_subdomains: Some(false),
                preload: Some(false),
            }),
        });
        ResponseHeadersPolicyConfig {
            name: self.name.to_owned(),
            comment: None,
            security_headers_config,
            custom_headers_config: None,
            remove_headers_config: None,
        }
    }
}

/// Why a rampart policy has no CloudFront equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "Content-Security-Policy is {len} characters; CloudFront accepts at most {CSP_MAX_LEN} (shorten it, or serve it from the origin or rampart-proxy)"
    )]
    CspTooLong { len: usize },
    #[error("{header}: {value:?} cannot be expressed in a CloudFront response headers policy")]
    Unsupported { header: String, value: String },
}

/// A rampart policy as a CloudFront response-headers policy, with what could not be carried
/// over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub config: ResponseHeadersPolicyConfig,
    /// One line per setting CloudFront cannot express (wildcard removals, headers CloudFront
    /// will not remove, `server = false`, error bodies).
    pub notes: Vec<String>,
}

/// A valid policy `Name` (letters, digits, `-`, `_`; at most 128 characters) from any text.
pub fn policy_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(NAME_MAX_LEN)
        .collect();
    if cleaned.is_empty() {
        "rampart".to_owned()
    } else {
        cleaned
    }
}

/// Maps a rampart policy onto CloudFront's response-headers policy: the six security headers
/// into `SecurityHeadersConfig`, every other header the policy sets (Permissions-Policy,
/// COOP/CORP/COEP, X-Permitted-Cross-Domain-Policies, CSP report-only, custom headers, and
/// `Server` with `Override` on) into `CustomHeadersConfig`, and the exact header names it
/// strips that CloudFront can remove into `RemoveHeadersConfig`.
pub fn from_policy(name: &str, spec: &PolicySpec) -> Result<Mapped, MappingError> {
    let mut notes = Vec::new();
    let mut security = SecurityHeadersConfig::default();
    let mut custom: Vec<CustomHeader> = Vec::new();

    if let Some(h) = &spec.hsts {
        security.strict_transport_security = Some(StrictTransportSecurity {
            override_: h.mode.is_override(),
            access_control_max_age_sec: Some(h.max_age),
            include_subdomains: Some(h.include_subdomains),
            preload: Some(h.preload),
        });
        if h.force {
            notes.push(
                "strict_transport_security.force: CloudFront adds HSTS to every response anyway"
                    .to_owned(),
            );
        }
    }
    for t in TypedHeader::ALL {
        let Some(h) = spec.get(t) else { continue };
        let override_ = h.mode.is_override();
        let value = h.value.trim().to_owned();
        match t {
            TypedHeader::ContentSecurityPolicy => {
                if value.len() > CSP_MAX_LEN {
                    return Err(MappingError::CspTooLong { len: value.len() });
                }
                security.content_security_policy = Some(ContentSecurityPolicy {
                    override_,
                    content_security_policy: value,
                });
            }
            TypedHeader::XFrameOptions => {
                let up = value.to_ascii_uppercase();
                if up != "DENY" && up != "SAMEORIGIN" {
                    return Err(MappingError::Unsupported {
                        header: t.header_name().to_owned(),
                        value,
                    });
                }
                security.frame_options = Some(FrameOptions {
                    override_,
                    frame_option: up,
                });
            }
            TypedHeader::XContentTypeOptions => {
                security.content_type_options = Some(ContentTypeOptions { override_ });
            }
            TypedHeader::ReferrerPolicy => {
                let tokens: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect();
                // CloudFront takes one token; browsers apply the last one they know.
                let Some(last) = tokens.last() else { continue };
                if tokens.len() > 1 {
                    notes.push(format!(
                        "Referrer-Policy: CloudFront takes one value; {last} (the one browsers apply) was kept from {value:?}"
                    ));
                }
                security.referrer_policy = Some(ReferrerPolicy {
                    override_,
                    referrer_policy: last.to_ascii_lowercase(),
                });
            }
            TypedHeader::XXssProtection => {
                security.xss_protection =
                    Some(
                        xss_from_value(&value).ok_or_else(|| MappingError::Unsupported {
                            header: t.header_name().to_owned(),
                            value: value.clone(),
                        })?,
                    );
                if let Some(x) = &mut security.xss_protection {
                    x.override_ = override_;
                }
            }
            _ => custom.push(CustomHeader {
                header: t.header_name().to_owned(),
                value,
                override_,
            }),
        }
    }
    for (name, h) in &spec.custom {
        if not_removable(name) {
            notes.push(format!(
                "{name}: CloudFront does not let a policy set this header"
            ));
            continue;
        }
        custom.push(CustomHeader {
            header: name.clone(),
            value: h.value.trim().to_owned(),
            override_: h.mode.is_override(),
        });
    }
    match &spec.server {
        ServerSpec::Set(v) => custom.push(CustomHeader {
            header: "Server".to_owned(),
            value: v.clone(),
            override_: true,
        }),
        ServerSpec::Remove => notes.push(
            "server = false: CloudFront always sends `Server: CloudFront`; set `server = \"name\"` to replace it with a neutral value"
                .to_owned(),
        ),
        ServerSpec::Keep => {}
    }

    let mut remove: Vec<RemoveHeader> = Vec::new();
    for r in &spec.remove {
        if r.ends_with('*') {
            notes.push(format!(
                "{r}: CloudFront removes exact names only; this wildcard is not carried over"
            ));
        } else if not_removable(r) {
            notes.push(format!(
                "{r}: CloudFront cannot remove this header (rampart-proxy can)"
            ));
        } else if !remove.iter().any(|x| x.header.eq_ignore_ascii_case(r)) {
            remove.push(RemoveHeader { header: r.clone() });
        }
    }
    if spec.error_body_mode != rampart_config::ErrorBodyMode::Off {
        notes.push(
            "error_bodies: a response headers policy cannot replace leaky error bodies (rampart-proxy, CloudFront custom error responses or API Gateway gateway responses can)"
                .to_owned(),
        );
    }

    let comment = format!("rampart policy {name}")
        .chars()
        .take(NAME_MAX_LEN)
        .collect();
    let config = ResponseHeadersPolicyConfig {
        name: policy_name(&format!("rampart-{name}")),
        comment: Some(comment),
        security_headers_config: (security != SecurityHeadersConfig::default()).then_some(security),
        custom_headers_config: (!custom.is_empty()).then_some(CustomHeadersConfig {
            quantity: None,
            items: custom,
        }),
        remove_headers_config: (!remove.is_empty()).then_some(RemoveHeadersConfig {
            quantity: None,
            items: remove,
        }),
    };
    Ok(Mapped { config, notes })
}

fn xss_from_value(value: &str) -> Option<XssProtection> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>();
    let lower = compact.to_ascii_lowercase();
    let mut x = XssProtection::default();
    if lower == "0" {
        return Some(x);
    }
    let rest = lower.strip_prefix('1')?;
    x.protection = true;
    if rest.is_empty() {
        return Some(x);
    }
    if rest == ";mode=block" {
        x.mode_block = Some(true);
        return Some(x);
    }
    // The URI keeps its original case.
    let at = compact.to_ascii_lowercase().find(";report=")?;
    x.report_uri = Some(compact[at + ";report=".len()..].to_owned());
    Some(x)
}

/// Where a comparison's checks and findings go: `check_prefix` starts every check id (e.g.
/// `cloudfront` for a policy audited on its own, `cloudfront/behavior[default]` for the policy
/// a distribution's behavior uses) and `context` starts every evidence line.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub check_prefix: &'a str,
    pub context: &'a str,
}

impl Scope<'_> {
    pub const POLICY: Scope<'static> = Scope {
        check_prefix: "cloudfront",
        context: "",
    };
}

/// Compares a response-headers policy with a rampart policy: every header the rampart policy
/// sets must be configured, at least as strong, and overriding where the rampart policy
/// overrides; `Server` must be replaced when the rampart policy sets it; the exact names it
/// removes must be removed where CloudFront can.
pub fn compare(
    config: &ResponseHeadersPolicyConfig,
    want: &PolicySpec,
    scope: Scope,
) -> Assessment {
    let mut out = Assessment::new();
    let configured = configured_headers(config);
    let target_shape = from_policy("policy", want).ok();
    let find = |name: &str| {
        configured
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    };
    let ctx = |s: String| format!("{}{s}", scope.context);

    let mut referrer_reported = false;
    for (name, value, mode) in want.headers() {
        let lower = name.to_ascii_lowercase();
        let check = format!("{}/{lower}", scope.check_prefix);
        out.check(
            &check,
            &format!(
                "the response headers policy sets {name} at least as strong as the rampart policy"
            ),
        );
        let fix = remediation(target_shape.as_ref(), &name, &value);
        let Some(got) = find(&name) else {
            out.push(finding(
                &check,
                "cloudfront-header-missing",
                Category::Policy,
                strength::missing_severity(&name),
                format!("{name} is not set by the response headers policy"),
                ctx(format!(
                    "{} does not set {name}; the rampart policy sends `{name}: {value}`",
                    policy_label(config)
                )),
                fix,
            ));
            continue;
        };
        if let Some(why) = strength::weaker(&name, &value, &got.value) {
            if lower == "referrer-policy" {
                referrer_reported = true;
            }
            let hsts = lower == "strict-transport-security";
            out.push(finding(
                &check,
                if hsts {
                    "cloudfront-hsts-weaker"
                } else {
                    "cloudfront-header-weaker"
                },
                Category::Policy,
                strength::missing_severity(&name),
                format!("{name} in the response headers policy is weaker than the rampart policy"),
                ctx(format!("{name}: {} ({why})", got.value)),
                fix.clone(),
            ));
        }
        if mode.is_override() && !got.override_ {
            out.push(finding(
                &check,
                "cloudfront-header-not-overriding",
                Category::Policy,
                strength::not_overriding_severity(&name),
                format!("{name} does not override the origin's value"),
                ctx(format!(
                    "{name} has Override false: an origin's own (weaker) {name} reaches viewers unchanged"
                )),
                format!("Set Override to true for {name}; {fix}"),
            ));
        }
    }

    if let Some(got) = find("Referrer-Policy")
        && !referrer_reported
        && strength::unsafe_referrer(&got.value)
    {
        let check = format!("{}/referrer-policy", scope.check_prefix);
        out.check(
            &check,
            "the response headers policy's Referrer-Policy keeps URLs private",
        );
        out.push(finding(
            &check,
            "cloudfront-referrer-policy-unsafe",
            Category::Header,
            Severity::Medium,
            "Referrer-Policy sends full URLs to other sites".to_owned(),
            ctx(format!("Referrer-Policy: {}", got.value)),
            "Set SecurityHeadersConfig.ReferrerPolicy.ReferrerPolicy to strict-origin-when-cross-origin or stricter (no-referrer)".to_owned(),
        ));
    }

    let check = format!("{}/server", scope.check_prefix);
    match &want.server {
        ServerSpec::Set(v) => {
            out.check(
                &check,
                "the response headers policy replaces Server with the rampart policy's value",
            );
            let server = config
                .custom_headers_config
                .iter()
                .flat_map(|c| &c.items)
                .find(|i| i.header.eq_ignore_ascii_case("server"));
            let problem = match server {
                None => Some(
                    "no Server custom header: viewers see the origin's Server (often with a version) or `Server: CloudFront`"
                        .to_owned(),
                ),
                Some(s) if !s.override_ => Some(format!(
                    "Server: {} with Override false: the origin's Server wins",
                    s.value
                )),
                Some(s) if s.value.trim() != v => {
                    Some(format!("Server: {} (the rampart policy sends {v})", s.value))
                }
                Some(_) => None,
            };
            if let Some(p) = problem {
                out.push(finding(
                    &check,
                    "cloudfront-server-not-overridden",
                    Category::Policy,
                    Severity::Medium,
                    "Server is not overridden by the response headers policy".to_owned(),
                    ctx(p),
                    format!(
                        "Add CustomHeadersConfig item {{\"Header\":\"Server\",\"Value\":\"{v}\",\"Override\":true}}"
                    ),
                ));
            }
        }
        ServerSpec::Remove => {
            out.check(&check, "Server is handled as the rampart policy asks");
            out.push(finding(
                &check,
                "cloudfront-server-not-removable",
                Category::Policy,
                Severity::Info,
                "CloudFront cannot remove Server".to_owned(),
                ctx("the rampart policy removes Server; CloudFront always sends one".to_owned()),
                "Set `server = \"name\"` in the rampart policy and override Server with that neutral value".to_owned(),
            ));
        }
        ServerSpec::Keep => {}
    }

    let removable: Vec<&String> = want
        .remove
        .iter()
        .filter(|r| !r.ends_with('*') && !not_removable(r))
        .collect();
    if !removable.is_empty() {
        let check = format!("{}/remove", scope.check_prefix);
        out.check(
            &check,
            "the response headers policy removes the headers the rampart policy strips (where CloudFront can)",
        );
        let removed: Vec<&str> = config
            .remove_headers_config
            .iter()
            .flat_map(|r| &r.items)
            .map(|i| i.header.as_str())
            .collect();
        let missing: Vec<&str> = removable
            .iter()
            .filter(|r| !removed.iter().any(|x| x.eq_ignore_ascii_case(r)))
            .map(|r| r.as_str())
            .collect();
        if !missing.is_empty() {
            out.push(finding(
                &check,
                "cloudfront-remove-missing",
                Category::Policy,
                Severity::Low,
                "The response headers policy keeps headers the rampart policy strips".to_owned(),
                ctx(format!("not removed: {}", missing.join(", "))),
                format!(
                    "Add RemoveHeadersConfig items {}",
                    missing
                        .iter()
                        .map(|m| format!("{{\"Header\":\"{m}\"}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    out
}

fn policy_label(config: &ResponseHeadersPolicyConfig) -> String {
    if config.name.is_empty() {
        "the response headers policy".to_owned()
    } else {
        format!("policy {}", config.name)
    }
}

/// The exact setting that carries `name` in the policy CloudFront should have.
fn remediation(target: Option<&Mapped>, name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let security = target.and_then(|t| t.config.security_headers_config.as_ref());
    let json = |v: Result<String, serde_json::Error>| v.unwrap_or_default();
    let field = match lower.as_str() {
        "strict-transport-security" => security
            .and_then(|s| s.strict_transport_security.as_ref())
            .map(|h| ("StrictTransportSecurity", json(serde_json::to_string(h)))),
        "content-security-policy" => security
            .and_then(|s| s.content_security_policy.as_ref())
            .map(|h| ("ContentSecurityPolicy", json(serde_json::to_string(h)))),
        "x-frame-options" => security
            .and_then(|s| s.frame_options.as_ref())
            .map(|h| ("FrameOptions", json(serde_json::to_string(h)))),
        "x-content-type-options" => security
            .and_then(|s| s.content_type_options.as_ref())
            .map(|h| ("ContentTypeOptions", json(serde_json::to_string(h)))),
        "referrer-policy" => security
            .and_then(|s| s.referrer_policy.as_ref())
            .map(|h| ("ReferrerPolicy", json(serde_json::to_string(h)))),
        "x-xss-protection" => security
            .and_then(|s| s.xss_protection.as_ref())
            .map(|h| ("XSSProtection", json(serde_json::to_string(h)))),
        _ => None,
    };
    let tail = "(`rampart-verify emit cloudfront` writes the whole policy)";
    match field {
        Some((f, v)) => format!("Set SecurityHeadersConfig.{f} to {v} {tail}"),
        None => {
            let item = target
                .and_then(|t| t.config.custom_headers_config.as_ref())
                .and_then(|c| c.items.iter().find(|i| i.header.eq_ignore_ascii_case(name)))
                .map(|i| json(serde_json::to_string(i)))
                .unwrap_or_else(|| {
                    json(serde_json::to_string(&CustomHeader {
                        header: name.to_owned(),
                        value: value.to_owned(),
                        override_: true,
                    }))
                });
            format!("Add CustomHeadersConfig item {item} {tail}")
        }
    }
}

/// `ViewerCertificate.MinimumProtocolVersion`, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MinimumProtocolVersion {
    SslV3,
    TlsV1,
    TlsV1_2016,
    TlsV1_1_2016,
    TlsV1_2_2018,
    TlsV1_2_2019,
    TlsV1_2_2021,
    TlsV1_2_2025,
    TlsV1_3_2025,
}

impl MinimumProtocolVersion {
    pub const ALL: [MinimumProtocolVersion; 9] = [
        MinimumProtocolVersion::SslV3,
        MinimumProtocolVersion::TlsV1,
        MinimumProtocolVersion::TlsV1_2016,
        MinimumProtocolVersion::TlsV1_1_2016,
        MinimumProtocolVersion::TlsV1_2_2018,
        MinimumProtocolVersion::TlsV1_2_2019,
        MinimumProtocolVersion::TlsV1_2_2021,
        MinimumProtocolVersion::TlsV1_2_2025,
        MinimumProtocolVersion::TlsV1_3_2025,
    ];

    /// The weakest version Rampart accepts.
    pub const RECOMMENDED: MinimumProtocolVersion = MinimumProtocolVersion::TlsV1_2_2021;

    pub fn as_str(self) -> &'static str {
        match self {
            MinimumProtocolVersion::SslV3 => "SSLv3",
            MinimumProtocolVersion::TlsV1 => "TLSv1",
            MinimumProtocolVersion::TlsV1_2016 => "TLSv1_2016",
            MinimumProtocolVersion::TlsV1_1_2016 => "TLSv1.1_2016",
            MinimumProtocolVersion::TlsV1_2_2018 => "TLSv1.2_2018",
            MinimumProtocolVersion::TlsV1_2_2019 => "TLSv1.2_2019",
            MinimumProtocolVersion::TlsV1_2_2021 => "TLSv1.2_2021",
            MinimumProtocolVersion::TlsV1_2_2025 => "TLSv1.2_2025",
            MinimumProtocolVersion::TlsV1_3_2025 => "TLSv1.3_2025",
        }
    }

    pub fn parse(s: &str) -> Option<MinimumProtocolVersion> {
        MinimumProtocolVersion::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// SSLv3 is broken outright; TLS 1.0/1.1 are deprecated; the 2018/2019 TLS 1.2 policies
    /// still allow CBC ciphers.
    fn severity(self) -> Option<Severity> {
        match self {
            MinimumProtocolVersion::SslV3 => Some(Severity::High),
            MinimumProtocolVersion::TlsV1
            | MinimumProtocolVersion::TlsV1_2016
            | MinimumProtocolVersion::TlsV1_1_2016 => Some(Severity::Medium),
            MinimumProtocolVersion::TlsV1_2_2018 | MinimumProtocolVersion::TlsV1_2_2019 => {
                Some(Severity::Low)
            }
            _ => None,
        }
    }
}

/// `DistributionConfig` (API and CloudFormation shapes): only what the audit reads.
/// `ViewerCertificate` also reads Terraform's `viewer_certificate` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionConfig {
    #[serde(default)]
    pub default_cache_behavior: Option<CacheBehavior>,
    /// The API wraps the list in `{Quantity, Items}`; CloudFormation writes the list itself.
    #[serde(default, deserialize_with = "list_or_items")]
    pub cache_behaviors: Vec<CacheBehavior>,
    #[serde(default)]
    pub viewer_certificate: Option<ViewerCertificate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CacheBehavior {
    #[serde(default)]
    pub path_pattern: Option<String>,
    #[serde(default)]
    pub viewer_protocol_policy: Option<String>,
    #[serde(default)]
    pub response_headers_policy_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerCertificate {
    #[serde(
        rename = "CloudFrontDefaultCertificate",
        alias = "cloudfront_default_certificate",
        default,
        deserialize_with = "lenient::opt_bool"
    )]
    pub cloudfront_default_certificate: Option<bool>,
    #[serde(
        rename = "MinimumProtocolVersion",
        alias = "minimum_protocol_version",
        default
    )]
    pub minimum_protocol_version: Option<String>,
    #[serde(
        rename = "ACMCertificateArn",
        alias = "AcmCertificateArn",
        alias = "acm_certificate_arn",
        default
    )]
    pub acm_certificate_arn: Option<String>,
    #[serde(
        rename = "IAMCertificateId",
        alias = "IamCertificateId",
        alias = "iam_certificate_id",
        default
    )]
    pub iam_certificate_id: Option<String>,
}

fn list_or_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<CacheBehavior>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        List(Vec<CacheBehavior>),
        Wrapped {
            #[serde(rename = "Items", default)]
            items: Option<Vec<CacheBehavior>>,
        },
        Null(()),
    }
    Ok(match Shape::deserialize(d)? {
        Shape::List(l) => l,
        Shape::Wrapped { items } => items.unwrap_or_default(),
        Shape::Null(()) => Vec::new(),
    })
}

impl DistributionConfig {
    /// Every cache behavior with its label: `default`, then each path pattern in order.
    pub fn behaviors(&self) -> Vec<(String, &CacheBehavior)> {
        let mut out = Vec::new();
        if let Some(d) = &self.default_cache_behavior {
            out.push(("default".to_owned(), d));
        }
        for b in &self.cache_behaviors {
            out.push((b.path_pattern.clone().unwrap_or_else(|| "?".to_owned()), b));
        }
        out
    }
}

/// The response-headers policy a cache behavior uses, as far as the caller could resolve it.
#[derive(Debug, Clone)]
pub enum AttachedPolicy<'a> {
    /// No `ResponseHeadersPolicyId`.
    None,
    /// Compare this configuration here (a managed policy, or a custom one fetched by id).
    Evaluate {
        label: String,
        config: &'a ResponseHeadersPolicyConfig,
    },
    /// A policy audited as a target of its own (e.g. defined in the same template).
    Elsewhere { label: String },
    /// The id could not be resolved to a configuration (a parameter, an import, an unknown id).
    Unverifiable { reason: String },
}

/// Check id prefix for one cache behavior.
pub fn behavior_scope(label: &str) -> String {
    format!("cloudfront/behavior[{label}]")
}

/// A cache behavior: it must use a response-headers policy (evaluated against `want` when it
/// is resolvable here) and must not serve viewers over plain HTTP.
pub fn audit_behavior(
    label: &str,
    viewer_protocol_policy: Option<&str>,
    policy: &AttachedPolicy,
    want: &PolicySpec,
) -> Assessment {
    let mut out = Assessment::new();
    let prefix = behavior_scope(label);
    let check = format!("{prefix}/response-headers-policy");
    out.check(
        &check,
        &format!("the {label} cache behavior uses a response headers policy"),
    );
    match policy {
        AttachedPolicy::None => out.push(finding(
            &check,
            "cloudfront-behavior-without-headers-policy",
            Category::Header,
            Severity::Medium,
            format!("Cache behavior {label} has no response headers policy"),
            format!(
                "{label} behavior: no ResponseHeadersPolicyId, so responses carry only the origin's headers (error pages and S3 objects usually none)"
            ),
            "Attach a response headers policy (`rampart-verify emit cloudfront` writes one from your rampart policy) via ResponseHeadersPolicyId".to_owned(),
        )),
        AttachedPolicy::Evaluate { label: name, config } => {
            let context = format!("{label} behavior, {name}: ");
            out.extend(compare(
                config,
                want,
                Scope {
                    check_prefix: &prefix,
                    context: &context,
                },
            ));
        }
        AttachedPolicy::Elsewhere { .. } => {}
        AttachedPolicy::Unverifiable { reason } => out.push(finding(
            &check,
            "cloudfront-headers-policy-unverifiable",
            Category::Policy,
            Severity::Info,
            format!("The response headers policy of cache behavior {label} cannot be checked"),
            format!("{label} behavior: {reason}"),
            "Define the policy in the same template (or audit the live distribution) so its headers can be compared".to_owned(),
        )),
    }
    let check = format!("{prefix}/viewer-protocol-policy");
    out.check(
        &check,
        &format!("the {label} cache behavior does not serve viewers over plain HTTP"),
    );
    if let Some(v) = viewer_protocol_policy
        && v.trim().eq_ignore_ascii_case("allow-all")
    {
        out.push(finding(
            &check,
            "cloudfront-viewer-protocol-allow-all",
            Category::Transport,
            Severity::Medium,
            format!("Cache behavior {label} serves plain HTTP"),
            format!("{label} behavior: ViewerProtocolPolicy allow-all (HSTS is ignored over HTTP, and the first visit can be intercepted)"),
            "Set ViewerProtocolPolicy to redirect-to-https (or https-only)".to_owned(),
        ));
    }
    out
}

/// The viewer certificate: at least TLSv1.2_2021. The CloudFront default certificate
/// (`*.cloudfront.net`) always allows TLSv1, and so does a missing `ViewerCertificate`.
pub fn audit_viewer_certificate(cert: Option<&ViewerCertificate>) -> Assessment {
    let mut out = Assessment::new();
    let check = "cloudfront/viewer-certificate";
    out.check(
        check,
        &format!(
            "viewers must use {} or newer",
            MinimumProtocolVersion::RECOMMENDED.as_str()
        ),
    );
    let fix = format!(
        "Use your own certificate (ACM) and set ViewerCertificate.MinimumProtocolVersion to {}",
        MinimumProtocolVersion::RECOMMENDED.as_str()
    );
    let uses_default = match cert {
        None => true,
        Some(c) => {
            c.cloudfront_default_certificate == Some(true)
                || (c.acm_certificate_arn.as_deref().is_none_or(str::is_empty)
                    && c.iam_certificate_id.as_deref().is_none_or(str::is_empty))
        }
    };
    if uses_default {
        out.push(finding(
            check,
            "cloudfront-tls-outdated",
            Category::Transport,
            Severity::Medium,
            "The distribution uses the CloudFront default certificate, which accepts TLSv1".to_owned(),
            "CloudFrontDefaultCertificate: viewers may connect with TLSv1 (MinimumProtocolVersion has no effect)".to_owned(),
            fix,
        ));
        return out;
    }
    let given = cert.and_then(|c| c.minimum_protocol_version.as_deref());
    let version = match given {
        None => Some(MinimumProtocolVersion::TlsV1),
        Some(v) => MinimumProtocolVersion::parse(v),
    };
    match version {
        Some(v) => {
            if let Some(sev) = v.severity() {
                out.push(finding(
                    check,
                    "cloudfront-tls-outdated",
                    Category::Transport,
                    sev,
                    format!("Viewers may connect with {}", v.as_str()),
                    match given {
                        Some(_) => format!("MinimumProtocolVersion {}", v.as_str()),
                        None => "no MinimumProtocolVersion (CloudFront then uses TLSv1)".to_owned(),
                    },
                    fix,
                ));
            }
        }
        None => out.push(finding(
            check,
            "cloudfront-tls-outdated",
            Category::Transport,
            Severity::Low,
            "Unknown MinimumProtocolVersion".to_owned(),
            format!(
                "MinimumProtocolVersion {:?} is not a version CloudFront documents",
                given.unwrap_or_default()
            ),
            fix,
        )),
    }
    out
}

/// A whole distribution as the API returns it; `resolve` turns a `ResponseHeadersPolicyId` into
/// what the caller knows about that policy.
pub fn audit_distribution<'a>(
    config: &DistributionConfig,
    resolve: impl Fn(&str) -> AttachedPolicy<'a>,
    want: &PolicySpec,
) -> Assessment {
    let mut out = Assessment::new();
    for (label, b) in config.behaviors() {
        let attached = match b
            .response_headers_policy_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            None => AttachedPolicy::None,
            Some(id) => resolve(id),
        };
        out.extend(audit_behavior(
            &label,
            b.viewer_protocol_policy.as_deref(),
            &attached,
            want,
        ));
    }
    out.extend(audit_viewer_certificate(config.viewer_certificate.as_ref()));
    out
}

/// Resolution of a policy id against the managed policies only: what a template audit can do
/// for an id it does not define.
pub fn resolve_managed(id: &str) -> Option<(ManagedPolicy, ResponseHeadersPolicyConfig)> {
    managed_policy(id).map(|m| (m, m.config()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::presets;

    fn strict() -> PolicySpec {
        presets::preset("strict").unwrap()
    }

    fn ids(a: &Assessment) -> Vec<&str> {
        a.findings.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn strict_maps_to_security_custom_and_remove_configs() {
        let m = from_policy("strict", &strict()).unwrap();
        let s = m.config.security_headers_config.as_ref().unwrap();
        let hsts = s.strict_transport_security.as_ref().unwrap();
        assert_eq!(hsts.access_control_max_age_sec, Some(63_072_000));
        assert_eq!(hsts.include_subdomains, Some(true));
        assert!(hsts.override_);
        assert_eq!(s.frame_options.as_ref().unwrap().frame_option, "DENY");
        assert!(!s.xss_protection.as_ref().unwrap().protection);
        assert_eq!(
            s.referrer_policy.as_ref().unwrap().referrer_policy,
            "no-referrer"
        );
        let custom = &m.config.custom_headers_config.as_ref().unwrap().items;
        let names: Vec<&str> = custom.iter().map(|c| c.header.as_str()).collect();
        for n in [
            "Permissions-Policy",
            "Cross-Origin-Opener-Policy",
            "Cross-Origin-Resource-Policy",
            "X-Permitted-Cross-Domain-Policies",
            "X-DNS-Prefetch-Control",
            "Server",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let server = custom.iter().find(|c| c.header == "Server").unwrap();
        assert_eq!(server.value, "rampart");
        assert!(server.override_);
        let removed: Vec<&str> = m
            .config
            .remove_headers_config
            .as_ref()
            .unwrap()
            .items
            .iter()
            .map(|r| r.header.as_str())
            .collect();
        assert!(removed.contains(&"x-powered-by"));
        assert!(removed.contains(&"x-amz-apigw-id"));
        // Wildcards and headers CloudFront refuses to remove stay out, with a note.
        assert!(!removed.iter().any(|r| r.ends_with('*')));
        assert!(!removed.contains(&"x-amz-cf-id"));
        assert!(m.notes.iter().any(|n| n.starts_with("x-amzn-*")));
        assert!(m.notes.iter().any(|n| n.starts_with("x-amz-cf-id")));
    }

    #[test]
    fn api_json_has_exact_field_names_and_quantities() {
        let m = from_policy("strict", &strict()).unwrap();
        let v = serde_json::to_value(m.config.clone().with_quantities(true)).unwrap();
        let s = &v["SecurityHeadersConfig"];
        assert_eq!(s["XSSProtection"]["Protection"], false);
        assert_eq!(s["XSSProtection"]["Override"], true);
        assert_eq!(
            s["StrictTransportSecurity"]["AccessControlMaxAgeSec"],
            63_072_000
        );
        assert_eq!(s["StrictTransportSecurity"]["IncludeSubdomains"], true);
        assert_eq!(s["ContentTypeOptions"]["Override"], true);
        let c = &v["CustomHeadersConfig"];
        assert_eq!(c["Quantity"], c["Items"].as_array().unwrap().len());
        assert!(c["Items"][0].get("Header").is_some());
        assert!(c["Items"][0].get("Override").is_some());
        let r = &v["RemoveHeadersConfig"];
        assert_eq!(r["Quantity"], r["Items"].as_array().unwrap().len());
        let cfn = serde_json::to_value(m.config.with_quantities(false)).unwrap();
        assert!(cfn["CustomHeadersConfig"].get("Quantity").is_none());
    }

    #[test]
    fn mapped_policy_compares_clean_for_every_preset() {
        for name in presets::PRESET_NAMES {
            let spec = presets::preset(name).unwrap();
            let m = from_policy(name, &spec).unwrap();
            let a = compare(&m.config, &spec, Scope::POLICY);
            let not_info: Vec<_> = a
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .collect();
            assert!(not_info.is_empty(), "{name}: {not_info:?}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let m = from_policy("strict", &strict()).unwrap();
        let text = serde_json::to_string(&m.config.clone().with_quantities(true)).unwrap();
        let back: ResponseHeadersPolicyConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m.config.with_quantities(true));
    }

    #[test]
    fn long_csp_is_an_error() {
        let mut spec = strict();
        spec.set(
            TypedHeader::ContentSecurityPolicy,
            Some(rampart_config::HeaderSpec {
                value: format!(
                    "default-src 'self' {}",
                    "https://a.example.com ".repeat(100)
                ),
                mode: rampart_config::Mode::Override,
            }),
        );
        assert!(matches!(
            from_policy("x", &spec),
            Err(MappingError::CspTooLong { .. })
        ));
    }

    #[test]
    fn managed_security_headers_policy_against_strict() {
        let m = managed_policy("67f7725c-6f97-4210-82d7-5512b31e9d03").unwrap();
        assert_eq!(m.name, "Managed-SecurityHeadersPolicy");
        let a = compare(&m.config(), &strict(), Scope::POLICY);
        let found = ids(&a);
        assert!(found.contains(&"cloudfront-hsts-weaker"), "{found:?}");
        assert!(found.contains(&"cloudfront-header-missing"), "{found:?}");
        assert!(
            found.contains(&"cloudfront-server-not-overridden"),
            "{found:?}"
        );
        let csp = a
            .findings
            .iter()
            .find(|f| f.check == "cloudfront/content-security-policy")
            .unwrap();
        assert_eq!(csp.severity, Severity::High);
        let xfo: Vec<_> = a
            .findings
            .iter()
            .filter(|f| f.check == "cloudfront/x-frame-options")
            .map(|f| f.id.as_str())
            .collect();
        assert!(xfo.contains(&"cloudfront-header-weaker"));
        assert!(xfo.contains(&"cloudfront-header-not-overriding"));
        // The cloudfront preset is exactly the managed policy.
        let cf = presets::preset("cloudfront-security-headers").unwrap();
        let a = compare(&m.config(), &cf, Scope::POLICY);
        assert!(a.findings.is_empty(), "{:?}", a.findings);
        assert!(managed_policy("managed-simplecors").is_some());
    }

    #[test]
    fn unsafe_referrer_is_reported_even_without_a_policy_value() {
        let cfg = ResponseHeadersPolicyConfig {
            security_headers_config: Some(SecurityHeadersConfig {
                referrer_policy: Some(ReferrerPolicy {
                    override_: true,
                    referrer_policy: "unsafe-url".to_owned(),
                }),
                ..SecurityHeadersConfig::default()
            }),
            ..ResponseHeadersPolicyConfig::default()
        };
        let a = compare(&cfg, &PolicySpec::empty(), Scope::POLICY);
        assert_eq!(ids(&a), vec!["cloudfront-referrer-policy-unsafe"]);
    }

    #[test]
    fn server_must_be_overridden_with_the_value() {
        let spec = strict();
        let mut m = from_policy("strict", &spec).unwrap().config;
        for item in &mut m.custom_headers_config.as_mut().unwrap().items {
            if item.header == "Server" {
                item.override_ = false;
            }
        }
        let a = compare(&m, &spec, Scope::POLICY);
        assert_eq!(ids(&a), vec!["cloudfront-server-not-overridden"]);
    }

    #[test]
    fn cloudformation_strings_are_accepted() {
        let v = serde_json::json!({
            "Name": "p",
            "SecurityHeadersConfig": {
                "StrictTransportSecurity": {"AccessControlMaxAgeSec": "63072000", "IncludeSubdomains": "true", "Override": "true"},
                "ContentTypeOptions": {"Override": "false"}
            },
            "CustomHeadersConfig": {"Items": [{"Header": "X", "Value": "y", "Override": true}]},
            "CorsConfig": {"OriginOverride": true}
        });
        let c: ResponseHeadersPolicyConfig = serde_json::from_value(v).unwrap();
        let h = configured_headers(&c);
        assert_eq!(h[0].value, "max-age=63072000; includeSubDomains");
        assert!(h[0].override_);
        assert!(!h[1].override_);
    }

    #[test]
    fn tls_versions_are_ordered_and_graded() {
        let v = |s| MinimumProtocolVersion::parse(s).unwrap();
        assert!(v("SSLv3") < v("TLSv1"));
        assert!(v("TLSv1.1_2016") < v("TLSv1.2_2018"));
        assert!(v("TLSv1.2_2021") < v("TLSv1.3_2025"));
        let cert = |min: &str| ViewerCertificate {
            acm_certificate_arn: Some("arn:aws:acm:us-east-1:111122223333:certificate/x".into()),
            minimum_protocol_version: Some(min.to_owned()),
            ..ViewerCertificate::default()
        };
        assert!(
            audit_viewer_certificate(Some(&cert("TLSv1.2_2021")))
                .findings
                .is_empty()
        );
        assert!(
            audit_viewer_certificate(Some(&cert("TLSv1.3_2025")))
                .findings
                .is_empty()
        );
        assert_eq!(
            audit_viewer_certificate(Some(&cert("TLSv1.2_2019"))).worst(),
            Some(Severity::Low)
        );
        assert_eq!(
            audit_viewer_certificate(Some(&cert("SSLv3"))).worst(),
            Some(Severity::High)
        );
        assert_eq!(
            audit_viewer_certificate(None).worst(),
            Some(Severity::Medium)
        );
        let default = ViewerCertificate {
            cloudfront_default_certificate: Some(true),
            minimum_protocol_version: Some("TLSv1.2_2021".into()),
            ..ViewerCertificate::default()
        };
        assert_eq!(
            ids(&audit_viewer_certificate(Some(&default))),
            vec!["cloudfront-tls-outdated"]
        );
    }

    #[test]
    fn distribution_from_api_json() {
        let v = serde_json::json!({
            "DefaultCacheBehavior": {"ViewerProtocolPolicy": "allow-all"},
            "CacheBehaviors": {"Quantity": 1, "Items": [{"PathPattern": "/api/*", "ViewerProtocolPolicy": "https-only", "ResponseHeadersPolicyId": "67f7725c-6f97-4210-82d7-5512b31e9d03"}]},
            "ViewerCertificate": {"ACMCertificateArn": "arn:x", "MinimumProtocolVersion": "TLSv1.2_2021"}
        });
        let d: DistributionConfig = serde_json::from_value(v).unwrap();
        let spec = presets::preset("cloudfront-security-headers").unwrap();
        let managed = resolve_managed("67f7725c-6f97-4210-82d7-5512b31e9d03")
            .unwrap()
            .1;
        let a = audit_distribution(
            &d,
            |id| match managed_policy(id) {
                Some(m) => AttachedPolicy::Evaluate {
                    label: m.name.to_owned(),
                    config: &managed,
                },
                None => AttachedPolicy::Unverifiable {
                    reason: format!("unknown id {id}"),
                },
            },
            &spec,
        );
        let mut found = ids(&a);
        found.sort_unstable();
        assert_eq!(
            found,
            vec![
                "cloudfront-behavior-without-headers-policy",
                "cloudfront-viewer-protocol-allow-all"
            ]
        );
        assert!(
            a.checks
                .iter()
                .any(|c| c.id == "cloudfront/behavior[/api/*]/response-headers-policy")
        );
        let cfn: DistributionConfig = serde_json::from_value(serde_json::json!({
            "CacheBehaviors": [{"PathPattern": "/img/*"}],
            "ViewerCertificate": {"AcmCertificateArn": "arn:x", "MinimumProtocolVersion": "TLSv1.2_2021"}
        }))
        .unwrap();
        assert_eq!(cfn.cache_behaviors.len(), 1);
        assert!(
            cfn.viewer_certificate
                .unwrap()
                .acm_certificate_arn
                .is_some()
        );
    }

    #[test]
    fn xss_values_map_both_ways() {
        for v in ["0", "1", "1; mode=block", "1; report=https://r.example/x"] {
            let x = xss_from_value(v).unwrap();
            assert_eq!(xss_value(&x), v);
        }
        assert!(xss_from_value("2").is_none());
    }
}
