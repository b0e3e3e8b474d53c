//! `audit cloudfront` and `audit apigateway`: the live settings read through the AWS SDK,
//! converted into the models of [`crate::aws`] and judged by the same rules as `audit iac`.
//!
//! One run can cover many accounts: each `--role-arn` is assumed through STS in turn and every
//! target carries its account id.

pub mod accounts;
pub mod apigateway;
pub mod clients;
pub mod cloudfront;
pub mod errors;
pub mod progress;
pub mod regions;

#[cfg(test)]
mod replay;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use aws_config::SdkConfig;
use rampart_config::PolicySpec;

use crate::model::{Report, TargetReport};
use accounts::{Account, Principal};
pub use clients::Connection;
pub use errors::AwsError;
pub use progress::Progress;

/// What every SDK audit shares.
#[derive(Debug, Clone, Default)]
pub struct AwsPlan {
    pub connection: Connection,
    /// Role ARNs to assume, one account each; empty: the ambient credentials' account.
    pub roles: Vec<String>,
    /// Items per list call; `None` leaves each service's default.
    pub page_size: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct CloudfrontPlan {
    pub aws: AwsPlan,
    /// Empty: every distribution.
    pub distributions: Vec<String>,
    pub want: PolicySpec,
}

/// Which regions `audit apigateway` visits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// The region of the environment or profile.
    Configured,
    Given(Vec<String>),
    /// Every commercial region ([`regions::COMMERCIAL`]).
    All,
}

#[derive(Debug, Clone)]
pub struct ApigatewayPlan {
    pub aws: AwsPlan,
    pub regions: Regions,
    /// Empty: every REST API.
    pub apis: Vec<String>,
    pub want: PolicySpec,
}

/// A target standing for an account that could not be audited.
fn account_error(label: String, account: Option<String>, e: &AwsError) -> TargetReport {
    let mut t = TargetReport::new(label, String::new());
    t.account = account;
    t.error = Some(e.to_string());
    t
}

/// Opens each account in turn. The ambient account failing is the whole run failing (`Err`);
/// a role that cannot be assumed becomes a target carrying the error, and the others go on.
async fn open(
    base: &SdkConfig,
    principal: &Principal,
    targets: &mut Vec<TargetReport>,
) -> Result<Option<Account>, AwsError> {
    match accounts::open(base, principal).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if *principal == Principal::Ambient => Err(e),
        Err(e) => {
            let account = match principal {
                Principal::Role(arn) => accounts::role_account(arn).ok(),
                Principal::Ambient => None,
            };
            targets.push(account_error(principal.label(), account, &e));
            Ok(None)
        }
    }
}

fn tag(targets: Vec<TargetReport>, account: &Account) -> impl Iterator<Item = TargetReport> {
    let id = account.id.clone();
    targets.into_iter().map(move |mut t| {
        t.account = id.clone();
        t
    })
}

pub async fn audit_cloudfront(
    plan: &CloudfrontPlan,
    progress: Progress,
) -> Result<Report, AwsError> {
    let base = clients::load(&plan.aws.connection).await;
    audit_cloudfront_with(&base, plan, progress).await
}

/// [`audit_cloudfront`] from a loaded configuration (tests give one with a replay client).
pub async fn audit_cloudfront_with(
    base: &SdkConfig,
    plan: &CloudfrontPlan,
    progress: Progress,
) -> Result<Report, AwsError> {
    clients::ensure_credentials(base).await?;
    let mut policies = cloudfront::Policies::new(plan.aws.page_size);
    let mut targets = Vec::new();
    let mut found: HashSet<String> = HashSet::new();
    let mut not_found: HashMap<String, AwsError> = HashMap::new();
    for principal in accounts::principals(&plan.aws.roles) {
        let Some(account) = open(base, &principal, &mut targets).await? else {
            continue;
        };
        progress.line(format_args!("{}: CloudFront", account.label()));
        let client = clients::cloudfront(&account.config);
        let sub = cloudfront::Plan {
            distributions: &plan.distributions,
            page_size: plan.aws.page_size,
            want: &plan.want,
        };
        match cloudfront::audit_account(&client, &sub, &mut policies, progress).await {
            Ok(a) => {
                targets.extend(tag(a.targets, &account));
                found.extend(a.found);
                for (id, e) in a.not_found {
                    not_found.entry(id).or_insert(e);
                }
            }
            Err(e) => targets.push(account_error(account.label(), account.id.clone(), &e)),
        }
    }
    // A named distribution lives in one account: it is missing only if no account has it.
    for id in &plan.distributions {
        if let Some(e) = not_found.get(id).filter(|_| !found.contains(id)) {
            let mut t = TargetReport::new(id.clone(), String::new());
            t.error = Some(e.to_string());
            targets.push(t);
        }
    }
    Ok(Report::new(targets))
}

pub async fn audit_apigateway(
    plan: &ApigatewayPlan,
    progress: Progress,
) -> Result<Report, AwsError> {
    let base = clients::load(&plan.aws.connection).await;
    audit_apigateway_with(&base, plan, progress).await
}

/// [`audit_apigateway`] from a loaded configuration.
pub async fn audit_apigateway_with(
    base: &SdkConfig,
    plan: &ApigatewayPlan,
    progress: Progress,
) -> Result<Report, AwsError> {
    let (region_list, all_regions) = match &plan.regions {
        Regions::Given(r) => (r.clone(), false),
        Regions::All => (regions::all(), true),
        Regions::Configured => match base.region() {
            Some(r) => (vec![r.to_string()], false),
            None => {
                return Err(AwsError::Usage(
                    "no AWS region: give --region REGION (repeatable) or --all-regions, or set AWS_REGION or the profile's region".to_owned(),
                ));
            }
        },
    };
    clients::ensure_credentials(base).await?;
    let mut targets = Vec::new();
    let mut found: HashSet<String> = HashSet::new();
    let mut searched: Vec<String> = Vec::new();
    let principals = accounts::principals(&plan.aws.roles);
    for principal in &principals {
        let Some(account) = open(base, principal, &mut targets).await? else {
            continue;
        };
        progress.line(format_args!("{}: API Gateway", account.label()));
        let sub = apigateway::Plan {
            regions: &region_list,
            all_regions,
            apis: &plan.apis,
            page_size: plan.aws.page_size,
            want: &plan.want,
        };
        let a = apigateway::audit_account(&account.config, &sub, progress).await;
        targets.extend(tag(a.targets, &account));
        found.extend(a.found);
        let place = |r: &String| match (&account.id, principals.len()) {
            (Some(id), 2..) => format!("{r} of account {id}"),
            _ => r.clone(),
        };
        searched.extend(a.searched.iter().map(place));
    }
    // A named API lives in one account and region: it is missing only if none has it.
    for id in plan.apis.iter().filter(|id| !found.contains(*id)) {
        let mut t = TargetReport::new(id.clone(), String::new());
        t.error = Some(format!(
            "REST API {id} does not exist in {} (NotFoundException)",
            if searched.is_empty() {
                "any region that could be read".to_owned()
            } else {
                searched.join(", ")
            }
        ));
        targets.push(t);
    }
    Ok(Report::new(targets))
}
