//! The upstream phase: rewrite the request for the upstream (hop-by-hop, X-Forwarded-*, Host),
//! send it on the route's pooled client, and hand the response back with its body streaming.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use rampart_config::HostHeader;
use tokio::io::AsyncWriteExt;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::ProxyError;
use crate::header_map::remove_matching;
use crate::hop;
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
        forward(req).unwrap_or_else(|e| Box::pin(std::future::ready(Err(e))))
    }
}

/// Rewrites the request for the upstream and encodes it, then returns the exchange still to
/// wait for. The work is done here, not in the future, because the future is boxed per
/// request: as an `async fn` it kept the request (and everything it was borrowed for) in
/// its state throughout, over 2 KiB, which took the allocator's slow path every time.
fn forward<B>(mut req: Request<B>) -> Result<BoxFuture, ProxyError>
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

    // The Host the client sent, else (absolute-form request line) its URI's authority.
    let (client_host, host_in_headers) = match req.headers().get(header::HOST) {
        Some(h) => (Some(h.clone()), true),
        None => (
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok()),
            false,
        ),
    };

    let headers = req.headers_mut();
    hop::strip(headers);
    // We answered any `Expect: 100-continue` at our hop (hyper sends the 100 when the body is
    // first read); the upstream gets the body without waiting.
    headers.remove(header::EXPECT);
    if let Some(proto) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }
    let forwarded = forwarded_headers(headers, &ctx, client_host.as_ref());
    match &route.host_header {
        HostHeader::Preserve => {
            if !host_in_headers && let Some(h) = &client_host {
                headers.insert(header::HOST, h.clone());
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
    // adds its headers to the map unless the head writer adds them as lines: room for them is
    // reserved now, so that does not grow it.
    let policy = Arc::clone(&route.policy);
    let room = if ctx.policy_in_lines {
        0
    } else {
        route.policy.max_headers_added()
    };
    let sent = Instant::now();
    let mut ip_buf = [0u8; IP_TEXT_MAX];
    let pieces: [&[u8]; 8];
    let extra_lines: &[&[u8]] = match forwarded {
        Forwarded::InMap => &[],
        Forwarded::Lines { peer, proto } => {
            let host = client_host.as_ref().map(HeaderValue::as_bytes);
            pieces = [
                b"x-forwarded-for: ",
                ip_text(peer, &mut ip_buf),
                b"\r\nx-forwarded-proto: ",
                proto,
                b"\r\n",
                if host.is_some() {
                    b"x-forwarded-host: "
                } else {
                    b""
                },
                host.unwrap_or_default(),
                if host.is_some() { b"\r\n" } else { b"" },
            ];
            &pieces
        }
    };
    let stats = Arc::clone(&ctx.stats);
    // Boxed where it is made: moving it anywhere first would copy it again.
    Ok(Box::pin(endpoint.send(
        req,
        extra_lines,
        timeout,
        move |name: &[u8]| policy.remove.matches_any_case(name),
        room,
        move |outcome| {
            let res = outcome.map_err(ProxyError::from_upstream)?;
            stats.upstream_latency(sent.elapsed());
            answered(res, client_upgrade)
        },
    )))
}

/// The upstream's response as the client gets it: an upgrade joins the two connections.
fn answered(
    mut res: Response<crate::upstream::UpstreamBody>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response<ResponseBody>, ProxyError> {
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
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Where the X-Forwarded-* headers of a request are.
enum Forwarded {
    /// In the request's header map (a trusted peer's, with ours appended).
    InMap,
    /// To be written after the map's lines (see [`forwarded_headers`]): the map holds none.
    Lines { peer: IpAddr, proto: &'static [u8] },
}

/// X-Forwarded-For/-Proto/-Host: appended to a trusted peer's, replaced for anyone else (a client
/// could otherwise claim any address or scheme).
///
/// For anyone else (nearly every request) the client's claims are dropped from the map and ours
/// are written straight into the upstream head ([`Forwarded::Lines`]): three map inserts per
/// request cost more than the rest of this function.
fn forwarded_headers(
    h: &mut HeaderMap,
    ctx: &RequestContext,
    client_host: Option<&HeaderValue>,
) -> Forwarded {
    let peer = canonical(ctx.conn.peer.ip());
    if ctx.trusted_peer {
        let proto = HeaderValue::from_static(if ctx.conn.tls { "https" } else { "http" });
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
        return Forwarded::InMap;
    }
    // The client's own claims, and other spellings of them, are as untrustworthy: dropped
    // (one walk over the request's names; a removal only for those present).
    let claims = |name: &HeaderName| {
        *name == X_FORWARDED_FOR
            || *name == X_FORWARDED_PROTO
            || *name == X_FORWARDED_HOST
            || *name == header::FORWARDED
            || *name == X_REAL_IP
    };
    remove_matching(h, claims);
    Forwarded::Lines {
        peer,
        proto: if ctx.conn.tls { b"https" } else { b"http" },
    }
}

/// Room for any IP address as text (an IPv6 address with an embedded IPv4 one is 45 bytes).
const IP_TEXT_MAX: usize = 48;

/// An address as text in `buf`, without the formatting machinery for IPv4 (this runs per
/// request).
fn ip_text(ip: IpAddr, buf: &mut [u8; IP_TEXT_MAX]) -> &[u8] {
    let len = match ip {
        IpAddr::V4(v4) => {
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    buf[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    buf[len] = b'0' + (octet / 10) % 10;
                    len += 1;
                }
                buf[len] = b'0' + octet % 10;
                len += 1;
            }
            len
        }
        v6 => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            // 48 bytes hold any IPv6 address's text, so the write cannot run out of room.
            let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{v6}"));
            cursor.position() as usize
        }
    };
    &buf[..len]
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
    fn ip_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.1.100",
            "::1",
            "2001:db8::7",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            let mut buf = [0u8; IP_TEXT_MAX];
            assert_eq!(ip_text(addr, &mut buf), ip.as_bytes(), "{ip}");
        }
    }
}
