//! API Gateway (REST) gateway responses: the error responses API Gateway writes itself
//! (authorizer denials, WAF blocks, bad signatures, throttling, timeouts). They bypass the
//! integration, so the application's security headers never reach them, and the built-in ones
//! echo `$context.error.messageString`, which names IAM principals, ARNs and account ids.
//!
//! [`GatewayResponse`] deserializes from the API's JSON (`responseType`), CloudFormation
//! (`ResponseType`) and Terraform (`response_type`) alike.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rampart_config::PolicySpec;
use serde::{Deserialize, Deserializer, Serialize};

use super::{Assessment, finding, lenient, strength};
use crate::model::{Category, Severity};

/// The 21 gateway response types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseType {
    AccessDenied,
    ApiConfigurationError,
    AuthorizerConfigurationError,
    AuthorizerFailure,
    BadRequestParameters,
    BadRequestBody,
    Default4xx,
    Default5xx,
    ExpiredToken,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    InvalidSignature,
    MissingAuthenticationToken,
    QuotaExceeded,
    RequestTooLarge,
    ResourceNotFound,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
    WafFiltered,
}

/// The template every built-in gateway response uses.
pub const BUILTIN_TEMPLATE: &str = "{\"message\":$context.error.messageString}";

/// The prefix of a header in `responseParameters`.
pub const HEADER_PREFIX: &str = "gatewayresponse.header.";

impl ResponseType {
    pub const ALL: [ResponseType; 21] = [
        ResponseType::AccessDenied,
        ResponseType::ApiConfigurationError,
        ResponseType::AuthorizerConfigurationError,
        ResponseType::AuthorizerFailure,
        ResponseType::BadRequestParameters,
        ResponseType::BadRequestBody,
        ResponseType::Default4xx,
        ResponseType::Default5xx,
        ResponseType::ExpiredToken,
        ResponseType::IntegrationFailure,
        ResponseType::IntegrationTimeout,
        ResponseType::InvalidApiKey,
        ResponseType::InvalidSignature,
        ResponseType::MissingAuthenticationToken,
        ResponseType::QuotaExceeded,
        ResponseType::RequestTooLarge,
        ResponseType::ResourceNotFound,
        ResponseType::Throttled,
        ResponseType::Unauthorized,
        ResponseType::UnsupportedMediaType,
        ResponseType::WafFiltered,
    ];

    /// The types whose built-in messages say the most about the account and its principals
    /// (IAM users and roles, ARNs, signing details, WAF): a leaky template on them is high.
    pub const HIGH_RISK: [ResponseType; 7] = [
        ResponseType::AccessDenied,
        ResponseType::InvalidSignature,
        ResponseType::WafFiltered,
        ResponseType::MissingAuthenticationToken,
        ResponseType::Unauthorized,
        ResponseType::AuthorizerFailure,
        ResponseType::AuthorizerConfigurationError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::AccessDenied => "ACCESS_DENIED",
            ResponseType::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            ResponseType::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            ResponseType::AuthorizerFailure => "AUTHORIZER_FAILURE",
            ResponseType::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            ResponseType::BadRequestBody => "BAD_REQUEST_BODY",
            ResponseType::Default4xx => "DEFAULT_4XX",
            ResponseType::Default5xx => "DEFAULT_5XX",
            ResponseType::ExpiredToken => "EXPIRED_TOKEN",
            ResponseType::IntegrationFailure => "INTEGRATION_FAILURE",
            ResponseType::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            ResponseType::InvalidApiKey => "INVALID_API_KEY",
            ResponseType::InvalidSignature => "INVALID_SIGNATURE",
            ResponseType::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            ResponseType::QuotaExceeded => "QUOTA_EXCEEDED",
            ResponseType::RequestTooLarge => "REQUEST_TOO_LARGE",
            ResponseType::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ResponseType::Throttled => "THROTTLED",
            ResponseType::Unauthorized => "UNAUTHORIZED",
            ResponseType::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ResponseType::WafFiltered => "WAF_FILTERED",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseType> {
        ResponseType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The status the built-in response uses; `None` for DEFAULT_4XX/DEFAULT_5XX, which keep
    /// the status of the type they stand in for.
    pub fn default_status(self) -> Option<u16> {
        use ResponseType::*;
        Some(match self {
            AccessDenied
            | ExpiredToken
            | InvalidApiKey
            | InvalidSignature
            | MissingAuthenticationToken
            | WafFiltered => 403,
            ApiConfigurationError | AuthorizerConfigurationError | AuthorizerFailure => 500,
            BadRequestBody | BadRequestParameters => 400,
            IntegrationFailure | IntegrationTimeout => 504,
            QuotaExceeded | Throttled => 429,
            RequestTooLarge => 413,
            ResourceNotFound => 404,
            Unauthorized => 401,
            UnsupportedMediaType => 415,
            Default4xx | Default5xx => return None,
        })
    }

    /// The default response a type falls back to (DEFAULT_4XX or DEFAULT_5XX), or `None` for
    /// those two themselves.
    pub fn family(self) -> Option<ResponseType> {
        self.default_status().map(|s| {
            if s >= 500 {
                ResponseType::Default5xx
            } else {
                ResponseType::Default4xx
            }
        })
    }

    pub fn is_default(self) -> bool {
        self.family().is_none()
    }

    /// How much a leaky template on this type matters.
    pub fn leak_severity(self) -> Severity {
        if ResponseType::HIGH_RISK.contains(&self) {
            Severity::High
        } else {
            Severity::Medium
        }
    }
}

/// A gateway response as `GetGatewayResponses` returns it (and as templates declare it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayResponse {
    #[serde(
        rename = "responseType",
        alias = "ResponseType",
        alias = "response_type",
        default
    )]
    pub response_type: String,
    #[serde(
        rename = "statusCode",
        alias = "StatusCode",
        alias = "status_code",
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<String>,
    #[serde(
        rename = "responseParameters",
        alias = "ResponseParameters",
        alias = "response_parameters",
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(
        rename = "responseTemplates",
        alias = "ResponseTemplates",
        alias = "response_templates",
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub response_templates: BTreeMap<String, String>,
    /// True for the generated defaults the API lists for types nobody customised.
    #[serde(
        rename = "defaultResponse",
        alias = "DefaultResponse",
        alias = "default_response",
        default,
        deserialize_with = "lenient::bool",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub default_response: bool,
}

/// Terraform writes an unset map as `null`.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}

impl GatewayResponse {
    pub fn kind(&self) -> Option<ResponseType> {
        ResponseType::parse(&self.response_type)
    }

    /// The headers it sets: name and, for a static `'value'`, the value; a mapping from the
    /// request (`method.request.header.x`) has no static value.
    pub fn headers(&self) -> Vec<(String, Option<String>)> {
        self.response_parameters
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(HEADER_PREFIX)?;
                Some((name.to_owned(), static_value(v)))
            })
            .collect()
    }

    /// The `$context` variables its templates expose that describe the caller, the
    /// authorizer, the account or the error in detail.
    pub fn leaky_variables(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in self.response_templates.values() {
            for v in leaky_variables(t) {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }
}

/// The text of a static parameter value: API Gateway takes what is between the outer single
/// quotes literally (so a CSP's own `'self'` needs no escaping).
pub fn static_value(v: &str) -> Option<String> {
    let t = v.trim();
    (t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'')).then(|| t[1..t.len() - 1].to_owned())
}

/// Writes a header value as a static parameter value.
pub fn quote_static(v: &str) -> String {
    format!("'{v}'")
}

/// The leaky `$context` variables a template references, in order of appearance, e.g.
/// `$context.error.messageString` or `$context.authorizer.principalId`. VTL's quiet and formal
/// notations (`$!context...`, `${context...}`) count too.
pub fn leaky_variables(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while let Some(pos) = template[i..].find('$') {
        let mut j = i + pos + 1;
        if bytes.get(j) == Some(&b'!') {
            j += 1;
        }
        if bytes.get(j) == Some(&b'{') {
            j += 1;
        }
        let start = j;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'.')
        {
            j += 1;
        }
        let path = template[start..j].trim_end_matches('.');
        if is_leaky(path) {
            let v = format!("${path}");
            if !out.contains(&v) {
                out.push(v);
            }
        }
        i = (i + pos + 1).max(j);
    }
    out
}

fn is_leaky(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("context.") else {
        return false;
    };
    matches!(
        rest,
        "error.messageString"
            | "error.validationErrorString"
            | "accountId"
            | "authorizer"
            | "identity"
    ) || rest.starts_with("authorizer.")
        || rest.starts_with("identity.")
}

/// The response API Gateway uses for a type nobody customised.
pub fn builtin(t: ResponseType) -> GatewayResponse {
    GatewayResponse {
        response_type: t.as_str().to_owned(),
        status_code: t.default_status().map(|s| s.to_string()),
        response_parameters: BTreeMap::new(),
        response_templates: BTreeMap::from([(
            "application/json".to_owned(),
            BUILTIN_TEMPLATE.to_owned(),
        )]),
        default_response: true,
    }
}

/// Where the response for a type comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The type itself was customised.
    Customised,
    /// A customised DEFAULT_4XX or DEFAULT_5XX stands in.
    Default(ResponseType),
    /// Nothing customised: the built-in default.
    BuiltIn,
}

/// The response a type gets, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective<'a> {
    pub source: Source,
    pub response: Cow<'a, GatewayResponse>,
}

fn customised(responses: &[GatewayResponse], t: ResponseType) -> Option<&GatewayResponse> {
    responses
        .iter()
        .find(|r| !r.default_response && r.kind() == Some(t))
}

/// What API Gateway answers for `t`: the customised type wins, else the customised
/// DEFAULT_4XX/DEFAULT_5XX of its family, else the built-in default. Entries marked
/// `defaultResponse` (what the API lists for untouched types) are not customisations.
pub fn resolve(responses: &[GatewayResponse], t: ResponseType) -> Effective<'_> {
    if let Some(r) = customised(responses, t) {
        return Effective {
            source: Source::Customised,
            response: Cow::Borrowed(r),
        };
    }
    if let Some(family) = t.family()
        && let Some(r) = customised(responses, family)
    {
        return Effective {
            source: Source::Default(family),
            response: Cow::Borrowed(r),
        };
    }
    Effective {
        source: Source::BuiltIn,
        response: Cow::Owned(builtin(t)),
    }
}

/// The specific types a response of type `t` answers for: itself, or for DEFAULT_4XX and
/// DEFAULT_5XX every type of their family that is not customised.
pub fn served_by(responses: &[GatewayResponse], t: ResponseType) -> Vec<ResponseType> {
    if !t.is_default() {
        return vec![t];
    }
    ResponseType::ALL
        .into_iter()
        .filter(|x| x.family() == Some(t) && customised(responses, *x).is_none())
        .collect()
}

/// An API's customised responses as a whole: a missing DEFAULT_4XX or DEFAULT_5XX leaves the
/// types of that family on the built-in response, which echoes `$context.error.messageString`.
pub fn audit_api(responses: &[GatewayResponse]) -> Assessment {
    let mut out = Assessment::new();
    for family in [ResponseType::Default4xx, ResponseType::Default5xx] {
        let check = format!(
            "apigateway/{}",
            family.as_str().to_ascii_lowercase().replace('_', "-")
        );
        out.check(
            &check,
            &format!(
                "a {} gateway response replaces the built-in error messages",
                family.as_str()
            ),
        );
        let on_builtin: Vec<ResponseType> = ResponseType::ALL
            .into_iter()
            .filter(|t| t.family() == Some(family))
            .filter(|t| resolve(responses, *t).source == Source::BuiltIn)
            .collect();
        if on_builtin.is_empty() {
            continue;
        }
        let severity = on_builtin
            .iter()
            .map(|t| t.leak_severity())
            .max()
            .unwrap_or(Severity::Medium);
        out.push(finding(
            &check,
            "apigateway-default-response-missing",
            Category::Leak,
            severity,
            format!("No {} gateway response: API Gateway's built-in messages are sent", family.as_str()),
            format!(
                "no {} response; {} answer with the built-in {BUILTIN_TEMPLATE} (IAM principals, ARNs, account ids, signature details)",
                family.as_str(),
                on_builtin.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            ),
            "Add generic gateway responses for DEFAULT_4XX and DEFAULT_5XX (`rampart-verify emit apigateway` writes them with your security headers)".to_owned(),
        ));
    }
    out
}

/// One customised gateway response: its templates must not expose leaky `$context` variables
/// (ranked by the worst type it answers for, `serves`), and it must carry every header the
/// rampart policy sets as a static value.
pub fn audit_response(
    resp: &GatewayResponse,
    serves: &[ResponseType],
    want: &PolicySpec,
) -> Assessment {
    let mut out = Assessment::new();
    let rtype = resp.response_type.as_str();

    let check = "apigateway/response-templates";
    out.check(
        check,
        "the templates expose no caller, authorizer, account or raw error details",
    );
    let leaks = resp.leaky_variables();
    if !leaks.is_empty() {
        let own = resp.kind();
        let severity = serves
            .iter()
            .copied()
            .chain(own.filter(|k| !k.is_default()))
            .map(ResponseType::leak_severity)
            .max()
            .unwrap_or(Severity::Medium);
        let answered = if serves.is_empty() || (serves.len() == 1 && Some(serves[0]) == own) {
            String::new()
        } else {
            format!(
                " (answers for {})",
                serves
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(finding(
            check,
            "apigateway-template-leaks-context",
            Category::Leak,
            severity,
            format!("{rtype} gateway response exposes {}", leaks.join(", ")),
            format!("{rtype}{answered}: template references {}", leaks.join(", ")),
            "Return a generic body, e.g. {\"message\":\"Forbidden\",\"request_id\":\"$context.requestId\"}, and log the detail instead".to_owned(),
        ));
    }

    let wanted = want.headers();
    if wanted.is_empty() {
        return out;
    }
    let check = "apigateway/security-headers";
    out.check(
        check,
        "the response carries the rampart policy's security headers (gateway responses bypass the integration)",
    );
    let have = resp.headers();
    let mut missing = Vec::new();
    let mut weaker = Vec::new();
    for (name, value, _mode) in &wanted {
        match have.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            None | Some((_, None)) => missing.push((name.clone(), value.clone())),
            Some((_, Some(got))) => {
                if let Some(why) = strength::weaker(name, value, got) {
                    weaker.push((
                        name.clone(),
                        value.clone(),
                        format!("{name}: {got} ({why})"),
                    ));
                }
            }
        }
    }
    let param = |(name, value): &(String, String)| {
        format!("\"{HEADER_PREFIX}{name}\": \"{}\"", quote_static(value))
    };
    if !missing.is_empty() {
        out.push(finding(
            check,
            "apigateway-security-headers-missing",
            Category::Header,
            Severity::Medium,
            format!("{rtype} gateway response lacks security headers"),
            format!(
                "{rtype}: no static {}",
                missing
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "Add ResponseParameters {} (`rampart-verify emit apigateway` writes them all)",
                missing
                    .iter()
                    .take(3)
                    .map(param)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if !weaker.is_empty() {
        out.push(finding(
            check,
            "apigateway-security-header-weaker",
            Category::Header,
            Severity::Medium,
            format!("{rtype} gateway response has weaker security headers than the rampart policy"),
            weaker
                .iter()
                .map(|(_, _, e)| e.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            format!(
                "Set {}",
                weaker
                    .iter()
                    .map(|(n, v, _)| param(&(n.clone(), v.clone())))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    out
}

/// The generic message for a type's status.
fn generic_message(t: ResponseType) -> &'static str {
    match t.default_status() {
        None if t == ResponseType::Default5xx => "Internal Server Error",
        None => "Request failed",
        Some(400) => "Bad Request",
        Some(401) => "Unauthorized",
        Some(403) => "Forbidden",
        Some(404) => "Not Found",
        Some(413) => "Payload Too Large",
        Some(415) => "Unsupported Media Type",
        Some(429) => "Too Many Requests",
        Some(504) => "Gateway Timeout",
        Some(_) => "Internal Server Error",
    }
}

/// The types `emit apigateway` customises: both defaults and every high-risk type, so that a
/// response someone customises by hand later cannot reopen a leak unnoticed.
pub fn emitted_types() -> Vec<ResponseType> {
    let mut v = vec![ResponseType::Default4xx, ResponseType::Default5xx];
    v.extend(ResponseType::HIGH_RISK);
    v
}

/// Generic gateway responses carrying the policy's headers: a body that names only the status
/// and the request id (for support), and the status of each specific type.
pub fn generic_responses(want: &PolicySpec) -> Vec<GatewayResponse> {
    let params: BTreeMap<String, String> = want
        .headers()
        .into_iter()
        .map(|(name, value, _)| (format!("{HEADER_PREFIX}{name}"), quote_static(&value)))
        .collect();
    emitted_types()
        .into_iter()
        .map(|t| GatewayResponse {
            response_type: t.as_str().to_owned(),
            status_code: t.default_status().map(|s| s.to_string()),
            response_parameters: params.clone(),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                format!(
                    "{{\"message\":\"{}\",\"request_id\":\"$context.requestId\"}}",
                    generic_message(t)
                ),
            )]),
            default_response: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::presets;

    fn strict() -> PolicySpec {
        presets::preset("strict").unwrap()
    }

    fn custom(t: &str, template: &str) -> GatewayResponse {
        GatewayResponse {
            response_type: t.to_owned(),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                template.to_owned(),
            )]),
            ..GatewayResponse::default()
        }
    }

    #[test]
    fn twenty_one_types_with_documented_statuses() {
        assert_eq!(ResponseType::ALL.len(), 21);
        let status = |s| ResponseType::parse(s).unwrap().default_status();
        assert_eq!(status("ACCESS_DENIED"), Some(403));
        assert_eq!(status("WAF_FILTERED"), Some(403));
        assert_eq!(status("AUTHORIZER_FAILURE"), Some(500));
        assert_eq!(status("INTEGRATION_TIMEOUT"), Some(504));
        assert_eq!(status("THROTTLED"), Some(429));
        assert_eq!(status("REQUEST_TOO_LARGE"), Some(413));
        assert_eq!(status("RESOURCE_NOT_FOUND"), Some(404));
        assert_eq!(status("UNAUTHORIZED"), Some(401));
        assert_eq!(status("UNSUPPORTED_MEDIA_TYPE"), Some(415));
        assert_eq!(status("BAD_REQUEST_BODY"), Some(400));
        assert_eq!(status("DEFAULT_4XX"), None);
        assert_eq!(
            ResponseType::IntegrationFailure.family(),
            Some(ResponseType::Default5xx)
        );
        assert_eq!(
            ResponseType::Throttled.family(),
            Some(ResponseType::Default4xx)
        );
        for t in ResponseType::ALL {
            assert_eq!(ResponseType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn finds_leaky_variables_in_every_notation() {
        assert_eq!(
            leaky_variables(BUILTIN_TEMPLATE),
            vec!["$context.error.messageString"]
        );
        assert_eq!(
            leaky_variables(
                "{\"a\":\"$!{context.authorizer.principalId}\",\"b\":\"${context.identity.sourceIp}\",\"c\":$context.accountId}"
            ),
            vec![
                "$context.authorizer.principalId",
                "$context.identity.sourceIp",
                "$context.accountId"
            ]
        );
        assert_eq!(
            leaky_variables("$util.escapeJavaScript($context.error.validationErrorString)"),
            vec!["$context.error.validationErrorString"]
        );
        assert!(
            leaky_variables(
                "{\"id\":\"$context.requestId\",\"t\":\"$context.error.responseType\"}"
            )
            .is_empty()
        );
        assert!(leaky_variables("$").is_empty());
    }

    #[test]
    fn resolution_prefers_type_then_default_then_builtin() {
        let rs = vec![
            custom("DEFAULT_4XX", "{\"message\":\"x\"}"),
            custom("ACCESS_DENIED", "{\"message\":\"denied\"}"),
            GatewayResponse {
                default_response: true,
                ..custom("THROTTLED", BUILTIN_TEMPLATE)
            },
        ];
        assert_eq!(
            resolve(&rs, ResponseType::AccessDenied).source,
            Source::Customised
        );
        assert_eq!(
            resolve(&rs, ResponseType::Throttled).source,
            Source::Default(ResponseType::Default4xx)
        );
        let b = resolve(&rs, ResponseType::AuthorizerFailure);
        assert_eq!(b.source, Source::BuiltIn);
        assert_eq!(b.response.status_code.as_deref(), Some("500"));
        let served = served_by(&rs, ResponseType::Default4xx);
        assert!(served.contains(&ResponseType::Throttled));
        assert!(!served.contains(&ResponseType::AccessDenied));
        assert!(!served.contains(&ResponseType::AuthorizerFailure));
    }

    #[test]
    fn api_without_defaults_is_high() {
        let a = audit_api(&[]);
        assert_eq!(a.findings.len(), 2);
        assert!(a.findings.iter().all(|f| f.severity == Severity::High));
        let a = audit_api(&[custom("DEFAULT_4XX", "{}"), custom("DEFAULT_5XX", "{}")]);
        assert!(a.findings.is_empty());
        // Every high-risk 5xx type customised: what is left on the built-in is medium.
        let a = audit_api(&[
            custom("DEFAULT_4XX", "{}"),
            custom("AUTHORIZER_FAILURE", "{}"),
            custom("AUTHORIZER_CONFIGURATION_ERROR", "{}"),
        ]);
        assert_eq!(a.worst(), Some(Severity::Medium));
    }

    #[test]
    fn leaky_templates_are_ranked_by_type() {
        let none = PolicySpec::empty();
        let a = audit_response(
            &custom("ACCESS_DENIED", BUILTIN_TEMPLATE),
            &[ResponseType::AccessDenied],
            &none,
        );
        assert_eq!(a.worst(), Some(Severity::High));
        let a = audit_response(
            &custom("THROTTLED", BUILTIN_TEMPLATE),
            &[ResponseType::Throttled],
            &none,
        );
        assert_eq!(a.worst(), Some(Severity::Medium));
        let a = audit_response(
            &custom("DEFAULT_4XX", BUILTIN_TEMPLATE),
            &[ResponseType::Throttled, ResponseType::Unauthorized],
            &none,
        );
        assert_eq!(a.worst(), Some(Severity::High));
    }

    #[test]
    fn generic_responses_pass_their_own_audit() {
        let spec = strict();
        let rs = generic_responses(&spec);
        assert_eq!(rs.len(), 9);
        assert!(audit_api(&rs).findings.is_empty());
        for r in &rs {
            let t = r.kind().unwrap();
            let a = audit_response(r, &served_by(&rs, t), &spec);
            assert!(a.findings.is_empty(), "{t:?}: {:?}", a.findings);
        }
        let denied = rs
            .iter()
            .find(|r| r.response_type == "ACCESS_DENIED")
            .unwrap();
        assert_eq!(denied.status_code.as_deref(), Some("403"));
        assert_eq!(
            denied.response_parameters["gatewayresponse.header.Strict-Transport-Security"],
            "'max-age=63072000; includeSubDomains'"
        );
    }

    #[test]
    fn missing_and_weaker_headers() {
        let spec = strict();
        let mut r = custom("DEFAULT_4XX", "{\"message\":\"x\"}");
        r.response_parameters.insert(
            "gatewayresponse.header.X-Frame-Options".to_owned(),
            "'SAMEORIGIN'".to_owned(),
        );
        r.response_parameters.insert(
            "gatewayresponse.header.Strict-Transport-Security".to_owned(),
            "method.request.header.x".to_owned(),
        );
        let a = audit_response(&r, &[], &spec);
        let missing = a
            .findings
            .iter()
            .find(|f| f.id == "apigateway-security-headers-missing")
            .unwrap();
        assert!(missing.evidence.contains("Strict-Transport-Security"));
        assert!(missing.evidence.contains("Content-Security-Policy"));
        assert_eq!(missing.severity, Severity::Medium);
        assert!(
            a.findings
                .iter()
                .any(|f| f.id == "apigateway-security-header-weaker")
        );
    }

    #[test]
    fn deserializes_api_cloudformation_and_terraform_names() {
        let api: GatewayResponse = serde_json::from_value(serde_json::json!({
            "responseType": "DEFAULT_4XX", "statusCode": "400", "defaultResponse": true,
            "responseParameters": {}, "responseTemplates": {"application/json": BUILTIN_TEMPLATE}
        }))
        .unwrap();
        assert!(api.default_response);
        let cfn: GatewayResponse = serde_json::from_value(serde_json::json!({
            "ResponseType": "ACCESS_DENIED", "StatusCode": 403,
            "ResponseParameters": {"gatewayresponse.header.X-Frame-Options": "'DENY'"}
        }))
        .unwrap();
        assert_eq!(cfn.status_code.as_deref(), Some("403"));
        assert_eq!(
            cfn.headers(),
            vec![("X-Frame-Options".to_owned(), Some("DENY".to_owned()))]
        );
        let tf: GatewayResponse = serde_json::from_value(serde_json::json!({
            "response_type": "UNAUTHORIZED", "status_code": null, "response_parameters": null, "response_templates": {"application/json": "{}"}
        }))
        .unwrap();
        assert_eq!(tf.kind(), Some(ResponseType::Unauthorized));
        assert!(tf.response_parameters.is_empty());
    }

    #[test]
    fn static_values_keep_inner_quotes() {
        assert_eq!(
            static_value("'default-src 'self''").as_deref(),
            Some("default-src 'self'")
        );
        assert_eq!(static_value("method.request.header.x"), None);
    }
}
