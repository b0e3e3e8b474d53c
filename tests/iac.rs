//! rampart-verify audit iac and emit: CloudFormation (CDK synth JSON, YAML with short-form
//! intrinsics), Terraform plans and *.tf.json, their clean twins, emitted settings passing the
//! audit, output shapes, exit codes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::bin::{VerifyRun, run_verify};
use crate::support::temp::TempDir;

type Run = VerifyRun;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/iac")
}

/// Runs the verifier in `dir`, so targets are named by the relative file names given.
fn verify_in(dir: &Path, args: &[&str]) -> Run {
    run_verify(Some(dir), args)
}

/// `audit iac FILES --format json` over the fixtures, with extra arguments.
fn audit(files: &[&str], extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["audit", "iac"];
    args.extend_from_slice(files);
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    let run = verify_in(&fixtures(), &args);
    let v = run.json();
    (run, v)
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = report["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["target"].as_str())
                .collect();
            panic!("no target {name} in {names:?}")
        })
}

/// (id, severity, check) of every finding of a target.
fn findings(t: &Value) -> Vec<(String, String, String)> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["check"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn has(t: &Value, id: &str, severity: &str, check: &str) {
    let all = findings(t);
    assert!(
        all.iter()
            .any(|(i, s, c)| i == id && s == severity && c == check),
        "{}: no {severity} {id} on {check} in {all:#?}",
        t["target"]
    );
}

#[track_caller]
fn evidence_of<'a>(t: &'a Value, id: &str, check: &str) -> &'a str {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id && f["check"] == check)
        .and_then(|f| f["evidence"].as_str())
        .unwrap_or_else(|| panic!("{}: no {id} on {check}", t["target"]))
}

#[track_caller]
fn assert_clean(report: &Value, what: &str) {
    let targets = report["targets"].as_array().unwrap();
    assert!(!targets.is_empty(), "{what}: no target audited");
    for t in targets {
        assert!(t.get("error").is_none(), "{what}: {}", t["error"]);
        assert!(
            t["findings"].as_array().unwrap().is_empty(),
            "{what} {}: {:#?}",
            t["target"],
            t["findings"]
        );
    }
}

#[test]
fn cdk_synth_template_findings_name_file_and_logical_id() {
    let file = "cdk-leaky.template.json";
    let (run, r) = audit(&[file], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    let policy = target(&r, "cdk-leaky.template.json#SiteHeaders6A8B9C0D");
    assert_eq!(policy["url"], file);
    has(
        policy,
        "cloudfront-hsts-weaker",
        "high",
        "cloudfront/strict-transport-security",
    );
    has(
        policy,
        "cloudfront-header-not-overriding",
        "medium",
        "cloudfront/strict-transport-security",
    );
    has(
        policy,
        "cloudfront-header-missing",
        "high",
        "cloudfront/content-security-policy",
    );
    has(
        policy,
        "cloudfront-header-weaker",
        "high",
        "cloudfront/x-frame-options",
    );
    has(
        policy,
        "cloudfront-header-weaker",
        "medium",
        "cloudfront/referrer-policy",
    );
    has(
        policy,
        "cloudfront-header-missing",
        "medium",
        "cloudfront/permissions-policy",
    );
    has(
        policy,
        "cloudfront-server-not-overridden",
        "medium",
        "cloudfront/server",
    );
    has(
        policy,
        "cloudfront-remove-missing",
        "low",
        "cloudfront/remove",
    );
    let hsts = evidence_of(
        policy,
        "cloudfront-hsts-weaker",
        "cloudfront/strict-transport-security",
    );
    assert!(
        hsts.contains("max-age 300 < 63072000") && hsts.contains("includeSubDomains"),
        "{hsts}"
    );

    let dist = target(&r, "cdk-leaky.template.json#SiteDistribution3FF9535D");
    has(
        dist,
        "cloudfront-viewer-protocol-allow-all",
        "medium",
        "cloudfront/behavior[default]/viewer-protocol-policy",
    );
    has(
        dist,
        "cloudfront-behavior-without-headers-policy",
        "medium",
        "cloudfront/behavior[/assets/*]/response-headers-policy",
    );
    // No ViewerCertificate: the CloudFront default certificate, which allows TLSv1.
    has(
        dist,
        "cloudfront-tls-outdated",
        "medium",
        "cloudfront/viewer-certificate",
    );
    // The managed SecurityHeadersPolicy on /api/* is judged by its known contents.
    has(
        dist,
        "cloudfront-header-missing",
        "high",
        "cloudfront/behavior[/api/*]/content-security-policy",
    );
    has(
        dist,
        "cloudfront-hsts-weaker",
        "high",
        "cloudfront/behavior[/api/*]/strict-transport-security",
    );
    assert!(
        evidence_of(
            dist,
            "cloudfront-header-missing",
            "cloudfront/behavior[/api/*]/content-security-policy"
        )
        .contains("Managed-SecurityHeadersPolicy")
    );
    // An imported policy id cannot be judged from the template.
    has(
        dist,
        "cloudfront-headers-policy-unverifiable",
        "info",
        "cloudfront/behavior[/legacy/*]/response-headers-policy",
    );
    // The default behavior references the policy in the template: judged there, not twice.
    assert!(
        !findings(dist)
            .iter()
            .any(|(_, _, c)| c.starts_with("cloudfront/behavior[default]/")
                && !c.ends_with("viewer-protocol-policy")),
        "{:#?}",
        findings(dist)
    );

    let api = target(&r, "cdk-leaky.template.json#ApiF70053CD");
    has(
        api,
        "apigateway-default-response-missing",
        "high",
        "apigateway/default-4xx",
    );
    has(
        api,
        "apigateway-default-response-missing",
        "high",
        "apigateway/default-5xx",
    );

    let unauthorized = target(&r, "cdk-leaky.template.json#ApiUNAUTHORIZED4A5B6C7D");
    has(
        unauthorized,
        "apigateway-template-leaks-context",
        "high",
        "apigateway/response-templates",
    );
    has(
        unauthorized,
        "apigateway-security-headers-missing",
        "medium",
        "apigateway/security-headers",
    );
    assert!(
        evidence_of(
            unauthorized,
            "apigateway-template-leaks-context",
            "apigateway/response-templates"
        )
        .contains("$context.authorizer.principalId")
    );

    // Resources the audit does not judge are not targets.
    let names: Vec<&str> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("#SiteBucket397A1860") || n.ends_with("#CDKMetadata")),
        "{names:?}"
    );
}

#[test]
fn yaml_template_with_short_form_intrinsics_findings() {
    let (run, r) = audit(&["template.yaml"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    let policy = target(&r, "template.yaml#SiteHeaders");
    has(
        policy,
        "cloudfront-hsts-weaker",
        "high",
        "cloudfront/strict-transport-security",
    );
    // `!Sub` resolved with the parameter's default before the CSP was compared.
    let csp = evidence_of(
        policy,
        "cloudfront-header-weaker",
        "cloudfront/content-security-policy",
    );
    assert!(csp.contains("https://shop.example.com"), "{csp}");
    has(
        policy,
        "cloudfront-header-missing",
        "high",
        "cloudfront/x-frame-options",
    );
    has(
        policy,
        "cloudfront-header-weaker",
        "medium",
        "cloudfront/referrer-policy",
    );
    has(
        policy,
        "cloudfront-server-not-overridden",
        "medium",
        "cloudfront/server",
    );
    assert!(
        evidence_of(
            policy,
            "cloudfront-server-not-overridden",
            "cloudfront/server"
        )
        .contains("Override false")
    );

    let dist = target(&r, "template.yaml#SiteDistribution");
    // `!FindInMap [TlsPolicies, !Ref Stage, Minimum]` -> TLSv1.1_2016.
    has(
        dist,
        "cloudfront-tls-outdated",
        "medium",
        "cloudfront/viewer-certificate",
    );
    assert_eq!(
        evidence_of(
            dist,
            "cloudfront-tls-outdated",
            "cloudfront/viewer-certificate"
        ),
        "MinimumProtocolVersion TLSv1.1_2016"
    );
    has(
        dist,
        "cloudfront-viewer-protocol-allow-all",
        "medium",
        "cloudfront/behavior[/static/*]/viewer-protocol-policy",
    );
    has(
        dist,
        "cloudfront-behavior-without-headers-policy",
        "medium",
        "cloudfront/behavior[/static/*]/response-headers-policy",
    );
    // `!Ref ManagedHeadersPolicyId` resolves through the parameter's default to the managed id.
    has(
        dist,
        "cloudfront-hsts-weaker",
        "high",
        "cloudfront/behavior[/api/*]/strict-transport-security",
    );
    // A parameter without a default is unverifiable, not guessed.
    has(
        dist,
        "cloudfront-headers-policy-unverifiable",
        "info",
        "cloudfront/behavior[/partners/*]/response-headers-policy",
    );

    let api = target(&r, "template.yaml#Api");
    has(
        api,
        "apigateway-default-response-missing",
        "high",
        "apigateway/default-5xx",
    );
    assert!(
        !findings(api)
            .iter()
            .any(|(_, _, c)| c == "apigateway/default-4xx")
    );

    // DEFAULT_4XX answers for ACCESS_DENIED's siblings (INVALID_SIGNATURE, WAF_FILTERED...): high.
    let d4 = target(&r, "template.yaml#Api4xx");
    has(
        d4,
        "apigateway-template-leaks-context",
        "high",
        "apigateway/response-templates",
    );
    has(
        d4,
        "apigateway-security-headers-missing",
        "medium",
        "apigateway/security-headers",
    );

    let denied = target(&r, "template.yaml#ApiAccessDenied");
    has(
        denied,
        "apigateway-template-leaks-context",
        "high",
        "apigateway/response-templates",
    );
    let leak = evidence_of(
        denied,
        "apigateway-template-leaks-context",
        "apigateway/response-templates",
    );
    assert!(
        leak.contains("$context.identity.sourceIp") && leak.contains("$context.accountId"),
        "{leak}"
    );
    has(
        denied,
        "apigateway-security-header-weaker",
        "medium",
        "apigateway/security-headers",
    );
    // HSTS given through `!Sub` counts as present.
    assert!(
        !evidence_of(
            denied,
            "apigateway-security-headers-missing",
            "apigateway/security-headers"
        )
        .contains("Strict-Transport-Security")
    );

    // THROTTLED is not one of the high-risk types: medium.
    let throttled = target(&r, "template.yaml#ApiThrottled");
    has(
        throttled,
        "apigateway-template-leaks-context",
        "medium",
        "apigateway/response-templates",
    );
}

#[test]
fn terraform_plan_findings_name_file_and_address() {
    let (run, r) = audit(&["plan.json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);

    let policy = target(&r, "plan.json#aws_cloudfront_response_headers_policy.site");
    has(
        policy,
        "cloudfront-hsts-weaker",
        "high",
        "cloudfront/strict-transport-security",
    );
    has(
        policy,
        "cloudfront-header-missing",
        "high",
        "cloudfront/content-security-policy",
    );
    has(
        policy,
        "cloudfront-header-weaker",
        "medium",
        "cloudfront/referrer-policy",
    );

    let dist = target(&r, "plan.json#aws_cloudfront_distribution.site");
    has(
        dist,
        "cloudfront-viewer-protocol-allow-all",
        "medium",
        "cloudfront/behavior[default]/viewer-protocol-policy",
    );
    has(
        dist,
        "cloudfront-behavior-without-headers-policy",
        "medium",
        "cloudfront/behavior[/uploads/*]/response-headers-policy",
    );
    has(
        dist,
        "cloudfront-tls-outdated",
        "medium",
        "cloudfront/viewer-certificate",
    );
    has(
        dist,
        "cloudfront-header-missing",
        "high",
        "cloudfront/behavior[/api/*]/content-security-policy",
    );
    // The default behavior's policy id is unknown until apply; the configuration's reference
    // leads to the policy in the plan, which is judged as its own target.
    assert!(
        !findings(dist)
            .iter()
            .any(|(_, _, c)| c == "cloudfront/behavior[default]/response-headers-policy"),
        "{:#?}",
        findings(dist)
    );

    let module_dist = target(&r, "plan.json#module.cdn.aws_cloudfront_distribution.this");
    has(
        module_dist,
        "cloudfront-tls-outdated",
        "low",
        "cloudfront/viewer-certificate",
    );
    assert_eq!(
        findings(module_dist).len(),
        1,
        "{:#?}",
        findings(module_dist)
    );
    let module_policy = target(
        &r,
        "plan.json#module.cdn.aws_cloudfront_response_headers_policy.this",
    );
    has(
        module_policy,
        "cloudfront-headers-policy-unverifiable",
        "info",
        "cloudfront/response-headers-policy",
    );

    let api = target(&r, "plan.json#aws_api_gateway_rest_api.api");
    has(
        api,
        "apigateway-default-response-missing",
        "high",
        "apigateway/default-4xx",
    );
    has(
        api,
        "apigateway-default-response-missing",
        "high",
        "apigateway/default-5xx",
    );
    // ACCESS_DENIED is customised, so it is not listed among the built-in ones.
    assert!(
        !evidence_of(
            api,
            "apigateway-default-response-missing",
            "apigateway/default-4xx"
        )
        .contains("ACCESS_DENIED")
    );

    let denied = target(
        &r,
        "plan.json#aws_api_gateway_gateway_response.access_denied",
    );
    has(
        denied,
        "apigateway-template-leaks-context",
        "high",
        "apigateway/response-templates",
    );
    has(
        denied,
        "apigateway-security-headers-missing",
        "medium",
        "apigateway/security-headers",
    );
}

#[test]
fn clean_twins_have_no_finding_and_exit_0() {
    for file in [
        "cdk-clean.template.json",
        "template-clean.yaml",
        "plan-clean.json",
    ] {
        let (run, r) = audit(&[file], &[]);
        assert_eq!(run.code, 0, "{file}: {}", run.stderr);
        assert_clean(&r, file);
        assert!(r["targets"].as_array().unwrap().len() >= 5, "{file}");
    }
    // Every audited resource lists its checks: JUnit shows them as passing testcases.
    let run = verify_in(
        &fixtures(),
        &["audit", "iac", "template-clean.yaml", "--format", "junit"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("template-clean.yaml#SiteDistribution"),
        "{}",
        run.stdout
    );
    for check in [
        "cloudfront/viewer-certificate",
        "cloudfront/behavior[/api/*]/response-headers-policy",
        "cloudfront/strict-transport-security",
        "apigateway/default-5xx",
        "apigateway/response-templates",
        "apigateway/security-headers",
    ] {
        assert!(run.stdout.contains(check), "no testcase {check}");
    }
    assert!(!run.stdout.contains("<failure"));
}

#[test]
fn fail_on_and_sarif_work_as_for_probe() {
    let (run, _) = audit(&["template.yaml"], &["--fail-on", "high"]);
    assert_eq!(run.code, 1);
    let tmp = TempDir::new();
    // One medium finding only: a distribution behavior without a response headers policy.
    tmp.write(
        "medium.json",
        r#"{"Resources": {"Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "DefaultCacheBehavior": {"ViewerProtocolPolicy": "redirect-to-https", "TargetOriginId": "o"},
            "ViewerCertificate": {"AcmCertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/x", "MinimumProtocolVersion": "TLSv1.2_2021"}
        }}}}}"#,
    );
    let run = verify_in(
        tmp.path(),
        &[
            "audit",
            "iac",
            "medium.json",
            "--format",
            "json",
            "--fail-on",
            "high",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    has(
        target(&r, "medium.json#Cdn"),
        "cloudfront-behavior-without-headers-policy",
        "medium",
        "cloudfront/behavior[default]/response-headers-policy",
    );
    let run = verify_in(
        tmp.path(),
        &["audit", "iac", "medium.json", "--format", "json"],
    );
    assert_eq!(run.code, 1);

    let out = tmp.path().join("iac.sarif");
    let run = verify_in(
        &fixtures(),
        &[
            "audit",
            "iac",
            "plan.json",
            "--format",
            "sarif",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "--output writes the file, not stdout"
    );
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|x| x["ruleId"] == "cloudfront-tls-outdated")
    );
}

#[test]
fn unparsable_and_unreadable_files_exit_2_naming_the_file() {
    let tmp = TempDir::new();
    tmp.write(
        "broken.yaml",
        "Resources:\n  Api:\n    Type: AWS::ApiGateway::RestApi\n    Properties: [unclosed\n",
    );
    tmp.write(
        "broken.json",
        "{\n  \"Resources\": {\n    \"Api\": \n  }\n}\n",
    );
    tmp.write("other.json", "{\"hello\": \"world\"}\n");
    std::fs::copy(
        fixtures().join("template-clean.yaml"),
        tmp.path().join("good.yaml"),
    )
    .unwrap();

    let run = verify_in(
        tmp.path(),
        &["audit", "iac", "broken.yaml", "--format", "json"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("broken.yaml"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        line.contains("broken.yaml:") && line.contains("invalid YAML"),
        "{line}"
    );
    let at: Vec<&str> = line.split(':').collect();
    assert!(
        at[2].trim().parse::<usize>().is_ok_and(|l| l >= 4),
        "line number in {line}"
    );

    let run = verify_in(tmp.path(), &["audit", "iac", "broken.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.json:4:"), "{}", run.stderr);
    assert!(run.stderr.contains("invalid JSON"), "{}", run.stderr);

    let run = verify_in(tmp.path(), &["audit", "iac", "missing.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing.yaml: cannot read"),
        "{}",
        run.stderr
    );

    let run = verify_in(tmp.path(), &["audit", "iac", "other.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("other.json: not a CloudFormation template"),
        "{}",
        run.stderr
    );

    // The report is still written, with the good file audited and the bad one as an error.
    let run = verify_in(
        tmp.path(),
        &[
            "audit",
            "iac",
            "good.yaml",
            "broken.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 2);
    let r = run.json();
    assert!(
        target(&r, "broken.json")["error"]
            .as_str()
            .unwrap()
            .contains("broken.json:4:")
    );
    assert!(
        target(&r, "good.yaml#SiteDistribution")["findings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one line per failed file: {}",
        run.stderr
    );
}

const CUSTOM_CONFIG: &str = r#"
[server]
default_policy = "shop"

[policies.shop]
extends = "strict"
server = "shop"
also_remove = ["x-debug-token", "x-internal-*"]
content_security_policy = { value = "default-src 'none'; img-src 'self'; frame-ancestors 'none'" }
referrer_policy = { value = "strict-origin-when-cross-origin", override = false }
cross_origin_embedder_policy = { value = "require-corp" }

[policies.shop.strict_transport_security]
max_age = 31536000
include_subdomains = true
preload = true

[[policies.shop.custom]]
name = "X-Robots-Tag"
value = "noindex"

[[routes]]
upstream = "http://127.0.0.1:3000"
"#;

fn emit(dir: &Path, service: &str, format: &str, policy: &[&str]) -> (Run, String) {
    let mut args = vec!["emit", service, "--format", format];
    args.extend_from_slice(policy);
    let run = verify_in(dir, &args);
    assert_eq!(
        run.code, 0,
        "emit {service} {format} {policy:?}: {}",
        run.stderr
    );
    let text = run.stdout.clone();
    (run, text)
}

#[test]
fn emitted_settings_pass_the_audit_in_every_format() {
    let tmp = TempDir::new();
    tmp.write("rampart.toml", CUSTOM_CONFIG);
    let policies: [&[&str]; 2] = [&["--preset", "strict"], &["--config", "rampart.toml"]];
    for policy in policies {
        for service in ["cloudfront", "apigateway"] {
            for (format, file) in [
                ("json", "out.json"),
                ("cloudformation", "out.yaml"),
                ("terraform", "out.tf.json"),
            ] {
                let (_, text) = emit(tmp.path(), service, format, policy);
                let name = format!("{service}-{}", file);
                tmp.write(&name, &text);
                let mut args = vec!["audit", "iac", name.as_str(), "--format", "json"];
                args.extend_from_slice(policy);
                let run = verify_in(tmp.path(), &args);
                assert_eq!(
                    run.code, 0,
                    "{name} {policy:?}: {}\n{}",
                    run.stderr, run.stdout
                );
                assert_clean(&run.json(), &format!("{name} {policy:?}"));
                if policy[0] == "--config" {
                    assert!(
                        text.contains("default-src 'none'; img-src 'self'"),
                        "{name}: custom CSP missing"
                    );
                    assert!(
                        text.contains("X-Robots-Tag"),
                        "{name}: custom header missing"
                    );
                }
            }
        }
    }
    // The audit really compares with the chosen policy: the strict emission is not the custom one.
    let (_, strict) = emit(
        tmp.path(),
        "cloudfront",
        "cloudformation",
        &["--preset", "strict"],
    );
    tmp.write("strict.yaml", &strict);
    let run = verify_in(
        tmp.path(),
        &[
            "audit",
            "iac",
            "strict.yaml",
            "--config",
            "rampart.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = run.json();
    let t = target(&r, "strict.yaml#RampartResponseHeadersPolicy");
    has(
        t,
        "cloudfront-server-not-overridden",
        "medium",
        "cloudfront/server",
    );
    has(
        t,
        "cloudfront-header-missing",
        "low",
        "cloudfront/x-robots-tag",
    );
}

#[test]
fn emit_cloudfront_json_is_create_response_headers_policy_input() {
    let tmp = TempDir::new();
    let (run, text) = emit(tmp.path(), "cloudfront", "json", &[]);
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys = |o: &Value| -> Vec<String> {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        [
            "Comment",
            "CustomHeadersConfig",
            "Name",
            "RemoveHeadersConfig",
            "SecurityHeadersConfig"
        ]
    );
    let name = v["Name"].as_str().unwrap();
    assert!(
        !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{name}"
    );
    let s = &v["SecurityHeadersConfig"];
    assert_eq!(
        keys(s),
        [
            "ContentSecurityPolicy",
            "ContentTypeOptions",
            "FrameOptions",
            "ReferrerPolicy",
            "StrictTransportSecurity",
            "XSSProtection"
        ]
    );
    assert_eq!(keys(&s["XSSProtection"]), ["Override", "Protection"]);
    assert_eq!(s["XSSProtection"]["Protection"], false);
    assert_eq!(keys(&s["FrameOptions"]), ["FrameOption", "Override"]);
    assert_eq!(s["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(keys(&s["ReferrerPolicy"]), ["Override", "ReferrerPolicy"]);
    assert_eq!(
        keys(&s["ContentSecurityPolicy"]),
        ["ContentSecurityPolicy", "Override"]
    );
    assert_eq!(keys(&s["ContentTypeOptions"]), ["Override"]);
    assert_eq!(
        keys(&s["StrictTransportSecurity"]),
        [
            "AccessControlMaxAgeSec",
            "IncludeSubdomains",
            "Override",
            "Preload"
        ]
    );
    assert_eq!(
        s["StrictTransportSecurity"]["AccessControlMaxAgeSec"],
        63_072_000
    );
    for (config, fields) in [
        ("CustomHeadersConfig", vec!["Header", "Override", "Value"]),
        ("RemoveHeadersConfig", vec!["Header"]),
    ] {
        let c = &v[config];
        assert_eq!(keys(c), ["Items", "Quantity"], "{config}");
        let items = c["Items"].as_array().unwrap();
        assert_eq!(c["Quantity"], items.len(), "{config}");
        for i in items {
            assert_eq!(keys(i), fields, "{config}: {i}");
        }
    }
    let custom = v["CustomHeadersConfig"]["Items"].as_array().unwrap();
    let server = custom.iter().find(|i| i["Header"] == "Server").unwrap();
    assert_eq!(server["Value"], "rampart");
    assert_eq!(server["Override"], true);
    assert!(custom.iter().any(|i| i["Header"] == "Permissions-Policy"));
    let removed: Vec<&str> = v["RemoveHeadersConfig"]["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Header"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"x-powered-by"));
    assert!(
        !removed.iter().any(|h| h.contains('*')),
        "wildcards are not removable: {removed:?}"
    );
    assert!(
        !removed.contains(&"x-amz-cf-id"),
        "CloudFront cannot remove it: {removed:?}"
    );
    // What could not be carried over is said on stderr, leaving stdout valid input.
    assert!(run.stderr.contains("x-amzn-*"), "{}", run.stderr);
    assert!(!text.contains("null"));
}

#[test]
fn emit_apigateway_json_lists_generic_responses_with_headers() {
    let tmp = TempDir::new();
    let (_, text) = emit(tmp.path(), "apigateway", "json", &[]);
    let v: Value = serde_json::from_str(&text).unwrap();
    let items = v["items"].as_array().unwrap();
    let types: Vec<&str> = items
        .iter()
        .map(|i| i["responseType"].as_str().unwrap())
        .collect();
    for t in [
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "ACCESS_DENIED",
        "INVALID_SIGNATURE",
        "WAF_FILTERED",
        "MISSING_AUTHENTICATION_TOKEN",
        "UNAUTHORIZED",
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let denied = items
        .iter()
        .find(|i| i["responseType"] == "ACCESS_DENIED")
        .unwrap();
    assert_eq!(denied["statusCode"], "403");
    assert_eq!(
        denied["responseParameters"]["gatewayresponse.header.Strict-Transport-Security"],
        "'max-age=63072000; includeSubDomains'"
    );
    assert_eq!(
        denied["responseParameters"]["gatewayresponse.header.X-Frame-Options"],
        "'DENY'"
    );
    let template = denied["responseTemplates"]["application/json"]
        .as_str()
        .unwrap();
    assert!(!template.contains("messageString"), "{template}");
    let d4 = items
        .iter()
        .find(|i| i["responseType"] == "DEFAULT_4XX")
        .unwrap();
    assert!(
        d4.get("statusCode").is_none(),
        "DEFAULT_4XX keeps each type's own status"
    );

    let (_, cfn) = emit(tmp.path(), "apigateway", "cloudformation", &[]);
    assert!(cfn.contains("RestApiId: !Ref RestApiId"), "{cfn}");
    let (_, tf) = emit(tmp.path(), "apigateway", "terraform", &[]);
    let tf: Value = serde_json::from_str(&tf).unwrap();
    assert_eq!(
        tf["resource"]["aws_api_gateway_gateway_response"]["default_4xx"]["rest_api_id"],
        "${var.rest_api_id}"
    );
    assert!(tf["variable"]["rest_api_id"].is_object());
}

#[test]
fn emit_refuses_a_csp_cloudfront_cannot_hold() {
    let tmp = TempDir::new();
    let long = (0..120)
        .map(|i| format!("https://cdn{i}.example.com"))
        .collect::<Vec<_>>()
        .join(" ");
    tmp.write(
        "long.toml",
        &format!(
            "[policies.site]\ncontent_security_policy = {{ value = \"default-src 'self' {long}\" }}\n\n[server]\ndefault_policy = \"site\"\n\n[[routes]]\nupstream = \"http://127.0.0.1:3000\"\n"
        ),
    );
    let run = verify_in(tmp.path(), &["emit", "cloudfront", "--config", "long.toml"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("1783"), "{}", run.stderr);
    // API Gateway has no such limit.
    let run = verify_in(tmp.path(), &["emit", "apigateway", "--config", "long.toml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
