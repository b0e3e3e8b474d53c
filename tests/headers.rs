//! The header policy on real responses: every typed header in both modes, Server exactly once,
//! removal with wildcards, HSTS only on HTTPS, and every kind of response.

use crate::support::*;

/// A policy setting every typed header with `override = <mode>` and distinctive values.
fn all_typed(mode: bool) -> String {
    format!(
        r#"
[policies.p]
extends = "none"
strict_transport_security = {{ max_age = 31536000, include_subdomains = true, override = {mode}, force = true }}
content_security_policy = {{ value = "default-src 'none'", override = {mode} }}
content_security_policy_report_only = {{ value = "default-src 'self'; report-uri /csp", override = {mode} }}
x_frame_options = {{ value = "DENY", override = {mode} }}
x_content_type_options = {{ override = {mode} }}
referrer_policy = {{ value = "no-referrer", override = {mode} }}
permissions_policy = {{ value = "camera=(), geolocation=()", override = {mode} }}
cross_origin_opener_policy = {{ value = "same-origin", override = {mode} }}
cross_origin_resource_policy = {{ value = "same-origin", override = {mode} }}
cross_origin_embedder_policy = {{ value = "require-corp", override = {mode} }}
x_permitted_cross_domain_policies = {{ value = "none", override = {mode} }}
x_xss_protection = {{ value = "0", override = {mode} }}
custom = [{{ name = "X-Custom-Policy", value = "ours", override = {mode} }}]
"#
    )
}

/// (header, our value, the origin's competing value)
const TYPED: &[(&str, &str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
        "max-age=60",
    ),
    (
        "content-security-policy",
        "default-src 'none'",
        "default-src 'self' cdn.example",
    ),
    (
        "content-security-policy-report-only",
        "default-src 'self'; report-uri /csp",
        "script-src 'self'",
    ),
    ("x-frame-options", "DENY", "SAMEORIGIN"),
    ("x-content-type-options", "nosniff", "nosniff-origin"),
    ("referrer-policy", "no-referrer", "unsafe-url"),
    (
        "permissions-policy",
        "camera=(), geolocation=()",
        "camera=*",
    ),
    ("cross-origin-opener-policy", "same-origin", "unsafe-none"),
    (
        "cross-origin-resource-policy",
        "same-origin",
        "cross-origin",
    ),
    (
        "cross-origin-embedder-policy",
        "require-corp",
        "unsafe-none",
    ),
    ("x-permitted-cross-domain-policies", "none", "all"),
    ("x-xss-protection", "0", "1; mode=block"),
    ("x-custom-policy", "ours", "theirs"),
];

fn origin_query() -> String {
    TYPED
        .iter()
        .map(|(n, _, v)| {
            format!(
                "header={n}:{}",
                v.replace(' ', "+")
                    .replace(';', "%3B")
                    .replace('=', "%3D")
                    .replace('*', "%2A")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn override_true_replaces_every_typed_header() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "p", &all_typed(true)).await;
    let res = raw_exchange(
        proxy.addr(),
        format!(
            "GET /?{} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            origin_query()
        )
        .as_bytes(),
    )
    .await;
    for (name, ours, _) in TYPED {
        assert_eq!(res.header_all(name), vec![*ours], "{name}");
    }
}

#[tokio::test]
async fn override_false_keeps_origin_values_and_fills_gaps() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "p", &all_typed(false)).await;
    let with = raw_exchange(
        proxy.addr(),
        format!(
            "GET /?{} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            origin_query()
        )
        .as_bytes(),
    )
    .await;
    for (name, _, theirs) in TYPED {
        assert_eq!(
            with.header_all(name),
            vec![*theirs],
            "{name} should keep the origin's value"
        );
    }
    let without = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    for (name, ours, _) in TYPED {
        assert_eq!(
            without.header_all(name),
            vec![*ours],
            "{name} should be added when absent"
        );
    }
}

#[tokio::test]
async fn server_header_appears_exactly_once_with_the_configured_value() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "p", "[policies.p]\nserver = \"edge\"\n").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?header=Server:nginx/1.18.0&header=Server:gunicorn/20.1&header=server:Apache HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header_all("server"), vec!["edge"]);

    let res = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        res.header_all("server"),
        vec!["edge"],
        "added when the origin sends none"
    );
}

#[tokio::test]
async fn server_false_removes_the_header() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "p", "[policies.p]\nserver = false\n").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header_count("server"), 0);
}

#[tokio::test]
async fn default_remove_list_and_wildcards_strip_leaky_headers() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(
        &origin.url(),
        "p",
        "[policies.p]\nalso_remove = [\"x-internal-*\"]\n",
    )
    .await;
    let leaky = [
        "X-Powered-By:Express",
        "X-AspNet-Version:4.0.30319",
        "X-AspNetMvc-Version:5.2",
        "X-Generator:Drupal 9",
        "x-amzn-ErrorType:AccessDeniedException",
        "x-amzn-RequestId:6f1c2b7a",
        "X-Amzn-Trace-Id:Root=1-abc",
        "x-amz-apigw-id:Ab12Cd",
        "x-amz-request-id:ABCDEF",
        "x-amz-id-2:abcdef==",
        "X-Amz-Cf-Id:xyz",
        "X-Envoy-Upstream-Service-Time:3",
        "X-Internal-Shard:7",
        "X-Internal-Host:db1",
    ];
    let q: Vec<String> = leaky
        .iter()
        .map(|h| format!("header={}", h.replace(' ', "+")))
        .collect();
    let req = format!(
        "GET /?{}&header=X-Kept:yes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        q.join("&")
    );
    let res = raw_exchange(proxy.addr(), req.as_bytes()).await;
    for h in leaky {
        let name = h.split(':').next().unwrap();
        assert_eq!(
            res.header_count(name),
            0,
            "{name} leaked: {:?}",
            res.headers
        );
    }
    assert_eq!(res.header("x-kept"), Some("yes"));
}

#[tokio::test]
async fn hsts_is_sent_only_on_https_or_when_a_trusted_peer_says_https() {
    let origin = TestOrigin::start().await;
    // Not trusted: X-Forwarded-Proto from the client is ignored.
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        res.header_count("strict-transport-security"),
        0,
        "a plain-HTTP client cannot ask for HSTS"
    );

    let trusted = TestProxy::to(
        &origin.url(),
        "strict",
        "trusted_proxies = [\"127.0.0.1/32\"]\n",
    )
    .await;
    let res = raw_exchange(
        trusted.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    let res = raw_exchange(
        trusted.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header_count("strict-transport-security"), 0);

    let forced = TestProxy::to(
        &origin.url(),
        "p",
        "[policies.p]\nstrict_transport_security = { force = true }\n",
    )
    .await;
    let res = raw_exchange(
        forced.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
}

#[tokio::test]
async fn policy_applies_to_every_status_redirects_and_304() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    for (query, status) in [
        ("status=200", 200),
        ("status=301&header=Location:/elsewhere", 301),
        ("status=302&header=Location:/x", 302),
        ("status=304", 304),
        ("status=404&body=nope", 404),
        ("status=500&body=boom", 500),
        ("status=503", 503),
    ] {
        let res = raw_exchange(
            proxy.addr(),
            format!("GET /?{query}&header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(res.status, status);
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{status}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{status}"
        );
        assert_eq!(res.header_all("server"), vec!["rampart"], "{status}");
        if status == 304 {
            assert!(res.body.is_empty());
        }
    }
}

#[tokio::test]
async fn proxy_made_responses_are_hardened_too() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::start(&format!(
        "[server]\naccess_log = false\n[[routes]]\nhost = \"app.example\"\nupstream = \"{}\"\n",
        origin.url()
    ))
    .await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 404);
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header_all("server"), vec!["rampart"]);
    crate::support::proxy::expect_generic_json(&res, "Not Found");
}

#[tokio::test]
async fn each_route_gets_its_own_policy() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::start(&format!(
        r#"
[server]
access_log = false

[policies.api]
extends = "strict"
x_frame_options = false
content_security_policy = {{ value = "default-src 'none'; frame-ancestors 'none'" }}

[[routes]]
name = "site"
upstream = "{url}"

[[routes]]
name = "api"
path_prefix = "/api"
upstream = "{url}"
policy = "api"

[[routes]]
name = "legacy"
host = "legacy.example"
upstream = "{url}"
policy = "cloudfront-security-headers"
"#,
        url = origin.url()
    ))
    .await;
    let site = raw_exchange(
        proxy.addr(),
        b"GET /index HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(site.header("x-frame-options"), Some("DENY"));
    let api = raw_exchange(
        proxy.addr(),
        b"GET /api/users HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        api.header_count("x-frame-options"),
        0,
        "switched off for the api policy"
    );
    assert_eq!(
        api.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(
        api.header("referrer-policy"),
        Some("no-referrer"),
        "inherited from strict"
    );
    let legacy = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: legacy.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(legacy.header("x-xss-protection"), Some("1; mode=block"));
    assert_eq!(
        legacy.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
}

#[tokio::test]
async fn helmet_preset_lets_the_app_win() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "helmet", "").await;
    let res = raw_exchange(
        proxy.addr(),
        b"GET /?header=X-Frame-Options:DENY&header=X-Powered-By:Express HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("origin-agent-cluster"), Some("?1"));
    assert_eq!(res.header_count("x-powered-by"), 0);
}

#[tokio::test]
async fn h2_responses_carry_the_policy() {
    let origin = TestOrigin::start().await;
    let proxy = TestProxy::to(&origin.url(), "strict", "").await;
    let res = h2c_get(proxy.addr(), "/?header=Server:nginx/1.18.0", &[]).await;
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(res.headers().get_all("server").iter().count(), 1);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

/// The fast path writes the policy's pre-rendered lines itself; once a request with a body
/// hands the connection to hyper, the layer puts them in the map instead. Either way each
/// header is there exactly once, and an `IfAbsent` rule yields to the origin.
#[tokio::test]
async fn policy_applies_once_before_and_after_the_connection_moves_to_hyper() {
    let origin = TestOrigin::start().await;
    let policy = "[policies.p]\nserver = \"edge\"\n\
                  x_frame_options = { value = \"DENY\", override = false }\n";
    let proxy = TestProxy::to(&origin.url(), "p", policy).await;
    let mut conn = RawConn::connect(proxy.addr()).await;
    let requests: [&[u8]; 4] = [
        b"GET /?header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /?header=X-Frame-Options:SAMEORIGIN HTTP/1.1\r\nHost: a\r\n\r\n",
        // A body: the fast path hands the connection (and this request) to hyper.
        b"POST /?header=Server:nginx/1.18.0 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
        b"GET /?header=X-Frame-Options:SAMEORIGIN HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for (i, req) in requests.iter().enumerate() {
        conn.send(req).await;
        let res = conn.read_response().await;
        assert_eq!(res.status, 200, "request {i}");
        assert_eq!(res.header_all("server"), vec!["edge"], "request {i}");
        let xfo = if i % 2 == 1 { "SAMEORIGIN" } else { "DENY" };
        assert_eq!(res.header_all("x-frame-options"), vec![xfo], "request {i}");
        assert_eq!(res.header_count("x-content-type-options"), 1, "request {i}");
    }
}
