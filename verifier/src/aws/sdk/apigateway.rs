//! `audit apigateway` through the SDK: every REST API of each region (GetRestApis, followed with
//! `position`) or the ones named, their gateway responses (GetGatewayResponses, followed with
//! `position` too), and for each of the 21 response types the response API Gateway actually
//! sends, resolved and judged by the rules of [`crate::aws::apigateway`].
//!
//! Targets: `API-ID` for the API as a whole (DEFAULT_4XX/DEFAULT_5XX present), and
//! `API-ID/RESPONSE_TYPE` for each response type's effective response.

use aws_config::SdkConfig;
use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types as ag;
use futures_util::stream::{self, StreamExt};
use rampart_config::PolicySpec;

use super::clients;
use super::errors::{AwsError, classify};
use super::progress::Progress;
use super::regions;
use crate::aws::apigateway::{self as model, GatewayResponse, ResponseType};
use crate::model::TargetReport;

/// APIs whose gateway responses are read at once: enough to hide latency, few enough to stay
/// under API Gateway's control-plane rate limits (the SDK retries what is throttled).
const CONCURRENCY: usize = 4;

/// What to audit in one account.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub regions: &'a [String],
    /// Regions came from `--all-regions`: opt-in regions the account has not enabled are
    /// skipped instead of failing the run.
    pub all_regions: bool,
    /// Empty: every API.
    pub apis: &'a [String],
    pub page_size: Option<i32>,
    pub want: &'a PolicySpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApi {
    pub id: String,
    pub name: String,
    pub region: String,
}

impl RestApi {
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:apigateway:{}::/restapis/{}",
            clients::partition(&self.region),
            self.region,
            self.id
        )
    }
}

/// An SDK gateway response as the model the rules read.
pub fn response(r: &ag::GatewayResponse) -> GatewayResponse {
    let map = |m: Option<&std::collections::HashMap<String, String>>| {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    GatewayResponse {
        response_type: r
            .response_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        status_code: r.status_code().map(str::to_owned),
        response_parameters: map(r.response_parameters()),
        response_templates: map(r.response_templates()),
        default_response: r.default_response(),
    }
}

fn rest_api(a: &ag::RestApi, region: &str) -> Option<RestApi> {
    Some(RestApi {
        id: a.id()?.to_owned(),
        name: a.name().unwrap_or_default().to_owned(),
        region: region.to_owned(),
    })
}

/// Every REST API of the region, page by page.
pub async fn list_apis(
    client: &Client,
    region: &str,
    page_size: Option<i32>,
) -> Result<Vec<RestApi>, AwsError> {
    let mut out = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let mut req = client.get_rest_apis();
        if let Some(p) = &position {
            req = req.position(p);
        }
        if let Some(n) = page_size {
            req = req.limit(n);
        }
        let resp = req.send().await.map_err(|e| {
            classify(
                e,
                "apigateway:GET",
                &format!("listing the REST APIs of {region}"),
            )
        })?;
        out.extend(resp.items().iter().filter_map(|a| rest_api(a, region)));
        match next(resp.position(), position.as_deref()) {
            Some(p) => position = Some(p),
            None => break,
        }
    }
    Ok(out)
}

/// The next page's position: none, empty or unchanged (a cursor that does not move would loop
/// forever) ends the listing.
fn next(given: Option<&str>, current: Option<&str>) -> Option<String> {
    given
        .filter(|p| !p.is_empty() && Some(*p) != current)
        .map(str::to_owned)
}

/// The API `id` in `region`, or `None` when it does not exist there.
pub async fn get_api(client: &Client, region: &str, id: &str) -> Result<Option<RestApi>, AwsError> {
    match client.get_rest_api().rest_api_id(id).send().await {
        Ok(a) => Ok(Some(RestApi {
            id: a.id().unwrap_or(id).to_owned(),
            name: a.name().unwrap_or_default().to_owned(),
            region: region.to_owned(),
        })),
        Err(e) => match classify(e, "apigateway:GET", &format!("REST API {id} in {region}")) {
            AwsError::NotFound { .. } => Ok(None),
            e => Err(e),
        },
    }
}

/// Every gateway response of an API: real AWS lists all 21 types (untouched ones marked
/// `defaultResponse`), emulators only the customised ones; both resolve the same way.
pub async fn gateway_responses(
    client: &Client,
    api: &RestApi,
    page_size: Option<i32>,
) -> Result<Vec<GatewayResponse>, AwsError> {
    let subject = format!(
        "the gateway responses of REST API {} ({})",
        api.id, api.region
    );
    let mut out = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let mut req = client.get_gateway_responses().rest_api_id(&api.id);
        if let Some(p) = &position {
            req = req.position(p);
        }
        if let Some(n) = page_size {
            req = req.limit(n);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| classify(e, "apigateway:GET", &subject))?;
        out.extend(resp.items().iter().map(response));
        match next(resp.position(), position.as_deref()) {
            Some(p) => position = Some(p),
            None => break,
        }
    }
    Ok(out)
}

/// The targets of one API: the API as a whole, then each of the 21 response types with the
/// response API Gateway sends for it (the customised type, else the customised DEFAULT_4XX or
/// DEFAULT_5XX, else the built-in one).
pub fn api_targets(
    api: &RestApi,
    responses: &[GatewayResponse],
    want: &PolicySpec,
) -> Vec<TargetReport> {
    let arn = api.arn();
    let mut out = Vec::with_capacity(ResponseType::ALL.len() + 1);
    let mut t = TargetReport::new(api.id.clone(), arn.clone());
    model::audit_api(responses).apply(&mut t);
    out.push(t);
    for rtype in ResponseType::ALL {
        let effective = model::resolve(responses, rtype);
        let mut t = TargetReport::new(
            format!("{}/{}", api.id, rtype.as_str()),
            format!("{arn}/gatewayresponses/{}", rtype.as_str()),
        );
        t.status = effective
            .response
            .status_code
            .as_deref()
            .and_then(|s| s.trim().parse().ok())
            .or(rtype.default_status());
        model::audit_response(&effective.response, &[rtype], want).apply(&mut t);
        out.push(t);
    }
    out
}

async fn audit_api(
    client: &Client,
    api: &RestApi,
    page_size: Option<i32>,
    want: &PolicySpec,
) -> Vec<TargetReport> {
    match gateway_responses(client, api, page_size).await {
        Ok(responses) => api_targets(api, &responses, want),
        Err(e) => {
            let mut t = TargetReport::new(api.id.clone(), api.arn());
            t.error = Some(e.to_string());
            vec![t]
        }
    }
}

/// A target standing for a region that could not be read.
fn region_error(region: &str, e: &AwsError) -> TargetReport {
    let mut t = TargetReport::new(format!("apigateway {region}"), String::new());
    t.error = Some(e.to_string());
    t
}

/// What one account's audit found.
#[derive(Debug, Default)]
pub struct Audited {
    pub targets: Vec<TargetReport>,
    /// The named APIs that exist in this account.
    pub found: Vec<String>,
    /// The regions where every named API was looked up.
    pub searched: Vec<String>,
}

/// Every target of one account, region by region. Failures are targets carrying the error, so
/// one unreadable region does not hide the others. Named APIs found nowhere are the caller's
/// to report: they may be in another account.
pub async fn audit_account(config: &SdkConfig, plan: &Plan<'_>, progress: Progress) -> Audited {
    let mut out = Audited::default();
    for region in plan.regions {
        let client = clients::apigateway(config, region);
        let skippable = |e: &AwsError| {
            plan.all_regions && regions::is_opt_in(region) && e.is_unrecognized_client()
        };
        let apis = if plan.apis.is_empty() {
            match list_apis(&client, region, plan.page_size).await {
                Ok(apis) => apis,
                Err(e) if skippable(&e) => {
                    progress.line(format_args!(
                        "API Gateway {region}: region not enabled, skipped"
                    ));
                    continue;
                }
                Err(e) => {
                    out.targets.push(region_error(region, &e));
                    continue;
                }
            }
        } else {
            let mut found = Vec::new();
            let mut failed = None;
            for id in plan.apis {
                match get_api(&client, region, id).await {
                    Ok(Some(api)) => found.push(api),
                    Ok(None) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => out.searched.push(region.clone()),
                Some(e) if skippable(&e) => {}
                Some(e) => out.targets.push(region_error(region, &e)),
            }
            out.found.extend(found.iter().map(|a| a.id.clone()));
            found
        };
        progress.line(format_args!(
            "API Gateway {region}: {} REST APIs",
            apis.len()
        ));
        let targets: Vec<Vec<TargetReport>> = stream::iter(apis.iter())
            .map(|api| audit_api(&client, api, plan.page_size, plan.want))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        out.targets.extend(targets.into_iter().flatten());
    }
    out
}
