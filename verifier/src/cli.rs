//! Command-line arguments, parsed into a plain struct, then resolved into a validated plan.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand};
use rampart_config::leak::DetectorSet;
use rampart_config::{Config, Overrides};
use url::Url;

use crate::model::Severity;
use crate::output::Format;
use crate::probe::{self, Expectation, ProbePlan};

#[derive(Debug, Parser)]
#[command(
    name = "rampart-verify",
    version,
    about = "Proves a deployment is hardened: grades live endpoints like the MDN Observatory, checks them against the rampart policy, finds leaks",
    after_help = "Exit codes: 0 no finding at or above --fail-on; 1 such findings; 2 operational error (bad arguments, DNS, connect, TLS, timeout, missing AWS credentials or permissions)."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe live URLs: Observatory-compatible grade, policy conformance, leaks, certificate.
    Probe(ProbeArgs),
    /// Audit AWS settings (CloudFront response headers policies and distributions, API
    /// Gateway gateway responses) against the rampart policy.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write the AWS settings equivalent to a rampart policy.
    #[command(subcommand)]
    Emit(EmitCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// CloudFormation (JSON/YAML, CDK synth output), Terraform plan/state JSON
    /// (`terraform show -json`), Terraform *.tf.json, or AWS CLI JSON of the same resources.
    Iac(AuditIacArgs),
    /// Live CloudFront distributions through the AWS API: every cache behavior's response
    /// headers policy against the rampart policy, plain-HTTP viewers, old TLS.
    Cloudfront(AuditCloudfrontArgs),
    /// Live API Gateway REST APIs through the AWS API: the response each of the 21 gateway
    /// response types sends (leaky templates, missing security headers).
    Apigateway(AuditApigatewayArgs),
}

#[derive(Debug, Subcommand)]
pub enum EmitCommand {
    /// A CloudFront response headers policy.
    Cloudfront(EmitArgs),
    /// Generic API Gateway gateway responses carrying the policy's security headers.
    Apigateway(EmitArgs),
}

/// Which rampart policy AWS settings are held to (default: the strict preset).
#[derive(Debug, ClapArgs)]
pub struct PolicyArgs {
    /// A rampart configuration: its default policy (or --policy NAME).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// With --config: this named policy (or preset) instead of the default one.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub policy: Option<String>,
    /// A preset: strict (default), helmet, cloudfront-security-headers, none.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
}

/// A policy chosen by [`PolicyArgs`].
pub struct ChosenPolicy {
    pub name: String,
    pub spec: rampart_config::PolicySpec,
}

impl PolicyArgs {
    pub fn resolve(&self) -> Result<ChosenPolicy, String> {
        match (&self.config, &self.preset) {
            (Some(path), _) => {
                let cfg =
                    Config::load_file(path, &Overrides::default()).map_err(|e| e.to_string())?;
                let policy = match &self.policy {
                    Some(name) => cfg.policy(name).cloned().ok_or_else(|| {
                        let names: Vec<&str> = cfg.policies.keys().map(String::as_str).collect();
                        format!(
                            "--policy {name}: no such policy in {} (policies: {})",
                            path.display(),
                            names.join(", ")
                        )
                    })?,
                    None => cfg.default_policy.clone(),
                };
                Ok(ChosenPolicy {
                    name: policy.name.clone(),
                    spec: policy.spec.clone(),
                })
            }
            (None, preset) => {
                let name = preset
                    .as_deref()
                    .unwrap_or(rampart_config::presets::DEFAULT_PRESET);
                let spec = rampart_config::presets::preset(name).ok_or_else(|| {
                    format!(
                        "--preset {name}: choose one of {}",
                        rampart_config::presets::PRESET_NAMES.join(", ")
                    )
                })?;
                Ok(ChosenPolicy {
                    name: name.to_owned(),
                    spec,
                })
            }
        }
    }
}

#[derive(Debug, ClapArgs)]
pub struct AuditIacArgs {
    /// Templates, plans or configuration files to audit.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

impl AuditIacArgs {
    pub fn resolve(&self) -> Result<(ChosenPolicy, OutputPlan), String> {
        Ok((self.policy.resolve()?, self.report.resolve()?))
    }
}

/// How the SDK audits reach AWS and whose accounts they read.
#[derive(Debug, ClapArgs)]
pub struct AwsArgs {
    /// A profile of the shared AWS config files (default: AWS_PROFILE, else `default`); SSO
    /// and credential_process profiles work.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS request here (an emulator, a VPC endpoint). AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Assume this IAM role (through STS) and audit its account; repeat for more accounts.
    #[arg(long = "role-arn", value_name = "ARN")]
    pub role_arns: Vec<String>,
    /// Role ARNs to assume, one per line (`#` starts a comment), added to --role-arn.
    #[arg(long, value_name = "FILE")]
    pub roles_file: Option<PathBuf>,
    /// Items per list request (default: the service's page size).
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
}

impl AwsArgs {
    fn resolve(&self, region: Option<String>) -> Result<crate::aws::sdk::AwsPlan, String> {
        use crate::aws::sdk::accounts;
        let mut roles = Vec::new();
        for arn in &self.role_arns {
            accounts::role_account(arn).map_err(|e| format!("--role-arn: {e}"))?;
            roles.push(arn.clone());
        }
        if let Some(f) = &self.roles_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--roles-file {}: {e}", f.display()))?;
            roles.extend(accounts::parse_roles_file(&text, &f.display().to_string())?);
        }
        let page_size = match self.page_size {
            None => None,
            Some(n @ 1..=500) => i32::try_from(n).ok(),
            Some(n) => return Err(format!("--page-size {n}: choose 1 to 500")),
        };
        if let Some(u) = &self.endpoint_url {
            let parsed = Url::parse(u).map_err(|e| format!("--endpoint-url {u}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!(
                    "--endpoint-url {u}: use an http:// or https:// URL"
                ));
            }
        }
        Ok(crate::aws::sdk::AwsPlan {
            connection: crate::aws::sdk::Connection {
                profile: self.profile.clone(),
                region,
                endpoint_url: self.endpoint_url.clone(),
            },
            roles,
            page_size,
        })
    }
}

#[derive(Debug, ClapArgs)]
pub struct AuditCloudfrontArgs {
    /// Audit only this distribution (repeatable; default: every distribution).
    #[arg(long = "distribution", value_name = "ID")]
    pub distributions: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

impl AuditCloudfrontArgs {
    pub fn resolve(&self) -> Result<(crate::aws::sdk::CloudfrontPlan, OutputPlan), String> {
        let out = self.report.resolve()?;
        let policy = self.policy.resolve()?;
        Ok((
            crate::aws::sdk::CloudfrontPlan {
                aws: self.aws.resolve(None)?,
                distributions: dedup(&self.distributions),
                want: policy.spec,
            },
            out,
        ))
    }
}

#[derive(Debug, ClapArgs)]
pub struct AuditApigatewayArgs {
    /// Audit this region (repeatable; default: AWS_REGION or the profile's region).
    #[arg(long = "region", value_name = "REGION", conflicts_with = "all_regions")]
    pub regions: Vec<String>,
    /// Audit every commercial region (opt-in regions the account has not enabled are skipped).
    #[arg(long)]
    pub all_regions: bool,
    /// Audit only this REST API id (repeatable; default: every REST API).
    #[arg(long = "api", value_name = "ID")]
    pub apis: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

impl AuditApigatewayArgs {
    pub fn resolve(&self) -> Result<(crate::aws::sdk::ApigatewayPlan, OutputPlan), String> {
        use crate::aws::sdk::Regions;
        let out = self.report.resolve()?;
        let policy = self.policy.resolve()?;
        let given = dedup(&self.regions);
        for r in &given {
            let valid = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(format!("--region {r}: not a region name (e.g. eu-west-1)"));
            }
        }
        let regions = if self.all_regions {
            Regions::All
        } else if given.is_empty() {
            Regions::Configured
        } else {
            Regions::Given(given.clone())
        };
        Ok((
            crate::aws::sdk::ApigatewayPlan {
                // STS goes to the first region named, as the AWS CLI would with --region.
                aws: self.aws.resolve(given.first().cloned())?,
                regions,
                apis: dedup(&self.apis),
                want: policy.spec,
            },
            out,
        ))
    }
}

/// Keeps the first of each value, in order.
fn dedup(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

#[derive(Debug, ClapArgs)]
pub struct EmitArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// json (the AWS API/CLI input), cloudformation (YAML template) or terraform (JSON syntax:
    /// save as *.tf.json).
    #[arg(long, value_name = "FORMAT", default_value = "json")]
    pub format: String,
    /// Write to a file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl EmitArgs {
    pub fn resolve(&self) -> Result<(ChosenPolicy, crate::emit::EmitFormat), String> {
        let format = crate::emit::EmitFormat::parse(&self.format).ok_or_else(|| {
            format!(
                "--format {}: choose json, cloudformation or terraform",
                self.format
            )
        })?;
        Ok((self.policy.resolve()?, format))
    }
}

/// Options every reporting command shares.
#[derive(Debug, ClapArgs)]
pub struct ReportArgs {
    /// table (default on a terminal), json, sarif, junit or markdown.
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: String,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity: info, low, medium (default), high.
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    pub fail_on: String,
}

#[derive(Debug, ClapArgs)]
pub struct ProbeArgs {
    /// URLs to probe (http:// or https://).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// More URLs, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    pub urls_file: Option<PathBuf>,
    /// Hold each URL to this rampart configuration (the route serving its host and path).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// With --config: hold every URL to this route's policy.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub route: Option<String>,
    /// Hold each URL to a preset: strict, helmet, cloudfront-security-headers, none.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// Skip the error probes (missing path, unknown method, malformed SigV4, bogus API key).
    #[arg(long)]
    pub no_error_probes: bool,
    /// Seconds per request.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// URLs probed at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Extra request header, e.g. 'Authorization: Bearer ...' (repeatable).
    #[arg(long = "header", value_name = "'Name: value'")]
    pub headers: Vec<String>,
    /// Do not verify certificates (the transport check still reports an untrusted one).
    #[arg(long)]
    pub insecure: bool,
    /// Also trust the CA certificates in this PEM file (a staging environment's private CA).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// Output settings resolved from [`ReportArgs`].
pub struct OutputPlan {
    pub format: Format,
    pub output: Option<PathBuf>,
    pub fail_on: Severity,
}

impl ReportArgs {
    pub fn resolve(&self) -> Result<OutputPlan, String> {
        let format = Format::parse(&self.format).ok_or_else(|| {
            format!(
                "--format {}: choose table, json, sarif, junit or markdown",
                self.format
            )
        })?;
        let fail_on = Severity::parse(&self.fail_on).ok_or_else(|| {
            format!(
                "--fail-on {}: choose info, low, medium or high",
                self.fail_on
            )
        })?;
        Ok(OutputPlan {
            format,
            output: self.output.clone(),
            fail_on,
        })
    }
}

impl ProbeArgs {
    /// Validates everything before any request is sent.
    pub fn resolve(&self) -> Result<(ProbePlan, OutputPlan), String> {
        let out = self.report.resolve()?;
        let mut given: Vec<String> = self.urls.clone();
        if let Some(f) = &self.urls_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--urls-file {}: {e}", f.display()))?;
            given.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or_default().trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        if given.is_empty() {
            return Err("no URL to probe: give URLs or --urls-file FILE".to_owned());
        }
        let mut urls = Vec::new();
        for g in given {
            let u = Url::parse(&g).map_err(|e| format!("{g}: not a URL ({e})"))?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                return Err(format!("{g}: only http:// and https:// URLs can be probed"));
            }
            urls.push((g, u));
        }
        let expectation = match (&self.config, &self.preset) {
            (Some(path), _) => {
                let cfg =
                    Config::load_file(path, &Overrides::default()).map_err(|e| e.to_string())?;
                match &self.route {
                    Some(name) => {
                        let route =
                            cfg.routes.iter().find(|r| &r.name == name).ok_or_else(|| {
                                let names: Vec<&str> =
                                    cfg.routes.iter().map(|r| r.name.as_str()).collect();
                                format!(
                                    "--route {name}: no such route in {} (routes: {})",
                                    path.display(),
                                    names.join(", ")
                                )
                            })?;
                        Expectation::Fixed(route.policy.clone())
                    }
                    None => Expectation::ByRoute(Arc::new(cfg)),
                }
            }
            (None, Some(preset)) => {
                let cfg = Config::from_overrides(&Overrides {
                    upstream: Some("http://127.0.0.1:1".to_owned()),
                    ..Overrides::default()
                })
                .map_err(|e| e.to_string())?;
                let p = cfg.policy(preset).cloned().ok_or_else(|| {
                    format!(
                        "--preset {preset}: choose one of {}",
                        rampart_config::presets::PRESET_NAMES.join(", ")
                    )
                })?;
                Expectation::Fixed(p)
            }
            (None, None) => Expectation::None,
        };
        let mut headers = Vec::new();
        for h in &self.headers {
            let (n, v) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h:?}: write it as 'Name: value'"))?;
            let name = http::HeaderName::from_bytes(n.trim().as_bytes())
                .map_err(|_| format!("--header {h:?}: invalid header name"))?;
            let value = http::HeaderValue::from_str(v.trim())
                .map_err(|_| format!("--header {h:?}: invalid header value"))?;
            headers.push((name, value));
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".to_owned());
        }
        if self.timeout == 0 {
            return Err("--timeout must be at least 1 second".to_owned());
        }
        let ca_pem = match &self.ca_file {
            Some(f) => {
                vec![std::fs::read(f).map_err(|e| format!("--ca-file {}: {e}", f.display()))?]
            }
            None => Vec::new(),
        };
        let plan = ProbePlan {
            urls,
            fetch: probe::fetcher_options(
                Duration::from_secs(self.timeout),
                self.insecure,
                headers,
                ca_pem,
            ),
            expectation,
            error_probes: !self.no_error_probes,
            concurrency: self.concurrency,
            detectors: DetectorSet::builtin(),
        };
        Ok((plan, out))
    }
}
