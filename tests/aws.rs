//! rampart-verify audit cloudfront / audit apigateway: the real binary against a real moto
//! server (distributions with and without policies, REST APIs with leaky and generic gateway
//! responses, pagination, assumed roles in other accounts), and the error paths (no
//! credentials, unknown ids, AccessDenied replayed from AWS's wire format).
//!
//! What moto does not implement (response headers policies, the 21 generated default gateway
//! responses) is covered by the replay tests in verifier/src/aws/sdk/tests.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use http::{Response, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::bin::{VerifyRun, verify_bin};
use crate::support::moto::Moto;
use crate::support::origin::{OriginBody, TestOrigin};
use crate::support::temp::TempDir;

/// moto's default account, for the `test` access key.
const ACCOUNT: &str = "123456789012";
const KEY: &str = "test";
const MANAGED_SECURITY_HEADERS: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";

fn fixture(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/aws")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs the verifier with nothing of the developer's AWS setup: a clean environment, empty
/// shared config files, no instance metadata, plus `env`.
fn verify(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> VerifyRun {
    let config = dir.write("aws-config", "");
    let credentials = dir.write("aws-credentials", "");
    let mut cmd = Command::new(verify_bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    VerifyRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const TEST_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", KEY),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

fn verify_moto(dir: &TempDir, moto: &Moto, args: &[&str]) -> VerifyRun {
    let url = moto.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--endpoint-url", &url, "--format", "json"]);
    verify(dir, &all, &TEST_CREDENTIALS)
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    let targets = report["targets"].as_array().unwrap();
    targets
        .iter()
        .find(|t| t["target"] == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = targets
                .iter()
                .filter_map(|t| t["target"].as_str())
                .collect();
            panic!("no target {name} in {names:?}")
        })
}

fn finding_ids(t: &Value) -> Vec<String> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    &xml[start..end]
}

// ---- moto setup ------------------------------------------------------------------------------

/// A cache behavior: path pattern (`None`: the default one), viewer protocol, policy id.
type Behavior<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

fn behavior_xml(b: &Behavior) -> String {
    let (path, protocol, policy) = b;
    let tag = if path.is_some() {
        "CacheBehavior"
    } else {
        "DefaultCacheBehavior"
    };
    format!(
        "<{tag}>{}<TargetOriginId>origin-1</TargetOriginId><ViewerProtocolPolicy>{protocol}</ViewerProtocolPolicy><CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>{}</{tag}>",
        path.map(|p| format!("<PathPattern>{p}</PathPattern>"))
            .unwrap_or_default(),
        policy
            .map(|p| format!("<ResponseHeadersPolicyId>{p}</ResponseHeadersPolicyId>"))
            .unwrap_or_default(),
    )
}

/// Creates a distribution as `key`; `tls`: an ACM certificate with this minimum version, or
/// the CloudFront default certificate.
async fn create_distribution(
    moto: &Moto,
    key: &str,
    reference: &str,
    behaviors: &[Behavior<'_>],
    tls: Option<&str>,
) -> String {
    let others: Vec<String> = behaviors[1..].iter().map(behavior_xml).collect();
    let certificate = match tls {
        Some(v) => format!(
            "<ViewerCertificate><ACMCertificateArn>arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0f1e2d3c</ACMCertificateArn><SSLSupportMethod>sni-only</SSLSupportMethod><MinimumProtocolVersion>{v}</MinimumProtocolVersion></ViewerCertificate>"
        ),
        None => "<ViewerCertificate><CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate></ViewerCertificate>".to_owned(),
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>{reference}</CallerReference><Origins><Quantity>1</Quantity><Items><Origin><Id>origin-1</Id><DomainName>origin.example.com</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>https-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins>{}<CacheBehaviors><Quantity>{}</Quantity>{}</CacheBehaviors><Comment>{reference}</Comment><Enabled>true</Enabled>{certificate}</DistributionConfig>"#,
        behavior_xml(&behaviors[0]),
        others.len(),
        if others.is_empty() {
            String::new()
        } else {
            format!("<Items>{}</Items>", others.concat())
        },
    );
    let (status, body) = moto
        .as_caller(key, "us-east-1")
        .send(
            "cloudfront",
            Method::POST,
            "/2020-05-31/distribution",
            "application/xml",
            xml,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    element(&body, "Id").to_owned()
}

async fn create_api(moto: &Moto, key: &str, region: &str, name: &str) -> String {
    let (status, body) = moto
        .as_caller(key, region)
        .send(
            "apigateway",
            Method::POST,
            "/restapis",
            "application/json",
            json!({"name": name}).to_string(),
        )
        .await;
    // moto answers 200 where AWS answers 201.
    assert!(matches!(status, 200 | 201), "{status}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// PUT a gateway response (`response` in the API's JSON shape, with `responseType`).
async fn put_response(moto: &Moto, key: &str, region: &str, api: &str, response: &Value) {
    let rtype = response["responseType"].as_str().unwrap();
    let mut body = response.clone();
    body.as_object_mut().unwrap().remove("responseType");
    let (status, text) = moto
        .as_caller(key, region)
        .send(
            "apigateway",
            Method::PUT,
            &format!("/restapis/{api}/gatewayresponses/{rtype}"),
            "application/json",
            body.to_string(),
        )
        .await;
    assert!(matches!(status, 200 | 201), "{status}: {text}");
}

/// The generic responses `emit apigateway --preset strict` writes.
fn emitted_responses(dir: &TempDir) -> Vec<Value> {
    let run = verify(dir, &["emit", "apigateway", "--preset", "strict"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Assumes `role` in moto and returns the temporary access key (moto files what it creates
/// with that key under the role's account).
async fn assume(moto: &Moto, role: &str) -> String {
    let form = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=setup&RoleArn={}",
        role.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, body) = moto
        .as_caller(KEY, "us-east-1")
        .send(
            "sts",
            Method::POST,
            "/",
            "application/x-www-form-urlencoded",
            form,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    element(&body, "AccessKeyId").to_owned()
}

// ---- CloudFront --------------------------------------------------------------------------------

#[tokio::test]
async fn cloudfront_audit_reads_every_page_and_behavior() {
    let moto = Moto::start();
    let dir = TempDir::new();
    let managed = create_distribution(
        &moto,
        KEY,
        "managed",
        &[
            (None, "redirect-to-https", Some(MANAGED_SECURITY_HEADERS)),
            (Some("/api/*"), "allow-all", None),
        ],
        Some("TLSv1.2_2021"),
    )
    .await;
    let bare = create_distribution(&moto, KEY, "bare", &[(None, "https-only", None)], None).await;
    let old_tls = create_distribution(
        &moto,
        KEY,
        "old-tls",
        &[(None, "redirect-to-https", Some(MANAGED_SECURITY_HEADERS))],
        Some("TLSv1.2_2019"),
    )
    .await;

    let run = verify_moto(&dir, &moto, &["audit", "cloudfront", "--page-size", "2"]);
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    // Progress lines only go to a terminal; findings are not errors.
    assert_eq!(run.stderr, "");
    let report = run.json();
    assert_eq!(report["targets"].as_array().unwrap().len(), 3 + 4);
    for t in report["targets"].as_array().unwrap() {
        assert_eq!(t["account"], ACCOUNT, "{t}");
        assert!(t.get("error").is_none(), "{t}");
    }
    // Three distributions at two per page: ListDistributions was followed to its second page.
    assert_eq!(
        moto.requests("GET /2020-05-31/distribution?", 2),
        2,
        "{}",
        moto.stderr()
    );

    let default = target(&report, &format!("{managed}/default"));
    assert_eq!(
        default["url"],
        format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{managed}")
    );
    let ids = finding_ids(default);
    assert!(
        ids.contains(&"cloudfront-header-missing".to_owned()),
        "{ids:?}"
    );
    assert!(
        default["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["evidence"]
                .as_str()
                .unwrap()
                .contains("Managed-SecurityHeadersPolicy")),
        "{default}"
    );
    let api = finding_ids(target(&report, &format!("{managed}/api/*")));
    assert_eq!(
        api,
        [
            "cloudfront-behavior-without-headers-policy",
            "cloudfront-viewer-protocol-allow-all"
        ]
    );
    assert!(finding_ids(target(&report, &managed)).is_empty());

    assert_eq!(
        finding_ids(target(&report, &format!("{bare}/default"))),
        ["cloudfront-behavior-without-headers-policy"]
    );
    let cert = target(&report, &bare);
    assert_eq!(finding_ids(cert), ["cloudfront-tls-outdated"]);
    assert_eq!(cert["findings"][0]["severity"], "medium");
    let tls = target(&report, &old_tls);
    assert_eq!(tls["findings"][0]["severity"], "low");
    assert_eq!(
        tls["findings"][0]["evidence"],
        "MinimumProtocolVersion TLSv1.2_2019"
    );

    // One distribution by id (GetDistribution, no listing); its findings are medium, so
    // --fail-on high lets it pass.
    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "cloudfront",
            "--distribution",
            &bare,
            "--fail-on",
            "high",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["targets"].as_array().unwrap().len(), 2);
    assert_eq!(
        moto.requests(&format!("GET /2020-05-31/distribution/{bare}"), 1),
        1
    );
    assert_eq!(moto.requests("GET /2020-05-31/distribution?", 2), 2);
}

#[tokio::test]
async fn cloudfront_unknown_distribution_exits_2_naming_it() {
    let moto = Moto::start();
    let dir = TempDir::new();
    let bare = create_distribution(&moto, KEY, "bare", &[(None, "https-only", None)], None).await;
    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "cloudfront",
            "--distribution",
            &bare,
            "--distribution",
            "EDOESNOTEXIST1",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("distribution EDOESNOTEXIST1 does not exist (NoSuchDistribution"),
        "{}",
        run.stderr
    );
    // The distribution that exists was still audited.
    let report = run.json();
    let missing = target(&report, "EDOESNOTEXIST1");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("NoSuchDistribution")
    );
    assert!(!finding_ids(target(&report, &format!("{bare}/default"))).is_empty());
}

#[tokio::test]
async fn empty_account_is_clean() {
    let moto = Moto::start();
    let dir = TempDir::new();
    let run = verify_moto(&dir, &moto, &["audit", "cloudfront"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["targets"], json!([]));
    let run = verify_moto(
        &dir,
        &moto,
        &["audit", "apigateway", "--region", "eu-west-1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["targets"], json!([]));
}

// ---- API Gateway -------------------------------------------------------------------------------

#[tokio::test]
async fn apigateway_audit_resolves_each_response_type() {
    let moto = Moto::start();
    let dir = TempDir::new();
    let region = "eu-west-1";
    let leaky = create_api(&moto, KEY, region, "legacy").await;
    let generic = create_api(&moto, KEY, region, "hardened").await;
    for r in emitted_responses(&dir) {
        put_response(&moto, KEY, region, &generic, &r).await;
    }
    let partly = create_api(&moto, KEY, region, "partly").await;
    put_response(
        &moto,
        KEY,
        region,
        &partly,
        &json!({
            "responseType": "ACCESS_DENIED",
            "statusCode": "403",
            "responseTemplates": {"application/json": "{\"message\":$context.error.messageString,\"who\":\"$context.identity.sourceIp\"}"}
        }),
    )
    .await;
    let elsewhere = create_api(&moto, KEY, "us-east-1", "elsewhere").await;

    // AWS_ENDPOINT_URL instead of --endpoint-url: aws-config's own setting.
    let url = moto.url();
    let mut env = TEST_CREDENTIALS.to_vec();
    env.push(("AWS_ENDPOINT_URL", &url));
    let run = verify(
        &dir,
        &[
            "audit",
            "apigateway",
            "--region",
            region,
            "--format",
            "json",
        ],
        &env,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let report = run.json();
    let targets = report["targets"].as_array().unwrap();
    // Three APIs in eu-west-1: the API itself and its 21 response types each.
    assert_eq!(targets.len(), 3 * 22);
    assert!(
        !targets
            .iter()
            .any(|t| t["target"].as_str().unwrap().starts_with(&elsewhere))
    );
    assert!(targets.iter().all(|t| t["account"] == ACCOUNT));

    // Nothing customised: every type answers with API Gateway's built-in, leaky response.
    let api = target(&report, &leaky);
    assert_eq!(
        api["url"],
        format!("arn:aws:apigateway:{region}::/restapis/{leaky}")
    );
    assert_eq!(
        finding_ids(api),
        [
            "apigateway-default-response-missing",
            "apigateway-default-response-missing"
        ]
    );
    let denied = target(&report, &format!("{leaky}/ACCESS_DENIED"));
    assert_eq!(denied["status"], 403);
    assert_eq!(
        denied["findings"][0]["id"],
        "apigateway-template-leaks-context"
    );
    assert_eq!(denied["findings"][0]["severity"], "high");

    // emit apigateway's responses on the live API: no finding on any of the 22 targets.
    for t in targets
        .iter()
        .filter(|t| t["target"].as_str().unwrap().starts_with(&generic))
    {
        assert_eq!(t["findings"], json!([]), "{t}");
    }

    let denied = target(&report, &format!("{partly}/ACCESS_DENIED"));
    let leak = &denied["findings"][0];
    assert_eq!(leak["id"], "apigateway-template-leaks-context");
    assert!(
        leak["evidence"]
            .as_str()
            .unwrap()
            .contains("$context.identity.sourceIp")
    );
    assert!(finding_ids(denied).contains(&"apigateway-security-headers-missing".to_owned()));

    // Both regions in one run; an id that exists nowhere is an error naming it.
    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "apigateway",
            "--region",
            region,
            "--region",
            "us-east-1",
            "--api",
            &elsewhere,
            "--api",
            &leaky,
            "--api",
            "zzzzzzzzzz",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("REST API zzzzzzzzzz does not exist in eu-west-1, us-east-1"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(
        target(&report, &elsewhere)["url"],
        format!("arn:aws:apigateway:us-east-1::/restapis/{elsewhere}")
    );
    target(&report, &format!("{leaky}/WAF_FILTERED"));
}

// ---- Many accounts -----------------------------------------------------------------------------

#[tokio::test]
async fn assumed_roles_audit_every_account_in_one_run() {
    let moto = Moto::start();
    let dir = TempDir::new();
    let roles = [
        "arn:aws:iam::111111111111:role/RampartAudit",
        "arn:aws:iam::222222222222:role/RampartAudit",
    ];
    let mut ids = Vec::new();
    let mut apis = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let key = assume(&moto, role).await;
        ids.push(
            create_distribution(
                &moto,
                &key,
                &format!("account-{i}"),
                &[(None, "allow-all", None)],
                Some("TLSv1.2_2021"),
            )
            .await,
        );
        apis.push(create_api(&moto, &key, "us-east-1", &format!("api-{i}")).await);
    }
    // The ambient account has its own distribution, which a role-based run does not read.
    let own = create_distribution(&moto, KEY, "own", &[(None, "https-only", None)], None).await;

    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "cloudfront",
            "--role-arn",
            roles[0],
            "--role-arn",
            roles[1],
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    for (id, account) in ids.iter().zip(["111111111111", "222222222222"]) {
        let t = target(&report, &format!("{id}/default"));
        assert_eq!(t["account"], account);
        assert_eq!(
            t["url"],
            format!("arn:aws:cloudfront::{account}:distribution/{id}")
        );
        assert!(finding_ids(t).contains(&"cloudfront-viewer-protocol-allow-all".to_owned()));
    }
    assert!(
        !report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["target"].as_str().unwrap().starts_with(&own))
    );
    assert_eq!(moto.requests("POST / ", 2 + roles.len()), 2 + roles.len());

    // A distribution named by id lives in one of the accounts: the other not having it is no
    // error.
    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "cloudfront",
            "--role-arn",
            roles[0],
            "--role-arn",
            roles[1],
            "--distribution",
            &ids[1],
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["targets"].as_array().unwrap().len(), 2);
    assert_eq!(
        target(&report, &format!("{}/default", ids[1]))["account"],
        "222222222222"
    );

    // The same accounts from a roles file, for API Gateway.
    let file = dir.write(
        "roles.txt",
        &format!(
            "# audit roles\n{}\n\n{}  # second account\n",
            roles[0], roles[1]
        ),
    );
    let file = file.to_str().unwrap();
    let run = verify_moto(&dir, &moto, &["audit", "apigateway", "--roles-file", file]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    for (api, account) in apis.iter().zip(["111111111111", "222222222222"]) {
        assert_eq!(target(&report, api)["account"], account);
        assert_eq!(
            target(&report, &format!("{api}/UNAUTHORIZED"))["account"],
            account
        );
    }
    let run = verify_moto(
        &dir,
        &moto,
        &[
            "audit",
            "apigateway",
            "--roles-file",
            file,
            "--api",
            &apis[0],
            "--api",
            "zzzzzzzzzz",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "REST API zzzzzzzzzz does not exist in us-east-1 of account 111111111111, us-east-1 of account 222222222222"
        ),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(target(&report, &apis[0])["account"], "111111111111");
    assert!(target(&report, &apis[0]).get("error").is_none());
}

// ---- Errors ------------------------------------------------------------------------------------

#[test]
fn no_credentials_exit_2_with_a_clear_message() {
    let dir = TempDir::new();
    for args in [
        &["audit", "cloudfront"][..],
        &["audit", "apigateway", "--region", "eu-west-1"][..],
    ] {
        // The endpoint is never reached: the credential chain is asked first.
        let mut all = args.to_vec();
        all.extend_from_slice(&["--endpoint-url", "http://127.0.0.1:9"]);
        let run = verify(&dir, &all, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("rampart-verify: no AWS credentials found"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("--profile"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn bad_arguments_exit_2() {
    let dir = TempDir::new();
    for (args, says) in [
        (
            &["audit", "cloudfront", "--role-arn", "arn:aws:iam::1:user/x"][..],
            "is not an IAM role ARN",
        ),
        (
            &["audit", "cloudfront", "--page-size", "0"][..],
            "--page-size 0",
        ),
        (
            &["audit", "apigateway", "--region", "Not A Region"][..],
            "not a region name",
        ),
        (
            &[
                "audit",
                "apigateway",
                "--roles-file",
                "/nonexistent/roles.txt",
            ][..],
            "--roles-file /nonexistent/roles.txt",
        ),
    ] {
        let run = verify(&dir, args, &TEST_CREDENTIALS);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    // No region anywhere: say how to give one.
    let run = verify(
        &dir,
        &["audit", "apigateway"],
        &[
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no AWS region"), "{}", run.stderr);
}

/// An endpoint answering like AWS for a principal that may call STS but not CloudFront:
/// GetCallerIdentity succeeds, everything else is AWS's 403 AccessDenied document.
async fn denying_endpoint() -> TestOrigin {
    let denied = Bytes::from(fixture("cloudfront/error-access-denied.xml"));
    TestOrigin::start_with(move |req| {
        let identity = req.method() == http::Method::POST
            && String::from_utf8_lossy(req.body()).contains("Action=GetCallerIdentity");
        let (status, body) = if identity {
            (
                StatusCode::OK,
                Bytes::from(format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/ci-auditor</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
                )),
            )
        } else {
            (StatusCode::FORBIDDEN, denied.clone())
        };
        Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(OriginBody::full(body))
            .unwrap()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_iam_action() {
    let origin = denying_endpoint().await;
    let url = origin.url();
    let run = tokio::task::spawn_blocking(move || {
        let dir = TempDir::new();
        let args = [
            "audit",
            "cloudfront",
            "--endpoint-url",
            &url,
            "--format",
            "json",
        ];
        verify(&dir, &args, &TEST_CREDENTIALS)
    })
    .await
    .unwrap();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "access denied: listing the distributions needs the IAM permission cloudfront:ListDistributions"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("docs/iam-policy.json"),
        "{}",
        run.stderr
    );
    let report = run.json();
    let t = target(&report, &format!("account {ACCOUNT}"));
    assert_eq!(t["account"], ACCOUNT);
    // AccessDenied is not retried: one ListDistributions request.
    let lists = origin
        .requests()
        .iter()
        .filter(|r| r.uri.path() == "/2020-05-31/distribution")
        .count();
    assert_eq!(lists, 1);
}

// ---- The IAM policy ----------------------------------------------------------------------------

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every IAM action the SDK audits call, as the source names them in their error messages.
fn actions_in_source() -> Vec<String> {
    let dir = workspace().join("verifier/src/aws/sdk");
    let mut out: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for quoted in text.split('"').skip(1).step_by(2) {
            let is_action = ["cloudfront:", "apigateway:", "sts:"]
                .iter()
                .any(|p| quoted.starts_with(p))
                && quoted[quoted.find(':').unwrap() + 1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric())
                && quoted.len() > quoted.find(':').unwrap() + 1;
            if is_action && !out.contains(&quoted.to_owned()) {
                out.push(quoted.to_owned());
            }
        }
    }
    out.sort();
    out
}

fn statement_actions(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in policy["Statement"].as_array().unwrap() {
        assert_eq!(s["Effect"], "Allow", "{s}");
        match &s["Action"] {
            Value::String(a) => out.push(a.clone()),
            Value::Array(a) => out.extend(a.iter().map(|x| x.as_str().unwrap().to_owned())),
            other => panic!("Action {other}"),
        }
    }
    out
}

#[test]
fn iam_policy_grants_every_action_the_audits_call_and_nothing_else() {
    let text = std::fs::read_to_string(workspace().join("docs/iam-policy.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let permissions = &doc["PermissionsPolicy"];
    assert_eq!(permissions["Version"], "2012-10-17");
    let granted = statement_actions(permissions);
    let called = actions_in_source();
    assert!(called.len() >= 6, "{called:?}");
    for action in &called {
        // The runner assumes the audit roles (RunnerPolicy); GetCallerIdentity needs no
        // permission.
        if action == "sts:AssumeRole" || action == "sts:GetCallerIdentity" {
            continue;
        }
        assert!(granted.contains(action), "{action} not in {granted:?}");
    }
    for action in &granted {
        assert!(
            called.contains(action),
            "{action} is granted but never called"
        );
        assert!(!action.contains('*'), "{action}: no wildcards");
    }
    // Read-only API Gateway access: GET on the REST APIs and their gateway responses only.
    let gets: Vec<&Value> = permissions["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"] == "apigateway:GET" || s["Action"] == json!(["apigateway:GET"]))
        .collect();
    assert_eq!(gets.len(), 1);
    let resources: Vec<&str> = gets[0]["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // `?` matches one character: a 10-character API id, not the API's other sub-resources.
    assert_eq!(
        resources,
        [
            "arn:aws:apigateway:*::/restapis",
            "arn:aws:apigateway:*::/restapis/??????????",
            "arn:aws:apigateway:*::/restapis/??????????/gatewayresponses"
        ]
    );

    // The runner's policy: only sts:AssumeRole, on the audit role.
    let runner = statement_actions(&doc["RunnerPolicy"]);
    assert_eq!(runner, ["sts:AssumeRole"]);

    // The audit role's trust policy lets the runner assume it.
    let trust = &doc["TrustPolicy"];
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    assert!(trust["Statement"][0]["Principal"]["AWS"].is_string());
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:RoleSessionName"],
        "rampart-verify-audit",
        "the session name rampart-verify uses (verifier/src/aws/sdk/accounts.rs)"
    );
}
