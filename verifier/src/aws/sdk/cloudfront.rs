//! `audit cloudfront` through the SDK: every distribution (ListDistributions, followed page by
//! page with Marker) or the ones named (GetDistribution), every cache behavior, and the response
//! headers policy each behavior uses, read into the models of [`crate::aws::cloudfront`] and
//! judged by the same rules as `audit iac`.
//!
//! Targets: `ID` for the distribution itself (viewer certificate), `ID/default` and
//! `ID/PATH-PATTERN` for its cache behaviors.

use std::collections::HashMap;

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::types as cf;
use rampart_config::PolicySpec;

use super::errors::{AwsError, classify};
use super::progress::Progress;
use crate::aws::cloudfront::{self as model, AttachedPolicy};
use crate::model::TargetReport;

/// One distribution as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    pub config: model::DistributionConfig,
}

/// A response headers policy, resolved to what it configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// How evidence names it: the policy's name (managed ones have telling names).
    pub label: String,
    pub config: model::ResponseHeadersPolicyConfig,
}

/// What to audit in one account.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// Empty: every distribution.
    pub distributions: &'a [String],
    /// MaxItems of list calls; `None` leaves the service's default.
    pub page_size: Option<i32>,
    pub want: &'a PolicySpec,
}

/// The target name of a cache behavior: CloudFront treats `/api/*` and `api/*` alike, so the
/// pattern is joined without its leading slash.
pub fn behavior_target(distribution: &str, label: &str) -> String {
    format!("{distribution}/{}", label.trim_start_matches('/'))
}

fn behavior(
    path: Option<&str>,
    viewer_protocol_policy: &cf::ViewerProtocolPolicy,
    policy_id: Option<&str>,
) -> model::CacheBehavior {
    model::CacheBehavior {
        path_pattern: path.map(str::to_owned),
        viewer_protocol_policy: Some(viewer_protocol_policy.as_str().to_owned())
            .filter(|v| !v.is_empty()),
        response_headers_policy_id: policy_id
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    }
}

fn certificate(c: &cf::ViewerCertificate) -> model::ViewerCertificate {
    let acm = c.acm_certificate_arn().filter(|s| !s.is_empty());
    let iam = c.iam_certificate_id().filter(|s| !s.is_empty());
    // The API sets exactly one of the three; an emulator that reports the default certificate
    // next to a named one (moto does) is read as CloudFront would serve it: the named one.
    let default = if acm.is_some() || iam.is_some() {
        Some(false)
    } else {
        c.cloud_front_default_certificate()
    };
    model::ViewerCertificate {
        cloudfront_default_certificate: default,
        minimum_protocol_version: c.minimum_protocol_version().map(|v| v.as_str().to_owned()),
        acm_certificate_arn: acm.map(str::to_owned),
        iam_certificate_id: iam.map(str::to_owned),
    }
}

/// The parts of a distribution (summary or full configuration, which the SDK types apart)
/// that the rules read.
fn distribution_config(
    default: Option<&cf::DefaultCacheBehavior>,
    others: Option<&cf::CacheBehaviors>,
    cert: Option<&cf::ViewerCertificate>,
) -> model::DistributionConfig {
    model::DistributionConfig {
        default_cache_behavior: default.map(|d| {
            behavior(
                None,
                d.viewer_protocol_policy(),
                d.response_headers_policy_id(),
            )
        }),
        cache_behaviors: others
            .map(|c| {
                c.items()
                    .iter()
                    .map(|b| {
                        behavior(
                            Some(b.path_pattern()),
                            b.viewer_protocol_policy(),
                            b.response_headers_policy_id(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        viewer_certificate: cert.map(certificate),
    }
}

pub fn from_summary(s: &cf::DistributionSummary) -> Distribution {
    Distribution {
        id: s.id().to_owned(),
        arn: s.arn().to_owned(),
        config: distribution_config(
            s.default_cache_behavior(),
            s.cache_behaviors(),
            s.viewer_certificate(),
        ),
    }
}

/// An SDK response headers policy as the model the rules compare.
pub fn policy_config(c: &cf::ResponseHeadersPolicyConfig) -> model::ResponseHeadersPolicyConfig {
    let security = c
        .security_headers_config()
        .map(|s| model::SecurityHeadersConfig {
            xss_protection: s.xss_protection().map(|x| model::XssProtection {
                override_: x.r#override(),
                protection: x.protection(),
                mode_block: x.mode_block(),
                report_uri: x.report_uri().map(str::to_owned),
            }),
            frame_options: s.frame_options().map(|f| model::FrameOptions {
                override_: f.r#override(),
                frame_option: f.frame_option().as_str().to_owned(),
            }),
            referrer_policy: s.referrer_policy().map(|r| model::ReferrerPolicy {
                override_: r.r#override(),
                referrer_policy: r.referrer_policy().as_str().to_owned(),
            }),
            content_security_policy: s.content_security_policy().map(|p| {
                model::ContentSecurityPolicy {
                    override_: p.r#override(),
                    content_security_policy: p.content_security_policy().to_owned(),
                }
            }),
            content_type_options: s.content_type_options().map(|o| model::ContentTypeOptions {
                override_: o.r#override(),
            }),
            strict_transport_security: s.strict_transport_security().map(|h| {
                model::StrictTransportSecurity {
                    override_: h.r#override(),
                    access_control_max_age_sec: u64::try_from(h.access_control_max_age_sec()).ok(),
                    include_subdomains: h.include_subdomains(),
                    preload: h.preload(),
                }
            }),
        });
    let custom = c
        .custom_headers_config()
        .map(|h| model::CustomHeadersConfig {
            quantity: Some(h.items().len() as u64),
            items: h
                .items()
                .iter()
                .map(|i| model::CustomHeader {
                    header: i.header().to_owned(),
                    value: i.value().to_owned(),
                    override_: i.r#override(),
                })
                .collect(),
        });
    let remove = c
        .remove_headers_config()
        .map(|h| model::RemoveHeadersConfig {
            quantity: Some(h.items().len() as u64),
            items: h
                .items()
                .iter()
                .map(|i| model::RemoveHeader {
                    header: i.header().to_owned(),
                })
                .collect(),
        });
    model::ResponseHeadersPolicyConfig {
        name: c.name().to_owned(),
        comment: c.comment().map(str::to_owned),
        security_headers_config: security,
        custom_headers_config: custom,
        remove_headers_config: remove,
    }
}

/// Every distribution of the account, page by page.
pub async fn list_distributions(
    client: &Client,
    page_size: Option<i32>,
    progress: Progress,
) -> Result<Vec<Distribution>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client.list_distributions();
        if let Some(m) = &marker {
            req = req.marker(m);
        }
        if let Some(n) = page_size {
            req = req.max_items(n);
        }
        let resp = req.send().await.map_err(|e| {
            classify(
                e,
                "cloudfront:ListDistributions",
                "listing the distributions",
            )
        })?;
        let Some(list) = resp.distribution_list() else {
            break;
        };
        out.extend(list.items().iter().map(from_summary));
        progress.line(format_args!(
            "CloudFront: {} distributions listed",
            out.len()
        ));
        // A marker that does not move would loop forever; AWS never sends one, be safe anyway.
        match list.next_marker().filter(|m| !m.is_empty()) {
            Some(next) if list.is_truncated() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned());
            }
            _ => break,
        }
    }
    Ok(out)
}

pub async fn get_distribution(client: &Client, id: &str) -> Result<Distribution, AwsError> {
    let subject = format!("distribution {id}");
    let resp = client
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| classify(e, "cloudfront:GetDistribution", &subject))?;
    let d = resp.distribution().ok_or_else(|| AwsError::Other {
        action: "cloudfront:GetDistribution",
        message: format!("{subject}: the response carried no distribution"),
    })?;
    let c = d.distribution_config();
    Ok(Distribution {
        id: d.id().to_owned(),
        arn: d.arn().to_owned(),
        config: distribution_config(
            c.and_then(|c| c.default_cache_behavior()),
            c.and_then(|c| c.cache_behaviors()),
            c.and_then(|c| c.viewer_certificate()),
        ),
    })
}

/// Response headers policies by id. The managed policies Rampart knows are resolved without a
/// call; other ids are looked up among AWS's current managed policies (listed once per run:
/// they are the same for every account) and otherwise fetched once each.
#[derive(Debug, Default)]
pub struct Policies {
    page_size: Option<i32>,
    managed: Option<HashMap<String, Resolved>>,
    fetched: HashMap<String, Result<Resolved, AwsError>>,
}

impl Policies {
    pub fn new(page_size: Option<i32>) -> Policies {
        Policies {
            page_size,
            ..Policies::default()
        }
    }

    pub async fn resolve(&mut self, client: &Client, id: &str) -> Result<Resolved, AwsError> {
        if let Some(m) = model::managed_policy(id).filter(|m| m.id.eq_ignore_ascii_case(id)) {
            return Ok(Resolved {
                label: m.name.to_owned(),
                config: m.config(),
            });
        }
        if let Some(r) = self.fetched.get(id) {
            return r.clone();
        }
        if self.managed.is_none() {
            // Not cached on failure: another account's credentials may be allowed to list.
            self.managed = Some(list_managed(client, self.page_size).await?);
        }
        if let Some(r) = self.managed.as_ref().and_then(|m| m.get(id)) {
            return Ok(r.clone());
        }
        let r = get_policy(client, id).await;
        self.fetched.insert(id.to_owned(), r.clone());
        r
    }
}

fn resolved(p: &cf::ResponseHeadersPolicy) -> Option<(String, Resolved)> {
    let config = policy_config(p.response_headers_policy_config()?);
    let label = if config.name.is_empty() {
        p.id().to_owned()
    } else {
        config.name.clone()
    };
    Some((p.id().to_owned(), Resolved { label, config }))
}

async fn list_managed(
    client: &Client,
    page_size: Option<i32>,
) -> Result<HashMap<String, Resolved>, AwsError> {
    let mut out = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = client
            .list_response_headers_policies()
            .r#type(cf::ResponseHeadersPolicyType::Managed);
        if let Some(m) = &marker {
            req = req.marker(m);
        }
        if let Some(n) = page_size {
            req = req.max_items(n);
        }
        let resp = req.send().await.map_err(|e| {
            classify(
                e,
                "cloudfront:ListResponseHeadersPolicies",
                "listing the managed response headers policies",
            )
        })?;
        let Some(list) = resp.response_headers_policy_list() else {
            break;
        };
        out.extend(
            list.items()
                .iter()
                .filter_map(|s| s.response_headers_policy())
                .filter_map(resolved),
        );
        match list.next_marker().filter(|m| !m.is_empty()) {
            Some(next) if marker.as_deref() != Some(next) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

async fn get_policy(client: &Client, id: &str) -> Result<Resolved, AwsError> {
    let subject = format!("response headers policy {id}");
    let resp = client
        .get_response_headers_policy()
        .id(id)
        .send()
        .await
        .map_err(|e| classify(e, "cloudfront:GetResponseHeadersPolicy", &subject))?;
    resp.response_headers_policy()
        .and_then(resolved)
        .map(|(_, r)| r)
        .ok_or_else(|| AwsError::Other {
            action: "cloudfront:GetResponseHeadersPolicy",
            message: format!("{subject}: the response carried no configuration"),
        })
}

/// One distribution's targets: the distribution (viewer certificate), then each behavior.
pub async fn audit_distribution(
    client: &Client,
    d: &Distribution,
    policies: &mut Policies,
    want: &PolicySpec,
) -> Vec<TargetReport> {
    let mut out = Vec::new();
    let mut t = TargetReport::new(d.id.clone(), d.arn.clone());
    model::audit_viewer_certificate(d.config.viewer_certificate.as_ref()).apply(&mut t);
    out.push(t);
    for (label, b) in d.config.behaviors() {
        let mut t = TargetReport::new(behavior_target(&d.id, &label), d.arn.clone());
        let protocol = b.viewer_protocol_policy.as_deref();
        let assessment = match b.response_headers_policy_id.as_deref() {
            None => model::audit_behavior(&label, protocol, &AttachedPolicy::None, want),
            Some(id) => match policies.resolve(client, id).await {
                Ok(r) => model::audit_behavior(
                    &label,
                    protocol,
                    &AttachedPolicy::Evaluate {
                        label: r.label.clone(),
                        config: &r.config,
                    },
                    want,
                ),
                Err(e) => {
                    t.error = Some(format!(
                        "{label} behavior: cannot read its response headers policy: {e}"
                    ));
                    // The other checks of the behavior still ran.
                    model::audit_behavior(
                        &label,
                        protocol,
                        &AttachedPolicy::Elsewhere {
                            label: id.to_owned(),
                        },
                        want,
                    )
                }
            },
        };
        assessment.apply(&mut t);
        out.push(t);
    }
    out
}

/// What one account's audit found.
#[derive(Debug, Default)]
pub struct Audited {
    pub targets: Vec<TargetReport>,
    /// The named distributions that exist in this account.
    pub found: Vec<String>,
    /// The named distributions this account does not have, and what CloudFront said: the
    /// caller reports those no account has.
    pub not_found: Vec<(String, AwsError)>,
}

/// Every target of one account. `Err` when the account could not be listed at all; a named
/// distribution that cannot be read for another reason than not existing becomes a target
/// carrying the error.
pub async fn audit_account(
    client: &Client,
    plan: &Plan<'_>,
    policies: &mut Policies,
    progress: Progress,
) -> Result<Audited, AwsError> {
    let mut out = Audited::default();
    let distributions = if plan.distributions.is_empty() {
        list_distributions(client, plan.page_size, progress).await?
    } else {
        let mut v = Vec::new();
        for id in plan.distributions {
            match get_distribution(client, id).await {
                Ok(d) => {
                    out.found.push(id.clone());
                    v.push(d);
                }
                Err(e @ AwsError::NotFound { .. }) => out.not_found.push((id.clone(), e)),
                Err(e) => {
                    let mut t = TargetReport::new(id.clone(), String::new());
                    t.error = Some(e.to_string());
                    out.targets.push(t);
                }
            }
        }
        v
    };
    for d in &distributions {
        out.targets
            .extend(audit_distribution(client, d, policies, plan.want).await);
    }
    Ok(out)
}
