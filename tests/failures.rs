//! Failures: upstream down (502), upstream slow (504), slow clients, shutdown with requests in
//! flight. Every proxy-made error is generic and hardened.

use std::time::Duration;

use crate::support::*;

/// An address nothing listens on: bind, note the port, close.
async fn dead_upstream() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

#[tokio::test]
async fn unreachable_upstream_is_a_generic_hardened_502() {
    let upstream = dead_upstream().await;
    let port = upstream.rsplit(':').next().unwrap().to_owned();
    let proxy = TestProxy::to(&upstream, "strict", "").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: req-42\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 502);
    assert_eq!(
        res.text(),
        r#"{"message":"Bad Gateway","request_id":"req-42"}"#
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header_all("server"), vec!["rampart"]);
    let everything = format!("{:?}{}", res.headers, res.text());
    for leak in [
        "127.0.0.1",
        port.as_str(),
        "refused",
        "error trying to connect",
        "os error",
    ] {
        assert!(
            !everything.contains(leak),
            "{leak:?} leaked in {everything}"
        );
    }
}

#[tokio::test]
async fn generic_errors_follow_the_accept_header() {
    let proxy = TestProxy::to(&dead_upstream().await, "strict", "").await;
    let html = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html,*/*;q=0.8\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(html.status, 502);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(html.text().contains("<h1>502 Bad Gateway</h1>"));
    let text = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
    )
    .await;
    let id = text.header("x-request-id").unwrap();
    assert_eq!(text.text(), format!("502 Bad Gateway\nrequest id: {id}\n"));
    let head = raw_exchange(
        proxy.addr(),
        b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 502);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn slow_upstream_is_a_generic_hardened_504() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.timeouts]\nupstream_response = \"200ms\"\n",
    )
    .await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?delay_head_ms=5000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 504);
    crate::support::proxy::expect_generic_json(&res, "Gateway Timeout");
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(!format!("{:?}", res.headers).contains(&origin.addr().port().to_string()));
}

#[tokio::test]
async fn upstream_dying_mid_body_ends_the_client_response_without_leaking() {
    let origin = TestOrigin::start_with(|_req| {
        http::Response::new(OriginBody::chunks_then_abort(vec![
            bytes::Bytes::from_static(b"partial"),
        ]))
    })
    .await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    // Once the head is committed, the only honest signal left is an incomplete message: the
    // proxy may have flushed the head (then the body errors) or not yet (then the exchange
    // does); either way the client must never see a complete response.
    match http_client().get(format!("{}/", proxy.url())).send().await {
        Ok(res) => {
            assert_eq!(res.status(), 200);
            assert!(
                res.bytes().await.is_err(),
                "a truncated body must not look complete"
            );
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
}

#[tokio::test]
async fn slow_header_client_is_cut_off_while_others_are_served() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.timeouts]\nclient_header = \"500ms\"\n",
    )
    .await;
    let mut slow = RawConn::connect(proxy.addr()).await;
    slow.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ").await;
    // While the slow client dawdles, normal clients are served.
    for _ in 0..5 {
        let res = raw_exchange(
            proxy.addr(),
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(res.status, 200);
    }
    assert!(
        slow.is_closed_by_peer_within(Duration::from_secs(5)).await,
        "the slow client was not cut off"
    );
}

#[tokio::test]
async fn silent_connection_is_closed_after_the_header_timeout() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.timeouts]\nclient_header = \"300ms\"\n",
    )
    .await;
    let mut silent = RawConn::connect(proxy.addr()).await;
    assert!(
        silent
            .is_closed_by_peer_within(Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn oversized_request_head_is_refused() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.limits]\nmax_request_header_bytes = 8192\n",
    )
    .await;
    let big = "a".repeat(20_000);
    let mut conn = RawConn::connect(proxy.addr()).await;
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n");
    let _ = conn.try_send(req.as_bytes()).await;
    let res = conn.read_response().await;
    assert_eq!(res.status, 431);
    assert!(origin.requests().is_empty());
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_request() {
    let (tx, body) = OriginBody::channel(1);
    let body = std::sync::Mutex::new(Some(body));
    let origin = TestOrigin::start_with(move |_req| {
        http::Response::new(body.lock().unwrap().take().unwrap())
    })
    .await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let addr = proxy.addr();
    let mut res = http_client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    tx.send(bytes::Bytes::from_static(b"one ")).await.unwrap();
    assert_eq!(res.chunk().await.unwrap().as_deref(), Some(&b"one "[..]));

    proxy.trigger_shutdown();
    // New connections are refused once the listener is closed; the in-flight response goes on.
    let refused = async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("listener still accepting");
    tx.send(bytes::Bytes::from_static(b"two")).await.unwrap();
    drop(tx);
    let mut rest = Vec::new();
    while let Some(d) = res.chunk().await.unwrap() {
        rest.extend_from_slice(&d);
    }
    assert_eq!(rest, b"two");
    tokio::time::timeout(Duration::from_secs(10), proxy.wait())
        .await
        .expect("shutdown did not complete");
}

#[tokio::test]
async fn connection_limit_holds_new_clients_until_a_slot_frees() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.limits]\nmax_connections = 1\n",
    )
    .await;
    let mut first = RawConn::connect(proxy.addr()).await;
    first.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(first.read_response().await.status, 200);
    // The second client connects (kernel backlog) but is not served while the first holds the slot.
    let mut second = tokio::spawn({
        let addr = proxy.addr();
        async move {
            raw_exchange(
                addr,
                b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            )
            .await
        }
    });
    // Not served while the slot is taken (a bounded wait is the thing measured here).
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut second)
            .await
            .is_err()
    );
    assert!(origin.requests().iter().all(|r| r.uri.path() != "/second"));
    drop(first);
    let res = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status, 200);
}

/// The access log says what the upstream answered, and says nothing of an upstream for the
/// proxy's own answers: a replaced error body keeps the upstream's status, a 502 has none.
#[tokio::test]
async fn access_log_names_the_upstream_status_only_when_an_upstream_answered() {
    let origin = crate::support::origin::TestOrigin::start().await;
    let dead = dead_upstream().await;
    let dir = crate::support::temp::TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[[routes]]\npath_prefix = \"/down\"\nupstream = \"{dead}\"\n[[routes]]\nupstream = \"{}\"\n",
            origin.url()
        ),
    );
    let (proxy, addr) =
        crate::support::bin::ProxyProcess::spawn(&["--config", cfg.to_str().unwrap()]);
    for (path, status) in [
        ("/ok", 200),
        ("/?status=403&body=arn:aws:iam::123456789012:role/x", 403),
        ("/down/x", 502),
    ] {
        let res = raw_exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(res.status, status, "{path}");
    }
    let wait = Duration::from_secs(10);
    let ok = proxy
        .wait_for_log("path=\"/ok\"", wait)
        .unwrap_or_else(|| panic!("no line for /ok:\n{}", proxy.stderr()));
    assert!(ok.contains("rampart::access"), "{ok}");
    assert!(ok.contains("method=GET"), "{ok}");
    assert!(ok.contains(" status=200 upstream_status=200"), "{ok}");
    assert!(ok.contains("latency_ms=") && ok.contains("bytes="), "{ok}");
    let replaced = proxy
        .wait_for_log("status=403", wait)
        .expect("a line for the 403");
    assert!(replaced.contains("upstream_status=403"), "{replaced}");
    let failed = proxy
        .wait_for_log("path=\"/down/x\"", wait)
        .unwrap_or_else(|| panic!("no line for /down/x:\n{}", proxy.stderr()));
    assert!(failed.contains(" status=502"), "{failed}");
    assert!(!failed.contains("upstream_status"), "{failed}");
    assert!(failed.contains("failure=\"upstream\""), "{failed}");
}

// The upstream connection keeps its response timer between requests (re-armed, not made anew):
// a slow answer on a reused connection must still time out.
#[tokio::test]
async fn slow_upstream_on_a_reused_connection_is_still_a_504() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.timeouts]\nupstream_response = \"300ms\"\n",
    )
    .await;
    let mut conn = RawConn::connect(proxy.addr()).await;
    for _ in 0..2 {
        conn.send(b"GET /fast HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(conn.read_response().await.status, 200);
    }
    conn.send(b"GET /?delay_head_ms=5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        .await;
    let res = conn.read_response().await;
    assert_eq!(res.status, 504);
    crate::support::proxy::expect_generic_json(&res, "Gateway Timeout");
    assert_eq!(
        origin.connections_accepted(),
        1,
        "all three requests should have used the one pooled upstream connection"
    );
}

// The client connection keeps one idle timer for its life, re-armed after each response: a
// keep-alive connection that goes quiet after a request must still be closed.
#[tokio::test]
async fn quiet_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "strict",
        "[server.timeouts]\nidle = \"300ms\"\n",
    )
    .await;
    let mut conn = RawConn::connect(proxy.addr()).await;
    for _ in 0..2 {
        conn.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(conn.read_response().await.status, 200);
    }
    assert!(
        conn.is_closed_by_peer_within(Duration::from_secs(10)).await,
        "an idle keep-alive connection stayed open past its 300 ms idle timeout"
    );
}
