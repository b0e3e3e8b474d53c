//! The AWS CLI's JSON for the audited resources, so live settings can be audited offline:
//! `aws cloudfront get-response-headers-policy` (or a bare `ResponseHeadersPolicyConfig`, which
//! is what `emit cloudfront --format json` writes), `aws cloudfront get-distribution-config`,
//! and `aws apigateway get-gateway-responses` (what `emit apigateway --format json` writes).

use serde_json::Value;

use super::{
    BehaviorSpec, DistributionSpec, GatewayResponseSpec, Inventory, PolicyRef, Resource,
    ResourceKind, RestApiSpec,
};
use crate::aws::apigateway::GatewayResponse;
use crate::aws::cloudfront::{DistributionConfig, ResponseHeadersPolicyConfig};

/// The key every gateway response of one CLI document shares.
const API: &str = "api";

/// `None` when the document is none of the shapes above.
pub fn inventory(doc: &Value) -> Option<Inventory> {
    let mut inv = Inventory::default();
    if let Some(policy) = doc
        .pointer("/ResponseHeadersPolicy/ResponseHeadersPolicyConfig")
        .or_else(|| doc.get("ResponseHeadersPolicyConfig"))
        .or_else(|| {
            (doc.get("SecurityHeadersConfig").is_some()
                || doc.get("CustomHeadersConfig").is_some()
                || doc.get("RemoveHeadersConfig").is_some())
            .then_some(doc)
        })
    {
        let parsed: Result<ResponseHeadersPolicyConfig, String> =
            serde_json::from_value(policy.clone()).map_err(|e| e.to_string());
        let id = doc
            .pointer("/ResponseHeadersPolicy/Id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                parsed
                    .as_ref()
                    .ok()
                    .map(|p| p.name.clone())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "ResponseHeadersPolicy".to_owned());
        inv.resources.push(Resource {
            id,
            kind: ResourceKind::HeadersPolicy(parsed),
        });
        return Some(inv);
    }
    if let Some(dist) = doc
        .pointer("/Distribution/DistributionConfig")
        .or_else(|| doc.get("DistributionConfig"))
    {
        let config: DistributionConfig = serde_json::from_value(dist.clone()).ok()?;
        let behaviors = config
            .behaviors()
            .into_iter()
            .map(|(label, b)| BehaviorSpec {
                label,
                viewer_protocol_policy: b.viewer_protocol_policy.clone(),
                policy: match b.response_headers_policy_id.as_deref() {
                    None | Some("") => PolicyRef::None,
                    Some(id) => PolicyRef::Literal(id.to_owned()),
                },
            })
            .collect();
        let id = doc
            .pointer("/Distribution/Id")
            .and_then(Value::as_str)
            .unwrap_or("Distribution")
            .to_owned();
        inv.resources.push(Resource {
            id,
            kind: ResourceKind::Distribution(DistributionSpec {
                behaviors,
                certificate: Ok(config.viewer_certificate.clone()),
            }),
        });
        return Some(inv);
    }
    let items = doc
        .get("items")
        .or_else(|| doc.get("item"))
        .and_then(Value::as_array)?;
    let responses: Vec<GatewayResponse> = items
        .iter()
        .map(|i| serde_json::from_value(i.clone()))
        .collect::<Result<_, _>>()
        .ok()?;
    if responses.iter().any(|r| r.response_type.is_empty()) {
        return None;
    }
    inv.resources.push(Resource {
        id: "restapi".to_owned(),
        kind: ResourceKind::RestApi(RestApiSpec {
            key: API.to_owned(),
            inline: Vec::new(),
            external_definition: None,
        }),
    });
    // The generated defaults are what the API lists for untouched types: judged as part of the
    // API, not as customisations.
    for r in responses.into_iter().filter(|r| !r.default_response) {
        inv.resources.push(Resource {
            id: r.response_type.clone(),
            kind: ResourceKind::GatewayResponse(GatewayResponseSpec {
                api_key: API.to_owned(),
                response: Ok(r),
            }),
        });
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cli_shapes_are_recognised() {
        let p = inventory(&json!({"ETag": "E", "ResponseHeadersPolicy": {"Id": "abc", "ResponseHeadersPolicyConfig": {"Name": "n"}}})).unwrap();
        assert_eq!(p.resources[0].id, "abc");
        let p = inventory(&json!({"Name": "n", "SecurityHeadersConfig": {}})).unwrap();
        assert_eq!(p.resources[0].id, "n");
        let g = inventory(&json!({"items": [
            {"responseType": "DEFAULT_4XX", "defaultResponse": true},
            {"responseType": "ACCESS_DENIED", "statusCode": "403"}
        ]}))
        .unwrap();
        let ids: Vec<&str> = g.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["restapi", "ACCESS_DENIED"]);
        let d = inventory(&json!({"DistributionConfig": {"DefaultCacheBehavior": {"ViewerProtocolPolicy": "allow-all"}}})).unwrap();
        assert!(matches!(d.resources[0].kind, ResourceKind::Distribution(_)));
        assert!(inventory(&json!({"items": [{"x": 1}]})).is_none());
    }
}
