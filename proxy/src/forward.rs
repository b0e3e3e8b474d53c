//! The upstream phase: rewrite the request for the upstream (hop-by-hop, X-Forwarded-*, Host),
//! send it on the route's pooled client, and hand the response back with its body streaming.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rampart_config::HostHeader;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::ProxyError;
use crate::hop;
use crate::layers::access_log::UpstreamStatus;
use crate::layers::request_filter::RequestContext;

/// The innermost service: forwards to the upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forward;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, ProxyError>> + Send>>;

impl Service<Request<Incoming>> for Forward {
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        Box::pin(forward(req))
    }
}

async fn forward(mut req: Request<Incoming>) -> Result<Response<ResponseBody>, ProxyError> {
    let ctx = req
        .extensions_mut()
        .remove::<RequestContext>()
        .ok_or_else(|| ProxyError::Internal("the request filter did not run".to_owned()))?;
    let route = ctx.route.clone().ok_or(ProxyError::NoRoute)?;
    let settings = &ctx.runtime.config.server;

    // HTTP/1.1 Upgrade (WebSocket): keep the handshake headers and join the two connections.
    let upgrade = (req.version() == Version::HTTP_11 && hop::is_upgrade_request(req.headers()))
        .then(|| req.headers().get(header::UPGRADE).cloned())
        .flatten();
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));

    let client_host = req.headers().get(header::HOST).cloned().or_else(|| {
        req.uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });

    let headers = req.headers_mut();
    hop::strip(headers);
    // We answered any `Expect: 100-continue` at our hop (hyper sends the 100 when the body is
    // first read); the upstream gets the body without waiting.
    headers.remove(header::EXPECT);
    if let Some(proto) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }
    forwarded_headers(headers, &ctx, client_host.as_ref());
    match &route.host_header {
        HostHeader::Preserve => {
            if let Some(h) = client_host {
                headers.insert(header::HOST, h);
            }
        }
        HostHeader::Upstream => {
            if let Ok(h) = HeaderValue::from_str(route.upstream.authority.as_str()) {
                headers.insert(header::HOST, h);
            }
        }
        HostHeader::Rewrite(v) => {
            headers.insert(header::HOST, v.clone());
        }
    }

    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::builder()
        .scheme(route.upstream.scheme.clone())
        .authority(route.upstream.authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| ProxyError::Internal(format!("cannot build the upstream URI: {e}")))?;
    *req.version_mut() = Version::HTTP_11;

    let client = ctx.runtime.upstreams.for_route(&route);
    let timeout = settings.timeouts.upstream_response;
    let mut res = match tokio::time::timeout(timeout, client.request(req)).await {
        Err(_) => return Err(ProxyError::UpstreamTimeout(timeout)),
        Ok(Err(e)) => {
            return Err(ProxyError::from_client(
                e,
                settings.timeouts.upstream_connect,
            ));
        }
        Ok(Ok(res)) => res,
    };

    let status = res.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ProxyError::Upstream(
                "the upstream switched protocols unasked".into(),
            ));
        };
        let proto = res.headers().get(header::UPGRADE).cloned();
        let upstream_upgrade = hyper::upgrade::on(&mut res);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
        hop::strip(res.headers_mut());
        if let Some(p) = proto {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            res.headers_mut().insert(header::UPGRADE, p);
        }
    } else {
        hop::strip(res.headers_mut());
    }
    res.extensions_mut().insert(UpstreamStatus(status));
    Ok(res.map(ResponseBody::Upstream))
}

/// Joins an upgraded client connection to the upgraded upstream connection until either closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "upgraded connection ended");
    }
}

/// X-Forwarded-For/-Proto/-Host: appended to a trusted peer's, replaced for anyone else (a client
/// could otherwise claim any address or scheme).
fn forwarded_headers(h: &mut HeaderMap, ctx: &RequestContext, client_host: Option<&HeaderValue>) {
    let peer = canonical(ctx.conn.peer.ip());
    let proto = HeaderValue::from_static(if ctx.conn.tls { "https" } else { "http" });
    if ctx.trusted_peer {
        let prior: Vec<&str> = h
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let joined = if prior.is_empty() {
            peer.to_string()
        } else {
            format!("{}, {peer}", prior.join(", "))
        };
        if let Ok(v) = HeaderValue::from_str(&joined) {
            h.insert("x-forwarded-for", v);
        }
        if !h.contains_key("x-forwarded-proto") {
            h.insert("x-forwarded-proto", proto);
        }
        if !h.contains_key("x-forwarded-host")
            && let Some(host) = client_host
        {
            h.insert("x-forwarded-host", host.clone());
        }
    } else {
        if let Ok(v) = HeaderValue::try_from(peer.to_string()) {
            h.insert("x-forwarded-for", v);
        }
        h.insert("x-forwarded-proto", proto);
        match client_host {
            Some(host) => {
                h.insert("x-forwarded-host", host.clone());
            }
            None => {
                h.remove("x-forwarded-host");
            }
        }
        // Other spellings of the same claims are as untrustworthy.
        h.remove(header::FORWARDED);
        h.remove("x-real-ip");
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
