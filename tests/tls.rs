//! TLS termination (issue 6): HTTPS over HTTP/1.1 and h2 chosen by ALPN, SNI, protocol and
//! cipher policy, the HTTP->HTTPS redirect listener, HSTS, certificate reload, start-up errors
//! and mTLS to the upstream. Every certificate is made here; the proxy runs as a child process
//! (its logs and exit codes are part of what is tested).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::bin::{self, ProxyProcess};
use crate::support::client::IO_TIMEOUT;
use crate::support::temp::TempDir;
use crate::support::tls::{
    ClientTls, Leaf, TestCa, any_cert_client_config, mtls_front, negotiated_alpn, peer_leaf,
    tls_connect,
};
use crate::support::{TestOrigin, TestProxy, raw_exchange};

const WAIT: Duration = Duration::from_secs(30);
const STRICT_HSTS: &str = "max-age=63072000; includeSubDomains";

/// A running TLS proxy (child process) with its certificate files.
struct Edge {
    proc: ProxyProcess,
    addr: SocketAddr,
    redirect: Option<SocketAddr>,
    dir: TempDir,
}

impl Edge {
    /// Starts `rampart-proxy --config` with this text, written next to the certificates.
    fn start(dir: TempDir, toml: &str) -> Edge {
        let config = dir.write("rampart.toml", toml);
        Edge::spawn(dir, &["--config", config.to_str().unwrap()])
    }

    fn spawn(dir: TempDir, args: &[&str]) -> Edge {
        let (proc, addr) = ProxyProcess::spawn(args);
        let ready = proc.wait_for_log("rampart-proxy ready", WAIT).unwrap();
        assert!(ready.contains("tls=true"), "{ready}");
        let redirect = ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix("redirect_http="))
            .and_then(|a| a.parse().ok());
        Edge {
            proc,
            addr,
            redirect,
            dir,
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// `[server]` on a free port, `[server.tls]` with `tls` as its body, one route to `upstream`.
fn config(server_extra: &str, tls: &str, upstream: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\naccess_log = false\n{server_extra}\n\
         [server.tls]\n{tls}\n\n[[routes]]\nupstream = \"{upstream}\"\n"
    )
}

fn cert_entry(cert: &Path, key: &Path, extra: &str) -> String {
    format!("{{ cert = {cert:?}, key = {key:?}{extra} }}")
}

async fn h1_get(tls: ClientTls, path: &str) -> Response<Bytes> {
    let (mut sender, conn) = http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    h1_send(&mut sender, path).await
}

async fn h1_send(sender: &mut http1::SendRequest<Full<Bytes>>, path: &str) -> Response<Bytes> {
    sender.ready().await.unwrap();
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(sender.send_request(req).await.unwrap()).await
}

async fn h2_get(tls: ClientTls, path: &str) -> Response<Bytes> {
    let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get(format!("https://localhost{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(sender.send_request(req).await.unwrap()).await
}

async fn collect(res: Response<hyper::body::Incoming>) -> Response<Bytes> {
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn header<'a>(res: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

/// The leaf a fresh handshake with `sni` gets (any certificate accepted, so that the default
/// one can be seen for names it does not cover).
async fn leaf_for(addr: SocketAddr, sni: &str) -> Vec<u8> {
    let tls = tls_connect(addr, sni, any_cert_client_config(&[]))
        .await
        .unwrap();
    peer_leaf(&tls).as_ref().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_speaks_h2_and_http1_by_alpn_and_sends_hsts() {
    let origin = TestOrigin::start().await;
    let ca = TestCa::new();
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let edge = Edge::start(
        dir,
        &config(
            "",
            &format!("certificates = [{}]", cert_entry(&cert, &key, "")),
            &origin.url(),
        ),
    );

    let tls = tls_connect(
        edge.addr,
        "localhost",
        ca.client_config(&["h2", "http/1.1"]),
    )
    .await
    .unwrap();
    assert_eq!(negotiated_alpn(&tls).as_deref(), Some("h2"));
    let res = h2_get(tls, "/?body=over-h2").await;
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_ref(), b"over-h2");
    assert_eq!(header(&res, "strict-transport-security"), Some(STRICT_HSTS));
    assert_eq!(header(&res, "x-frame-options"), Some("DENY"));

    for alpn in [&["http/1.1"][..], &[]] {
        let tls = tls_connect(edge.addr, "localhost", ca.client_config(alpn))
            .await
            .unwrap();
        let want = (!alpn.is_empty()).then(|| "http/1.1".to_owned());
        assert_eq!(negotiated_alpn(&tls), want);
        let res = h1_get(tls, "/?body=over-h1").await;
        assert_eq!(res.version(), Version::HTTP_11, "ALPN {alpn:?}");
        assert_eq!(res.body().as_ref(), b"over-h1");
        assert_eq!(header(&res, "strict-transport-security"), Some(STRICT_HSTS));
    }

    // The upstream learns that the client's connection was HTTPS.
    let seen = origin.last_request().unwrap();
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));

    // Plain HTTP on the TLS port is not served.
    let mut tcp = TcpStream::connect(edge.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(IO_TIMEOUT, tcp.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_certificate_and_falls_back_to_the_default() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let default = ca.leaf(&["localhost"]);
    let api = ca.leaf(&["api.example.test"]);
    let apps = ca.leaf(&["*.apps.example.test"]);
    let other = ca.leaf(&["other.example.test"]);
    let (dc, dk) = default.write(&dir, "default");
    let (ac, ak) = api.write(&dir, "api");
    let (wc, wk) = apps.write(&dir, "apps");
    let (oc, ok) = other.write(&dir, "other");
    // `sni` listed explicitly for one, taken from the certificate's own names for the others;
    // the default is marked, not first.
    let certs = format!(
        "certificates = [\n  {},\n  {},\n  {},\n  {},\n]",
        cert_entry(
            &ac,
            &ak,
            ", sni = [\"api.example.test\", \"API2.example.test\"]"
        ),
        cert_entry(&wc, &wk, ""),
        cert_entry(&dc, &dk, ", default = true"),
        cert_entry(&oc, &ok, ""),
    );
    let edge = Edge::start(dir, &config("", &certs, "http://127.0.0.1:1"));

    let cases: [(&str, &Leaf); 7] = [
        ("api.example.test", &api),
        ("api2.example.test", &api),
        ("x.apps.example.test", &apps),
        ("other.example.test", &other),
        // A wildcard covers one label only.
        ("a.b.apps.example.test", &default),
        ("unknown.example.test", &default),
        // An IP address sends no SNI.
        ("127.0.0.1", &default),
    ];
    for (sni, want) in cases {
        assert_eq!(
            leaf_for(edge.addr, sni).await,
            want.cert_der.as_ref(),
            "SNI {sni}"
        );
    }

    // And a verifying client accepts what it gets for its name.
    let tls = tls_connect(edge.addr, "x.apps.example.test", ca.client_config(&[]))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&tls), apps.cert_der);
    // The proxy's own errors over HTTPS carry HSTS too (the upstream here is unreachable).
    let res = h1_get(tls, "/").await;
    assert_eq!(res.status(), 502);
    assert_eq!(header(&res, "strict-transport-security"), Some(STRICT_HSTS));
}

/// A ClientHello as an old or a current client writes it: `version` in the hello, the offered
/// cipher suites, SNI, groups, point formats, signature algorithms and extended master secret.
fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    fn ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        out.extend(kind.to_be_bytes());
        out.extend((data.len() as u16).to_be_bytes());
        out.extend(data);
    }
    let name = b"localhost";
    let mut sni = Vec::new();
    sni.extend((name.len() as u16 + 3).to_be_bytes());
    sni.push(0); // host_name
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend(name);
    let mut exts = Vec::new();
    ext(&mut exts, 0x0000, &sni);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    ext(&mut exts, 0x000b, &[1, 0]); // uncompressed points
    ext(&mut exts, 0x000d, &[0, 6, 4, 3, 8, 4, 4, 1]); // ecdsa_p256_sha256, rsa_pss, rsa_pkcs1
    ext(&mut exts, 0x0017, &[]); // extended_master_secret

    let mut body = Vec::new();
    body.extend(version.to_be_bytes());
    body.extend([0x5a; 32]); // random
    body.push(0); // no session id
    body.extend((suites.len() as u16 * 2).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null only
    body.extend((exts.len() as u16).to_be_bytes());
    body.extend(exts);

    let mut handshake = vec![1]; // client_hello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![22, 3, 1]; // handshake record, TLS 1.0 record version as clients send
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends a ClientHello and returns the first record's content type and its first two body
/// bytes, and whether the server then closed the connection.
async fn first_record(addr: SocketAddr, hello: &[u8]) -> (u8, [u8; 2], bool) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut head = [0u8; 7];
    tokio::time::timeout(IO_TIMEOUT, tcp.read_exact(&mut head))
        .await
        .expect("no answer to the ClientHello")
        .unwrap();
    let len = u16::from_be_bytes([head[3], head[4]]) as usize;
    let mut rest = vec![0u8; len - 2];
    tcp.read_exact(&mut rest).await.unwrap();
    let mut more = [0u8; 1];
    let closed = matches!(
        tokio::time::timeout(IO_TIMEOUT, tcp.read(&mut more)).await,
        Ok(Ok(0)) | Ok(Err(_))
    );
    (head[0], [head[5], head[6]], closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_protocols_and_weak_ciphers_are_refused() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let edge = Edge::start(
        dir,
        &config(
            "",
            &format!("certificates = [{}]", cert_entry(&cert, &key, "")),
            "http://127.0.0.1:1",
        ),
    );
    const ALERT: u8 = 21;
    const HANDSHAKE: u8 = 22;
    const FATAL: u8 = 2;
    const PROTOCOL_VERSION: u8 = 70;
    const HANDSHAKE_FAILURE: u8 = 40;
    let cbc = [0xc009, 0xc013, 0x002f, 0x0035]; // ECDHE-ECDSA/RSA-AES128-SHA, AES128-SHA, AES256-SHA
    let gcm = [0xc02b, 0xc02f]; // ECDHE-ECDSA/RSA-AES128-GCM-SHA256

    // Control: the same hand-made hello as TLS 1.2 with modern suites gets a ServerHello, so
    // the refusals below are about the version and the suites, not about the bytes.
    let (kind, body, _) = first_record(edge.addr, &client_hello(0x0303, &gcm)).await;
    assert_eq!((kind, body[0]), (HANDSHAKE, 2), "ServerHello expected");

    for (version, name) in [(0x0302, "TLS 1.1"), (0x0301, "TLS 1.0")] {
        let (kind, body, closed) = first_record(edge.addr, &client_hello(version, &cbc)).await;
        assert_eq!(
            (kind, body),
            (ALERT, [FATAL, PROTOCOL_VERSION]),
            "{name} must get a protocol_version alert"
        );
        assert!(closed, "{name}: the connection must close after the alert");
    }

    // TLS 1.2 offering only CBC / non-ECDHE suites: nothing in common.
    let (kind, body, closed) = first_record(edge.addr, &client_hello(0x0303, &cbc)).await;
    assert_eq!((kind, body), (ALERT, [FATAL, HANDSHAKE_FAILURE]));
    assert!(closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_listener_keeps_path_and_query_and_sends_policy_headers_but_no_hsts() {
    let origin = TestOrigin::start().await;
    let ca = TestCa::new();
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    // The command-line form: --tls-cert, --tls-key, --redirect-http.
    let upstream = origin.url();
    let edge = Edge::spawn(
        dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--redirect-http",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
        ],
    );
    let redirect = edge.redirect.expect("redirect_http= in the ready line");
    let port = edge.addr.port();

    for (request, location) in [
        (
            "GET /a/b%20c/?x=1&y=two&x=3 HTTP/1.1\r\nHost: Shop.Example:8080\r\nConnection: close\r\n\r\n".to_owned(),
            format!("https://shop.example:{port}/a/b%20c/?x=1&y=two&x=3"),
        ),
        (
            "POST /form HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".to_owned(),
            format!("https://shop.example:{port}/form"),
        ),
    ] {
        let res = raw_exchange(redirect, request.as_bytes()).await;
        assert_eq!(res.status, 308, "{request}");
        assert_eq!(res.header("location"), Some(location.as_str()));
        assert_eq!(res.header("x-frame-options"), Some("DENY"));
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(res.header_count("server"), 1);
        assert_eq!(res.header("server"), Some("rampart"));
        assert_eq!(res.header("strict-transport-security"), None);
    }
    assert!(
        origin.requests().is_empty(),
        "redirects never reach the upstream"
    );

    // A request naming no host cannot be redirected.
    let res = raw_exchange(redirect, b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(res.status, 400);
    assert_eq!(res.header("strict-transport-security"), None);

    // Following the redirect: HTTPS, same path and query, with HSTS.
    let tls = tls_connect(edge.addr, "localhost", ca.client_config(&[]))
        .await
        .unwrap();
    let res = h1_get(tls, "/a/b?body=followed").await;
    assert_eq!(res.body().as_ref(), b"followed");
    assert_eq!(header(&res, "strict-transport-security"), Some(STRICT_HSTS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_hsts_stays_off_the_redirect_and_a_port_mapping_names_its_port() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nredirect_http = \"127.0.0.1:0\"\nredirect_https_port = 443\n\
         default_policy = \"forced\"\n[server.tls]\ncertificates = [{}]\n\
         [policies.forced]\nstrict_transport_security = {{ force = true }}\n\
         [[routes]]\nupstream = \"http://127.0.0.1:1\"\n",
        cert_entry(&cert, &key, "")
    );
    let edge = Edge::start(dir, &toml);
    let res = raw_exchange(
        edge.redirect.unwrap(),
        b"GET /p?q=1 HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 308);
    assert_eq!(
        res.header("location"),
        Some("https://www.example.test/p?q=1")
    );
    assert_eq!(res.header("strict-transport-security"), None);
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_open_connections_keep_working() {
    let origin = TestOrigin::start().await;
    let ca = TestCa::new();
    let dir = TempDir::new();
    let first = ca.leaf(&["localhost"]);
    let second = ca.leaf(&["localhost"]);
    let (cert, key) = first.write(&dir, "site");
    // Polling off: only SIGHUP reloads, so nothing races the test's file writes.
    let edge = Edge::start(
        dir,
        &config(
            "",
            &format!(
                "reload_interval = \"0s\"\ncertificates = [{}]",
                cert_entry(&cert, &key, "")
            ),
            &origin.url(),
        ),
    );

    let tls = tls_connect(edge.addr, "localhost", ca.client_config(&["http/1.1"]))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&tls), first.cert_der);
    let (mut kept, conn) = http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    assert_eq!(h1_send(&mut kept, "/?body=before").await.status(), 200);

    second.write(&edge.dir, "site");
    edge.proc.signal("HUP");
    edge.proc
        .wait_for_log("TLS certificate reloaded", WAIT)
        .unwrap_or_else(|| panic!("no reload line:\n{}", edge.proc.stderr()));

    // The connection opened before the reload still serves requests...
    let res = h1_send(&mut kept, "/?body=after").await;
    assert_eq!(res.body().as_ref(), b"after");
    // ...and new handshakes get the new certificate.
    let tls = tls_connect(edge.addr, "localhost", ca.client_config(&[]))
        .await
        .unwrap();
    assert_eq!(peer_leaf(&tls), second.cert_der);
    assert_eq!(h1_get(tls, "/?body=new").await.body().as_ref(), b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_picked_up_by_polling() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let first = ca.leaf(&["localhost"]);
    let second = ca.leaf(&["localhost"]);
    let (cert, key) = first.write(&dir, "site");
    let edge = Edge::start(
        dir,
        &config(
            "",
            &format!(
                "reload_interval = \"50ms\"\ncertificates = [{}]",
                cert_entry(&cert, &key, "")
            ),
            "http://127.0.0.1:1",
        ),
    );
    assert_eq!(
        leaf_for(edge.addr, "localhost").await,
        first.cert_der.as_ref()
    );
    // Two files, two writes: a poll between them sees a mismatched pair and rejects it; the
    // next one sees the complete pair.
    second.write(&edge.dir, "site");
    edge.proc
        .wait_for_log("TLS certificate reloaded", WAIT)
        .unwrap_or_else(|| panic!("no reload line:\n{}", edge.proc.stderr()));
    assert_eq!(
        leaf_for(edge.addr, "localhost").await,
        second.cert_der.as_ref()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_certificate_at_reload_is_rejected_and_the_old_one_stays() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let first = ca.leaf(&["localhost"]);
    let second = ca.leaf(&["localhost"]);
    let (cert, key) = first.write(&dir, "site");
    let edge = Edge::start(
        dir,
        &config(
            "",
            &format!(
                "reload_interval = \"0s\"\ncertificates = [{}]",
                cert_entry(&cert, &key, "")
            ),
            "http://127.0.0.1:1",
        ),
    );

    // Half-written, then not a certificate at all.
    let broken = [
        (
            first.cert_pem[..first.cert_pem.len() / 2].to_owned(),
            "no -----END CERTIFICATE----- line",
        ),
        ("just text\n".to_owned(), "no certificate"),
    ];
    for (content, why) in broken {
        std::fs::write(&cert, content).unwrap();
        edge.proc.signal("HUP");
        let line = edge
            .proc
            .wait_for_log(why, WAIT)
            .unwrap_or_else(|| panic!("no rejection line for {why}:\n{}", edge.proc.stderr()));
        assert!(line.contains("TLS certificate rejected"), "{line}");
        assert!(line.contains(cert.to_str().unwrap()), "{line}");
        assert_eq!(
            leaf_for(edge.addr, "localhost").await,
            first.cert_der.as_ref()
        );
    }

    // A valid certificate with the old key: the pair does not match.
    std::fs::write(&cert, &second.cert_pem).unwrap();
    edge.proc.signal("HUP");
    let line = edge
        .proc
        .wait_for_log("does not belong to the certificate", WAIT)
        .unwrap_or_else(|| panic!("no mismatch line:\n{}", edge.proc.stderr()));
    assert!(line.contains(key.to_str().unwrap()), "{line}");
    assert_eq!(
        leaf_for(edge.addr, "localhost").await,
        first.cert_der.as_ref()
    );
    assert_eq!(edge.proc.count_log("TLS certificate reloaded"), 0);

    // Completing the pair is accepted.
    std::fs::write(edge.path("site.key"), &second.key_pem).unwrap();
    edge.proc.signal("HUP");
    edge.proc
        .wait_for_log("TLS certificate reloaded", WAIT)
        .unwrap_or_else(|| panic!("no reload line:\n{}", edge.proc.stderr()));
    assert_eq!(
        leaf_for(edge.addr, "localhost").await,
        second.cert_der.as_ref()
    );
}

#[test]
fn a_bad_certificate_file_at_start_is_a_clear_error() {
    let ca = TestCa::new();
    let other = ca.leaf(&["localhost"]);
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let garbage = dir.write("garbage.pem", "this is not PEM\n");
    let other_key = dir.write("other.key", &other.key_pem);
    let missing = dir.path().join("missing.pem");
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    let cases = [
        (s(&garbage), s(&key), "no certificate", s(&garbage)),
        (s(&cert), s(&garbage), "no private key", s(&garbage)),
        (
            s(&cert),
            s(&other_key),
            "does not belong to the certificate",
            s(&other_key),
        ),
        (s(&missing), s(&key), "--tls-cert", s(&missing)),
    ];
    for (c, k, what, file) in cases {
        let (status, _out, err) = bin::run(&[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &c,
            "--tls-key",
            &k,
            "--upstream",
            "http://127.0.0.1:1",
        ]);
        assert_eq!(status.code(), Some(2), "{err}");
        assert!(
            err.contains(what) && err.contains(&file),
            "want {what} / {file}:\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    // In the file: the error points at the line, column and field.
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[server.tls]\ncertificates = [\n  {{ cert = {:?}, key = {:?} }},\n]\n[[routes]]\nupstream = \"http://127.0.0.1:1\"\n",
        s(&missing),
        s(&key)
    );
    let config = dir.write("missing.toml", &toml);
    let (status, _out, err) = bin::run(&["--config", config.to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("missing.toml:5:12: server.tls.certificates[0].cert:")
            && err.contains(&s(&missing)),
        "{err}"
    );
}

#[test]
fn tls_settings_are_validated_with_file_line_column_and_field() {
    let dir = TempDir::new();
    let ca = TestCa::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let entry = cert_entry(&cert, &key, "");
    let route = "[[routes]]\nupstream = \"http://127.0.0.1:1\"\n";
    let cases = [
        (
            format!(
                "[server]\n[server.tls]\ncertificates = [{{ cert = {cert:?}, key = {key:?}, sin = [] }}]\n{route}"
            ),
            "r.toml:3:",
            "unknown field `sin`",
        ),
        (
            format!("[server]\n[server.tls]\ncertificates = []\n{route}"),
            "server.tls.certificates",
            "at least one",
        ),
        (
            format!(
                "[server]\n[server.tls]\nreload_interval = \"soon\"\ncertificates = [{entry}]\n{route}"
            ),
            "r.toml:3:19: server.tls.reload_interval",
            "not a duration",
        ),
        (
            format!(
                "[server]\n[server.tls]\ncertificates = [{}, {}]\n{route}",
                cert_entry(&cert, &key, ", sni = [\"a.example\"]"),
                cert_entry(&cert, &key, ", sni = [\"A.example\"]")
            ),
            "server.tls.certificates[1].sni",
            "already listed by server.tls.certificates[0]",
        ),
        (
            format!(
                "[server]\n[server.tls]\ncertificates = [{}]\n{route}",
                cert_entry(&cert, &key, ", sni = [\"bad name\"]")
            ),
            "server.tls.certificates[0].sni",
            "not a server name",
        ),
        (
            format!(
                "[server]\n[server.tls]\ncertificates = [{}, {}]\n{route}",
                cert_entry(&cert, &key, ", default = true"),
                cert_entry(&cert, &key, ", default = true")
            ),
            "server.tls.certificates[1].default",
            "already the default",
        ),
        (
            format!("[server]\nredirect_http = \"127.0.0.1:8081\"\n{route}"),
            "r.toml:2:17: server.redirect_http",
            "needs [server.tls]",
        ),
        (
            format!(
                "[server]\nlisten = \"127.0.0.1:8443\"\nredirect_http = \"127.0.0.1:8443\"\n[server.tls]\ncertificates = [{entry}]\n{route}"
            ),
            "server.redirect_http",
            "also the HTTPS listener's address",
        ),
        (
            format!("[[routes]]\nupstream = \"https://app.internal\"\nclient_cert = {cert:?}\n"),
            "r.toml:3:15: routes[0].client_cert",
            "needs client_key",
        ),
        (
            format!(
                "[[routes]]\nupstream = \"http://app.internal\"\nclient_cert = {cert:?}\nclient_key = {key:?}\n"
            ),
            "routes[0].client_cert",
            "only applies to https:// upstreams",
        ),
        (
            format!(
                "[[routes]]\nupstream = \"https://app.internal\"\nclient_cert = {cert:?}\nclient_key = \"nope.key\"\n"
            ),
            "routes[0].client_key",
            "nope.key",
        ),
    ];
    for (toml, at, what) in cases {
        let err = rampart_config::Config::parse(
            &toml,
            "r.toml",
            dir.path(),
            &rampart_config::Overrides::default(),
        )
        .expect_err(&toml)
        .to_string();
        assert!(
            err.contains(at) && err.contains(what),
            "want {at} / {what}:\n{err}\n{toml}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_mtls_sends_the_client_certificate_and_sni() {
    let origin = TestOrigin::start().await;
    let ca = TestCa::new();
    let front = mtls_front(&ca, origin.addr()).await;
    let dir = TempDir::new();
    let ca_file = ca.write_ca(&dir);
    let client = ca.client_leaf("rampart-proxy");
    let (client_cert, client_key) = client.write(&dir, "client");
    let upstream = format!("https://localhost:{}", front.addr.port());
    let proxy = TestProxy::start(&format!(
        "[server]\naccess_log = false\n\
         [[routes]]\nupstream = \"{upstream}\"\nca_file = {ca_file:?}\nclient_cert = {client_cert:?}\nclient_key = {client_key:?}\n\
         [[routes]]\npath_prefix = \"/no-cert\"\nupstream = \"{upstream}\"\nca_file = {ca_file:?}\n"
    ))
    .await;

    let res = raw_exchange(
        proxy.addr(),
        b"GET /?body=mutual HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.text(), "mutual");
    let handshakes = front.handshakes();
    assert_eq!(handshakes.len(), 1);
    assert_eq!(handshakes[0].sni.as_deref(), Some("localhost"));
    assert_eq!(handshakes[0].client_cert.as_ref(), Some(&client.cert_der));

    // Without the client certificate the upstream refuses the handshake: a generic 502.
    let res = raw_exchange(
        proxy.addr(),
        b"GET /no-cert HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(res.status, 502);
    assert_eq!(front.handshakes().len(), 1);
}

#[test]
fn check_lists_the_certificates_and_the_redirect() {
    let ca = TestCa::new();
    let dir = TempDir::new();
    let cert = dir.write("site.pem", &ca.cert_pem);
    let key = dir.write("site.key", &ca.key_pem);
    let toml = format!(
        "[server]\nlisten = \"0.0.0.0:443\"\nredirect_http = \"0.0.0.0:80\"\n[server.tls]\nreload_interval = \"30s\"\n\
         certificates = [{}, {}]\n[[routes]]\nupstream = \"http://127.0.0.1:1\"\n",
        cert_entry(&cert, &key, ", sni = [\"api.example.test\"]"),
        cert_entry(&cert, &key, ", default = true"),
    );
    let config = dir.write("rampart.toml", &toml);
    let (status, out, err) = bin::run(&["check", "--config", config.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains("certificates reloaded every 30s and on SIGHUP"),
        "{out}"
    );
    assert!(out.contains(": api.example.test\n"), "{out}");
    assert!(
        out.contains(": the certificate's own DNS names (default)"),
        "{out}"
    );
    assert!(
        out.contains("redirect_http: 0.0.0.0:80 -> 308 to https (the TLS listener's port)"),
        "{out}"
    );
}
