//! Proxy semantics: hop-by-hop headers, X-Forwarded-*, Host, routing, streaming, upgrades,
//! HTTP/2, 100-continue, keep-alive pooling.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::bin::ProxyProcess;
use crate::support::*;

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "none", "").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?header=Connection:X-Origin-Private&header=X-Origin-Private:1&header=Keep-Alive:timeout%3D5&header=Proxy-Authenticate:Basic&header=Trailer:X-T&header=Upgrade:h2c HTTP/1.1\r\n\
          Host: a\r\nConnection: close, X-Client-Private\r\nX-Client-Private: secret\r\nKeep-Alive: timeout=5\r\n\
          TE: trailers\r\nTrailer: X-Foo\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-End: 1\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200);
    let seen = origin.last_request().unwrap();
    for h in [
        "x-client-private",
        "keep-alive",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "upgrade",
    ] {
        assert!(seen.headers.get(h).is_none(), "{h} reached the upstream");
    }
    assert_eq!(seen.header("x-end"), Some("1"));
    for h in [
        "x-origin-private",
        "keep-alive",
        "proxy-authenticate",
        "trailer",
        "upgrade",
    ] {
        assert_eq!(
            res.header_count(h),
            0,
            "{h} reached the client: {:?}",
            res.headers
        );
    }
}

#[tokio::test]
async fn x_forwarded_headers_from_an_untrusted_peer_are_replaced() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "none", "").await;
    raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nConnection: close\r\n\r\n",
    )
    .await;
    let seen = origin.last_request().unwrap();
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("x-forwarded-host"), Some("shop.example"));
    for name in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"] {
        assert_eq!(seen.headers.get_all(name).iter().count(), 1, "{name}");
    }
    assert!(seen.headers.get("forwarded").is_none());
    assert!(seen.headers.get("x-real-ip").is_none());
}

#[tokio::test]
async fn x_forwarded_headers_from_a_trusted_peer_are_kept_and_appended() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "none",
        "trusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n",
    )
    .await;
    raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: www.shop.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    let seen = origin.last_request().unwrap();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.7, 10.0.0.2, 127.0.0.1")
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("www.shop.example"));
}

#[tokio::test]
async fn host_is_preserved_by_default_and_rewritable_per_route() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::start(&format!(
        "[server]\naccess_log = false\n\
         [[routes]]\nupstream = \"{u}\"\n\
         [[routes]]\npath_prefix = \"/rewrite\"\nupstream = \"{u}\"\nhost_rewrite = \"internal.example\"\n\
         [[routes]]\npath_prefix = \"/upstream\"\nupstream = \"{u}\"\npreserve_host = false\n",
        u = origin.url()
    ))
    .await;
    raw_exchange(
        proxy.addr(),
        b"GET /x HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        origin.last_request().unwrap().header("host"),
        Some("public.example")
    );
    raw_exchange(
        proxy.addr(),
        b"GET /rewrite/x HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        origin.last_request().unwrap().header("host"),
        Some("internal.example")
    );
    raw_exchange(
        proxy.addr(),
        b"GET /upstream/x HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        origin.last_request().unwrap().header("host"),
        Some(origin.addr().to_string().as_str())
    );
}

#[tokio::test]
async fn path_and_query_reach_the_upstream_unchanged() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "none", "").await;
    raw_exchange(
        proxy.addr(),
        b"GET /a/b%20c?x=1&y=%2F HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        origin.last_request().unwrap().uri.to_string(),
        "/a/b%20c?x=1&y=%2F"
    );
}

#[tokio::test]
async fn routes_pick_the_longest_prefix_and_the_host() {
    let a = TestOrigin::start().await;
    let b = TestOrigin::start().await;
    let c = TestOrigin::start().await;
    let proxy = TestProxy::start(&format!(
        "[server]\naccess_log = false\n\
         [[routes]]\nupstream = \"{}\"\n\
         [[routes]]\npath_prefix = \"/api\"\nupstream = \"{}\"\n\
         [[routes]]\nhost = \"*.tenant.example\"\nupstream = \"{}\"\n",
        a.url(),
        b.url(),
        c.url()
    ))
    .await;
    raw_exchange(
        proxy.addr(),
        b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    raw_exchange(
        proxy.addr(),
        b"GET /apiary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    raw_exchange(
        proxy.addr(),
        b"GET /home HTTP/1.1\r\nHost: acme.tenant.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(b.requests().len(), 1, "/api/v1 goes to the /api route");
    assert_eq!(a.requests().len(), 1, "/apiary is not under /api");
    assert_eq!(c.requests().len(), 1, "the wildcard host route");
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_kept_alive() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let client = http_client();
    for _ in 0..10 {
        let res = client
            .get(format!("{}/", proxy.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
    }
    assert_eq!(origin.connections_accepted(), 1);
}

#[tokio::test]
async fn http2_prior_knowledge_is_served_on_the_same_port() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let res = h2c_get(proxy.addr(), "/?echo=1", &[("x-test", "1")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_2);
    let seen = origin.last_request().unwrap();
    assert_eq!(
        seen.version,
        http::Version::HTTP_11,
        "upstream side is HTTP/1.1"
    );
    assert_eq!(seen.header("x-test"), Some("1"));
    assert_eq!(
        seen.header("host"),
        Some(proxy.addr().to_string().as_str()),
        ":authority becomes Host"
    );
    // And HTTP/1.1 on the same listener.
    let res = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn websocket_upgrade_echoes_through_the_proxy() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let mut ws = ws_connect(proxy.addr(), "/ws").await;
    ws.send(Message::text("hello")).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn raw_upgrade_tunnel_carries_bytes_both_ways() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let mut conn = RawConn::connect(proxy.addr()).await;
    conn.send(
        b"GET /upgrade-raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n",
    )
    .await;
    let head = conn.read_head_response().await;
    assert_eq!(head.status, 101);
    assert_eq!(head.header("upgrade"), Some("x-echo"));
    let (mut stream, leftover) = conn.into_inner();
    assert!(leftover.is_empty());
    stream.write_all(b"ping over the tunnel").await.unwrap();
    let mut buf = [0u8; 20];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping over the tunnel");
}

#[tokio::test]
async fn expect_100_continue_gets_an_interim_response_then_the_body_flows() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let mut conn = RawConn::connect(proxy.addr()).await;
    conn.send(
        b"POST /?echo=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let interim = conn.read_response().await;
    assert_eq!(interim.status, 100);
    conn.send(b"hello world").await;
    let res = conn.read_response().await;
    assert_eq!(res.status, 200);
    assert_eq!(origin.last_request().unwrap().body_len, 11);
}

#[tokio::test]
async fn request_bodies_stream_to_the_upstream() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "none", "").await;
    const LEN: usize = 64 * 1024 * 1024;
    let chunk = bytes::Bytes::from(vec![7u8; 1024 * 1024]);
    let stream = futures_util::stream::iter(
        (0..LEN / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let res = http_client()
        .post(format!("{}/?echo=1", proxy.url()))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["body_len"], LEN as u64);
}

#[tokio::test]
async fn chunks_are_forwarded_as_they_arrive_not_buffered() {
    let (tx, body) = OriginBody::channel(1);
    let body = std::sync::Mutex::new(Some(body));
    let origin = TestOrigin::start_with(move |_req| {
        http::Response::new(body.lock().unwrap().take().unwrap())
    })
    .await;
    let proxy = TestProxy::to(&origin.url(), "none", "").await;
    let mut res = http_client()
        .get(format!("{}/", proxy.url()))
        .send()
        .await
        .unwrap();
    tx.send(bytes::Bytes::from_static(b"first")).await.unwrap();
    // The first chunk reaches the client while the origin still holds the rest back.
    let got = tokio::time::timeout(Duration::from_secs(10), res.chunk())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"first"[..]));
    tx.send(bytes::Bytes::from_static(b"second")).await.unwrap();
    drop(tx);
    let mut rest = Vec::new();
    while let Some(d) = res.chunk().await.unwrap() {
        rest.extend_from_slice(&d);
    }
    assert_eq!(rest, b"second");
}

/// Streams 1 GiB through the proxy binary and checks that its memory stays bounded: a buffering
/// proxy would need the whole body in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_chunked_body_streams_with_bounded_proxy_memory() {
    let origin = TestOrigin::start().await;
    let dir = crate::support::temp::TempDir::new();
    let cfg = dir.write(
        "rampart.toml",
        &format!("[server]\naccess_log = false\nlisten = \"127.0.0.1:0\"\n[[routes]]\nupstream = \"{}\"\n", origin.url()),
    );
    let (proxy, addr) = ProxyProcess::spawn(&["--config", cfg.to_str().unwrap(), "--workers", "1"]);
    let before = proxy.status_kib("VmRSS");
    const GIB: u64 = 1 << 30;
    let res = http_client()
        .get(format!("http://{addr}/?stream_bytes={GIB}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut res = res;
    let mut total = 0u64;
    while let Some(d) = res.chunk().await.unwrap() {
        assert_eq!(
            d[0],
            crate::support::origin::pattern_byte(total),
            "content at offset {total}"
        );
        total += d.len() as u64;
    }
    assert_eq!(total, GIB);
    let peak = proxy.status_kib("VmHWM");
    assert!(
        peak < before + 64 * 1024,
        "proxy peak RSS {peak} KiB grew more than 64 MiB over its idle {before} KiB while streaming 1 GiB"
    );
}

#[tokio::test]
async fn https_upstream_with_a_custom_ca() {
    let origin = TestOrigin::start().await;
    let ca = crate::support::tls::TestCa::new();
    let front = crate::support::tls::tls_front(&ca, origin.addr()).await;
    let dir = crate::support::temp::TempDir::new();
    let ca_file = ca.write_ca(&dir);
    let proxy = TestProxy::start(&format!(
        "[server]\naccess_log = false\n\
         [[routes]]\nupstream = \"https://localhost:{port}\"\nca_file = \"{ca}\"\n\
         [[routes]]\npath_prefix = \"/webpki\"\nupstream = \"https://localhost:{port}\"\n",
        port = front.port(),
        ca = ca_file.display()
    ))
    .await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?body=over-tls HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "over-tls");
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    // The same upstream is not trusted through the public roots: a generic 502, no TLS detail.
    let res = raw_exchange(
        proxy.addr(),
        b"GET /webpki HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 502);
    crate::support::proxy::expect_generic_json(&res, "Bad Gateway");
}
