//! Terraform: plans and state as `terraform show -json` prints them, and configuration in
//! Terraform's JSON syntax (`*.tf.json`, what `emit --format terraform` writes).
//!
//! Resources are named by address (`aws_cloudfront_distribution.site`,
//! `module.cdn.aws_cloudfront_response_headers_policy.this`). A plan's values that are known
//! only after apply are followed through the configuration's references; what still cannot be
//! known is reported as unverifiable.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::cloudformation::openapi_gateway_responses;
use super::{
    BehaviorSpec, DistributionSpec, GatewayResponseSpec, Inventory, PolicyRef, Resource,
    ResourceKind, RestApiSpec,
};
use crate::aws::apigateway::GatewayResponse;
use crate::aws::cloudfront::{self, ResponseHeadersPolicyConfig, ViewerCertificate};

const HEADERS_POLICY: &str = "aws_cloudfront_response_headers_policy";
const DISTRIBUTION: &str = "aws_cloudfront_distribution";
const REST_API: &str = "aws_api_gateway_rest_api";
const GATEWAY_RESPONSE: &str = "aws_api_gateway_gateway_response";

/// One resource, whichever document it came from.
#[derive(Debug, Clone)]
struct TfResource {
    address: String,
    data: bool,
    rtype: String,
    /// `module.x.` for resources of a child module, empty at the root.
    module: String,
    values: Value,
    /// Plans only: `after_unknown` for this address.
    unknown: Value,
    /// Plans only: the configuration's expressions for this resource.
    expressions: Value,
}

/// How references to things outside the resources are answered.
#[derive(Debug, Default)]
struct Scope {
    resources: Vec<TfResource>,
    /// Variable values (a plan's `variables`, a configuration's defaults).
    variables: BTreeMap<String, Value>,
    /// Configuration documents write references as `${...}` strings.
    interpolated: bool,
}

/// A plan (`planned_values`) or state (`values`) document.
pub fn plan_inventory(doc: &Value) -> Inventory {
    let mut scope = Scope::default();
    let root = doc
        .pointer("/planned_values/root_module")
        .or_else(|| doc.pointer("/values/root_module"))
        .unwrap_or(&Value::Null);
    walk_values(root, &mut scope.resources);
    let mut unknown = BTreeMap::new();
    for rc in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(a), Some(u)) = (
            rc.get("address").and_then(Value::as_str),
            rc.pointer("/change/after_unknown"),
        ) {
            unknown.insert(a.to_owned(), u.clone());
        }
    }
    let mut expressions = BTreeMap::new();
    if let Some(m) = doc.pointer("/configuration/root_module") {
        walk_configuration(m, "", &mut expressions);
    }
    for r in &mut scope.resources {
        if let Some(u) = unknown.get(&r.address) {
            r.unknown = u.clone();
        }
        if let Some(e) = expressions.get(&strip_indexes(&r.address)) {
            r.expressions = e.clone();
        }
    }
    if let Some(vars) = doc.get("variables").and_then(Value::as_object) {
        for (k, v) in vars {
            if let Some(value) = v.get("value") {
                scope.variables.insert(k.clone(), value.clone());
            }
        }
    }
    scope.inventory()
}

/// A Terraform JSON configuration (`*.tf.json`).
pub fn config_inventory(doc: &Value) -> Inventory {
    let mut scope = Scope {
        interpolated: true,
        ..Scope::default()
    };
    for (section, data) in [("resource", false), ("data", true)] {
        for block in each(doc.get(section)) {
            let Some(types) = block.as_object() else {
                continue;
            };
            for (rtype, named) in types {
                for named in each(Some(named)) {
                    let Some(named) = named.as_object() else {
                        continue;
                    };
                    for (name, body) in named {
                        let body = each(Some(body))
                            .into_iter()
                            .next()
                            .map(unescape)
                            .unwrap_or_default();
                        let address = if data {
                            format!("data.{rtype}.{name}")
                        } else {
                            format!("{rtype}.{name}")
                        };
                        scope.resources.push(TfResource {
                            address,
                            data,
                            rtype: rtype.clone(),
                            module: String::new(),
                            values: body,
                            unknown: Value::Null,
                            expressions: Value::Null,
                        });
                    }
                }
            }
        }
    }
    for block in each(doc.get("variable")) {
        let Some(vars) = block.as_object() else {
            continue;
        };
        for (name, v) in vars {
            if let Some(d) = v.get("default") {
                scope.variables.insert(name.clone(), d.clone());
            }
        }
    }
    scope.inventory()
}

/// Literal `$${` and `%%{` in configuration strings stand for `${` and `%{`.
fn unescape(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("$${", "${").replace("%%{", "%{")),
        Value::Array(a) => Value::Array(a.iter().map(unescape).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), unescape(x))).collect())
        }
        other => other.clone(),
    }
}

/// Terraform JSON allows a block (or a section) as one object or a list of them.
fn each(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// The single block `key` of `v` (a one-element list in plans, an object in configuration).
fn block<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    each(v.get(key))
        .into_iter()
        .next()
        .filter(|b| b.is_object())
}

fn walk_values(module: &Value, out: &mut Vec<TfResource>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let address = r.get("address").and_then(Value::as_str).unwrap_or_default();
        let rtype = r.get("type").and_then(Value::as_str).unwrap_or_default();
        let data = r.get("mode").and_then(Value::as_str) == Some("data");
        let own = format!("{}{rtype}.", if data { "data." } else { "" });
        let module_prefix = address
            .rfind(&own)
            .map(|i| address[..i].to_owned())
            .unwrap_or_default();
        out.push(TfResource {
            address: address.to_owned(),
            data,
            rtype: rtype.to_owned(),
            module: module_prefix,
            values: r.get("values").cloned().unwrap_or(Value::Null),
            unknown: Value::Null,
            expressions: Value::Null,
        });
    }
    for child in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk_values(child, out);
    }
}

fn walk_configuration(module: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(a), Some(e)) = (
            r.get("address").and_then(Value::as_str),
            r.get("expressions"),
        ) {
            out.insert(format!("{prefix}{a}"), e.clone());
        }
    }
    if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(m) = call.get("module") {
                walk_configuration(m, &format!("{prefix}module.{name}."), out);
            }
        }
    }
}

/// `module.a[0].aws_x.y["k"]` -> `module.a.aws_x.y`: configuration addresses have no instance
/// keys.
fn strip_indexes(address: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in address.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every path whose value is known only after apply.
fn unknown_paths(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Bool(true) => out.push(if path.is_empty() {
            "(all)".to_owned()
        } else {
            path.to_owned()
        }),
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                unknown_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                unknown_paths(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Terraform's snake_case blocks into the CloudFront API's PascalCase shape; one-element block
/// lists become objects, `items` stays a list.
fn to_aws(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let converted = match x {
                    Value::Null => continue,
                    Value::Array(a) if a.iter().all(Value::is_object) && k != "items" => {
                        match a.first() {
                            Some(first) => to_aws(first),
                            None => continue,
                        }
                    }
                    other => to_aws(other),
                };
                out.insert(pascal(k), converted);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_aws).collect()),
        other => other.clone(),
    }
}

fn pascal(k: &str) -> String {
    if k == "xss_protection" {
        return "XSSProtection".to_owned();
    }
    k.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Attributes whose being unknown does not matter to the audit.
const IRRELEVANT_UNKNOWN: [&str; 4] = ["id", "etag", "arn", "tags_all"];

impl Scope {
    fn inventory(&self) -> Inventory {
        let mut inv = Inventory::default();
        for r in self.resources.iter().filter(|r| !r.data) {
            let kind = match r.rtype.as_str() {
                HEADERS_POLICY => ResourceKind::HeadersPolicy(self.headers_policy(r)),
                DISTRIBUTION => ResourceKind::Distribution(self.distribution(r)),
                REST_API => ResourceKind::RestApi(rest_api(r)),
                GATEWAY_RESPONSE => ResourceKind::GatewayResponse(self.gateway_response(r)),
                _ => continue,
            };
            inv.resources.push(Resource {
                id: r.address.clone(),
                kind,
            });
        }
        inv
    }

    fn unknown_reason(&self, r: &TfResource, also_ignore: &[&str]) -> Option<String> {
        let mut paths = Vec::new();
        unknown_paths(&r.unknown, "", &mut paths);
        paths.retain(|p| {
            !IRRELEVANT_UNKNOWN.contains(&p.as_str()) && !also_ignore.contains(&p.as_str())
        });
        (!paths.is_empty()).then(|| format!("known only after apply: {}", paths.join(", ")))
    }

    fn headers_policy(&self, r: &TfResource) -> Result<ResponseHeadersPolicyConfig, String> {
        if let Some(why) = self.unknown_reason(r, &[]) {
            return Err(why);
        }
        serde_json::from_value(to_aws(&r.values)).map_err(|e| format!("{}: {e}", r.address))
    }

    fn distribution(&self, r: &TfResource) -> DistributionSpec {
        let mut behaviors = Vec::new();
        if let Some(b) = block(&r.values, "default_cache_behavior") {
            behaviors.push(self.behavior(r, "default".to_owned(), b, "default_cache_behavior", 0));
        }
        for (i, b) in each(r.values.get("ordered_cache_behavior"))
            .into_iter()
            .enumerate()
        {
            let label = b
                .get("path_pattern")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            behaviors.push(self.behavior(r, label, b, "ordered_cache_behavior", i));
        }
        let certificate = match block(&r.values, "viewer_certificate") {
            None => Ok(None),
            Some(c) => serde_json::from_value::<ViewerCertificate>(c.clone())
                .map(Some)
                .map_err(|e| format!("viewer_certificate: {e}")),
        };
        DistributionSpec {
            behaviors,
            certificate,
        }
    }

    fn behavior(
        &self,
        r: &TfResource,
        label: String,
        b: &Value,
        key: &str,
        i: usize,
    ) -> BehaviorSpec {
        let attr = "response_headers_policy_id";
        let known = b
            .get(attr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let expr = each(r.expressions.get(key))
            .get(i)
            .and_then(|e| e.get(attr))
            .cloned();
        let unknown = each(r.unknown.get(key))
            .get(i)
            .and_then(|u| u.get(attr))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let policy = match (known, expr) {
            (Some(s), _) => self.policy_literal(s, &r.module),
            (None, Some(e)) => self.policy_expression(&e, &r.module),
            (None, None) if unknown => PolicyRef::Unresolvable(format!(
                "{key}.{attr} is known only after apply and the plan has no configuration for it"
            )),
            (None, None) => PolicyRef::None,
        };
        BehaviorSpec {
            label,
            viewer_protocol_policy: b
                .get("viewer_protocol_policy")
                .and_then(Value::as_str)
                .map(str::to_owned),
            policy,
        }
    }

    /// A literal id: a resource or data source with that id in the document, else the id.
    fn policy_literal(&self, s: &str, module: &str) -> PolicyRef {
        if self.interpolated
            && let Some(expr) = s.strip_prefix("${").and_then(|x| x.strip_suffix('}'))
        {
            return self.policy_traversal(expr.trim(), module);
        }
        if self.interpolated && s.contains("${") {
            return PolicyRef::Unresolvable(format!("response_headers_policy_id is {s:?}"));
        }
        for r in &self.resources {
            if r.values.get("id").and_then(Value::as_str) == Some(s) {
                return if r.data {
                    self.data_policy(r)
                } else {
                    PolicyRef::Resource(r.address.clone())
                };
            }
        }
        PolicyRef::Literal(s.to_owned())
    }

    /// A plan's configuration expression: a constant or the first reference.
    fn policy_expression(&self, e: &Value, module: &str) -> PolicyRef {
        if let Some(c) = e.get("constant_value").and_then(Value::as_str) {
            return self.policy_literal(c, module);
        }
        match e
            .get("references")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
        {
            Some(reference) => self.policy_traversal(reference, module),
            None => PolicyRef::Unresolvable(
                "response_headers_policy_id is computed by an expression the plan does not show"
                    .to_owned(),
            ),
        }
    }

    /// `aws_x.y.id`, `data.aws_x.y.id`, `var.v`, `module.m.out`, `local.l`.
    fn policy_traversal(&self, reference: &str, module: &str) -> PolicyRef {
        let parts: Vec<&str> = reference.split('.').collect();
        match parts.as_slice() {
            ["var", name, ..] => match self.variables.get(*name) {
                Some(Value::String(s)) => self.policy_literal(s, module),
                _ => PolicyRef::Unresolvable(format!(
                    "response_headers_policy_id is the variable {name}, whose value is not in this file"
                )),
            },
            ["data", t, n, ..] => {
                let address = format!("{module}data.{t}.{}", base_name(n));
                match self.find(&address) {
                    Some(r) => self.data_policy(r),
                    None => PolicyRef::Unresolvable(format!("{address} is not in this file")),
                }
            }
            [t, n, ..] if t.starts_with("aws_") => {
                let address = format!("{module}{t}.{}", base_name(n));
                match self.find(&address) {
                    Some(r) => PolicyRef::Resource(r.address.clone()),
                    None => PolicyRef::Unresolvable(format!("{address} is not in this file")),
                }
            }
            _ => PolicyRef::Unresolvable(format!(
                "response_headers_policy_id comes from {reference}, which cannot be followed here"
            )),
        }
    }

    /// `data "aws_cloudfront_response_headers_policy"` looks a policy up by name or id; a
    /// managed one is known.
    fn data_policy(&self, r: &TfResource) -> PolicyRef {
        let name = r.values.get("name").and_then(Value::as_str);
        let id = r.values.get("id").and_then(Value::as_str);
        match name.or(id) {
            Some(key) if cloudfront::managed_policy(key).is_some() => {
                PolicyRef::Literal(key.to_owned())
            }
            Some(key) => PolicyRef::Unresolvable(format!(
                "{} looks up the policy {key}, which is not defined in this file",
                r.address
            )),
            None => PolicyRef::Unresolvable(format!("{} is not known before apply", r.address)),
        }
    }

    /// The resource at `address`, or the first instance of it (`[0]`, `["k"]`).
    fn find(&self, address: &str) -> Option<&TfResource> {
        self.resources
            .iter()
            .find(|r| r.address == address || strip_indexes(&r.address) == address)
    }

    fn gateway_response(&self, r: &TfResource) -> GatewayResponseSpec {
        let api_key = self.api_key(r);
        // The API id is resolved through the configuration instead.
        let response = match self.unknown_reason(r, &["rest_api_id"]) {
            Some(why) => Err(why),
            None => {
                let mut v = r.values.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("rest_api_id");
                }
                serde_json::from_value::<GatewayResponse>(v)
                    .map_err(|e| format!("{}: {e}", r.address))
            }
        };
        GatewayResponseSpec { api_key, response }
    }

    fn api_key(&self, r: &TfResource) -> String {
        let value = r
            .values
            .get("rest_api_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        if let Some(v) = value {
            if self.interpolated
                && let Some(expr) = v.strip_prefix("${").and_then(|x| x.strip_suffix('}'))
            {
                return self.api_traversal(expr.trim(), &r.module);
            }
            if let Some(api) = self.resources.iter().find(|x| {
                x.rtype == REST_API && x.values.get("id").and_then(Value::as_str) == Some(v)
            }) {
                return api.address.clone();
            }
            return format!("id:{v}");
        }
        match r
            .expressions
            .pointer("/rest_api_id/references/0")
            .and_then(Value::as_str)
        {
            Some(reference) => self.api_traversal(reference, &r.module),
            None => "(unknown rest_api_id)".to_owned(),
        }
    }

    fn api_traversal(&self, reference: &str, module: &str) -> String {
        let parts: Vec<&str> = reference.split('.').collect();
        match parts.as_slice() {
            [t, n, ..] if t.starts_with("aws_") => {
                let address = format!("{module}{t}.{}", base_name(n));
                self.find(&address).map_or(address, |r| r.address.clone())
            }
            _ => format!("{module}{reference}"),
        }
    }
}

/// A reference's name without an instance key (`site[0]` -> `site`).
fn base_name(n: &str) -> &str {
    n.split('[').next().unwrap_or(n)
}

fn rest_api(r: &TfResource) -> RestApiSpec {
    let inline = r
        .values
        .get("body")
        .and_then(Value::as_str)
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .map(|b| openapi_gateway_responses(&b))
        .unwrap_or_default();
    RestApiSpec {
        key: r.address.clone(),
        inline,
        external_definition: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plan_blocks_convert_to_the_api_shape() {
        let v = json!({
            "name": "p", "comment": null, "etag": "E1",
            "cors_config": [],
            "security_headers_config": [{
                "xss_protection": [{"override": true, "protection": false, "mode_block": false, "report_uri": ""}],
                "strict_transport_security": [{"override": true, "access_control_max_age_sec": 63072000, "include_subdomains": true, "preload": false}],
                "content_security_policy": []
            }],
            "custom_headers_config": [{"items": [{"header": "Server", "value": "rampart", "override": true}]}]
        });
        let c: ResponseHeadersPolicyConfig = serde_json::from_value(to_aws(&v)).unwrap();
        let s = c.security_headers_config.unwrap();
        assert!(!s.xss_protection.unwrap().protection);
        assert_eq!(
            s.strict_transport_security
                .unwrap()
                .access_control_max_age_sec,
            Some(63_072_000)
        );
        assert!(s.content_security_policy.is_none());
        assert_eq!(c.custom_headers_config.unwrap().items[0].header, "Server");
    }

    #[test]
    fn unknown_policy_id_follows_the_configuration_reference() {
        let plan = json!({
            "format_version": "1.2",
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_cloudfront_response_headers_policy.site", "mode": "managed", "type": HEADERS_POLICY, "name": "site", "values": {"name": "site"}},
                {"address": "aws_cloudfront_distribution.site", "mode": "managed", "type": DISTRIBUTION, "name": "site", "values": {
                    "default_cache_behavior": [{"viewer_protocol_policy": "redirect-to-https"}],
                    "ordered_cache_behavior": [{"path_pattern": "/api/*", "viewer_protocol_policy": "allow-all", "response_headers_policy_id": "67f7725c-6f97-4210-82d7-5512b31e9d03"}],
                    "viewer_certificate": [{"cloudfront_default_certificate": true, "minimum_protocol_version": "TLSv1", "acm_certificate_arn": ""}]
                }}
            ]}},
            "resource_changes": [
                {"address": "aws_cloudfront_distribution.site", "change": {"after_unknown": {"default_cache_behavior": [{"response_headers_policy_id": true}]}}}
            ],
            "configuration": {"root_module": {"resources": [
                {"address": "aws_cloudfront_distribution.site", "expressions": {"default_cache_behavior": [{"response_headers_policy_id": {"references": ["aws_cloudfront_response_headers_policy.site.id", "aws_cloudfront_response_headers_policy.site"]}}]}}
            ]}}
        });
        let inv = plan_inventory(&plan);
        assert_eq!(inv.resources.len(), 2);
        let ResourceKind::Distribution(d) = &inv.resources[1].kind else {
            panic!()
        };
        assert_eq!(
            d.behaviors[0].policy,
            PolicyRef::Resource("aws_cloudfront_response_headers_policy.site".into())
        );
        assert_eq!(
            d.behaviors[1].policy,
            PolicyRef::Literal("67f7725c-6f97-4210-82d7-5512b31e9d03".into())
        );
        assert_eq!(d.behaviors[1].label, "/api/*");
        let cert = d.certificate.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(cert.cloudfront_default_certificate, Some(true));
    }

    #[test]
    fn configuration_interpolations_and_variables() {
        let doc = json!({
            "variable": {"rest_api_id": {"type": "string"}, "policy": {"default": "Managed-SecurityHeadersPolicy"}},
            "data": {HEADERS_POLICY: {"managed": {"name": "Managed-SecurityHeadersPolicy"}}},
            "resource": {
                DISTRIBUTION: {"d": {
                    "default_cache_behavior": {"response_headers_policy_id": "${data.aws_cloudfront_response_headers_policy.managed.id}"},
                    "ordered_cache_behavior": [
                        {"path_pattern": "/a", "response_headers_policy_id": "${var.policy}"},
                        {"path_pattern": "/b", "response_headers_policy_id": "${var.rest_api_id}"}
                    ]
                }},
                GATEWAY_RESPONSE: {"g": {"rest_api_id": "${var.rest_api_id}", "response_type": "DEFAULT_4XX"}}
            }
        });
        let inv = config_inventory(&doc);
        let ResourceKind::Distribution(d) = &inv.resources[1].kind else {
            panic!()
        };
        assert_eq!(
            d.behaviors[0].policy,
            PolicyRef::Literal("Managed-SecurityHeadersPolicy".into())
        );
        assert_eq!(
            d.behaviors[1].policy,
            PolicyRef::Literal("Managed-SecurityHeadersPolicy".into())
        );
        assert!(matches!(d.behaviors[2].policy, PolicyRef::Unresolvable(_)));
        let ResourceKind::GatewayResponse(g) = &inv.resources[0].kind else {
            panic!()
        };
        assert_eq!(g.api_key, "var.rest_api_id");
        assert!(g.response.is_ok());
    }

    #[test]
    fn addresses_lose_instance_keys_for_configuration_lookups() {
        assert_eq!(
            strip_indexes("module.a[0].aws_x.y[\"k\"]"),
            "module.a.aws_x.y"
        );
    }
}
