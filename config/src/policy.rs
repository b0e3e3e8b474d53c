//! The header policy: its typed form (what a user means) and its compiled form (what the proxy
//! applies per response, with every header name and value parsed once at load).

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};

use crate::errors_policy::{ErrorBodyMode, ErrorBodyPolicy};
use crate::lines::RenderedLines;
use crate::names::{eq_lowercase, first_word, lower_word};

/// How a rule treats a header the origin already sent (CloudFront's `Override`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace the origin's value with ours.
    Override,
    /// Keep the origin's value when present; add ours otherwise (so an app's own CSP can win).
    IfAbsent,
}

impl Mode {
    pub fn from_override(override_: bool) -> Mode {
        if override_ {
            Mode::Override
        } else {
            Mode::IfAbsent
        }
    }

    pub fn is_override(self) -> bool {
        self == Mode::Override
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Override => "override",
            Mode::IfAbsent => "if-absent",
        }
    }
}

/// A header with a plain string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    pub value: String,
    pub mode: Mode,
}

/// Strict-Transport-Security, kept typed because the verifier compares its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HstsSpec {
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
    pub mode: Mode,
    /// Send it on plain-HTTP connections too: for deployments behind a TLS-terminating load
    /// balancer that does not send X-Forwarded-Proto.
    pub force: bool,
}

impl HstsSpec {
    pub fn value(&self) -> String {
        let mut v = format!("max-age={}", self.max_age);
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        v
    }
}

/// What happens to the `Server` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    /// Leave the origin's header alone.
    Keep,
    /// Replace every `Server` header with exactly one carrying this value.
    Set(String),
    /// Remove it.
    Remove,
}

/// One typed header of the modern set, in the order the proxy emits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypedHeader {
    ContentSecurityPolicy,
    ContentSecurityPolicyReportOnly,
    XFrameOptions,
    XContentTypeOptions,
    ReferrerPolicy,
    PermissionsPolicy,
    CrossOriginOpenerPolicy,
    CrossOriginResourcePolicy,
    CrossOriginEmbedderPolicy,
    XPermittedCrossDomainPolicies,
    XXssProtection,
}

impl TypedHeader {
    pub const ALL: [TypedHeader; 11] = [
        TypedHeader::ContentSecurityPolicy,
        TypedHeader::ContentSecurityPolicyReportOnly,
        TypedHeader::XFrameOptions,
        TypedHeader::XContentTypeOptions,
        TypedHeader::ReferrerPolicy,
        TypedHeader::PermissionsPolicy,
        TypedHeader::CrossOriginOpenerPolicy,
        TypedHeader::CrossOriginResourcePolicy,
        TypedHeader::CrossOriginEmbedderPolicy,
        TypedHeader::XPermittedCrossDomainPolicies,
        TypedHeader::XXssProtection,
    ];

    /// The header's name on the wire (canonical capitalisation for display).
    pub fn header_name(self) -> &'static str {
        match self {
            TypedHeader::ContentSecurityPolicy => "Content-Security-Policy",
            TypedHeader::ContentSecurityPolicyReportOnly => "Content-Security-Policy-Report-Only",
            TypedHeader::XFrameOptions => "X-Frame-Options",
            TypedHeader::XContentTypeOptions => "X-Content-Type-Options",
            TypedHeader::ReferrerPolicy => "Referrer-Policy",
            TypedHeader::PermissionsPolicy => "Permissions-Policy",
            TypedHeader::CrossOriginOpenerPolicy => "Cross-Origin-Opener-Policy",
            TypedHeader::CrossOriginResourcePolicy => "Cross-Origin-Resource-Policy",
            TypedHeader::CrossOriginEmbedderPolicy => "Cross-Origin-Embedder-Policy",
            TypedHeader::XPermittedCrossDomainPolicies => "X-Permitted-Cross-Domain-Policies",
            TypedHeader::XXssProtection => "X-XSS-Protection",
        }
    }

    /// The key that configures it in a policy table.
    pub fn config_key(self) -> &'static str {
        match self {
            TypedHeader::ContentSecurityPolicy => "content_security_policy",
            TypedHeader::ContentSecurityPolicyReportOnly => "content_security_policy_report_only",
            TypedHeader::XFrameOptions => "x_frame_options",
            TypedHeader::XContentTypeOptions => "x_content_type_options",
            TypedHeader::ReferrerPolicy => "referrer_policy",
            TypedHeader::PermissionsPolicy => "permissions_policy",
            TypedHeader::CrossOriginOpenerPolicy => "cross_origin_opener_policy",
            TypedHeader::CrossOriginResourcePolicy => "cross_origin_resource_policy",
            TypedHeader::CrossOriginEmbedderPolicy => "cross_origin_embedder_policy",
            TypedHeader::XPermittedCrossDomainPolicies => "x_permitted_cross_domain_policies",
            TypedHeader::XXssProtection => "x_xss_protection",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A policy in the form a user reasons about: which headers, which values, which modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub hsts: Option<HstsSpec>,
    typed: [Option<HeaderSpec>; 11],
    /// Any other header, by its name as written, in file order.
    pub custom: Vec<(String, HeaderSpec)>,
    pub server: ServerSpec,
    /// Header names to strip: exact, or a prefix ending in `*`. Stored lowercase.
    pub remove: Vec<String>,
    /// What error bodies get unless the policy's `error_bodies` table says more.
    pub error_body_mode: ErrorBodyMode,
}

impl PolicySpec {
    /// A policy that touches nothing.
    pub fn empty() -> PolicySpec {
        PolicySpec {
            hsts: None,
            typed: Default::default(),
            custom: Vec::new(),
            server: ServerSpec::Keep,
            remove: Vec::new(),
            error_body_mode: ErrorBodyMode::Off,
        }
    }

    pub fn get(&self, h: TypedHeader) -> Option<&HeaderSpec> {
        self.typed[h.index()].as_ref()
    }

    pub fn set(&mut self, h: TypedHeader, spec: Option<HeaderSpec>) {
        self.typed[h.index()] = spec;
    }

    pub fn get_mut(&mut self, h: TypedHeader) -> &mut Option<HeaderSpec> {
        &mut self.typed[h.index()]
    }

    /// Every header this policy sets, in emission order, as (name, value, mode); HSTS first.
    pub fn headers(&self) -> Vec<(String, String, Mode)> {
        let mut out = Vec::new();
        if let Some(h) = &self.hsts {
            out.push(("Strict-Transport-Security".to_owned(), h.value(), h.mode));
        }
        for t in TypedHeader::ALL {
            if let Some(s) = self.get(t) {
                out.push((t.header_name().to_owned(), s.value.clone(), s.mode));
            }
        }
        for (name, s) in &self.custom {
            out.push((name.clone(), s.value.clone(), s.mode));
        }
        out
    }
}

/// One header the compiled policy sets.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    pub name: HeaderName,
    pub value: HeaderValue,
    pub mode: Mode,
}

/// A policy compiled for the hot path: names and values parsed once, removal split into exact
/// names and prefixes so most responses need no scan of their header names.
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    pub name: String,
    pub spec: PolicySpec,
    /// HSTS, kept apart because it is only sent on HTTPS (or when forced).
    pub hsts: Option<HeaderRule>,
    pub hsts_force: bool,
    pub rules: Vec<HeaderRule>,
    pub server: ServerAction,
    pub remove: RemoveSet,
    pub error_bodies: Arc<ErrorBodyPolicy>,
    /// The lines above rendered for HTTP/1.1 heads, and which origin names they concern.
    pub(crate) rendered: RenderedLines,
}

/// The remove list, arranged so that checking a response's header names costs one length index
/// and a couple of comparisons per name instead of one hash lookup per listed header.
#[derive(Debug, Clone, Default)]
pub struct RemoveSet {
    /// Exact names, bucketed by length, each with its [`Words`].
    by_len: Vec<Vec<(Words, HeaderName)>>,
    /// Lowercase prefixes from `name*` entries.
    prefixes: Vec<Prefix>,
    /// Bit b set when some prefix starts with byte b (all set for an empty prefix): most names
    /// start with a byte no prefix does and are settled without a comparison.
    prefix_first_bytes: u128,
}

impl RemoveSet {
    pub fn is_empty(&self) -> bool {
        self.by_len.is_empty() && self.prefixes.is_empty()
    }

    /// True when `name` is on the list (exactly or by prefix). Header names are lowercase.
    pub fn matches(&self, name: &HeaderName) -> bool {
        let s = name.as_str();
        self.by_len
            .get(s.len())
            .is_some_and(|bucket| bucket.iter().any(|(_, n)| n == name))
            || self.matches_prefix(s.as_bytes())
    }

    /// [`RemoveSet::matches`] for a name not yet made a `HeaderName` (which, for a name that is
    /// not a standard header, costs an allocation): `name` as a peer spelled it, in any case.
    /// Names of the same length are told apart by their first and last 8 bytes, lowercased a
    /// word at a time; only names longer than 16 bytes are compared further.
    pub fn matches_any_case(&self, name: &[u8]) -> bool {
        self.by_len.get(name.len()).is_some_and(|bucket| {
            let key = Words::lowered(name);
            bucket.iter().any(|(k, n)| {
                *k == key && (name.len() <= 16 || eq_lowercase(name, n.as_str().as_bytes()))
            })
        }) || self.matches_prefix(name)
    }

    /// True when a `name*` entry covers `name`, in any case.
    pub fn matches_prefix(&self, name: &[u8]) -> bool {
        let first = name.first().copied().unwrap_or(0).to_ascii_lowercase();
        first < 128 && self.prefix_first_bytes & (1u128 << first) != 0 && {
            let word = lower_word(first_word(name));
            self.prefixes.iter().any(|p| p.matches(name, word))
        }
    }

    fn insert_prefix(&mut self, prefix: String) {
        self.prefix_first_bytes |= match prefix.as_bytes().first() {
            Some(&b) if b < 128 => 1u128 << b,
            Some(_) => 0,
            None => u128::MAX,
        };
        self.prefixes.push(Prefix::new(prefix));
    }

    /// The exact (not prefix) names on the list.
    pub fn exact_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.by_len.iter().flatten().map(|(_, n)| n)
    }

    fn insert_exact(&mut self, name: HeaderName) {
        let len = name.as_str().len();
        if self.by_len.len() <= len {
            self.by_len.resize_with(len + 1, Vec::new);
        }
        self.by_len[len].push((Words::lowered(name.as_str().as_bytes()), name));
    }
}

/// A remove-list prefix, its first 8 bytes also kept as a masked word: a header name is
/// compared with one integer comparison per prefix (names are short; most differ early), and
/// bytewise only past the eighth byte.
#[derive(Debug, Clone)]
struct Prefix {
    text: String,
    head: u64,
    mask: u64,
}

impl Prefix {
    fn new(text: String) -> Prefix {
        let n = text.len().min(8);
        let mask = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Prefix {
            head: lower_word(first_word(text.as_bytes())) & mask,
            mask,
            text,
        }
    }

    /// `word`: the first 8 bytes of `name`, lowercased by [`lower_word`].
    #[inline]
    fn matches(&self, name: &[u8], word: u64) -> bool {
        word & self.mask == self.head
            && name.len() >= self.text.len()
            && (self.text.len() <= 8
                || eq_lowercase(&name[..self.text.len()], self.text.as_bytes()))
    }
}

/// A name's first and last 8 bytes (overlapping when shorter than 16), lowercased: equal for
/// two spellings of one name, and for two names of one length up to 16 bytes only when they
/// are the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Words(u64, u64);

impl Words {
    fn lowered(name: &[u8]) -> Words {
        let first = lower_word(first_word(name));
        let last = match name.len() {
            0..=8 => first,
            n => lower_word(first_word(&name[n - 8..])),
        };
        Words(first, last)
    }
}

/// The compiled form of [`ServerSpec`].
#[derive(Debug, Clone)]
pub enum ServerAction {
    Keep,
    Set(HeaderValue),
    Remove,
}

/// Why a policy could not be compiled; the loader turns this into a located [`ConfigError`].
///
/// [`ConfigError`]: crate::ConfigError
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CompileError {
    pub field: String,
    pub message: String,
}

impl HeaderPolicy {
    /// Compiles a spec. Values were validated by the loader; this re-checks that each is a legal
    /// header value so a spec built in code cannot produce an invalid response.
    pub fn compile(name: &str, spec: PolicySpec) -> Result<HeaderPolicy, CompileError> {
        let value = |field: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| CompileError {
                field: field.to_owned(),
                message: format!(
                    "{v:?} is not a valid header value (control characters or non-visible bytes)"
                ),
            })
        };
        let hsts = match &spec.hsts {
            Some(h) => Some(HeaderRule {
                name: http::header::STRICT_TRANSPORT_SECURITY,
                value: value("strict_transport_security", &h.value())?,
                mode: h.mode,
            }),
            None => None,
        };
        let mut rules = Vec::new();
        for t in TypedHeader::ALL {
            if let Some(s) = spec.get(t) {
                rules.push(HeaderRule {
                    name: HeaderName::from_static(lower_static(t)),
                    value: value(t.config_key(), &s.value)?,
                    mode: s.mode,
                });
            }
        }
        for (n, s) in &spec.custom {
            let name = HeaderName::from_bytes(n.as_bytes()).map_err(|_| CompileError {
                field: "custom.name".to_owned(),
                message: format!("{n:?} is not a valid header name"),
            })?;
            rules.push(HeaderRule {
                name,
                value: value("custom.value", &s.value)?,
                mode: s.mode,
            });
        }
        let server = match &spec.server {
            ServerSpec::Keep => ServerAction::Keep,
            ServerSpec::Remove => ServerAction::Remove,
            ServerSpec::Set(v) => ServerAction::Set(value("server", v)?),
        };
        let mut remove = RemoveSet::default();
        for r in &spec.remove {
            if let Some(prefix) = r.strip_suffix('*') {
                remove.insert_prefix(prefix.to_ascii_lowercase());
            } else {
                remove.insert_exact(HeaderName::from_bytes(r.as_bytes()).map_err(|_| {
                    CompileError {
                        field: "remove".to_owned(),
                        message: format!("{r:?} is not a valid header name"),
                    }
                })?);
            }
        }
        let error_bodies = Arc::new(ErrorBodyPolicy::default_for(spec.error_body_mode));
        let rendered = RenderedLines::build(&rules, hsts.as_ref(), &server, &remove);
        Ok(HeaderPolicy {
            rendered,
            error_bodies,
            name: name.to_owned(),
            hsts_force: spec.hsts.as_ref().is_some_and(|h| h.force),
            spec,
            hsts,
            rules,
            server,
            remove,
        })
    }

    /// True when a header name falls under this policy's remove list.
    pub fn removes(&self, name: &str) -> bool {
        HeaderName::from_bytes(name.as_bytes()).is_ok_and(|n| self.remove.matches(&n))
    }

    /// The most header lines applying this policy adds to a response: `Server`, one per rule,
    /// HSTS. A response header map with this much room to spare takes the policy without growing
    /// (the upstream client sizes its maps so).
    pub fn max_headers_added(&self) -> usize {
        self.rules.len() + 2
    }
}

fn lower_static(t: TypedHeader) -> &'static str {
    match t {
        TypedHeader::ContentSecurityPolicy => "content-security-policy",
        TypedHeader::ContentSecurityPolicyReportOnly => "content-security-policy-report-only",
        TypedHeader::XFrameOptions => "x-frame-options",
        TypedHeader::XContentTypeOptions => "x-content-type-options",
        TypedHeader::ReferrerPolicy => "referrer-policy",
        TypedHeader::PermissionsPolicy => "permissions-policy",
        TypedHeader::CrossOriginOpenerPolicy => "cross-origin-opener-policy",
        TypedHeader::CrossOriginResourcePolicy => "cross-origin-resource-policy",
        TypedHeader::CrossOriginEmbedderPolicy => "cross-origin-embedder-policy",
        TypedHeader::XPermittedCrossDomainPolicies => "x-permitted-cross-domain-policies",
        TypedHeader::XXssProtection => "x-xss-protection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_set_answers_the_same_for_names_in_any_case() {
        let mut set = RemoveSet::default();
        for exact in ["x-powered-by", "server", "x-aspnet-version"] {
            set.insert_exact(HeaderName::from_static(exact));
        }
        set.insert_prefix("x-amzn-".into());
        set.insert_prefix("x-datadog-".into());
        for name in [
            "x-powered-by",
            "x-powered-byx",
            "x-powered-b",
            "server",
            "x-aspnet-version",
            "x-amzn-requestid",
            "x-amzn",
            "x-datadog-trace-id",
            "x-datadog",
            "content-type",
            "x-request-id",
        ] {
            assert_eq!(
                set.matches_any_case(name.as_bytes()),
                set.matches(&HeaderName::from_static(name)),
                "{name}"
            );
            let upper = name.to_ascii_uppercase();
            assert_eq!(
                set.matches_any_case(upper.as_bytes()),
                set.matches(&HeaderName::from_static(name)),
                "{upper}"
            );
        }
        // Bytes the case bit pairs up are told apart.
        let mut odd = RemoveSet::default();
        odd.insert_prefix("x^".into());
        assert!(odd.matches_any_case(b"X^y"));
        assert!(!odd.matches_any_case(b"x~y"));
        odd.insert_exact(HeaderName::from_static("a_b"));
        assert!(odd.matches_any_case(b"A_B"));
        assert!(!odd.matches_any_case(b"a\x7fb"));
    }

    #[test]
    fn remove_set_any_case_agrees_with_a_bytewise_comparison() {
        let listed = [
            "te",
            "vary",
            "x-runtime",
            "x-drupal-dynamic-cache",
            "x-amz-id-2",
        ];
        let prefixes = ["x-amzn-", "x-amz-server-side-encryption", "k"];
        let mut set = RemoveSet::default();
        for n in listed {
            set.insert_exact(HeaderName::from_static(n));
        }
        for p in prefixes {
            set.insert_prefix(p.into());
        }
        let reference = |name: &[u8]| {
            listed
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
                || prefixes.iter().any(|p| {
                    name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                })
        };
        let mut names: Vec<Vec<u8>> = Vec::new();
        for n in listed.iter().chain(&prefixes).chain(&[
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-drupal-dynamic-cachE",
            "x-drupal-dynamic-cach3",
        ]) {
            names.push(n.as_bytes().to_vec());
            names.push(n.to_ascii_uppercase().into_bytes());
            // Each byte swapped for its case-bit partner (a control byte for `-` and digits).
            for i in 0..n.len() {
                let mut v = n.as_bytes().to_vec();
                v[i] ^= 0x20;
                names.push(v);
            }
        }
        for name in names {
            assert_eq!(
                set.matches_any_case(&name),
                reference(&name),
                "{:?}",
                String::from_utf8_lossy(&name)
            );
        }
    }

    #[test]
    fn remove_prefixes_match_by_first_byte_then_prefix() {
        let mut set = RemoveSet::default();
        set.insert_prefix("x-amzn-".into());
        set.insert_prefix("server-".into());
        set.insert_prefix("x-datadog-".into());
        set.insert_prefix("x-k".into());
        assert!(set.matches_prefix(b"x-amzn-errortype"));
        assert!(set.matches_prefix(b"x-amzn-"));
        assert!(!set.matches_prefix(b"x-amzn"));
        assert!(set.matches_prefix(b"x-datadog-trace-id"));
        assert!(!set.matches_prefix(b"x-datadog"));
        assert!(!set.matches_prefix(b"x-datadox-trace-id"));
        assert!(set.matches_prefix(b"x-k"));
        assert!(set.matches_prefix(b"x-kong-upstream-latency"));
        assert!(!set.matches_prefix(b"x-"));
        assert!(set.matches_prefix(b"server-timing"));
        assert!(!set.matches_prefix(b"x-amz-id-2"));
        assert!(!set.matches_prefix(b"content-type"));
        assert!(!set.matches_prefix(b"server"));
        let mut everything = RemoveSet::default();
        everything.insert_prefix(String::new());
        assert!(everything.matches_prefix(b"content-type"));
    }

    #[test]
    fn lowercase_names_match_display_names() {
        for t in TypedHeader::ALL {
            assert_eq!(lower_static(t), t.header_name().to_ascii_lowercase());
        }
    }

    #[test]
    fn hsts_value_renders_directives_in_order() {
        let h = HstsSpec {
            max_age: 63072000,
            include_subdomains: true,
            preload: true,
            mode: Mode::Override,
            force: false,
        };
        assert_eq!(h.value(), "max-age=63072000; includeSubDomains; preload");
    }

    #[test]
    fn compile_rejects_control_characters() {
        let mut spec = PolicySpec::empty();
        spec.set(
            TypedHeader::XFrameOptions,
            Some(HeaderSpec {
                value: "DENY\n".into(),
                mode: Mode::Override,
            }),
        );
        assert!(HeaderPolicy::compile("p", spec).is_err());
    }

    #[test]
    fn removes_matches_exact_and_prefix_case_insensitively() {
        let mut spec = PolicySpec::empty();
        spec.remove = vec!["x-powered-by".into(), "x-amzn-*".into()];
        let p = HeaderPolicy::compile("p", spec).unwrap();
        assert!(p.removes("X-Powered-By"));
        assert!(p.removes("X-Amzn-ErrorType"));
        assert!(!p.removes("x-amz-cf-id"));
    }
}
