//! Tests for every output format, on one sample report: a graded target with findings of every
//! severity (some carrying hostile text), and a target that could not be examined.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Format, RenderOptions, render, sarif};
use crate::model::{Category, Check, Finding, Report, Severity, TargetReport, TestResult};

const HOSTILE_TITLE: &str = "Leaked <script>alert(1)</script> & \"quoted\" 'single'";
const HOSTILE_EVIDENCE: &str =
    "\u{1b}[31mred\u{7}\u{0} | pipe ![img](https://evil.example/x.png)\r\nsecond line\u{202e}";
const ERROR_MESSAGE: &str = "connect error: connection refused (os error 111)\n\tafter 3 attempts";

fn finding(
    id: &str,
    check: &str,
    category: Category,
    severity: Severity,
    title: &str,
    evidence: &str,
    remediation: &str,
) -> Finding {
    Finding {
        id: id.to_owned(),
        check: check.to_owned(),
        category,
        severity,
        title: title.to_owned(),
        evidence: evidence.to_owned(),
        remediation: remediation.to_owned(),
    }
}

fn check(id: &str) -> Check {
    Check {
        id: id.to_owned(),
        description: format!("checks {id}"),
    }
}

fn graded_target() -> TargetReport {
    let mut t = TargetReport::new(
        "https://example.com/",
        "https://www.example.com/login?next=%2F",
    );
    t.status = Some(200);
    t.score = Some(45);
    t.grade = Some("C-".to_owned());
    t.tests = vec![
        TestResult {
            name: "content-security-policy".to_owned(),
            result: "csp-implemented-with-unsafe-inline".to_owned(),
            score_modifier: -20,
            pass: false,
        },
        TestResult {
            name: "strict-transport-security".to_owned(),
            result: "hsts-implemented-max-age-at-least-six-months".to_owned(),
            score_modifier: 0,
            pass: true,
        },
        TestResult {
            name: "x-frame-options".to_owned(),
            result: "x-frame-options-implemented-via-csp".to_owned(),
            score_modifier: 5,
            pass: true,
        },
    ];
    t.checks = vec![
        check("observatory/content-security-policy"),
        check("observatory/strict-transport-security"),
        check("leak/error-probe-not-found"),
        check("policy/cookies"),
        check("observatory/x-content-type-options"),
    ];
    t.findings = vec![
        finding(
            "csp-implemented-with-unsafe-inline",
            "observatory/content-security-policy",
            Category::Header,
            Severity::High,
            "Content-Security-Policy allows 'unsafe-inline' scripts",
            "content-security-policy: script-src 'self' 'unsafe-inline'",
            "Content-Security-Policy: default-src 'self' (policy: headers.csp)",
        ),
        finding(
            "leak-aws-arn",
            "leak/error-probe-not-found",
            Category::Leak,
            Severity::Medium,
            HOSTILE_TITLE,
            HOSTILE_EVIDENCE,
            "Replace upstream error bodies (policy: error_bodies.replace = true)",
        ),
        finding(
            "cookie-without-secure",
            "policy/cookies",
            Category::Cookie,
            Severity::Medium,
            "Cookie 'session' is sent without Secure",
            "set-cookie: session=[redacted]; Path=/",
            "Set-Cookie: session=...; Secure; HttpOnly; SameSite=Lax",
        ),
        finding(
            "x-content-type-options-not-implemented",
            "observatory/x-content-type-options",
            Category::Header,
            Severity::Low,
            "X-Content-Type-Options is missing",
            "",
            "X-Content-Type-Options: nosniff",
        ),
        finding(
            "policy-header-missing",
            "policy/permissions-policy",
            Category::Policy,
            Severity::Info,
            "Permissions-Policy required by policy is missing",
            "no permissions-policy header",
            "Permissions-Policy: camera=() (policy: headers.permissions_policy)",
        ),
    ];
    t.advice = vec!["CSP has no object-src directive".to_owned()];
    t.sort();
    t
}

fn failed_target() -> TargetReport {
    let mut t = TargetReport::new("https://down.example:8443/", "https://down.example:8443/");
    t.error = Some(ERROR_MESSAGE.to_owned());
    t
}

fn sample() -> Report {
    Report::new(vec![graded_target(), failed_target()])
}

fn opts(fail_on: Severity, color: bool) -> RenderOptions {
    RenderOptions {
        fail_on,
        color,
        tool_version: "0.1.0",
        command: "probe".to_owned(),
    }
}

// ---- Format ----

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.as_str()), Some(format));
    }
    assert_eq!(Format::parse("sarif"), Some(Format::Sarif));
    assert_eq!(Format::parse("JSON"), None);
    assert_eq!(Format::parse("xml"), None);
    assert_eq!(Format::parse(""), None);
}

#[test]
fn every_format_ends_with_a_newline_and_is_deterministic() {
    let report = sample();
    let o = opts(Severity::Medium, false);
    for format in Format::ALL {
        let first = render(&report, format, &o);
        assert!(
            first.ends_with('\n'),
            "{} output lacks a final newline",
            format.as_str()
        );
        assert_eq!(
            first,
            render(&report, format, &o),
            "{} output varies",
            format.as_str()
        );
    }
}

#[test]
fn empty_report_renders_in_every_format() {
    let report = Report::new(Vec::new());
    let o = opts(Severity::Medium, false);
    for format in Format::ALL {
        assert!(!render(&report, format, &o).is_empty());
    }
    let sarif: Value = serde_json::from_str(&render(&report, Format::Sarif, &o)).unwrap();
    assert_eq!(sarif["runs"][0]["results"], json!([]));
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"], json!([]));
}

// ---- JSON ----

#[test]
fn json_has_the_documented_shape() {
    let report = sample();
    let text = render(&report, Format::Json, &opts(Severity::Medium, false));
    assert!(text.ends_with("}\n"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, serde_json::to_value(&report).unwrap());

    assert_eq!(keys(&v), ["targets", "version"]);
    assert_eq!(v["version"], 1);
    let t0 = &v["targets"][0];
    assert_eq!(
        keys(t0),
        [
            "advice", "findings", "grade", "score", "status", "target", "tests", "url"
        ],
        "`checks` is internal and must not leak into the stable JSON"
    );
    assert_eq!(t0["target"], "https://example.com/");
    assert_eq!(t0["url"], "https://www.example.com/login?next=%2F");
    assert_eq!(t0["status"], 200);
    assert_eq!(t0["score"], 45);
    assert_eq!(t0["grade"], "C-");
    assert_eq!(
        t0["tests"][0],
        json!({
            "name": "content-security-policy",
            "result": "csp-implemented-with-unsafe-inline",
            "score_modifier": -20,
            "pass": false
        })
    );
    assert_eq!(
        keys(&t0["findings"][0]),
        [
            "category",
            "check",
            "evidence",
            "id",
            "remediation",
            "severity",
            "title"
        ]
    );
    assert_eq!(t0["findings"][0]["severity"], "high");
    assert_eq!(t0["findings"][0]["category"], "header");
    assert_eq!(t0["findings"][2]["title"], HOSTILE_TITLE);
    assert_eq!(t0["findings"][2]["evidence"], HOSTILE_EVIDENCE);
    let severities: Vec<&Value> = t0["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["severity"])
        .collect();
    assert_eq!(severities, ["high", "medium", "medium", "low", "info"]);

    let t1 = &v["targets"][1];
    assert_eq!(keys(t1), ["error", "findings", "target", "url"]);
    assert_eq!(t1["error"], ERROR_MESSAGE);
    assert_eq!(t1["findings"], json!([]));
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

// ---- SARIF ----

/// Where `verifier/tests/fetch-sarif-schema.sh` puts the official schema; `RAMPART_SARIF_SCHEMA`
/// overrides it.
fn schema_path() -> PathBuf {
    if let Some(path) = std::env::var_os("RAMPART_SARIF_SCHEMA") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/sarif-schema/sarif-multitool-linux-5.7.0/sarif-2.1.0.json")
}

fn sarif_validator() -> jsonschema::Validator {
    let path = schema_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the official SARIF 2.1.0 schema is missing at {} ({err}).\n\
             Fetch it with: bash verifier/tests/fetch-sarif-schema.sh\n\
             (tests/run.sh runs that before cargo test)",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema",
        "{} is not the SARIF 2.1.0 schema",
        path.display()
    );
    // Formats on: GitHub's upload rejects URIs that are not valid `uri`/`uri-reference`.
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn sample_sarif() -> Value {
    let text = render(&sample(), Format::Sarif, &opts(Severity::Medium, false));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let validator = sarif_validator();
    let log = sample_sarif();
    let errors = schema_errors(&validator, &log);
    assert!(
        errors.is_empty(),
        "SARIF output is invalid:\n{}",
        errors.join("\n")
    );

    let empty: Value = serde_json::from_str(&render(
        &Report::new(Vec::new()),
        Format::Sarif,
        &opts(Severity::Medium, false),
    ))
    .unwrap();
    assert!(validator.is_valid(&empty));
}

#[test]
fn sarif_schema_rejects_a_bogus_level() {
    let validator = sarif_validator();
    let mut log = sample_sarif();
    log["runs"][0]["results"][0]["level"] = json!("bogus");
    let errors = schema_errors(&validator, &log);
    assert!(
        errors.iter().any(|e| e.contains("/runs/0/results/0/level")),
        "a bogus level passed validation: {errors:?}"
    );
}

#[test]
fn sarif_schema_rejects_an_invalid_uri_and_a_missing_driver_name() {
    let validator = sarif_validator();
    let mut log = sample_sarif();
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        json!("no file associated with this alert");
    assert!(!validator.is_valid(&log), "formats are not being validated");

    let mut log = sample_sarif();
    log["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(!validator.is_valid(&log));
}

#[test]
fn sarif_has_what_github_code_scanning_needs() {
    let log = sample_sarif();
    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"].as_array().unwrap().len(), 1);
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "rampart-verify");
    assert_eq!(driver["version"], "0.1.0");
    assert_eq!(driver["semanticVersion"], "0.1.0");
    assert_eq!(
        driver["informationUri"],
        "https://github.com/rampart/rampart"
    );
    assert_eq!(run["automationDetails"]["id"], "rampart-verify/probe/");
    assert_eq!(run["properties"]["command"], "probe");

    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "cookie-without-secure",
            "csp-implemented-with-unsafe-inline",
            "leak-aws-arn",
            "policy-header-missing",
            "x-content-type-options-not-implemented",
        ],
        "one rule per distinct finding id, sorted"
    );
    let csp = &rules[1];
    assert_eq!(csp["name"], "CspImplementedWithUnsafeInline");
    assert_eq!(
        csp["shortDescription"]["text"],
        "Content-Security-Policy allows 'unsafe-inline' scripts"
    );
    assert!(
        csp["fullDescription"]["text"]
            .as_str()
            .unwrap()
            .ends_with('.')
    );
    assert_eq!(
        csp["helpUri"],
        "https://github.com/rampart/rampart#csp-implemented-with-unsafe-inline"
    );
    assert_eq!(csp["defaultConfiguration"]["level"], "error");
    assert_eq!(csp["properties"]["tags"], json!(["security", "header"]));
    let expected = [
        ("cookie-without-secure", "warning", "5.5"),
        ("csp-implemented-with-unsafe-inline", "error", "8.0"),
        ("leak-aws-arn", "warning", "5.5"),
        ("policy-header-missing", "note", "1.0"),
        ("x-content-type-options-not-implemented", "note", "3.0"),
    ];
    for (rule, (id, level, security_severity)) in rules.iter().zip(expected) {
        assert_eq!(rule["id"], id);
        assert_eq!(rule["defaultConfiguration"]["level"], level, "{id}");
        assert_eq!(
            rule["properties"]["security-severity"], security_severity,
            "{id}"
        );
        assert!(rule["properties"]["tags"][0] == "security");
    }

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "one result per finding");
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["error", "warning", "warning", "note", "note"]);
    for result in results {
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0];
        let uri = location["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert_eq!(uri, "www.example.com/login");
        assert!(
            url::Url::parse(uri).is_err(),
            "GitHub rejects URIs with a scheme: {uri}"
        );
        assert_eq!(location["physicalLocation"]["region"]["startLine"], 1);
        assert_eq!(
            location["message"]["text"],
            "https://www.example.com/login?next=%2F"
        );
        let fp = result["partialFingerprints"][sarif::FINGERPRINT_KEY]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 16);
        assert!(
            fp.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(result["properties"]["target"], "https://example.com/");
    }
    let leak = &results[2];
    assert_eq!(leak["ruleId"], "leak-aws-arn");
    let message = leak["message"]["text"].as_str().unwrap();
    assert!(message.starts_with(HOSTILE_TITLE));
    assert!(message.contains(&format!("\nEvidence: {}", HOSTILE_EVIDENCE.trim())));
    assert!(message.contains("\nFix: Replace upstream error bodies"));
    let no_evidence = results[3]["message"]["text"].as_str().unwrap();
    assert_eq!(
        no_evidence,
        "X-Content-Type-Options is missing.\nFix: X-Content-Type-Options: nosniff"
    );
}

#[test]
fn sarif_reports_operational_errors_as_tool_execution_notifications() {
    let log = sample_sarif();
    let run = &log["runs"][0];
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "error");
    assert_eq!(notes[0]["descriptor"]["id"], sarif::OPERATIONAL_ERROR_ID);
    assert_eq!(
        run["tool"]["driver"]["notifications"][0]["id"],
        sarif::OPERATIONAL_ERROR_ID
    );
    let text = notes[0]["message"]["text"].as_str().unwrap();
    assert!(text.starts_with("https://down.example:8443/ could not be examined: connect error"));
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "down.example%3A8443"
    );
    assert!(
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ruleId"] != sarif::OPERATIONAL_ERROR_ID),
        "an outage is not a security alert"
    );

    let ok = Report::new(vec![graded_target()]);
    let log: Value =
        serde_json::from_str(&render(&ok, Format::Sarif, &opts(Severity::Medium, false))).unwrap();
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    assert!(invocation.get("toolExecutionNotifications").is_none());
    assert!(
        log["runs"][0]["tool"]["driver"]
            .get("notifications")
            .is_none()
    );
}

#[test]
fn sarif_rules_are_shared_across_targets_at_their_worst_severity() {
    let mut a = TargetReport::new("https://a.example/", "https://a.example/");
    a.findings = vec![finding(
        "cookie-without-secure",
        "policy/cookies",
        Category::Cookie,
        Severity::Low,
        "Cookie 'a' is sent without Secure",
        "set-cookie: a=1",
        "Secure",
    )];
    let mut b = TargetReport::new("https://b.example/", "https://b.example/");
    b.findings = vec![finding(
        "cookie-without-secure",
        "policy/cookies",
        Category::Cookie,
        Severity::High,
        "Cookie 'b' is sent without Secure",
        "set-cookie: b=1",
        "Secure",
    )];
    let report = Report::new(vec![a, b]);
    let log: Value = serde_json::from_str(&render(
        &report,
        Format::Sarif,
        &opts(Severity::Medium, false),
    ))
    .unwrap();
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["shortDescription"]["text"],
        "Cookie 'a' is sent without Secure"
    );
    assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
    assert_eq!(rules[0]["properties"]["security-severity"], "8.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results[0]["level"], "note");
    assert_eq!(results[1]["level"], "error");
    assert_eq!(results[0]["ruleIndex"], 0);
    assert_eq!(results[1]["ruleIndex"], 0);
    assert_ne!(
        results[0]["partialFingerprints"],
        results[1]["partialFingerprints"]
    );
}

#[test]
fn sarif_fingerprints_are_stable_and_discriminating() {
    let fp = |report: &Report, target: usize, result: usize| -> String {
        let log: Value = serde_json::from_str(&render(
            report,
            Format::Sarif,
            &opts(Severity::Medium, false),
        ))
        .unwrap();
        let results = log["runs"][0]["results"].as_array().unwrap();
        let per_target = report.targets[..target]
            .iter()
            .map(|t| t.findings.len())
            .sum::<usize>();
        results[per_target + result]["partialFingerprints"][sarif::FINGERPRINT_KEY]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let report = sample();
    let base = fp(&report, 0, 0);

    // Independent of other targets, their order, the URL fetched, the title and the run.
    let reordered = Report::new(vec![failed_target(), graded_target()]);
    assert_eq!(fp(&reordered, 1, 0), base);
    let mut moved = graded_target();
    moved.url = "https://example.com/elsewhere".to_owned();
    moved.findings[0].title = "reworded".to_owned();
    moved.score = Some(10);
    assert_eq!(fp(&Report::new(vec![moved]), 0, 0), base);

    // But a different target, rule or evidence is a different alert.
    let mut other_target = graded_target();
    other_target.target = "https://example.org/".to_owned();
    assert_ne!(fp(&Report::new(vec![other_target]), 0, 0), base);
    let mut other_evidence = graded_target();
    other_evidence.findings[0].evidence.push('x');
    assert_ne!(fp(&Report::new(vec![other_evidence]), 0, 0), base);

    // Pinned: a change of hash function would re-open every alert on GitHub.
    assert_eq!(
        base,
        sarif::fingerprint(&report.targets[0], &report.targets[0].findings[0])
    );
    assert_eq!(base, "691c199f446f37bc", "fingerprint algorithm changed");
}

/// SARIF2012's Pascal-case test, `^(\p{Lu}[\p{Ll}\p{Nd}]+)*$`, for ASCII.
fn is_sarif_pascal_case(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_uppercase()
        && bytes.iter().all(u8::is_ascii_alphanumeric)
        && bytes.iter().enumerate().all(|(i, b)| {
            !b.is_ascii_uppercase()
                || bytes
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_lowercase() || n.is_ascii_digit())
        })
}

#[test]
fn sarif_rule_names_are_pascal_case() {
    let cases = [
        (
            "csp-implemented-with-unsafe-inline",
            "CspImplementedWithUnsafeInline",
        ),
        (
            "x-content-type-options-not-implemented",
            "XcontentTypeOptionsNotImplemented",
        ),
        ("tls-1-2-only", "Tls12Only"),
        ("2fa-bypass", "Rule2faBypass"),
        ("header-x", "Headerx"),
        ("x", "Xrule"),
        ("a-b-c", "Abc"),
        ("CSP", "Csp"),
        ("--", "Rule"),
        ("leak/aws_arn", "LeakAwsArn"),
    ];
    for (id, name) in cases {
        assert_eq!(sarif::pascal_case(id), name, "{id}");
        assert!(is_sarif_pascal_case(name), "{name}");
    }
}

#[test]
fn sarif_category_follows_the_command() {
    let mut o = opts(Severity::Medium, false);
    o.command = "audit cloudfront".to_owned();
    o.tool_version = "0.1.0-dev+abc";
    let log: Value = serde_json::from_str(&render(&sample(), Format::Sarif, &o)).unwrap();
    let run = &log["runs"][0];
    assert_eq!(
        run["automationDetails"]["id"],
        "rampart-verify/audit-cloudfront/"
    );
    assert_eq!(run["properties"]["command"], "audit cloudfront");
    assert_eq!(run["tool"]["driver"]["semanticVersion"], "0.1.0-dev+abc");

    o.tool_version = "dev";
    let log: Value = serde_json::from_str(&render(&sample(), Format::Sarif, &o)).unwrap();
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["version"], "dev");
    assert!(driver.get("semanticVersion").is_none());
}

#[test]
fn fnv1a64_matches_the_reference_vectors() {
    assert_eq!(sarif::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(sarif::fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(sarif::fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn sarif_locations_are_scheme_less_relative_references() {
    let uri = |url: &str| -> String {
        let report = Report::new(vec![{
            let mut t = TargetReport::new("given", url);
            t.error = Some("x".to_owned());
            t
        }]);
        let log: Value = serde_json::from_str(&render(
            &report,
            Format::Sarif,
            &opts(Severity::Medium, false),
        ))
        .unwrap();
        log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]
            ["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(uri("https://example.com/"), "example.com");
    assert_eq!(uri("https://example.com"), "example.com");
    assert_eq!(
        uri("http://example.com:8080/a b/c?q=1#f"),
        "example.com%3A8080/a%20b/c"
    );
    assert_eq!(uri("https://[::1]:8443/x"), "%5B%3A%3A1%5D%3A8443/x");
    assert_eq!(
        uri("arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"),
        "arn%3Aaws%3Acloudfront%3A%3A123456789012%3Adistribution/EDFDVBD6EXAMPLE"
    );
    assert_eq!(
        uri("template.yaml#/Resources/Api Gateway"),
        "template.yaml%23/Resources/Api%20Gateway"
    );
    assert_eq!(uri("//evil/../x%zz"), "evil/../x%25zz");
    assert_eq!(uri(""), "given");
    let validator = sarif_validator();
    for u in ["arn:aws:iam::1:role/x", "a b:c", "ünïcode/päth", "100%"] {
        let report = Report::new(vec![{
            let mut t = TargetReport::new(u, u);
            t.findings = vec![finding(
                "x",
                "c",
                Category::Policy,
                Severity::Low,
                "t",
                "e",
                "r",
            )];
            t
        }]);
        let log: Value = serde_json::from_str(&render(
            &report,
            Format::Sarif,
            &opts(Severity::Medium, false),
        ))
        .unwrap();
        let errors = schema_errors(&validator, &log);
        assert!(errors.is_empty(), "{u}: {errors:?}");
    }
}

// ---- JUnit ----

/// A minimal DOM, enough to check the JUnit structure with a real XML parser.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no attribute {name}", self.name))
    }

    fn children(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn parse_xml(xml: &str) -> Element {
    use quick_xml::Reader;
    use quick_xml::XmlVersion;
    use quick_xml::escape::resolve_predefined_entity;
    use quick_xml::events::{BytesStart, Event};

    fn element(start: &BytesStart<'_>) -> Element {
        let name = start.name().as_ref().to_owned();
        let attrs = start
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.as_ref().to_owned(),
                    a.normalized_value(XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect();
        Element {
            name,
            attrs,
            ..Element::default()
        }
    }

    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r).unwrap().to_owned(),
                };
                stack.last_mut().unwrap().text.push_str(&resolved);
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced XML");
    let mut document = stack.pop().unwrap();
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.pop().unwrap()
}

fn case_named<'a>(suite: &'a Element, name: &str) -> &'a Element {
    suite
        .children("testcase")
        .into_iter()
        .find(|c| c.attr("name") == name)
        .unwrap_or_else(|| panic!("no testcase {name}"))
}

#[test]
fn junit_structure_counts_and_threshold() {
    let xml = render(&sample(), Format::Junit, &opts(Severity::Medium, false));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    let root = parse_xml(&xml);
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attr("name"), "rampart-verify");
    // 5 checks + 1 finding of an unlisted check, plus the failed target's error case.
    assert_eq!(root.attr("tests"), "7");
    assert_eq!(root.attr("failures"), "3");
    assert_eq!(root.attr("errors"), "1");

    let suites = root.children("testsuite");
    assert_eq!(suites.len(), 2);
    let graded = suites[0];
    assert_eq!(graded.attr("name"), "https://example.com/");
    assert_eq!(graded.attr("tests"), "6");
    assert_eq!(graded.attr("failures"), "3");
    assert_eq!(graded.attr("errors"), "0");
    assert_eq!(graded.attr("skipped"), "0");
    assert_eq!(graded.attr("time"), "0");
    let props = graded.child("properties").unwrap().children("property");
    let prop = |name: &str| {
        props
            .iter()
            .find(|p| p.attr("name") == name)
            .map(|p| p.attr("value"))
    };
    assert_eq!(prop("grade"), Some("C-"));
    assert_eq!(prop("score"), Some("45"));
    assert_eq!(prop("status"), Some("200"));

    let names: Vec<&str> = graded
        .children("testcase")
        .iter()
        .map(|c| c.attr("name"))
        .collect();
    assert_eq!(
        names,
        [
            "observatory/content-security-policy",
            "observatory/strict-transport-security",
            "leak/error-probe-not-found",
            "policy/cookies",
            "observatory/x-content-type-options",
            "policy/permissions-policy",
        ]
    );
    for case in graded.children("testcase") {
        assert_eq!(case.attr("classname"), "https://example.com/");
        assert_eq!(case.attr("time"), "0");
    }

    let csp = case_named(graded, "observatory/content-security-policy");
    let failure = csp.child("failure").unwrap();
    assert_eq!(
        failure.attr("message"),
        "Content-Security-Policy allows 'unsafe-inline' scripts"
    );
    assert_eq!(failure.attr("type"), "high");
    assert!(
        failure
            .text
            .contains("Evidence: content-security-policy: script-src")
    );
    assert!(
        failure
            .text
            .contains("Fix: Content-Security-Policy: default-src 'self'")
    );

    let hsts = case_named(graded, "observatory/strict-transport-security");
    assert!(
        hsts.children.is_empty(),
        "a passing check is an empty testcase"
    );

    let cookies = case_named(graded, "policy/cookies");
    assert_eq!(cookies.child("failure").unwrap().attr("type"), "medium");

    // Below the threshold: reported, not failed.
    let xcto = case_named(graded, "observatory/x-content-type-options");
    assert!(xcto.child("failure").is_none());
    assert!(xcto.child("system-out").unwrap().text.starts_with(
        "[low] x-content-type-options-not-implemented: X-Content-Type-Options is missing"
    ));
    let orphan = case_named(graded, "policy/permissions-policy");
    assert!(orphan.child("failure").is_none());
    assert!(
        orphan
            .child("system-out")
            .unwrap()
            .text
            .contains("[info] policy-header-missing")
    );
    assert_eq!(
        graded.child("system-out").unwrap().text,
        "advice: CSP has no object-src directive"
    );

    let failed = suites[1];
    assert_eq!(failed.attr("tests"), "1");
    assert_eq!(failed.attr("errors"), "1");
    assert_eq!(failed.attr("failures"), "0");
    let case = case_named(failed, "rampart-operational-error");
    let error = case.child("error").unwrap();
    assert_eq!(
        error.attr("message"),
        ERROR_MESSAGE,
        "newline and tab survive in the attribute"
    );
    assert_eq!(error.text, ERROR_MESSAGE);
}

#[test]
fn junit_threshold_moves_findings_between_failure_and_output() {
    let high = parse_xml(&render(
        &sample(),
        Format::Junit,
        &opts(Severity::High, false),
    ));
    assert_eq!(high.attr("failures"), "1");
    let graded = high.children("testsuite")[0];
    let leak = case_named(graded, "leak/error-probe-not-found");
    assert!(leak.child("failure").is_none());
    assert!(
        leak.child("system-out")
            .unwrap()
            .text
            .starts_with("[medium] leak-aws-arn")
    );

    let info = parse_xml(&render(
        &sample(),
        Format::Junit,
        &opts(Severity::Info, false),
    ));
    assert_eq!(info.attr("failures"), "5");
    let graded = info.children("testsuite")[0];
    assert!(
        graded
            .children("testcase")
            .iter()
            .all(|c| c.child("system-out").is_none())
    );
}

#[test]
fn junit_escapes_hostile_text_and_strips_invalid_characters() {
    let mut target = graded_target();
    target.target = "<suite> & \"'\u{1}".to_owned();
    for f in &mut target.findings {
        if f.id == "leak-aws-arn" {
            f.check = "check<&>\"'".to_owned();
        }
    }
    let report = Report::new(vec![target, failed_target()]);
    let xml = render(&report, Format::Junit, &opts(Severity::Medium, false));
    assert!(!xml.contains("<script>"));
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{7}') && !xml.contains('\u{0}'));
    assert!(!xml.contains('\u{1}'));
    assert!(xml.contains(
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &apos;single&apos;"
    ));

    let root = parse_xml(&xml);
    let suite = root.children("testsuite")[0];
    assert_eq!(suite.attr("name"), "<suite> & \"'");
    let leak = case_named(suite, "check<&>\"'");
    assert_eq!(leak.attr("classname"), "<suite> & \"'");
    let failure = leak.child("failure").unwrap();
    assert_eq!(failure.attr("message"), HOSTILE_TITLE);
    assert!(
        failure
            .text
            .contains("Evidence: [31mred | pipe ![img](https://evil.example/x.png)\r\nsecond"),
        "{:?}",
        failure.text
    );
    assert!(failure.text.contains("second line\u{202e}"));
}

// ---- Markdown ----

#[test]
fn markdown_summary_and_details() {
    let md = render(&sample(), Format::Markdown, &opts(Severity::Medium, false));
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "## rampart-verify probe");
    assert!(
        lines.contains(
            &"**2 targets**: 1 high, 2 medium, 1 low, 1 info; **1 could not be examined**"
        )
    );
    assert!(lines.contains(&"| Target | Grade | Score | High | Medium | Low | Info |"));
    assert!(lines.contains(&"| https://example.com/ | C- | 45 | 1 | 2 | 1 | 1 |"));
    assert!(lines.contains(&"| https://down.example:8443/ | error | – | 0 | 0 | 0 | 0 |"));
    assert!(lines.contains(&"| Severity | Finding | Evidence | Fix |"));
    assert!(lines.contains(
        &"| high | Content-Security-Policy allows 'unsafe-inline' scripts<br>`csp-implemented-with-unsafe-inline` | content-security-policy: script-src 'self' 'unsafe-inline' | Content-Security-Policy: default-src 'self' (policy: headers.csp) |"
    ));
    assert!(lines.contains(&"| Test | Result | Score modifier | Pass |"));
    assert!(lines.contains(
        &"| content-security-policy | csp-implemented-with-unsafe-inline | -20 | **fail** |"
    ));
    assert!(
        lines.contains(&"| x-frame-options | x-frame-options-implemented-via-csp | +5 | pass |")
    );
    assert!(lines.contains(&"<summary>https://example.com/ — grade C- — 5 findings</summary>"));
    assert!(
        lines.contains(&"<summary>https://down.example:8443/ — could not be examined</summary>")
    );
    assert!(lines.contains(
        &"**Error:** connect error: connection refused (os error 111)<br> after 3 attempts"
    ));
    assert_eq!(md.matches("<details>").count(), 2);
    assert_eq!(md.matches("</details>").count(), 2);
}

#[test]
fn markdown_escapes_hostile_cells() {
    let md = render(&sample(), Format::Markdown, &opts(Severity::Medium, false));
    assert!(
        !md.contains("<script>"),
        "raw HTML from a finding reached the comment"
    );
    assert!(
        !md.contains("![img]"),
        "an image from a finding reached the comment"
    );
    assert!(md.chars().all(|c| c == '\n' || !c.is_control()));
    let row = md
        .lines()
        .find(|l| l.contains("leak-aws-arn"))
        .expect("the leak finding row");
    assert_eq!(
        row,
        "| medium | Leaked \\<script\\>alert(1)\\</script\\> \\& \"quoted\" 'single'<br>`leak-aws-arn` | \
         \\[31mred \\| pipe \\!\\[img\\](https://evil.example/x.png)<br>second line | \
         Replace upstream error bodies (policy: error\\_bodies.replace = true) |"
    );
    // Every table row still has exactly the table's columns.
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let unescaped_pipes = line.matches('|').count() - line.matches("\\|").count();
        assert!(
            [5, 8].contains(&unescaped_pipes),
            "row with a wrong column count: {line}"
        );
    }
}

// ---- Table ----

#[test]
fn table_plain_text_layout() {
    let text = render(&sample(), Format::Table, &opts(Severity::Medium, false));
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI codes (nor raw ESC) without colour"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "https://example.com/  status 200  grade C-  score 45"
    );
    assert_eq!(lines[1], "  url: https://www.example.com/login?next=%2F");
    assert_eq!(lines[2], "  Observatory tests");
    assert_eq!(
        &lines[3..7],
        [
            "    TEST                       RESULT                                        MODIFIER",
            "    content-security-policy    csp-implemented-with-unsafe-inline                 -20  FAIL",
            "    strict-transport-security  hsts-implemented-max-age-at-least-six-months         0  pass",
            "    x-frame-options            x-frame-options-implemented-via-csp                 +5  pass",
        ]
    );
    assert_eq!(lines[7], "  Findings");
    assert_eq!(
        lines[8],
        "    HIGH    csp-implemented-with-unsafe-inline      Content-Security-Policy allows 'unsafe-inline' scripts"
    );
    assert_eq!(
        lines[9],
        "            evidence: content-security-policy: script-src 'self' 'unsafe-inline'"
    );
    assert_eq!(
        lines[10],
        "            fix: Content-Security-Policy: default-src 'self' (policy: headers.csp)"
    );
    assert!(lines.contains(&"            evidence: \\u{1b}[31mred\\u{7}\\u{0} | pipe ![img](https://evil.example/x.png)"));
    assert!(lines.contains(&"                      second line\\u{202e}"));
    assert!(lines.contains(&"    INFO    policy-header-missing                   Permissions-Policy required by policy is missing"));
    assert!(lines.contains(&"  Advice"));
    assert!(lines.contains(&"    - CSP has no object-src directive"));
    assert!(lines.contains(
        &"https://down.example:8443/  ERROR connect error: connection refused (os error 111)"
    ));
    assert_eq!(
        lines.last(),
        Some(&"Summary: 2 targets, 1 high, 2 medium, 1 low, 1 info; 1 could not be examined")
    );
}

#[test]
fn table_colours_severities_only_when_asked() {
    let text = render(&sample(), Format::Table, &opts(Severity::Medium, true));
    assert!(text.contains("\x1b[1;31mHIGH  \x1b[0m"));
    assert!(text.contains("\x1b[33mMEDIUM\x1b[0m"));
    assert!(text.contains("\x1b[36mLOW   \x1b[0m"));
    assert!(text.contains("\x1b[2mINFO  \x1b[0m"));
    // The server's ESC is still escaped: only our own codes reach the terminal.
    assert!(text.contains("evidence: \\u{1b}[31mred"));
    let stripped = text
        .replace("\x1b[1;31m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[36m", "")
        .replace("\x1b[2m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[0m", "");
    assert_eq!(
        stripped,
        render(&sample(), Format::Table, &opts(Severity::Medium, false)),
        "colour changes nothing but the escape codes"
    );
}
