//! The plain-HTTP side of an HTTPS deployment (`--redirect-http`): every request is answered
//! with a 308 to the same host, path and query over https, carrying the policy's headers
//! except HSTS (browsers ignore HSTS over plain HTTP, and RFC 6797 §7.2 forbids sending it).
//!
//! 308 rather than 301: it keeps the method and body, so a POST to the http:// URL stays a POST.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION, STRICT_TRANSPORT_SECURITY};
use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::layers::header_policy;
use crate::state::Shared;

/// A running redirect listener.
pub struct RedirectHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RedirectHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and lets open connections finish their current request.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Serves redirects on `listener` to `https://HOST[:https_port]/path?query` (the port is left
/// out when it is 443).
pub fn serve(shared: Arc<Shared>, listener: TcpListener, https_port: u16) -> RedirectHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared, https_port, rx));
    RedirectHandle {
        addr,
        shutdown: tx,
        task,
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    https_port: u16,
    mut shutdown: watch::Receiver<bool>,
) {
    let max = shared
        .snapshot()
        .config
        .server
        .limits
        .max_connections
        .min(u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = stop_requested(&mut shutdown) => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "redirect listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop_requested(&mut shutdown) => break,
        };
        tokio::spawn(connection(
            stream,
            permit,
            shared.clone(),
            https_port,
            shutdown.clone(),
        ));
    }
}

async fn connection(
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    https_port: u16,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let header_timeout = shared.snapshot().config.server.timeouts.client_header;
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let res = respond(&shared, https_port, &req);
        std::future::ready(Ok::<_, Infallible>(res))
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stop_requested(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "redirect connection ended with an error");
    }
}

/// Resolves once a shutdown is asked for, or the handle is gone (nobody can ask any more).
async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    // The guard wait_for returns must not live across an await of the caller's.
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// The redirect for one request, hardened by the policy of the route the https request will
/// reach (or the default policy).
pub fn respond<B>(shared: &Shared, https_port: u16, req: &Request<B>) -> Response<Full<Bytes>> {
    let runtime = shared.snapshot();
    let config = &runtime.config;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        // `OPTIONS *` has no path to keep.
        .filter(|pq| pq.starts_with('/'))
        .unwrap_or("/");
    let host = request_host(req);
    let location = host.as_deref().and_then(|h| {
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        HeaderValue::from_str(&format!("https://{h}{port}{path_and_query}")).ok()
    });
    let mut res = match location {
        Some(l) => {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
            res.headers_mut().insert(LOCATION, l);
            res
        }
        None => {
            // Without a usable Host there is no URL to send the client to.
            let mut res = Response::new(Full::new(Bytes::from_static(
                b"Bad Request: the request names no valid host\n",
            )));
            *res.status_mut() = StatusCode::BAD_REQUEST;
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
    };
    let path = req.uri().path();
    let policy = config
        .routes
        .select(host.as_deref(), path)
        .map_or(&config.default_policy, |r| &r.policy);
    header_policy::apply(policy, res.headers_mut(), false);
    // Even a policy with `force = true` (meant for TLS terminated in front of the proxy) gets no
    // HSTS here: this response provably travels over plain HTTP.
    res.headers_mut().remove(STRICT_TRANSPORT_SECURITY);
    tracing::debug!(
        host = host.as_deref().unwrap_or("-"),
        path,
        status = res.status().as_u16(),
        "redirect"
    );
    res
}

/// The host (without port, lowercased) from the absolute URI (HTTP/2, absolute-form) or the
/// Host header; `None` when absent or not a plain host (userinfo, garbage).
fn request_host<B>(req: &Request<B>) -> Option<String> {
    let authority: Authority = match req.uri().authority() {
        Some(a) => a.clone(),
        None => req.headers().get(HOST)?.to_str().ok()?.parse().ok()?,
    };
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(authority.host().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::{Config, Overrides};

    fn shared() -> Arc<Shared> {
        let overrides = Overrides {
            upstream: Some("http://127.0.0.1:1".into()),
            ..Overrides::default()
        };
        let config = Config::from_overrides(&overrides).unwrap();
        Shared::from_config(config, None, overrides).unwrap()
    }

    fn get(uri: &str, host: Option<&str>) -> Request<()> {
        let mut b = Request::get(uri);
        if let Some(h) = host {
            b = b.header(HOST, h);
        }
        b.body(()).unwrap()
    }

    #[tokio::test]
    async fn keeps_host_path_and_query_and_names_the_https_port() {
        let s = shared();
        let res = respond(&s, 8443, &get("/a/b?x=1&y=%20", Some("Shop.Example:8080")));
        assert_eq!(res.status(), 308);
        assert_eq!(
            res.headers()[LOCATION],
            "https://shop.example:8443/a/b?x=1&y=%20"
        );
        let res = respond(&s, 443, &get("/", Some("[::1]:80")));
        assert_eq!(res.headers()[LOCATION], "https://[::1]/");
    }

    #[tokio::test]
    async fn policy_headers_without_hsts() {
        let res = respond(&shared(), 443, &get("/", Some("a.example")));
        assert!(res.headers().contains_key("x-frame-options"));
        assert!(!res.headers().contains_key(STRICT_TRANSPORT_SECURITY));
    }

    #[tokio::test]
    async fn no_usable_host_is_a_400() {
        let s = shared();
        assert_eq!(respond(&s, 443, &get("/", None)).status(), 400);
        assert_eq!(
            respond(&s, 443, &get("/", Some("u@evil.example"))).status(),
            400
        );
        assert_eq!(respond(&s, 443, &get("/", Some("a b"))).status(), 400);
    }
}
