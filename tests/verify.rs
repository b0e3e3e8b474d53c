//! rampart-verify probe against real servers: Observatory grades, policy conformance, error-probe
//! leaks, output formats, exit codes.

use serde_json::Value;

use crate::support::bin::{VerifyRun, run_verify};
use crate::support::temp::TempDir;
use crate::support::*;

type Run = VerifyRun;

async fn verify(args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    // A blocking wait on its own thread: the origin serving the probe runs on this runtime.
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_verify(None, &args)
    })
    .await
    .unwrap()
}

/// The probe's JSON for one URL (error probes off unless asked).
async fn probe_json(url: &str, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["probe", url, "--format", "json"];
    args.extend_from_slice(extra);
    let run = verify(&args).await;
    let v = run.json();
    let target = v["targets"][0].clone();
    (run, target)
}

fn test_result<'a>(target: &'a Value, name: &str) -> &'a Value {
    target["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {target}"))
}

fn finding_ids(target: &Value) -> Vec<String> {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Query string making the test origin send these headers.
fn with_headers(headers: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    headers
        .iter()
        .map(|(n, v)| format!("header={}", enc(&format!("{n}:{v}"))))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_origin_fails_and_the_same_origin_behind_rampart_passes_the_header_tests() {
    let origin = TestOrigin::start().await;
    let (run, bare) = probe_json(
        &format!(
            "{}/?{}",
            origin.url(),
            with_headers(&[("Server", "nginx/1.18.0"), ("X-Powered-By", "Express")])
        ),
        &["--no-error-probes"],
    )
    .await;
    assert_eq!(run.code, 1, "findings at or above medium: {}", run.stderr);
    assert_eq!(
        test_result(&bare, "content-security-policy")["result"],
        "csp-not-implemented"
    );
    assert_eq!(
        test_result(&bare, "x-frame-options")["result"],
        "x-frame-options-not-implemented"
    );
    assert_eq!(
        test_result(&bare, "x-content-type-options")["result"],
        "x-content-type-options-not-implemented"
    );
    assert!(finding_ids(&bare).contains(&"leak-version-banner".to_owned()));

    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let (_run, hardened) = probe_json(
        &format!(
            "{}/?{}",
            proxy.url(),
            with_headers(&[("Server", "nginx/1.18.0"), ("X-Powered-By", "Express")])
        ),
        &["--no-error-probes", "--preset", "strict"],
    )
    .await;
    for test in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "cross-origin-resource-policy",
        "cookies",
        "cross-origin-resource-sharing",
    ] {
        assert_eq!(
            test_result(&hardened, test)["pass"],
            true,
            "{test}: {}",
            test_result(&hardened, test)
        );
    }
    let ids = finding_ids(&hardened);
    assert!(
        !ids.iter()
            .any(|i| i.starts_with("policy-") || i.starts_with("leak-")),
        "{ids:?}"
    );
    assert!(hardened["score"].as_i64().unwrap() > bare["score"].as_i64().unwrap());
}

/// (headers the origin sends, Observatory test, expected result, expected modifier)
type Vector = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
    i64,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observatory_vectors_give_the_expected_results_and_grades() {
    let origin = TestOrigin::start().await;
    let cases: &[Vector] = &[
        (
            &[(
                "Content-Security-Policy",
                "default-src 'self'; script-src 'self' 'unsafe-inline'",
            )],
            "content-security-policy",
            "csp-implemented-with-unsafe-inline",
            -20,
        ),
        (
            &[(
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'",
            )],
            "x-frame-options",
            "x-frame-options-implemented-via-csp",
            5,
        ),
        (
            &[("X-Frame-Options", "SAMEORIGIN")],
            "x-frame-options",
            "x-frame-options-sameorigin-or-deny",
            5,
        ),
        (
            &[("Referrer-Policy", "no-referrer")],
            "referrer-policy",
            "referrer-policy-private",
            5,
        ),
        (
            &[("Referrer-Policy", "unsafe-url")],
            "referrer-policy",
            "referrer-policy-unsafe",
            -5,
        ),
        (
            &[("X-Content-Type-Options", "nosniff")],
            "x-content-type-options",
            "x-content-type-options-nosniff",
            0,
        ),
        (
            &[("Set-Cookie", "sessionid=abc; HttpOnly")],
            "cookies",
            "cookies-session-without-secure-flag",
            -40,
        ),
    ];
    for (headers, test, result, modifier) in cases {
        let (_run, t) = probe_json(
            &format!("{}/?{}", origin.url(), with_headers(headers)),
            &["--no-error-probes"],
        )
        .await;
        let r = test_result(&t, test);
        assert_eq!(r["result"], *result, "{headers:?}: {r}");
        assert_eq!(r["score_modifier"], *modifier, "{headers:?}: {r}");
    }
    // CORS: reflecting any Origin with credentials.
    let reflect = TestOrigin::start_with(|req| {
        let mut res = http::Response::new(OriginBody::empty());
        if let Some(o) = req.headers().get("origin") {
            res.headers_mut()
                .insert("access-control-allow-origin", o.clone());
            res.headers_mut().insert(
                "access-control-allow-credentials",
                http::HeaderValue::from_static("true"),
            );
        }
        res
    })
    .await;
    let (_run, t) = probe_json(&format!("{}/", reflect.url()), &["--no-error-probes"]).await;
    assert_eq!(
        test_result(&t, "cross-origin-resource-sharing")["result"],
        "cross-origin-resource-sharing-implemented-with-universal-access"
    );
    assert_eq!(
        test_result(&t, "cross-origin-resource-sharing")["score_modifier"],
        -50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_probes_find_a_leaky_404_with_redacted_evidence() {
    let origin = TestOrigin::start_with(|req| {
        let (status, body) = if req.uri().path().starts_with("/rampart-probe-") {
            (
                404,
                "Not found: /var/www/app/routes.py -- arn:aws:iam::123456789012:role/web",
            )
        } else {
            (200, "ok")
        };
        let mut res = http::Response::new(OriginBody::full(body));
        *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
        res
    })
    .await;
    let (run, t) = probe_json(&format!("{}/", origin.url()), &[]).await;
    assert_eq!(run.code, 1);
    let leaks: Vec<&Value> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "leak/error-probe-not-found")
        .collect();
    let ids: Vec<&str> = leaks.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"leak-aws-arn"), "{ids:?}");
    assert!(ids.contains(&"leak-filesystem-path"), "{ids:?}");
    for f in &leaks {
        let e = f["evidence"].as_str().unwrap();
        assert!(
            !e.contains("123456789012") && !e.contains("/var/www/app"),
            "evidence leaks: {e}"
        );
        assert_eq!(
            f["severity"],
            if f["id"] == "leak-filesystem-path" {
                "medium"
            } else {
                "high"
            }
        );
    }
    // Behind rampart the same probes find nothing.
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let (_run, t) = probe_json(&format!("{}/", proxy.url()), &[]).await;
    assert!(
        !finding_ids(&t).iter().any(|i| i.starts_with("leak-")),
        "{}",
        t["findings"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_conformance_reports_missing_weaker_and_removed_headers() {
    let origin = TestOrigin::start().await;
    let url = format!(
        "{}/?{}",
        origin.url(),
        with_headers(&[
            ("X-Frame-Options", "SAMEORIGIN"),
            ("Referrer-Policy", "unsafe-url"),
            ("X-Powered-By", "PHP/8.1"),
            ("Server", "nginx/1.18.0"),
        ])
    );
    let (_run, t) = probe_json(&url, &["--no-error-probes", "--preset", "strict"]).await;
    let f: Vec<(String, String)> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["category"] == "policy")
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["check"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |id: &str, check: &str| f.iter().any(|(i, c)| i == id && c == check);
    assert!(
        has("policy-header-missing", "policy/content-security-policy"),
        "{f:?}"
    );
    assert!(
        has("policy-header-weaker", "policy/x-frame-options"),
        "{f:?}"
    );
    assert!(
        has("policy-header-weaker", "policy/referrer-policy"),
        "{f:?}"
    );
    assert!(
        has("policy-removed-header-present", "policy/remove"),
        "{f:?}"
    );
    assert!(has("policy-server-mismatch", "policy/server"), "{f:?}");
    let fix = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check"] == "policy/x-frame-options")
        .unwrap();
    assert!(
        fix["remediation"]
            .as_str()
            .unwrap()
            .contains("x_frame_options = { value = \"DENY\" }"),
        "{fix}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_route_select_the_policy() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        "[policies.lax]\nextends = \"none\"\nx_content_type_options = { override = true }\n[[routes]]\nname = \"lax\"\nupstream = \"http://127.0.0.1:1\"\npolicy = \"lax\"\n",
    );
    let url = format!(
        "{}/?{}",
        origin.url(),
        with_headers(&[("X-Content-Type-Options", "nosniff")])
    );
    let (run, t) = probe_json(
        &url,
        &[
            "--no-error-probes",
            "--config",
            cfg.to_str().unwrap(),
            "--route",
            "lax",
        ],
    )
    .await;
    assert!(
        !t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["category"] == "policy"),
        "{}",
        run.stdout
    );
    let bad = verify(&[
        "probe",
        &url,
        "--config",
        cfg.to_str().unwrap(),
        "--route",
        "nope",
    ])
    .await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--route nope: no such route"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_parses() {
    let origin = TestOrigin::start().await;
    let url = format!(
        "{}/?{}",
        origin.url(),
        with_headers(&[("Server", "nginx/1.18.0")])
    );
    let dir = TempDir::new();

    let sarif_path = dir.path().join("out.sarif");
    let run = verify(&[
        "probe",
        &url,
        "--no-error-probes",
        "--format",
        "sarif",
        "--output",
        sarif_path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/sarif-schema/sarif-multitool-linux-5.7.0/sarif-2.1.0.json");
    let schema_text = std::fs::read_to_string(&schema_path).unwrap_or_else(|e| {
        panic!("the official SARIF schema is missing at {} ({e}): run verifier/tests/fetch-sarif-schema.sh (tests/run.sh does)", schema_path.display())
    });
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "SARIF invalid: {errors:?}");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());

    let junit = verify(&["probe", &url, "--no-error-probes", "--format", "junit"]).await;
    let mut reader = quick_xml::Reader::from_str(&junit.stdout);
    let (mut suites, mut cases, mut failures) = (0, 0, 0);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().0 {
                    "testsuite" => suites += 1,
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1);
    assert!(
        cases >= 9 && failures >= 1,
        "{cases} cases, {failures} failures:\n{}",
        junit.stdout
    );

    let md = verify(&["probe", &url, "--no-error-probes", "--format", "markdown"]).await;
    assert!(md.stdout.contains("| Target |"), "{}", md.stdout);
    let table = verify(&["probe", &url, "--no-error-probes"]).await;
    assert!(
        table.stdout.contains("content-security-policy"),
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.contains('\u{1b}'),
        "no colour when not on a terminal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_sets_the_threshold() {
    let origin = TestOrigin::start().await;
    let url = format!("{}/", origin.url());
    assert_eq!(
        verify(&["probe", &url, "--no-error-probes", "--format", "json"])
            .await
            .code,
        1
    );
    // A bare origin has high findings (no CSP), so even --fail-on high fails...
    assert_eq!(
        verify(&[
            "probe",
            &url,
            "--no-error-probes",
            "--format",
            "json",
            "--fail-on",
            "high"
        ])
        .await
        .code,
        1
    );
    // ...while a well-hardened one (HTTPS, HSTS) passes at high.
    let proxy = TestProxy::to(
        &origin.url(),
        "p",
        "[policies.p]\nstrict_transport_security = { force = true }\n",
    )
    .await;
    let ca = crate::support::tls::TestCa::new();
    let front = crate::support::tls::tls_front(&ca, proxy.addr()).await;
    let dir = TempDir::new();
    let ca_file = ca.write_ca(&dir);
    let url = format!("https://localhost:{}/", front.port());
    let run = verify(&[
        "probe",
        &url,
        "--no-error-probes",
        "--format",
        "json",
        "--fail-on",
        "high",
        "--ca-file",
        ca_file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(
        test_result(t, "strict-transport-security")["pass"],
        true,
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_errors_exit_2_with_a_clear_message() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/", l.local_addr().unwrap());
    drop(l);
    let run = verify(&["probe", &dead, "--format", "json"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);

    let run = verify(&["probe", "http://no-such-host.invalid/", "--format", "json"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no-such-host.invalid"),
        "{}",
        run.stderr
    );

    let slow = TestOrigin::start().await;
    let run = verify(&[
        "probe",
        &format!("{}/?delay_head_ms=5000", slow.url()),
        "--timeout",
        "1",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);

    // TLS: a server whose certificate no public root trusts.
    let origin = TestOrigin::start().await;
    let ca = crate::support::tls::TestCa::new();
    let front = crate::support::tls::tls_front(&ca, origin.addr()).await;
    let url = format!("https://localhost:{}/", front.port());
    let run = verify(&["probe", &url, "--format", "json"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("TLS"), "{}", run.stderr);
    // With the CA trusted the same URL is probed, and its certificate checked.
    let dir = TempDir::new();
    let ca_file = ca.write_ca(&dir);
    let run = verify(&[
        "probe",
        &url,
        "--format",
        "json",
        "--no-error-probes",
        "--ca-file",
        ca_file.to_str().unwrap(),
    ])
    .await;
    assert_ne!(run.code, 2, "{}", run.stderr);
    let checks = run.json();
    assert_eq!(checks["targets"][0]["status"], 200);

    let run = verify(&["probe", "ftp://example.com/"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("only http:// and https://"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_headers_never_panic() {
    let origin = TestOrigin::start_with(|_req| {
        let mut res = http::Response::new(OriginBody::empty());
        let h = res.headers_mut();
        h.append(
            "content-security-policy",
            http::HeaderValue::from_bytes(b"default-src 'self' \xff\xfe").unwrap(),
        );
        h.append(
            "content-security-policy",
            http::HeaderValue::from_static("script-src *"),
        );
        h.append(
            "strict-transport-security",
            http::HeaderValue::from_static("max-age=-1, max-age=99"),
        );
        h.append("x-frame-options", http::HeaderValue::from_static("DENY"));
        h.append(
            "x-frame-options",
            http::HeaderValue::from_static("SAMEORIGIN"),
        );
        h.append(
            "set-cookie",
            http::HeaderValue::from_bytes(b"\xc3\x28=\xa0\xa1; Secure").unwrap(),
        );
        h.append(
            "referrer-policy",
            http::HeaderValue::from_str(&"x".repeat(60_000)).unwrap(),
        );
        h.append(
            "server",
            http::HeaderValue::from_bytes(b"caf\xe9/1.0").unwrap(),
        );
        res
    })
    .await;
    let run = verify(&["probe", &format!("{}/", origin.url()), "--format", "json"]).await;
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}: {}",
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let v = run.json();
    assert!(v["targets"][0]["grade"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_urls_are_reported_in_the_given_order() {
    let a = TestOrigin::start().await;
    let b = TestOrigin::start().await;
    let dir = TempDir::new();
    let list = dir.write(
        "urls.txt",
        &format!("# staging\n{}/one\n\n{}/two  # second\n", a.url(), b.url()),
    );
    let run = verify(&[
        "probe",
        &format!("{}/zero", a.url()),
        "--urls-file",
        list.to_str().unwrap(),
        "--format",
        "json",
        "--no-error-probes",
        "--concurrency",
        "3",
    ])
    .await;
    let v = run.json();
    let targets: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        vec![
            format!("{}/zero", a.url()),
            format!("{}/one", a.url()),
            format!("{}/two", b.url())
        ]
    );
    assert_eq!(v["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_close_to_expiry_is_reported() {
    let origin = TestOrigin::start().await;
    let ca = crate::support::tls::TestCa::with_leaf_expiring_in(10);
    let front = crate::support::tls::tls_front(&ca, origin.addr()).await;
    let dir = TempDir::new();
    let ca_file = ca.write_ca(&dir);
    let url = format!("https://localhost:{}/", front.port());
    let run = verify(&[
        "probe",
        &url,
        "--format",
        "json",
        "--no-error-probes",
        "--ca-file",
        ca_file.to_str().unwrap(),
    ])
    .await;
    let t = &run.json()["targets"][0];
    let f = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "transport/certificate")
        .unwrap_or_else(|| panic!("no certificate finding: {t}"));
    assert_eq!(f["id"], "certificate-expires-soon");
    assert_eq!(f["severity"], "medium");
    assert!(
        f["title"].as_str().unwrap().contains("expires in 9 day")
            || f["title"].as_str().unwrap().contains("expires in 10 day"),
        "{f}"
    );

    // Without the CA and with --insecure, the untrusted certificate is a finding, not an error.
    let run = verify(&[
        "probe",
        &url,
        "--format",
        "json",
        "--no-error-probes",
        "--insecure",
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let t = &run.json()["targets"][0];
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "certificate-untrusted"),
        "{t}"
    );
}
