//! CloudFormation templates (hand-written JSON/YAML and CDK synth output).
//!
//! Intrinsics are resolved as far as the template alone allows: parameters with a `Default`,
//! `Fn::Sub` with literal text, `Fn::Join` of literals, `Fn::FindInMap` with literal keys,
//! `Fn::If` whose branches agree, and `AWS::NoValue`. References between resources (`Ref`,
//! `Fn::GetAtt X.Id`) are followed. Anything else makes the value unverifiable, which is
//! reported at info level rather than guessed.

use serde_json::{Map, Value};

use super::{
    BehaviorSpec, DistributionSpec, GatewayResponseSpec, Inventory, PolicyRef, Resource,
    ResourceKind, RestApiSpec, find_unresolved,
};
use crate::aws::apigateway::GatewayResponse;
use crate::aws::cloudfront::{ResponseHeadersPolicyConfig, ViewerCertificate};

const HEADERS_POLICY: &str = "AWS::CloudFront::ResponseHeadersPolicy";
const DISTRIBUTION: &str = "AWS::CloudFront::Distribution";
const REST_API: &str = "AWS::ApiGateway::RestApi";
const GATEWAY_RESPONSE: &str = "AWS::ApiGateway::GatewayResponse";

/// The OpenAPI extension that declares gateway responses inside an API's body.
pub const OPENAPI_GATEWAY_RESPONSES: &str = "x-amazon-apigateway-gateway-responses";

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

struct Template<'a> {
    parameters: &'a Map<String, Value>,
    resources: &'a Map<String, Value>,
    mappings: &'a Map<String, Value>,
}

/// The resources of a template that the audit understands, in logical-id order.
pub fn inventory(doc: &Value) -> Inventory {
    let obj = |k: &str| doc.get(k).and_then(Value::as_object).unwrap_or(&EMPTY);
    let t = Template {
        parameters: obj("Parameters"),
        resources: obj("Resources"),
        mappings: obj("Mappings"),
    };
    let mut inv = Inventory::default();
    for (id, res) in t.resources {
        let props = res.get("Properties").unwrap_or(&Value::Null);
        let kind = match res.get("Type").and_then(Value::as_str) {
            Some(HEADERS_POLICY) => ResourceKind::HeadersPolicy(t.headers_policy(props)),
            Some(DISTRIBUTION) => ResourceKind::Distribution(t.distribution(props)),
            Some(REST_API) => ResourceKind::RestApi(rest_api(id, props)),
            Some(GATEWAY_RESPONSE) => ResourceKind::GatewayResponse(t.gateway_response(props)),
            _ => continue,
        };
        inv.resources.push(Resource {
            id: id.clone(),
            kind,
        });
    }
    inv
}

/// Reads a configuration after resolving what can be, or says which value cannot be known.
fn typed<T: serde::de::DeserializeOwned>(v: Option<Value>, what: &str) -> Result<T, String> {
    let v = v.unwrap_or(Value::Null);
    if let Some(where_) = find_unresolved(&v, "") {
        return Err(format!(
            "{what}: {where_}, which cannot be resolved from the template alone"
        ));
    }
    serde_json::from_value(v).map_err(|e| format!("{what}: {e}"))
}

impl Template<'_> {
    fn headers_policy(&self, props: &Value) -> Result<ResponseHeadersPolicyConfig, String> {
        let cfg = props
            .get("ResponseHeadersPolicyConfig")
            .unwrap_or(&Value::Null);
        let mut cfg = self.simplify(cfg);
        // Only the header settings matter; a name chosen by a condition does not.
        if let Some(Value::Object(m)) = &mut cfg {
            m.remove("CorsConfig");
            m.remove("ServerTimingHeadersConfig");
            for k in ["Name", "Comment"] {
                if let Some(v) = m.get_mut(k)
                    && !v.is_string()
                {
                    *v = Value::String(v.to_string());
                }
            }
        }
        typed(cfg, "ResponseHeadersPolicyConfig")
    }

    fn distribution(&self, props: &Value) -> DistributionSpec {
        let cfg = props.get("DistributionConfig").unwrap_or(&Value::Null);
        let mut behaviors = Vec::new();
        if let Some(d) = cfg.get("DefaultCacheBehavior") {
            behaviors.push(self.behavior("default".to_owned(), d));
        }
        if let Some(list) = cfg.get("CacheBehaviors").and_then(Value::as_array) {
            for b in list {
                let label = b
                    .get("PathPattern")
                    .and_then(|p| self.simplify(p))
                    .and_then(|p| p.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".to_owned());
                behaviors.push(self.behavior(label, b));
            }
        }
        let certificate = match cfg.get("ViewerCertificate").and_then(|c| self.simplify(c)) {
            None | Some(Value::Null) => Ok(None),
            Some(c) => typed::<ViewerCertificate>(Some(c), "ViewerCertificate").map(Some),
        };
        DistributionSpec {
            behaviors,
            certificate,
        }
    }

    fn behavior(&self, label: String, b: &Value) -> BehaviorSpec {
        BehaviorSpec {
            label,
            viewer_protocol_policy: b
                .get("ViewerProtocolPolicy")
                .and_then(|v| self.simplify(v))
                .and_then(|v| v.as_str().map(str::to_owned)),
            policy: self.policy_ref(b.get("ResponseHeadersPolicyId")),
        }
    }

    fn gateway_response(&self, props: &Value) -> GatewayResponseSpec {
        let api_key = self.api_key(props.get("RestApiId"));
        let mut p = self.simplify(props).unwrap_or(Value::Null);
        if let Some(o) = p.as_object_mut() {
            o.retain(|k, v| match k.as_str() {
                "ResponseType" | "ResponseParameters" | "ResponseTemplates" => true,
                // A status chosen at deploy time does not change what the body exposes.
                "StatusCode" => v.is_string() || v.is_number(),
                _ => false,
            });
        }
        GatewayResponseSpec {
            api_key,
            response: typed::<GatewayResponse>(Some(p), "GatewayResponse"),
        }
    }

    fn policy_ref(&self, v: Option<&Value>) -> PolicyRef {
        let Some(v) = v else { return PolicyRef::None };
        match v {
            Value::Null => PolicyRef::None,
            Value::String(s) if s.trim().is_empty() => PolicyRef::None,
            Value::String(s) => PolicyRef::Literal(s.clone()),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m
                    .iter()
                    .next()
                    .map_or(("", &Value::Null), |(k, a)| (k.as_str(), a));
                match k {
                    "Ref" => {
                        let name = arg.as_str().unwrap_or_default();
                        if name == "AWS::NoValue" {
                            PolicyRef::None
                        } else if self.resources.contains_key(name) {
                            PolicyRef::Resource(name.to_owned())
                        } else {
                            match self.parameter_default(name) {
                                Some(Value::String(s)) => PolicyRef::Literal(s),
                                _ => PolicyRef::Unresolvable(format!(
                                    "ResponseHeadersPolicyId is the parameter {name}, which has no default"
                                )),
                            }
                        }
                    }
                    "Fn::GetAtt" => match getatt_target(arg) {
                        Some(res) if self.resources.contains_key(&res) => PolicyRef::Resource(res),
                        _ => PolicyRef::Unresolvable(format!(
                            "ResponseHeadersPolicyId is Fn::GetAtt {arg}, not a policy in this template"
                        )),
                    },
                    "Fn::If" => {
                        let arms = arg.as_array().map(Vec::as_slice).unwrap_or_default();
                        match arms {
                            [cond, a, b] => {
                                let (ra, rb) = (self.policy_ref(Some(a)), self.policy_ref(Some(b)));
                                if ra == rb {
                                    ra
                                } else {
                                    PolicyRef::Unresolvable(format!(
                                        "ResponseHeadersPolicyId depends on the condition {}",
                                        cond.as_str().unwrap_or("?")
                                    ))
                                }
                            }
                            _ => PolicyRef::Unresolvable("malformed Fn::If".to_owned()),
                        }
                    }
                    "Fn::ImportValue" => PolicyRef::Unresolvable(format!(
                        "ResponseHeadersPolicyId is imported from another stack (Fn::ImportValue {arg})"
                    )),
                    _ => match self.simplify(v) {
                        Some(Value::String(s)) => PolicyRef::Literal(s),
                        _ => PolicyRef::Unresolvable(format!(
                            "ResponseHeadersPolicyId is {k}, which cannot be resolved from the template alone"
                        )),
                    },
                }
            }
            other => PolicyRef::Unresolvable(format!("ResponseHeadersPolicyId is {other}")),
        }
    }

    /// Which API a gateway response belongs to: the REST API's logical id when it references
    /// one; otherwise the reference as written, so responses naming the same parameter are
    /// judged together.
    fn api_key(&self, v: Option<&Value>) -> String {
        match v {
            Some(Value::Object(m)) if m.len() == 1 => {
                if let Some(name) = m.get("Ref").and_then(Value::as_str) {
                    return if self.resources.contains_key(name) {
                        name.to_owned()
                    } else {
                        format!("Ref:{name}")
                    };
                }
                if let Some(res) = m.get("Fn::GetAtt").and_then(getatt_target) {
                    return res;
                }
                Value::Object(m.clone()).to_string()
            }
            Some(Value::String(s)) => format!("id:{s}"),
            Some(other) => other.to_string(),
            None => "(no RestApiId)".to_owned(),
        }
    }

    fn parameter_default(&self, name: &str) -> Option<Value> {
        self.parameters.get(name)?.get("Default").cloned()
    }

    /// Resolves what the template alone determines; `None` for `AWS::NoValue`.
    fn simplify(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(a) => Some(Value::Array(
                a.iter().filter_map(|x| self.simplify(x)).collect(),
            )),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next()?;
                match k.as_str() {
                    "Ref" => {
                        let name = arg.as_str().unwrap_or_default();
                        if name == "AWS::NoValue" {
                            return None;
                        }
                        match self.parameter_default(name) {
                            Some(d) if !self.resources.contains_key(name) => Some(d),
                            _ => Some(v.clone()),
                        }
                    }
                    "Fn::Sub" => Some(self.sub(arg).unwrap_or_else(|| v.clone())),
                    "Fn::Join" => Some(self.join(arg).unwrap_or_else(|| v.clone())),
                    "Fn::FindInMap" => Some(self.find_in_map(arg).unwrap_or_else(|| v.clone())),
                    "Fn::If" => {
                        if let Some([_, a, b]) = arg.as_array().map(Vec::as_slice) {
                            let (a, b) = (self.simplify(a), self.simplify(b));
                            if a == b {
                                return a;
                            }
                        }
                        Some(v.clone())
                    }
                    k if k.starts_with("Fn::") => Some(v.clone()),
                    _ => Some(self.simplify_map(m)),
                }
            }
            Value::Object(m) => Some(self.simplify_map(m)),
            other => Some(other.clone()),
        }
    }

    fn simplify_map(&self, m: &Map<String, Value>) -> Value {
        Value::Object(
            m.iter()
                .filter_map(|(k, x)| self.simplify(x).map(|x| (k.clone(), x)))
                .collect(),
        )
    }

    /// `Fn::Sub` with a literal template: variables given in the map or as parameters with a
    /// default are substituted; others (`${AWS::Region}`, resource attributes) stay as written,
    /// which is harmless for header values.
    fn sub(&self, arg: &Value) -> Option<Value> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(a) => (a.first()?.as_str()?, a.get(1).and_then(Value::as_object)),
            _ => return None,
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let value = vars
                .and_then(|m| m.get(name))
                .and_then(|x| self.simplify(x))
                .or_else(|| {
                    (!self.resources.contains_key(name))
                        .then(|| self.parameter_default(name))
                        .flatten()
                });
            match value {
                Some(Value::String(s)) => out.push_str(&s),
                Some(Value::Number(n)) => out.push_str(&n.to_string()),
                _ => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(Value::String(out))
    }

    fn join(&self, arg: &Value) -> Option<Value> {
        let a = arg.as_array()?;
        let sep = a.first()?.as_str()?;
        let parts = self.simplify(a.get(1)?)?;
        let strings: Option<Vec<String>> = parts
            .as_array()?
            .iter()
            .map(|p| match p {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        Some(Value::String(strings?.join(sep)))
    }

    fn find_in_map(&self, arg: &Value) -> Option<Value> {
        let a = arg.as_array()?;
        let key = |i: usize| -> Option<String> {
            match self.simplify(a.get(i)?)? {
                Value::String(s) => Some(s),
                _ => None,
            }
        };
        let found = self.mappings.get(&key(0)?)?.get(key(1)?)?.get(key(2)?)?;
        self.simplify(found)
    }
}

/// The resource a `Fn::GetAtt` names, in either form (`[X, Id]` or `"X.Id"`).
fn getatt_target(arg: &Value) -> Option<String> {
    match arg {
        Value::Array(a) => a.first()?.as_str().map(str::to_owned),
        Value::String(s) => s.split('.').next().map(str::to_owned),
        _ => None,
    }
}

fn rest_api(id: &str, props: &Value) -> RestApiSpec {
    let body = match props.get("Body") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(b) => Some(b.clone()),
        None => None,
    };
    let inline = body
        .as_ref()
        .map(openapi_gateway_responses)
        .unwrap_or_default();
    let external_definition = props
        .get("BodyS3Location")
        .map(|_| "BodyS3Location (an OpenAPI file in S3)".to_owned());
    RestApiSpec {
        key: id.to_owned(),
        inline,
        external_definition,
    }
}

/// Gateway responses an OpenAPI definition declares with `x-amazon-apigateway-gateway-responses`.
pub fn openapi_gateway_responses(body: &Value) -> Vec<GatewayResponse> {
    let Some(map) = body
        .get(OPENAPI_GATEWAY_RESPONSES)
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(t, r)| {
            let mut g: GatewayResponse = serde_json::from_value(r.clone()).ok()?;
            g.response_type = t.clone();
            Some(g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        json!({
            "Parameters": {
                "Domain": {"Type": "String", "Default": "example.com"},
                "PolicyId": {"Type": "String", "Default": "67f7725c-6f97-4210-82d7-5512b31e9d03"},
                "Api": {"Type": "String"}
            },
            "Mappings": {"Tls": {"prod": {"min": "TLSv1.2_2021"}}},
            "Resources": {
                "Policy": {"Type": HEADERS_POLICY, "Properties": {"ResponseHeadersPolicyConfig": {
                    "Name": {"Fn::Sub": "site-${Domain}"},
                    "SecurityHeadersConfig": {
                        "ContentSecurityPolicy": {"Override": true, "ContentSecurityPolicy": {"Fn::Join": ["; ", ["default-src 'self'", {"Fn::Sub": "img-src ${Domain}"}]]}},
                        "FrameOptions": {"Override": true, "FrameOption": "DENY", "Unused": {"Ref": "AWS::NoValue"}}
                    }
                }}},
                "Conditional": {"Type": HEADERS_POLICY, "Properties": {"ResponseHeadersPolicyConfig": {
                    "Name": "c",
                    "SecurityHeadersConfig": {"FrameOptions": {"Override": true, "FrameOption": {"Fn::If": ["Prod", "DENY", "SAMEORIGIN"]}}}
                }}},
                "Dist": {"Type": DISTRIBUTION, "Properties": {"DistributionConfig": {
                    "DefaultCacheBehavior": {"ViewerProtocolPolicy": "redirect-to-https", "ResponseHeadersPolicyId": {"Ref": "Policy"}},
                    "CacheBehaviors": [
                        {"PathPattern": "/a/*", "ResponseHeadersPolicyId": {"Fn::GetAtt": ["Policy", "Id"]}},
                        {"PathPattern": "/b/*", "ResponseHeadersPolicyId": {"Ref": "PolicyId"}},
                        {"PathPattern": "/c/*", "ResponseHeadersPolicyId": {"Fn::ImportValue": "x"}},
                        {"PathPattern": "/d/*"}
                    ],
                    "ViewerCertificate": {"AcmCertificateArn": "arn:x", "MinimumProtocolVersion": {"Fn::FindInMap": ["Tls", "prod", "min"]}}
                }}},
                "Resp": {"Type": GATEWAY_RESPONSE, "Properties": {"RestApiId": {"Ref": "Api"}, "ResponseType": "DEFAULT_4XX", "StatusCode": 400}},
                "Other": {"Type": "AWS::S3::Bucket"}
            }
        })
    }

    #[test]
    fn resolves_what_the_template_determines() {
        let inv = inventory(&template());
        let ids: Vec<&str> = inv.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["Conditional", "Dist", "Policy", "Resp"]);
        let ResourceKind::HeadersPolicy(Ok(p)) = &inv.resources[2].kind else {
            panic!("{:?}", inv.resources[2]);
        };
        assert_eq!(p.name, "site-example.com");
        assert_eq!(
            p.security_headers_config
                .as_ref()
                .unwrap()
                .content_security_policy
                .as_ref()
                .unwrap()
                .content_security_policy,
            "default-src 'self'; img-src example.com"
        );
        let ResourceKind::HeadersPolicy(Err(why)) = &inv.resources[0].kind else {
            panic!()
        };
        assert!(why.contains("FrameOption is Fn::If"), "{why}");
        let ResourceKind::Distribution(d) = &inv.resources[1].kind else {
            panic!()
        };
        let refs: Vec<&PolicyRef> = d.behaviors.iter().map(|b| &b.policy).collect();
        assert_eq!(refs[0], &PolicyRef::Resource("Policy".into()));
        assert_eq!(refs[1], &PolicyRef::Resource("Policy".into()));
        assert_eq!(
            refs[2],
            &PolicyRef::Literal("67f7725c-6f97-4210-82d7-5512b31e9d03".into())
        );
        assert!(matches!(refs[3], PolicyRef::Unresolvable(_)));
        assert_eq!(refs[4], &PolicyRef::None);
        assert_eq!(d.behaviors[1].label, "/a/*");
        let cert = d.certificate.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(
            cert.minimum_protocol_version.as_deref(),
            Some("TLSv1.2_2021")
        );
        let ResourceKind::GatewayResponse(g) = &inv.resources[3].kind else {
            panic!()
        };
        assert_eq!(g.api_key, "Ref:Api");
        assert_eq!(
            g.response.as_ref().unwrap().status_code.as_deref(),
            Some("400")
        );
    }

    #[test]
    fn inline_openapi_responses() {
        let body = json!({OPENAPI_GATEWAY_RESPONSES: {"DEFAULT_4XX": {"responseTemplates": {"application/json": "{}"}}}});
        let api = rest_api("Api", &json!({"Body": body}));
        assert_eq!(api.inline.len(), 1);
        assert_eq!(api.inline[0].response_type, "DEFAULT_4XX");
        let api = rest_api("Api", &json!({"BodyS3Location": {"Bucket": "b"}}));
        assert!(api.external_definition.is_some());
    }
}
