//! The upstream phase: rewrite the request for the upstream (hop-by-hop, X-Forwarded-*, Host),
//! send it on the route's pooled client, and hand the response back with its body streaming.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use rampart_config::HostHeader;
use tokio::io::AsyncWriteExt;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::ProxyError;
use crate::hop;
use crate::layers::access_log::UpstreamStatus;
use crate::layers::request_filter::RequestContext;
use crate::upstream::Upgraded;

/// The innermost service: forwards to the upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forward;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, ProxyError>> + Send>>;

impl<B> Service<Request<B>> for Forward
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = ProxyError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        Box::pin(forward(req))
    }
}

async fn forward<B>(mut req: Request<B>) -> Result<Response<ResponseBody>, ProxyError>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
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

    let endpoint = ctx
        .runtime
        .upstreams
        .for_route(&route)
        .ok_or_else(|| ProxyError::Internal("the route has no upstream endpoint".to_owned()))?;
    let timeout = settings.timeouts.upstream_response;
    // The route's policy would strip these from the response anyway (see header_policy), and
    // adds its headers to the map: room for them is reserved now, so that does not grow it.
    let remove = &route.policy.remove;
    let room = route.policy.max_headers_added();
    let sent = std::time::Instant::now();
    let mut res = endpoint
        .send(req, timeout, &|name| remove.matches(name), room)
        .await
        .map_err(ProxyError::from_upstream)?;
    ctx.stats.upstream_latency(sent.elapsed());

    let status = res.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let (Some(client_upgrade), Some(upstream)) =
            (client_upgrade, res.extensions_mut().remove::<Upgraded>())
        else {
            return Err(ProxyError::Upstream(
                "the upstream switched protocols unasked".into(),
            ));
        };
        let proto = res.headers().get(header::UPGRADE).cloned();
        tokio::spawn(tunnel(client_upgrade, upstream));
        hop::strip(res.headers_mut());
        if let Some(p) = proto {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            res.headers_mut().insert(header::UPGRADE, p);
        }
    }
    // Otherwise the upstream client already left hop-by-hop headers out.
    res.extensions_mut().insert(UpstreamStatus(status));
    Ok(res.map(ResponseBody::Upstream))
}

/// Joins an upgraded client connection to the upgraded upstream connection until either closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: Upgraded) {
    let client = match client.await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade did not complete");
            return;
        }
    };
    let Some((mut upstream, early)) = upstream.take() else {
        return;
    };
    let mut client = TokioIo::new(client);
    // Bytes the upstream sent right behind its 101 belong to the new protocol: client first.
    if !early.is_empty()
        && let Err(e) = client.write_all(&early).await
    {
        tracing::debug!(error = %e, "upgraded connection ended");
        return;
    }
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %e, "upgraded connection ended");
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// X-Forwarded-For/-Proto/-Host: appended to a trusted peer's, replaced for anyone else (a client
/// could otherwise claim any address or scheme).
fn forwarded_headers(h: &mut HeaderMap, ctx: &RequestContext, client_host: Option<&HeaderValue>) {
    let peer = canonical(ctx.conn.peer.ip());
    let proto = HeaderValue::from_static(if ctx.conn.tls { "https" } else { "http" });
    if ctx.trusted_peer {
        let prior: Vec<&str> = h
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let joined = if prior.is_empty() {
            peer.to_string()
        } else {
            format!("{}, {peer}", prior.join(", "))
        };
        if let Ok(v) = HeaderValue::from_str(&joined) {
            h.insert(&X_FORWARDED_FOR, v);
        }
        if !h.contains_key(&X_FORWARDED_PROTO) {
            h.insert(&X_FORWARDED_PROTO, proto);
        }
        if !h.contains_key(&X_FORWARDED_HOST)
            && let Some(host) = client_host
        {
            h.insert(&X_FORWARDED_HOST, host.clone());
        }
    } else {
        h.insert(&X_FORWARDED_FOR, ip_value(peer));
        h.insert(&X_FORWARDED_PROTO, proto);
        match client_host {
            Some(host) => {
                h.insert(&X_FORWARDED_HOST, host.clone());
            }
            None => {
                h.remove(&X_FORWARDED_HOST);
            }
        }
        // Other spellings of the same claims are as untrustworthy.
        h.remove(header::FORWARDED);
        h.remove(&X_REAL_IP);
    }
}

/// An address as a header value, without the formatting machinery (this runs per request).
fn ip_value(ip: IpAddr) -> HeaderValue {
    match ip {
        IpAddr::V4(v4) => {
            let mut out = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    out[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    out[len] = b'0' + (octet / 10) % 10;
                    len += 1;
                }
                out[len] = b'0' + octet % 10;
                len += 1;
            }
            HeaderValue::from_bytes(&out[..len])
        }
        v6 => HeaderValue::try_from(v6.to_string()),
    }
    // Digits, dots, colons and hex only: always a valid header value.
    .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_values_match_display() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.1.100",
            "::1",
            "2001:db8::7",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_value(addr), ip, "{ip}");
        }
    }
}
