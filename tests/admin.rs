//! Operating the binary: the admin listener (/healthz, /readyz, /metrics), reloads when the
//! configuration file changes, and the SIGTERM drain under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::bin::ProxyProcess;
use crate::support::temp::TempDir;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);
/// Between two looks at a state that changes on its own schedule (a background check, a file
/// poll); the deadline, not this, bounds the wait.
const POLL: Duration = Duration::from_millis(20);

/// The admin address from the ready line (`admin=ADDR`).
fn admin_addr(p: &ProxyProcess) -> SocketAddr {
    let ready = p.wait_for_log("rampart-proxy ready", WAIT).unwrap();
    ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("admin="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no admin= in {ready:?}"))
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let res = http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Polls `path` until `done` holds for its answer, and returns that answer.
async fn get_until(
    addr: SocketAddr,
    path: &str,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = get(addr, path).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "{path} never reached the expected state; last answer {status}:\n{body}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

const ARN_BODY: &str = "%7B%22Message%22%3A%22User%3A%20arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx%20is%20not%20authorized%22%7D";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_reports_health_readiness_and_metrics() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[admin.readiness]\ninterval = \"100ms\"\n[[routes]]\nname = \"app\"\nupstream = \"{}\"\n",
            origin.url()
        ),
    );
    let (p, addr) = ProxyProcess::spawn(&["--config", cfg.to_str().unwrap()]);
    let admin = admin_addr(&p);
    assert!(admin.ip().is_loopback());

    assert_eq!(get(admin, "/healthz").await, (200, "ok\n".to_owned()));
    let (_, ready) = get_until(admin, "/readyz", |s, _| s == 200).await;
    assert!(
        ready.contains(&format!("upstream {}: reachable", origin.url())),
        "{ready}"
    );
    assert!(ready.contains(&sha256_of(&cfg)), "{ready}");

    let mut kept = RawConn::connect(addr).await;
    for _ in 0..2 {
        kept.send(b"GET /?header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\n\r\n")
            .await;
        assert_eq!(kept.read_response().await.status, 200);
    }
    kept.send(format!("GET /?status=403&body={ARN_BODY} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
        .await;
    let denied = kept.read_response().await;
    assert_eq!(denied.status, 403);
    assert!(!denied.text().contains("arn:aws"), "{}", denied.text());

    let res = http_client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = res.text().await.unwrap();
    let value =
        |series: &str| metric(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    assert_eq!(
        value(r#"rampart_responses_total{route="app",class="2xx"}"#),
        2.0
    );
    assert_eq!(
        value(r#"rampart_responses_total{route="app",class="4xx"}"#),
        1.0
    );
    assert_eq!(
        value(r#"rampart_upstream_response_seconds_count{route="app"}"#),
        3.0
    );
    let replaced: f64 = text
        .lines()
        .filter(|l| l.starts_with("rampart_error_bodies_replaced_total{detector="))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(replaced, 1.0, "{text}");
    // Three responses, each given the strict preset's headers; Server replaced twice.
    assert!(value(r#"rampart_policy_headers_total{action="injected"}"#) >= 3.0 * 7.0);
    assert_eq!(
        value(r#"rampart_policy_headers_total{action="overridden"}"#),
        2.0
    );
    assert!(value("rampart_client_connections_open") >= 1.0);
    assert_eq!(
        value(&format!(
            r#"rampart_config_info{{sha256="{}"}}"#,
            sha256_of(&cfg)
        )),
        1.0
    );
    assert_eq!(value("rampart_config_generation"), 0.0);
    assert_eq!(
        value(r#"rampart_config_reloads_total{result="failed"}"#),
        0.0
    );

    assert_eq!(get(admin, "/nothing").await.0, 404);
    let post = http_client()
        .post(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flag_serves_readyz_unready_while_the_upstream_is_unreachable() {
    let upstream = format!("http://127.0.0.1:{}", closed_port());
    let (p, _addr) = ProxyProcess::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--admin",
        "127.0.0.1:0",
    ]);
    let admin = admin_addr(&p);
    let (_, body) = get_until(admin, "/readyz", |s, b| {
        s == 503 && b.contains("unreachable")
    })
    .await;
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(
        body.contains(&format!("upstream {upstream}: unreachable")),
        "{body}"
    );
    // Alive all the same: a liveness probe must not restart a proxy whose upstream is down.
    assert_eq!(get(admin, "/healthz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_readiness_check_needs_an_answer_below_500() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = |path: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nconfig_watch_interval = \"50ms\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[admin.readiness]\ncheck = \"http\"\npath = \"{path}\"\ninterval = \"100ms\"\n[[routes]]\nupstream = \"{}\"\n",
            origin.url()
        )
    };
    let file = dir.write("rampart.toml", &cfg("/health?status=503"));
    let (p, _addr) = ProxyProcess::spawn(&["--config", file.to_str().unwrap()]);
    let admin = admin_addr(&p);
    let (_, body) = get_until(admin, "/readyz", |s, b| {
        s == 503 && b.contains("unreachable")
    })
    .await;
    assert!(body.contains("answered 503"), "{body}");
    assert!(
        origin
            .requests()
            .iter()
            .any(|r| r.uri == "/health?status=503"),
        "the check reached the origin"
    );

    std::fs::write(&file, cfg("/health?status=204")).unwrap();
    get_until(admin, "/readyz", |s, _| s == 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_config_file_reloads_and_a_broken_one_keeps_the_running_config() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = |server: &str, upstream: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nconfig_watch_interval = \"50ms\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[admin.readiness]\ninterval = \"100ms\"\n[policies.p]\nserver = \"{server}\"\n[[routes]]\nupstream = \"{upstream}\"\npolicy = \"p\"\n"
        )
    };
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let file = dir.write("rampart.toml", &cfg("first", &dead));
    let (p, addr) = ProxyProcess::spawn(&["--config", file.to_str().unwrap()]);
    let admin = admin_addr(&p);
    get_until(admin, "/readyz", |s, b| {
        s == 503 && b.contains("unreachable")
    })
    .await;
    // Open before the reloads; it must keep working through them.
    let mut kept = RawConn::connect(addr).await;
    kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let first = kept.read_response().await;
    assert_eq!(first.status, 502);
    assert_eq!(first.header("server"), Some("first"));

    // No signal: the file's new contents are picked up on their own.
    std::fs::write(&file, cfg("second", &origin.url())).unwrap();
    p.wait_for_log("configuration reloaded", WAIT)
        .expect("no reload after the file changed");
    kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let second = kept.read_response().await;
    assert_eq!(
        (second.status, second.header("server")),
        (200, Some("second"))
    );
    // The new upstream is checked right after the reload.
    get_until(admin, "/readyz", |s, _| s == 200).await;
    let (_, metrics) = get(admin, "/metrics").await;
    assert_eq!(metric(&metrics, "rampart_config_generation"), Some(1.0));
    assert_eq!(
        metric(&metrics, r#"rampart_config_reloads_total{result="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &metrics,
            &format!(r#"rampart_config_info{{sha256="{}"}}"#, sha256_of(&file))
        ),
        Some(1.0)
    );

    std::fs::write(
        &file,
        "[policies.p]\nx_frame_options = { value = \"NEVER\" }\n[[routes]]\nupstream = \"http://x:1\"\npolicy = \"p\"\n",
    )
    .unwrap();
    let line = p
        .wait_for_log("reload failed", WAIT)
        .expect("no failure log line");
    assert!(
        line.contains("rampart.toml:2:29: policies.p.x_frame_options.value"),
        "{line}"
    );
    kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(kept.read_response().await.header("server"), Some("second"));
    let (_, metrics) = get(admin, "/metrics").await;
    assert_eq!(
        metric(&metrics, r#"rampart_config_reloads_total{result="failed"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "rampart_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(metric(&metrics, "rampart_config_generation"), Some(1.0));
    // A rejected file is not retried until it changes again.
    assert_eq!(p.count_log("reload failed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_turns_unready_then_drains_without_a_failed_request() {
    let origin = TestOrigin::start().await;
    let dir = TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[server.timeouts]\ndrain_delay = \"700ms\"\ndrain = \"10s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[admin.readiness]\ninterval = \"100ms\"\n[[routes]]\nupstream = \"{}\"\n",
            origin.url()
        ),
    );
    let (mut p, addr) = ProxyProcess::spawn(&["--config", cfg.to_str().unwrap()]);
    let admin = admin_addr(&p);
    get_until(admin, "/readyz", |s, _| s == 200).await;

    // Clients behind a load balancer: they send until the balancer (here: the test, watching
    // /readyz) takes the proxy out, and every request they sent must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(tokio::sync::Semaphore::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stop, done, served) = (stop.clone(), done.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let mut conn = RawConn::connect(addr).await;
            while !stop.load(Ordering::SeqCst) {
                conn.send(b"GET /?delay_head_ms=5 HTTP/1.1\r\nHost: a\r\n\r\n")
                    .await;
                let res = conn.read_response().await;
                assert_eq!(res.status, 200, "{}", res.text());
                done.fetch_add(1, Ordering::SeqCst);
                served.add_permits(1);
            }
        }));
    }
    // Load established: a hundred requests served.
    served.acquire_many(100).await.unwrap().forget();
    // In flight across the listener's close: the upstream answers after the drain delay.
    let mut slow = RawConn::connect(addr).await;
    slow.set_io_timeout(WAIT);
    slow.send(b"GET /?delay_head_ms=1500 HTTP/1.1\r\nHost: a\r\n\r\n")
        .await;
    let before = done.load(Ordering::SeqCst);

    p.signal("TERM");
    let (_, body) = get_until(admin, "/readyz", |s, _| s == 503).await;
    assert!(body.contains("draining"), "{body}");
    assert_eq!(get(admin, "/healthz").await.0, 200);
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("a client saw a failed request");
    }
    assert!(
        done.load(Ordering::SeqCst) > before,
        "requests were still served after SIGTERM"
    );
    p.wait_for_log("listener closed", WAIT)
        .expect("the listener never closed");
    let res = slow.read_response().await;
    assert_eq!(res.status, 200, "the in-flight request finished");
    let status = p.wait_exit(WAIT).expect("the proxy did not exit");
    assert!(status.success(), "{status:?}\n{}", p.stderr());
}
