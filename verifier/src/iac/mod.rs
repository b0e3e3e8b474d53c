//! `rampart-verify audit iac`: CloudFormation templates (JSON, YAML with short-form intrinsics,
//! CDK synth output), Terraform plans and state (`terraform show -json`), Terraform JSON
//! configuration (`*.tf.json`) and the AWS CLI's JSON for the same resources, read into one
//! neutral [`Inventory`] and judged by the rules in [`crate::aws`].
//!
//! Every audited resource is a target named `FILE#ID` (a logical id or a resource address).

pub mod api;
pub mod cloudformation;
pub mod terraform;
pub mod yaml;

use std::path::Path;

use rampart_config::PolicySpec;
use serde_json::Value;

use crate::aws::apigateway::{self, GatewayResponse};
use crate::aws::cloudfront::{
    self, AttachedPolicy, ResponseHeadersPolicyConfig, ViewerCertificate,
};
use crate::aws::{Assessment, finding};
use crate::model::{Category, Report, Severity, TargetReport};

/// Why a file could not be audited. The message names the file, and the line and column when
/// the parser gives them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IacError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}:{line}:{column}: invalid {format}: {message}")]
    Parse {
        file: String,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: not a CloudFormation template, a Terraform plan/state (`terraform show -json`), Terraform JSON configuration (*.tf.json) or AWS CLI JSON for CloudFront/API Gateway"
    )]
    Unrecognised { file: String },
}

/// A reference from a cache behavior to its response-headers policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRef {
    /// No policy attached.
    None,
    /// A resource in the same file (logical id or address).
    Resource(String),
    /// A literal policy id or name (e.g. a managed policy's).
    Literal(String),
    /// Something that cannot be evaluated from the file alone.
    Unresolvable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BehaviorSpec {
    /// `default` or the path pattern.
    pub label: String,
    pub viewer_protocol_policy: Option<String>,
    pub policy: PolicyRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionSpec {
    pub behaviors: Vec<BehaviorSpec>,
    /// `Ok(None)`: no viewer certificate given (the CloudFront default certificate).
    pub certificate: Result<Option<ViewerCertificate>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApiSpec {
    /// What gateway responses use to name this API (see [`GatewayResponseSpec::api_key`]).
    pub key: String,
    /// Gateway responses declared in the API's inline OpenAPI body
    /// (`x-amazon-apigateway-gateway-responses`).
    pub inline: Vec<GatewayResponse>,
    /// Set when the definition lives elsewhere (an S3 body), so its responses are unknown.
    pub external_definition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponseSpec {
    /// The API it belongs to: a REST API's key when resolvable, else the reference as written
    /// (responses naming the same parameter or variable are grouped together).
    pub api_key: String,
    pub response: Result<GatewayResponse, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    /// `Err`: why the configuration cannot be evaluated statically.
    HeadersPolicy(Result<ResponseHeadersPolicyConfig, String>),
    Distribution(DistributionSpec),
    RestApi(RestApiSpec),
    GatewayResponse(GatewayResponseSpec),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Logical id or resource address.
    pub id: String,
    pub kind: ResourceKind,
}

/// The resources of one file that the audit understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub resources: Vec<Resource>,
}

impl Inventory {
    fn policy(&self, id: &str) -> Option<&Result<ResponseHeadersPolicyConfig, String>> {
        self.resources.iter().find_map(|r| match &r.kind {
            ResourceKind::HeadersPolicy(p) if r.id == id => Some(p),
            _ => None,
        })
    }
}

/// Parses a file as JSON (when it starts with `{` or `[`) or YAML.
pub fn load(path: &Path) -> Result<Value, IacError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| IacError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    parse(&text, &file)
}

/// Parses text named `file` in messages.
pub fn parse(text: &str, file: &str) -> Result<Value, IacError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
            let full = e.to_string();
            // serde_json appends " at line L column C"; the location is already in front.
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m)
                .to_owned();
            IacError::Parse {
                file: file.to_owned(),
                format: "JSON",
                line: e.line(),
                column: e.column(),
                message,
            }
        })
    } else {
        yaml::parse(text).map_err(|e| IacError::Parse {
            file: file.to_owned(),
            format: "YAML",
            line: e.line,
            column: e.column,
            message: e.message,
        })
    }
}

/// Recognises the kind of document and reads its resources.
pub fn inventory(doc: &Value, file: &str) -> Result<Inventory, IacError> {
    let has = |k: &str| doc.get(k).is_some();
    if doc.get("Resources").is_some_and(Value::is_object) {
        Ok(cloudformation::inventory(doc))
    } else if has("planned_values") || (has("values") && has("format_version")) {
        Ok(terraform::plan_inventory(doc))
    } else if [
        "resource",
        "data",
        "variable",
        "output",
        "provider",
        "terraform",
        "module",
    ]
    .iter()
    .any(|k| has(k))
    {
        Ok(terraform::config_inventory(doc))
    } else {
        api::inventory(doc).ok_or_else(|| IacError::Unrecognised {
            file: file.to_owned(),
        })
    }
}

/// Audits each file; an unreadable or unrecognised file becomes a target with an error (the
/// command then exits 2), the others are still audited.
pub fn audit_files<P: AsRef<Path>>(paths: &[P], want: &PolicySpec) -> Report {
    let mut targets = Vec::new();
    for p in paths {
        let path = p.as_ref();
        let file = path.display().to_string();
        let result = load(path).and_then(|doc| inventory(&doc, &file));
        match result {
            Ok(inv) => targets.extend(evaluate(&file, &inv, want)),
            Err(e) => {
                let mut t = TargetReport::new(file.clone(), file);
                t.error = Some(e.to_string());
                targets.push(t);
            }
        }
    }
    Report::new(targets)
}

/// Judges every resource of `inv`; targets come in resource order.
pub fn evaluate(file: &str, inv: &Inventory, want: &PolicySpec) -> Vec<TargetReport> {
    let mut out = Vec::new();
    for r in &inv.resources {
        match &r.kind {
            ResourceKind::HeadersPolicy(p) => {
                let mut t = TargetReport::new(format!("{file}#{}", r.id), file);
                headers_policy_assessment(p, want).apply(&mut t);
                out.push(t);
            }
            ResourceKind::Distribution(d) => {
                let mut t = TargetReport::new(format!("{file}#{}", r.id), file);
                distribution_assessment(d, inv, want).apply(&mut t);
                out.push(t);
            }
            ResourceKind::RestApi(api) => {
                let mut t = TargetReport::new(format!("{file}#{}", r.id), file);
                let mut responses: Vec<GatewayResponse> = api.inline.clone();
                responses.extend(group(inv, &api.key).into_iter().cloned());
                let mut a = apigateway::audit_api(&responses);
                if let Some(where_) = &api.external_definition
                    && !a.findings.is_empty()
                {
                    // The missing responses may well be in the definition we cannot see.
                    a.findings = vec![finding(
                        &a.findings[0].check,
                        "apigateway-responses-unverifiable",
                        Category::Leak,
                        Severity::Info,
                        "The API's gateway responses cannot be checked here".to_owned(),
                        format!(
                            "the API definition is in {where_}; DEFAULT_4XX/DEFAULT_5XX may be defined there"
                        ),
                        "Declare DEFAULT_4XX and DEFAULT_5XX gateway responses in this template (`rampart-verify emit apigateway`)".to_owned(),
                    )];
                }
                a.apply(&mut t);
                out.push(t);
                for resp in &api.inline {
                    let mut t = TargetReport::new(
                        format!("{file}#{}/gateway-responses/{}", r.id, resp.response_type),
                        file,
                    );
                    response_assessment(resp, &responses, want).apply(&mut t);
                    out.push(t);
                }
            }
            ResourceKind::GatewayResponse(g) => {
                let mut t = TargetReport::new(format!("{file}#{}", r.id), file);
                match &g.response {
                    Ok(resp) => {
                        let mut siblings: Vec<GatewayResponse> =
                            group(inv, &g.api_key).into_iter().cloned().collect();
                        if let Some(api) = rest_api(inv, &g.api_key) {
                            siblings.extend(api.inline.iter().cloned());
                        }
                        response_assessment(resp, &siblings, want).apply(&mut t);
                    }
                    Err(reason) => {
                        let mut a = Assessment::new();
                        let check = "apigateway/response-templates";
                        a.check(check, "the templates expose no caller, authorizer, account or raw error details");
                        a.push(unverifiable_response(check, reason));
                        a.apply(&mut t);
                    }
                }
                out.push(t);
            }
        }
    }
    out
}

fn unverifiable_response(check: &str, reason: &str) -> crate::model::Finding {
    finding(
        check,
        "apigateway-response-unverifiable",
        Category::Leak,
        Severity::Info,
        "The gateway response cannot be evaluated from the file alone".to_owned(),
        reason.to_owned(),
        "Use literal values (or audit the deployed API)".to_owned(),
    )
}

/// The gateway responses (not inline ones) that name the API `key`.
fn group<'a>(inv: &'a Inventory, key: &str) -> Vec<&'a GatewayResponse> {
    inv.resources
        .iter()
        .filter_map(|r| match &r.kind {
            ResourceKind::GatewayResponse(g) if g.api_key == key => g.response.as_ref().ok(),
            _ => None,
        })
        .collect()
}

fn rest_api<'a>(inv: &'a Inventory, key: &str) -> Option<&'a RestApiSpec> {
    inv.resources.iter().find_map(|r| match &r.kind {
        ResourceKind::RestApi(a) if a.key == key => Some(a),
        _ => None,
    })
}

fn response_assessment(
    resp: &GatewayResponse,
    siblings: &[GatewayResponse],
    want: &PolicySpec,
) -> Assessment {
    let serves = match resp.kind() {
        Some(k) => apigateway::served_by(siblings, k),
        None => Vec::new(),
    };
    apigateway::audit_response(resp, &serves, want)
}

fn headers_policy_assessment(
    p: &Result<ResponseHeadersPolicyConfig, String>,
    want: &PolicySpec,
) -> Assessment {
    match p {
        Ok(cfg) => cloudfront::compare(cfg, want, cloudfront::Scope::POLICY),
        Err(reason) => {
            let mut a = Assessment::new();
            let check = "cloudfront/response-headers-policy";
            a.check(
                check,
                "the response headers policy can be compared with the rampart policy",
            );
            a.push(finding(
                check,
                "cloudfront-headers-policy-unverifiable",
                Category::Policy,
                Severity::Info,
                "The response headers policy cannot be evaluated from the file alone".to_owned(),
                reason.clone(),
                "Use literal values in the policy (or audit the deployed policy)".to_owned(),
            ));
            a
        }
    }
}

fn distribution_assessment(d: &DistributionSpec, inv: &Inventory, want: &PolicySpec) -> Assessment {
    let mut out = Assessment::new();
    for b in &d.behaviors {
        let managed = match &b.policy {
            PolicyRef::Literal(id) => cloudfront::managed_policy(id).map(|m| (m, m.config())),
            _ => None,
        };
        let attached = match (&b.policy, &managed) {
            (PolicyRef::None, _) => AttachedPolicy::None,
            (PolicyRef::Literal(_), Some((m, cfg))) => AttachedPolicy::Evaluate {
                label: m.name.to_owned(),
                config: cfg,
            },
            (PolicyRef::Literal(id), None) => AttachedPolicy::Unverifiable {
                reason: format!(
                    "ResponseHeadersPolicyId {id} is neither defined in this file nor an AWS managed policy"
                ),
            },
            // Judged (or reported as unverifiable) as a target of its own.
            (PolicyRef::Resource(id), _) => match inv.policy(id) {
                Some(_) => AttachedPolicy::Elsewhere { label: id.clone() },
                None => AttachedPolicy::Unverifiable {
                    reason: format!("{id} is not a response headers policy defined in this file"),
                },
            },
            (PolicyRef::Unresolvable(reason), _) => AttachedPolicy::Unverifiable {
                reason: reason.clone(),
            },
        };
        out.extend(cloudfront::audit_behavior(
            &b.label,
            b.viewer_protocol_policy.as_deref(),
            &attached,
            want,
        ));
    }
    match &d.certificate {
        Ok(c) => out.extend(cloudfront::audit_viewer_certificate(c.as_ref())),
        Err(reason) => {
            let check = "cloudfront/viewer-certificate";
            out.check(check, "viewers must use TLSv1.2_2021 or newer");
            out.push(finding(
                check,
                "cloudfront-viewer-certificate-unverifiable",
                Category::Transport,
                Severity::Info,
                "The viewer certificate settings cannot be evaluated from the file alone"
                    .to_owned(),
                reason.clone(),
                "Use a literal MinimumProtocolVersion (TLSv1.2_2021 or newer)".to_owned(),
            ));
        }
    }
    out
}

/// The first CloudFormation intrinsic (or Terraform interpolation) left in `v`, as a path and
/// the function's name: a value that cannot be known before deployment.
pub(crate) fn find_unresolved(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Object(m) => {
            if m.len() == 1
                && let Some(k) = m.keys().next()
                && (k == "Ref" || k.starts_with("Fn::"))
            {
                return Some(format!("{} is {k}", display_path(path)));
            }
            m.iter().find_map(|(k, x)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                find_unresolved(x, &p)
            })
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_unresolved(x, &format!("{path}[{i}]"))),
        _ => None,
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "the value" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_file_line_and_column() {
        let e = parse("{\n  \"a\": 1,\n  oops\n}", "t.json").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("t.json:3:"), "{s}");
        assert!(!s.contains(" at line "), "{s}");
    }

    #[test]
    fn yaml_errors_name_file_and_line() {
        let e = parse("Resources:\n  A: [x\n", "t.yaml").unwrap_err();
        assert!(e.to_string().starts_with("t.yaml:"), "{e}");
        assert!(e.to_string().contains("invalid YAML"), "{e}");
    }

    #[test]
    fn unknown_documents_are_rejected() {
        let doc = serde_json::json!({"hello": "world"});
        assert!(matches!(
            inventory(&doc, "x.json"),
            Err(IacError::Unrecognised { .. })
        ));
    }

    #[test]
    fn unresolved_values_are_located() {
        let v = serde_json::json!({"A": {"B": [1, {"Fn::If": ["c", 1, 2]}]}});
        assert_eq!(find_unresolved(&v, "").as_deref(), Some("A.B[1] is Fn::If"));
        assert_eq!(find_unresolved(&serde_json::json!({"A": "x"}), ""), None);
    }
}
