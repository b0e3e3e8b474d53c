//! The binary as users run it: the documented command lines, `check`, `--demo`, SIGHUP reload
//! and SIGTERM drain.

use std::time::Duration;

use crate::support::bin::{ProxyProcess, run};
use crate::support::temp::TempDir;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_and_upstream_flags_serve_the_strict_preset() {
    let origin = TestOrigin::start().await;
    let (_p, addr) = ProxyProcess::spawn(&["--listen", "127.0.0.1:0", "--upstream", &origin.url()]);
    let res = raw_exchange(
        addr,
        b"GET /?header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header_all("server"), vec!["rampart"]);
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preset_and_workers_flags() {
    let origin = TestOrigin::start().await;
    let (_p, addr) = ProxyProcess::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &origin.url(),
        "--preset",
        "cloudfront-security-headers",
        "--workers",
        "1",
    ]);
    let res = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header("x-xss-protection"), Some("1; mode=block"));
    assert_eq!(
        res.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_override_the_config_file() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        "[server]\nlisten = \"127.0.0.1:1\"\n[[routes]]\nupstream = \"http://127.0.0.1:1\"\npolicy = \"helmet\"\n",
    );
    let (_p, addr) = ProxyProcess::spawn(&[
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &origin.url(),
        "--preset",
        "strict",
    ]);
    let res = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200, "--upstream replaced the file's route");
    assert_eq!(
        res.header("x-frame-options"),
        Some("DENY"),
        "--preset strict, not the file's helmet"
    );
}

#[test]
fn check_prints_the_effective_headers_per_route() {
    let dir = TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        r#"
[policies.api]
extends = "strict"
server = "api"
x_frame_options = false
content_security_policy = { value = "default-src 'none'", override = false }

[[routes]]
name = "web"
upstream = "http://127.0.0.1:3000"

[[routes]]
name = "api"
host = "api.example.com"
path_prefix = "/v1"
upstream = "https://10.0.0.5:8443"
policy = "api"
"#,
    );
    let (status, out, err) = run(&["check", "--config", cfg.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(
        out.contains(
            "route \"web\": host *, path / -> http://127.0.0.1:3000 (policy strict, Host client's)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "route \"api\": host api.example.com, path /v1 -> https://10.0.0.5:8443 (policy api"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "Strict-Transport-Security: max-age=63072000; includeSubDomains  [override, HTTPS only]"
        ),
        "{out}"
    );
    assert!(
        out.contains("Content-Security-Policy: default-src 'none'  [if-absent]"),
        "{out}"
    );
    assert!(
        out.contains("Server: api  [override, exactly once]"),
        "{out}"
    );
    assert!(out.contains("removes: x-powered-by"), "{out}");
    assert!(out.contains("error bodies: leaky for 4xx, 5xx; inspect 65536 bytes (decoded up to 1048576), larger ones replaced"), "{out}");
    let api_section = out.split("route \"api\"").nth(1).unwrap();
    let api_section = api_section.split("route \"").next().unwrap();
    assert!(
        !api_section.contains("X-Frame-Options"),
        "switched off for api: {api_section}"
    );
}

#[test]
fn check_reports_every_error_with_its_location_and_fails() {
    let dir = TempDir::new();
    let cfg = dir.write(
        "bad.toml",
        "[policies.p]\nx_frame_options = { value = \"ALLOW\" }\n\n[[routes]]\nupstream = \"http://x:1/path\"\npolicy = \"p\"\n",
    );
    let (status, _out, err) = run(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    let file = cfg.display().to_string();
    assert!(
        err.contains(&format!("{file}:2:29: policies.p.x_frame_options.value:")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:5:12: routes[0].upstream:")),
        "{err}"
    );
}

#[test]
fn serving_a_bad_config_exits_2_with_the_location() {
    let dir = TempDir::new();
    let cfg = dir.write(
        "bad.toml",
        "[server]\nlisten = \"nowhere\"\n[[routes]]\nupstream = \"http://127.0.0.1:1\"\n",
    );
    let (status, _out, err) = run(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains(":2:10: server.listen:"), "{err}");
}

#[test]
fn missing_upstream_is_a_clear_error() {
    let (status, _out, err) = run(&["--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("--upstream") && err.contains("no routes"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_a_leaky_origin_and_the_proxy_and_prints_curl_commands() {
    let p = ProxyProcess::spawn_raw(&["--demo"]);
    p.wait_for_stdout("Press Ctrl-C", WAIT)
        .unwrap_or_else(|| panic!("demo output: {}\n{}", p.stdout(), p.stderr()));
    let out = p.stdout();
    let url = |label: &str| {
        out.lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            .unwrap()
            .trim_start_matches("http://")
            .parse::<std::net::SocketAddr>()
            .unwrap()
    };
    let origin = url("leaky origin:");
    let proxy = url("through rampart-proxy:");
    assert!(out.contains(&format!("curl -si http://{proxy}/admin")));
    let leaky = raw_exchange(
        origin,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(leaky.header("server").unwrap().contains("nginx/1.18.0"));
    assert!(leaky.header("x-powered-by").is_some());
    let hardened = raw_exchange(
        proxy,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(hardened.header_all("server"), vec!["rampart"]);
    assert_eq!(hardened.header_count("x-powered-by"), 0);
    assert_eq!(hardened.header("x-content-type-options"), Some("nosniff"));
    let denied = raw_exchange(
        proxy,
        b"GET /admin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(denied.status, 403);
    assert!(!denied.text().contains("arn:aws"), "{}", denied.text());
    assert!(
        denied
            .text()
            .starts_with(r#"{"message":"Forbidden","request_id":""#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_file_and_keeps_running_on_a_bad_one() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let good = |server: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[policies.p]\nserver = \"{server}\"\n[[routes]]\nupstream = \"{}\"\npolicy = \"p\"\n",
            origin.url()
        )
    };
    let cfg = dir.write("rampart.toml", &good("first"));
    let (p, addr) = ProxyProcess::spawn(&["--config", cfg.to_str().unwrap()]);
    // A keep-alive connection opened before the reloads must survive them.
    let mut kept = RawConn::connect(addr).await;
    kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(kept.read_response().await.header("server"), Some("first"));

    std::fs::write(&cfg, good("second")).unwrap();
    p.signal("HUP");
    p.wait_for_log("configuration reloaded", WAIT)
        .expect("no reload log line");
    let res = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header("server"), Some("second"));

    std::fs::write(&cfg, "[policies.p]\nx_frame_options = { value = \"NEVER\" }\n[[routes]]\nupstream = \"http://x:1\"\npolicy = \"p\"\n").unwrap();
    p.signal("HUP");
    let line = p
        .wait_for_log("reload failed", WAIT)
        .expect("no failure log line");
    assert!(
        line.contains(":2:29: policies.p.x_frame_options.value"),
        "{line}"
    );
    let res = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        res.header("server"),
        Some("second"),
        "the running config stayed"
    );

    kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(
        kept.read_response().await.header("server"),
        Some("second"),
        "old connection, new config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_request_then_exits_0() {
    let origin = TestOrigin::start().await;
    let (mut p, addr) =
        ProxyProcess::spawn(&["--listen", "127.0.0.1:0", "--upstream", &origin.url()]);
    let slow = tokio::spawn(async move {
        raw_exchange(
            addr,
            b"GET /?delay_head_ms=700&body=done HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
    });
    // Signal only once the request is at the origin, so it is truly in flight.
    let wait_seen = async {
        while origin.requests().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, wait_seen).await.unwrap();
    p.signal("TERM");
    let res = slow.await.unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "done");
    let status = tokio::task::spawn_blocking(move || p.wait_exit(WAIT))
        .await
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}
