//! The SDK audits against AWS's own wire format, replayed to the real SDK clients: what the
//! emulator used by the integration tests lacks (response headers policies, the 21 generated
//! default gateway responses, AccessDenied, throttling).

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use rampart_config::presets;
use serde_json::Value;

use super::replay::Replay;
use super::*;
use crate::model::{Severity, TargetReport};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/aws/",
            $path
        ))
    };
}

const XML: &str = "text/xml";
const JSON: &str = "application/json";
const STRICT_ID: &str = "3f5c6e0a-1b2d-4c3e-8f9a-0b1c2d3e4f50";
const WEAK_ID: &str = "7d9e1f2a-3b4c-4d5e-9f60-718293a4b5c6";

fn strict() -> PolicySpec {
    presets::preset("strict").unwrap()
}

fn aws_plan(page_size: Option<i32>) -> AwsPlan {
    AwsPlan {
        page_size,
        ..AwsPlan::default()
    }
}

fn cloudfront_plan(distributions: &[&str]) -> CloudfrontPlan {
    CloudfrontPlan {
        aws: aws_plan(Some(2)),
        distributions: distributions.iter().map(|d| (*d).to_owned()).collect(),
        want: strict(),
    }
}

fn apigateway_plan(regions: &[&str], apis: &[&str]) -> ApigatewayPlan {
    ApigatewayPlan {
        aws: aws_plan(Some(2)),
        regions: Regions::Given(regions.iter().map(|r| (*r).to_owned()).collect()),
        apis: apis.iter().map(|a| (*a).to_owned()).collect(),
        want: strict(),
    }
}

/// STS answers: the caller is account 123456789012.
fn with_sts(r: Replay) -> Replay {
    r.on(
        "POST /",
        200,
        XML,
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci-auditor</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#,
    )
    .when_body("Action=GetCallerIdentity")
}

fn cloudfront_replay() -> Replay {
    with_sts(Replay::new())
        .on(
            "GET /2020-05-31/distribution?MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-distributions-1.xml"),
        )
        .on(
            "GET /2020-05-31/distribution?Marker=E2NOPOLICYEXAMP&MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-distributions-2.xml"),
        )
        .on(
            "GET /2020-05-31/response-headers-policy?Type=managed&MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-response-headers-policies-managed-1.xml"),
        )
        .on(
            "GET /2020-05-31/response-headers-policy?Type=managed&Marker=managed-page-2&MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-response-headers-policies-managed-2.xml"),
        )
        .on(
            &format!("GET /2020-05-31/response-headers-policy/{STRICT_ID}"),
            200,
            XML,
            fixture!("cloudfront/get-response-headers-policy-strict.xml"),
        )
        .on(
            &format!("GET /2020-05-31/response-headers-policy/{WEAK_ID}"),
            200,
            XML,
            fixture!("cloudfront/get-response-headers-policy-weak.xml"),
        )
}

fn target<'a>(report: &'a Report, name: &str) -> &'a TargetReport {
    report
        .targets
        .iter()
        .find(|t| t.target == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
            panic!("no target {name} in {names:?}")
        })
}

fn ids(t: &TargetReport) -> Vec<&str> {
    t.findings.iter().map(|f| f.id.as_str()).collect()
}

#[tokio::test]
async fn cloudfront_pages_resolves_policies_once_and_judges_every_behavior() {
    let replay = cloudfront_replay();
    let config = replay.config().await;
    let report = audit_cloudfront_with(&config, &cloudfront_plan(&[]), Progress::off())
        .await
        .unwrap();

    let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(
        names,
        [
            "E1STRICTEXAMPLE",
            "E1STRICTEXAMPLE/default",
            "E1STRICTEXAMPLE/api/*",
            "E1STRICTEXAMPLE/legacy/*",
            "E2NOPOLICYEXAMP",
            "E2NOPOLICYEXAMP/default",
            "E2NOPOLICYEXAMP/img/*",
            "E3NEWMANAGEDEX",
            "E3NEWMANAGEDEX/default",
        ]
    );
    assert!(report.targets.iter().all(|t| t.error.is_none()));
    assert!(
        report
            .targets
            .iter()
            .all(|t| t.account.as_deref() == Some("123456789012"))
    );
    let e1 = target(&report, "E1STRICTEXAMPLE/default");
    assert_eq!(
        e1.url,
        "arn:aws:cloudfront::123456789012:distribution/E1STRICTEXAMPLE"
    );

    // The policy `emit cloudfront` writes for strict, attached by id: nothing to report.
    assert!(ids(e1).is_empty(), "{:?}", e1.findings);
    assert!(ids(target(&report, "E1STRICTEXAMPLE/api/*")).is_empty());
    assert!(ids(target(&report, "E1STRICTEXAMPLE")).is_empty());

    let legacy = target(&report, "E1STRICTEXAMPLE/legacy/*");
    let found = ids(legacy);
    for id in [
        "cloudfront-viewer-protocol-allow-all",
        "cloudfront-hsts-weaker",
        "cloudfront-header-missing",
        "cloudfront-header-not-overriding",
        "cloudfront-server-not-overridden",
        "cloudfront-header-weaker",
    ] {
        assert!(found.contains(&id), "{id} in {found:?}");
    }
    let hsts = legacy
        .findings
        .iter()
        .find(|f| f.id == "cloudfront-hsts-weaker")
        .unwrap();
    assert!(
        hsts.evidence.contains("legacy-headers"),
        "{}",
        hsts.evidence
    );
    assert!(hsts.evidence.contains("max-age=300"), "{}", hsts.evidence);
    let csp = legacy
        .findings
        .iter()
        .find(|f| {
            f.id == "cloudfront-header-missing" && f.title.contains("Content-Security-Policy")
        })
        .unwrap();
    assert_eq!(csp.severity, Severity::High);

    assert_eq!(
        ids(target(&report, "E2NOPOLICYEXAMP/default")),
        ["cloudfront-behavior-without-headers-policy"]
    );
    assert_eq!(
        ids(target(&report, "E2NOPOLICYEXAMP")),
        ["cloudfront-tls-outdated"]
    );
    // The managed SecurityHeadersPolicy, known by id: judged without a call.
    let img = target(&report, "E2NOPOLICYEXAMP/img/*");
    assert!(ids(img).contains(&"cloudfront-header-missing"));
    assert!(
        img.findings
            .iter()
            .any(|f| f.evidence.contains("Managed-SecurityHeadersPolicy"))
    );

    // A managed policy Rampart does not know by id, found by listing Type=managed.
    let new = target(&report, "E3NEWMANAGEDEX/default");
    assert!(
        new.findings.iter().any(|f| f
            .evidence
            .contains("Managed-SecurityHeadersPolicy-HSTS-Preload")),
        "{:?}",
        new.findings
    );
    assert!(!ids(new).contains(&"cloudfront-hsts-weaker"));
    let tls = &target(&report, "E3NEWMANAGEDEX").findings;
    assert_eq!(tls.len(), 1);
    assert_eq!(tls[0].severity, Severity::Low);

    // Two pages of distributions, two of managed policies (listed once), each custom policy
    // fetched once although the strict one serves two behaviors, nothing for the known id.
    assert_eq!(replay.count("GET /2020-05-31/distribution"), 2);
    assert_eq!(
        replay.count("GET /2020-05-31/response-headers-policy?"),
        2,
        "{:?}",
        replay.requests()
    );
    assert_eq!(
        replay.count(&format!(
            "GET /2020-05-31/response-headers-policy/{STRICT_ID}"
        )),
        1
    );
    assert_eq!(
        replay.count(&format!(
            "GET /2020-05-31/response-headers-policy/{WEAK_ID}"
        )),
        1
    );
    assert_eq!(
        replay.count("GET /2020-05-31/response-headers-policy/67f7725c"),
        0
    );
    assert!(!replay.requests().iter().any(|r| r.contains("no fixture")));
}

#[tokio::test]
async fn cloudfront_named_distribution_and_unknown_id() {
    let replay = with_sts(Replay::new())
        .on(
            "GET /2020-05-31/distribution/E2NOPOLICYEXAMP",
            200,
            XML,
            fixture!("cloudfront/get-distribution.xml"),
        )
        .on(
            "GET /2020-05-31/distribution/EDOESNOTEXIST",
            404,
            XML,
            fixture!("cloudfront/error-no-such-distribution.xml"),
        );
    let config = replay.config().await;
    let report = audit_cloudfront_with(
        &config,
        &cloudfront_plan(&["E2NOPOLICYEXAMP", "EDOESNOTEXIST"]),
        Progress::off(),
    )
    .await
    .unwrap();
    assert_eq!(
        ids(target(&report, "E2NOPOLICYEXAMP/default")),
        ["cloudfront-behavior-without-headers-policy"]
    );
    let missing = target(&report, "EDOESNOTEXIST");
    let error = missing.error.as_deref().unwrap();
    assert!(
        error.contains("distribution EDOESNOTEXIST does not exist (NoSuchDistribution"),
        "{error}"
    );
    assert_eq!(replay.count("GET /2020-05-31/distribution?"), 0);
}

#[tokio::test]
async fn cloudfront_access_denied_names_the_iam_action() {
    let replay = with_sts(Replay::new()).on(
        "GET /2020-05-31/distribution?MaxItems=2",
        403,
        XML,
        fixture!("cloudfront/error-access-denied.xml"),
    );
    let config = replay.config().await;
    let report = audit_cloudfront_with(&config, &cloudfront_plan(&[]), Progress::off())
        .await
        .unwrap();
    assert_eq!(report.targets.len(), 1);
    let t = &report.targets[0];
    assert_eq!(t.target, "account 123456789012");
    let error = t.error.as_deref().unwrap();
    assert!(
        error.starts_with("access denied: listing the distributions needs the IAM permission cloudfront:ListDistributions"),
        "{error}"
    );
    assert!(error.contains("ci-auditor"), "{error}");
    // Not retried: AccessDenied is not transient.
    assert_eq!(replay.count("GET /2020-05-31/distribution"), 1);
}

#[tokio::test]
async fn cloudfront_policy_denied_fails_only_its_behaviors() {
    let denied = fixture!("cloudfront/error-access-denied.xml").replace(
        "cloudfront:ListDistributions",
        "cloudfront:GetResponseHeadersPolicy",
    );
    let replay = with_sts(Replay::new())
        .on(
            "GET /2020-05-31/distribution?MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-distributions-1.xml"),
        )
        .on(
            "GET /2020-05-31/distribution?Marker=E2NOPOLICYEXAMP&MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-distributions-2.xml"),
        )
        .on(
            "GET /2020-05-31/response-headers-policy?Type=managed&MaxItems=2",
            200,
            XML,
            fixture!("cloudfront/list-response-headers-policies-managed-2.xml"),
        )
        .on(
            &format!("GET /2020-05-31/response-headers-policy/{STRICT_ID}"),
            403,
            XML,
            &denied,
        )
        .on(
            &format!("GET /2020-05-31/response-headers-policy/{WEAK_ID}"),
            200,
            XML,
            fixture!("cloudfront/get-response-headers-policy-weak.xml"),
        );
    let config = replay.config().await;
    let report = audit_cloudfront_with(&config, &cloudfront_plan(&[]), Progress::off())
        .await
        .unwrap();
    let e1 = target(&report, "E1STRICTEXAMPLE/default");
    let error = e1.error.as_deref().unwrap();
    assert!(
        error.contains("cloudfront:GetResponseHeadersPolicy"),
        "{error}"
    );
    assert!(target(&report, "E1STRICTEXAMPLE/api/*").error.is_some());
    // The denial is remembered, not asked again for the second behavior.
    assert_eq!(
        replay.count(&format!(
            "GET /2020-05-31/response-headers-policy/{STRICT_ID}"
        )),
        1
    );
    assert!(target(&report, "E1STRICTEXAMPLE/legacy/*").error.is_none());
    assert!(target(&report, "E3NEWMANAGEDEX/default").error.is_none());
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_reported() {
    let throttle = fixture!("cloudfront/error-throttling.xml");
    let replay = with_sts(Replay::new())
        .on(
            "GET /2020-05-31/distribution/E2NOPOLICYEXAMP",
            400,
            XML,
            throttle,
        )
        .times(2)
        .on(
            "GET /2020-05-31/distribution/E2NOPOLICYEXAMP",
            200,
            XML,
            fixture!("cloudfront/get-distribution.xml"),
        )
        .on(
            "GET /2020-05-31/distribution/E1STRICTEXAMPLE",
            400,
            XML,
            throttle,
        );
    let config = replay.config().await;
    let report = audit_cloudfront_with(
        &config,
        &cloudfront_plan(&["E2NOPOLICYEXAMP", "E1STRICTEXAMPLE"]),
        Progress::off(),
    )
    .await
    .unwrap();
    assert!(target(&report, "E2NOPOLICYEXAMP/default").error.is_none());
    assert_eq!(
        replay.count("GET /2020-05-31/distribution/E2NOPOLICYEXAMP"),
        3
    );
    let error = target(&report, "E1STRICTEXAMPLE").error.clone().unwrap();
    assert!(
        error.starts_with(
            "AWS kept throttling cloudfront:GetDistribution after the SDK's retries (Throttling)"
        ),
        "{error}"
    );
    assert_eq!(
        replay.count("GET /2020-05-31/distribution/E1STRICTEXAMPLE"),
        3
    );
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        )))
    }
}

#[tokio::test]
async fn missing_credentials_are_one_clear_error() {
    let replay = Replay::new();
    let config = replay
        .config()
        .await
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(NoCredentials))
        .build();
    let err = audit_cloudfront_with(&config, &cloudfront_plan(&[]), Progress::off())
        .await
        .unwrap_err();
    assert!(matches!(err, AwsError::NoCredentials { .. }), "{err}");
    assert!(
        err.to_string().starts_with("no AWS credentials found"),
        "{err}"
    );
    assert!(replay.requests().is_empty());

    // The same failure met inside a call (credentials vanishing mid-run) reads the same.
    let e = clients::cloudfront(&config)
        .list_distributions()
        .send()
        .await
        .unwrap_err();
    let e = errors::classify(e, "cloudfront:ListDistributions", "listing");
    assert!(matches!(e, AwsError::NoCredentials { .. }), "{e}");
}

fn apigateway_replay() -> Replay {
    with_sts(Replay::new())
        .on(
            "GET /restapis?limit=2",
            200,
            JSON,
            fixture!("apigateway/get-rest-apis-1.json"),
        )
        .on(
            "GET /restapis?position=b2generic1&limit=2",
            200,
            JSON,
            fixture!("apigateway/get-rest-apis-2.json"),
        )
        .on(
            "GET /restapis/a1leaky001/gatewayresponses?limit=2",
            200,
            JSON,
            fixture!("apigateway/gateway-responses-defaults.json"),
        )
        .on(
            "GET /restapis/b2generic1/gatewayresponses?limit=2",
            200,
            JSON,
            fixture!("apigateway/gateway-responses-generic-1.json"),
        )
        .on(
            "GET /restapis/b2generic1/gatewayresponses?position=page-2&limit=2",
            200,
            JSON,
            fixture!("apigateway/gateway-responses-generic-2.json"),
        )
        .on(
            "GET /restapis/c3partly01/gatewayresponses?limit=2",
            200,
            JSON,
            fixture!("apigateway/gateway-responses-partly.json"),
        )
}

#[tokio::test]
async fn apigateway_resolves_the_21_types_of_every_api() {
    let replay = apigateway_replay();
    let config = replay.config().await;
    let report = audit_apigateway_with(
        &config,
        &apigateway_plan(&["eu-west-1"], &[]),
        Progress::off(),
    )
    .await
    .unwrap();
    // Three APIs over two pages, each the API itself and its 21 response types.
    assert_eq!(report.targets.len(), 3 * 22);
    assert!(report.targets.iter().all(|t| t.error.is_none()));
    assert!(
        report
            .targets
            .iter()
            .all(|t| t.account.as_deref() == Some("123456789012"))
    );

    // Nothing customised: the 21 generated defaults (defaultResponse) are the built-in ones.
    let api = target(&report, "a1leaky001");
    assert_eq!(
        api.url,
        "arn:aws:apigateway:eu-west-1::/restapis/a1leaky001"
    );
    assert_eq!(
        ids(api),
        [
            "apigateway-default-response-missing",
            "apigateway-default-response-missing"
        ]
    );
    let denied = target(&report, "a1leaky001/ACCESS_DENIED");
    assert_eq!(denied.status, Some(403));
    assert_eq!(
        denied.url,
        "arn:aws:apigateway:eu-west-1::/restapis/a1leaky001/gatewayresponses/ACCESS_DENIED"
    );
    let leak = denied
        .findings
        .iter()
        .find(|f| f.id == "apigateway-template-leaks-context")
        .unwrap();
    assert_eq!(leak.severity, Severity::High);
    assert!(leak.evidence.contains("$context.error.messageString"));
    assert!(ids(denied).contains(&"apigateway-security-headers-missing"));
    let throttled = target(&report, "a1leaky001/THROTTLED");
    assert_eq!(throttled.worst(), Some(Severity::Medium));
    assert_eq!(throttled.status, Some(429));

    // `emit apigateway`'s responses (two pages of gateway responses): clean, including the
    // types DEFAULT_4XX/DEFAULT_5XX answer for.
    for t in report
        .targets
        .iter()
        .filter(|t| t.target.starts_with("b2generic1"))
    {
        assert!(t.findings.is_empty(), "{}: {:?}", t.target, t.findings);
    }
    assert_eq!(
        target(&report, "b2generic1/INTEGRATION_TIMEOUT").status,
        Some(504)
    );

    // Partly customised: the customised type, DEFAULT_4XX standing in, the built-in for 5xx.
    let denied = target(&report, "c3partly01/ACCESS_DENIED");
    let leak = denied
        .findings
        .iter()
        .find(|f| f.id == "apigateway-template-leaks-context")
        .unwrap();
    assert!(leak.evidence.contains("$context.authorizer.principalId"));
    assert_eq!(leak.severity, Severity::High);
    let throttled = target(&report, "c3partly01/THROTTLED");
    assert_eq!(ids(throttled), ["apigateway-security-headers-missing"]);
    assert!(throttled.findings[0].evidence.starts_with("DEFAULT_4XX"));
    let timeout = target(&report, "c3partly01/INTEGRATION_TIMEOUT");
    assert!(ids(timeout).contains(&"apigateway-template-leaks-context"));
    let api = target(&report, "c3partly01");
    assert_eq!(ids(api), ["apigateway-default-response-missing"]);
    assert!(api.findings[0].title.contains("DEFAULT_5XX"));

    assert_eq!(replay.count("GET /restapis?"), 2);
    assert_eq!(replay.count("GET /restapis/b2generic1/gatewayresponses"), 2);
}

#[tokio::test]
async fn apigateway_named_apis_and_unknown_ids() {
    let api: Value = serde_json::from_str(fixture!("apigateway/get-rest-apis-2.json")).unwrap();
    let one = api["item"][0].to_string();
    let replay = apigateway_replay()
        .on("GET /restapis/c3partly01", 200, JSON, &one)
        .on(
            "GET /restapis/zzzzzzzzzz",
            404,
            JSON,
            fixture!("apigateway/error-not-found.json"),
        )
        .header("x-amzn-ErrorType", "NotFoundException");
    let config = replay.config().await;
    let report = audit_apigateway_with(
        &config,
        &apigateway_plan(&["us-east-1"], &["c3partly01", "zzzzzzzzzz"]),
        Progress::off(),
    )
    .await
    .unwrap();
    assert_eq!(report.targets.len(), 22 + 1);
    assert!(target(&report, "c3partly01/ACCESS_DENIED").error.is_none());
    let missing = target(&report, "zzzzzzzzzz");
    assert_eq!(
        missing.error.as_deref(),
        Some("REST API zzzzzzzzzz does not exist in us-east-1 (NotFoundException)")
    );
    assert_eq!(replay.count("GET /restapis?"), 0);
}

#[tokio::test]
async fn apigateway_access_denied_names_the_iam_action() {
    let replay = with_sts(Replay::new())
        .on(
            "GET /restapis?limit=2",
            403,
            JSON,
            fixture!("apigateway/error-access-denied.json"),
        )
        .header("x-amzn-ErrorType", "AccessDeniedException");
    let config = replay.config().await;
    let report = audit_apigateway_with(
        &config,
        &apigateway_plan(&["eu-west-1", "eu-central-1"], &[]),
        Progress::off(),
    )
    .await
    .unwrap();
    let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, ["apigateway eu-west-1", "apigateway eu-central-1"]);
    let error = report.targets[0].error.as_deref().unwrap();
    assert!(
        error.starts_with(
            "access denied: listing the REST APIs of eu-west-1 needs the IAM permission apigateway:GET"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn apigateway_without_a_region_says_how_to_give_one() {
    let replay = Replay::new();
    let config = replay.config().await.to_builder().region(None).build();
    let mut plan = apigateway_plan(&[], &[]);
    plan.regions = Regions::Configured;
    let err = audit_apigateway_with(&config, &plan, Progress::off())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--region"), "{err}");
}

#[tokio::test]
async fn assumed_roles_audit_each_account_and_report_the_ones_that_fail() {
    let creds = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2026-11-22T20:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:rampart-verify-audit</AssumedRoleId><Arn>arn:aws:sts::111122223333:assumed-role/audit/rampart-verify-audit</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></AssumeRoleResponse>"#;
    let denied = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci-auditor is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/audit</Message></Error><RequestId>3</RequestId></ErrorResponse>"#;
    let api: Value = serde_json::from_str(fixture!("apigateway/get-rest-apis-2.json")).unwrap();
    let replay = apigateway_replay()
        .on("POST /", 200, XML, creds)
        .when_body("111122223333")
        .on("POST /", 403, XML, denied)
        .when_body("444455556666")
        .on(
            "GET /restapis/c3partly01",
            200,
            JSON,
            &api["item"][0].to_string(),
        );
    let config = replay.config().await;
    let mut plan = apigateway_plan(&["eu-west-1"], &["c3partly01"]);
    plan.aws.roles = vec![
        "arn:aws:iam::111122223333:role/audit".to_owned(),
        "arn:aws:iam::444455556666:role/audit".to_owned(),
    ];
    let report = audit_apigateway_with(&config, &plan, Progress::off())
        .await
        .unwrap();
    let ok = target(&report, "c3partly01/ACCESS_DENIED");
    assert_eq!(ok.account.as_deref(), Some("111122223333"));
    let failed = target(&report, "arn:aws:iam::444455556666:role/audit");
    assert_eq!(failed.account.as_deref(), Some("444455556666"));
    let error = failed.error.as_deref().unwrap();
    assert!(
        error.starts_with("access denied: assuming arn:aws:iam::444455556666:role/audit needs the IAM permission sts:AssumeRole"),
        "{error}"
    );
    let sts: Vec<String> = replay
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST /"))
        .collect();
    assert_eq!(sts.len(), 2, "{sts:?}");
}

#[tokio::test]
async fn all_regions_skips_opt_in_regions_the_account_has_not_enabled() {
    let unrecognized = r#"{"message":"The security token included in the request is invalid."}"#;
    let one_api = r#"{"item":[{"id":"eu1api0001","name":"eu"}]}"#;
    let replay = with_sts(Replay::new())
        .on("GET /restapis", 403, JSON, unrecognized)
        .when_host("af-south-1")
        .header("x-amzn-ErrorType", "UnrecognizedClientException")
        .on("GET /restapis", 200, JSON, one_api)
        .when_host("eu-west-1")
        .on(
            "GET /restapis/eu1api0001/gatewayresponses",
            200,
            JSON,
            fixture!("apigateway/gateway-responses-defaults.json"),
        )
        .on("GET /restapis", 200, JSON, r#"{"item":[]}"#);
    let config = replay.config().await;
    let mut plan = apigateway_plan(&[], &[]);
    plan.aws.page_size = None;
    plan.regions = Regions::All;
    let report = audit_apigateway_with(&config, &plan, Progress::off())
        .await
        .unwrap();
    assert_eq!(report.targets.len(), 22, "{:?}", report.targets);
    assert!(report.targets.iter().all(|t| t.error.is_none()));
    assert_eq!(
        target(&report, "eu1api0001").url,
        "arn:aws:apigateway:eu-west-1::/restapis/eu1api0001"
    );
    assert_eq!(replay.count("GET /restapis"), regions::COMMERCIAL.len() + 1);

    // The same answer from a region every account has means the credentials are wrong.
    let replay = with_sts(Replay::new())
        .on("GET /restapis", 403, JSON, unrecognized)
        .header("x-amzn-ErrorType", "UnrecognizedClientException");
    let config = replay.config().await;
    let mut plan = apigateway_plan(&["eu-west-1"], &[]);
    plan.aws.page_size = None;
    let report = audit_apigateway_with(&config, &plan, Progress::off())
        .await
        .unwrap();
    let error = report.targets[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("AWS rejected the credentials while calling apigateway:GET (UnrecognizedClientException)"),
        "{error}"
    );
}
