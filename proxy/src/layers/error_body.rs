//! Body filter for error responses: replaces verbose upstream error bodies (ARNs, stack traces,
//! SQL errors, internal hosts, ...) with generic ones, keeping the status code.
//!
//! Modes (per policy, overridable per route):
//! - `leaky`: read up to `inspect_limit` bytes (decoding gzip/deflate/br/zstd up to
//!   `decoded_limit`), replace only when a leak detector matches; a body over the limit is
//!   replaced (fail closed) or passed on, as configured;
//! - `always`: replace every error body without reading it;
//! - `off`: pass through.
//!
//! Only statuses in the policy's set (default all 4xx and 5xx) are touched; everything else,
//! and every clean error body, goes through byte for byte. The replaced body is logged at debug
//! level (truncated) with the correlation id, never sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::upstream::UpstreamBody;
use bytes::{Bytes, BytesMut};
use http::header;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use rampart_config::{ErrorBodyMode, ErrorBodyPolicy, OverLimit};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::decode::{self, Encoding};
use crate::generic::{ClientPrefs, RequestId};
use crate::header_map::remove_matching;
use crate::layers::request_filter::RequestContext;
use crate::layers::rescue::{ProxyGenerated, with_generic_body};
use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorBodyLayer;

impl<S> Layer<S> for ErrorBodyLayer {
    type Service = ErrorBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorBody { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ErrorBody<S> {
    inner: S,
}

/// What the filter needs from the request, taken before the request moves on.
struct Meta {
    policy: Arc<ErrorBodyPolicy>,
    prefs: ClientPrefs,
    head: bool,
    /// Counts replacements by the detector (or reason) that caused them.
    metrics: Arc<Metrics>,
}

impl<S, B> Service<Request<B>> for ErrorBody<S>
where
    S: Service<Request<B>, Response = Response<ResponseBody>, Error = std::convert::Infallible>,
{
    type Response = Response<ResponseBody>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let meta = req
            .extensions()
            .get::<RequestContext>()
            .filter(|c| c.error_bodies().mode != ErrorBodyMode::Off)
            .map(|c| Meta {
                policy: c.error_bodies().clone(),
                prefs: c.prefs.clone(),
                head: req.method() == Method::HEAD,
                metrics: c.runtime.metrics.clone(),
            });
        ResponseFuture::Waiting {
            inner: self.inner.call(req),
            meta,
        }
    }
}

pin_project! {
    #[project = Proj]
    pub enum ResponseFuture<F> {
        Waiting { #[pin] inner: F, meta: Option<Meta> },
        // Boxed: it holds the upstream's head and body, and error responses are few, so the
        // common case's future stays small (it is moved with every request).
        Inspecting { read: Option<Box<Reading>> },
    }
}

/// A leaky-mode error response being read before the decision: its head, the rest of its
/// body, and what arrived so far.
struct Reading {
    parts: http::response::Parts,
    body: UpstreamBody,
    so_far: Collected,
    meta: Meta,
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, std::convert::Infallible>>,
{
    type Output = Result<Response<ResponseBody>, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                Proj::Waiting { inner, meta } => {
                    let res = match inner.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(res)) => res,
                        Poll::Ready(Err(never)) => match never {},
                    };
                    let Some(m) = meta.take() else {
                        return Poll::Ready(Ok(res));
                    };
                    let status = res.status();
                    // Nothing to do for statuses outside the set, for bodiless statuses, and for
                    // what the proxy wrote itself.
                    if !m.policy.applies_to(status.as_u16())
                        || status == StatusCode::NOT_MODIFIED
                        || status == StatusCode::NO_CONTENT
                        || res.extensions().get::<ProxyGenerated>().is_some()
                    {
                        return Poll::Ready(Ok(res));
                    }
                    if m.policy.mode == ErrorBodyMode::Always || m.head {
                        let why = if m.head {
                            "head-request"
                        } else {
                            "mode-always"
                        };
                        let (parts, _) = res.into_parts();
                        return Poll::Ready(Ok(replace(parts, &m, why, None)));
                    }
                    let (parts, body) = res.into_parts();
                    let ResponseBody::Upstream(body) = body else {
                        // Only upstream bodies can leak; anything else passes as it is.
                        return Poll::Ready(Ok(Response::from_parts(parts, body)));
                    };
                    // Leaky mode has to read the body before the head can be sent.
                    self.set(ResponseFuture::Inspecting {
                        read: Some(Box::new(Reading {
                            parts,
                            body,
                            so_far: Collected::default(),
                            meta: m,
                        })),
                    });
                }
                Proj::Inspecting { read } => {
                    let Some(mut r) = read.take() else {
                        // Polled after completion: a caller bug, and nothing left to give.
                        return Poll::Pending;
                    };
                    return match r.read_up_to_limit(cx) {
                        Poll::Pending => {
                            *read = Some(r);
                            Poll::Pending
                        }
                        Poll::Ready(end) => Poll::Ready(Ok(r.decide(end))),
                    };
                }
            }
        }
    }
}

/// How a body read ended before the decision.
enum ReadEnd {
    Complete,
    OverLimit,
    Failed,
}

impl Reading {
    /// Collects body pieces until the body ends, breaks, or passes the inspection limit.
    fn read_up_to_limit(&mut self, cx: &mut Context<'_>) -> Poll<ReadEnd> {
        let limit = self.meta.policy.inspect_limit;
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(ReadEnd::Complete),
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "upstream error body ended with an error");
                    return Poll::Ready(ReadEnd::Failed);
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.so_far.push(data);
                        if self.so_far.len() > limit {
                            return Poll::Ready(ReadEnd::OverLimit);
                        }
                    }
                }
            }
        }
    }

    /// Decodes what was read, runs the detectors and answers: the generic body, or the exact
    /// bytes the upstream sent.
    fn decide(self, end: ReadEnd) -> Response<ResponseBody> {
        let Reading {
            parts,
            body,
            so_far,
            meta: m,
        } = self;
        let raw = so_far.into_bytes();
        match end {
            ReadEnd::Complete => {}
            // A body that broke mid-way cannot be vouched for: fail closed.
            ReadEnd::Failed => return replace(parts, &m, "upstream-body-error", Some(&raw)),
            ReadEnd::OverLimit => return over_limit(parts, raw, body, &m, "over-inspect-limit"),
        }
        // A look along the few headers costs less than a hashed lookup.
        let encoding = parts
            .headers
            .iter()
            .find(|(name, _)| *name == header::CONTENT_ENCODING)
            .and_then(|(_, v)| v.to_str().ok());
        // Identity (nearly every error body) is inspected where it lies.
        let decoded = match Encoding::from_header(encoding) {
            Some(Encoding::Identity) => None,
            Some(enc) => match decode::decode(enc, &raw, m.policy.decoded_limit) {
                Ok(text) => Some(text),
                Err(decode::DecodeError::TooLarge(_)) => {
                    return replace(parts, &m, "decoded-size-limit", Some(&raw));
                }
                Err(decode::DecodeError::Invalid(_)) => {
                    return replace(parts, &m, "undecodable-body", Some(&raw));
                }
            },
            None => return replace(parts, &m, "unknown-content-encoding", Some(&raw)),
        };
        let text = decoded.as_deref().unwrap_or(&raw);
        // Which detector fired is all the decision (and its log line) needs; where it fired is
        // the verifier's business.
        match m.policy.detectors.which(text) {
            Some(detector) => replace(parts, &m, detector.as_str(), Some(text)),
            // Clean: the exact bytes the upstream sent, encoding and all.
            None => Response::from_parts(
                parts,
                ResponseBody::Full(Some(raw).filter(|b| !b.is_empty())),
            ),
        }
    }
}

/// A body read piece by piece. Most error bodies arrive in one piece, which is kept as it is:
/// copying starts only with a second piece.
#[derive(Default)]
enum Collected {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Collected {
    fn push(&mut self, data: Bytes) {
        *self = match std::mem::take(self) {
            Collected::Empty => Collected::One(data),
            Collected::One(first) => {
                let mut buf = BytesMut::with_capacity(first.len() + data.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                Collected::Many(buf)
            }
            Collected::Many(mut buf) => {
                buf.extend_from_slice(&data);
                Collected::Many(buf)
            }
        };
    }

    fn len(&self) -> usize {
        match self {
            Collected::Empty => 0,
            Collected::One(b) => b.len(),
            Collected::Many(b) => b.len(),
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Collected::Empty => Bytes::new(),
            Collected::One(b) => b,
            Collected::Many(b) => b.freeze(),
        }
    }
}

fn over_limit(
    parts: http::response::Parts,
    prefix: Bytes,
    rest: UpstreamBody,
    m: &Meta,
    why: &str,
) -> Response<ResponseBody> {
    match m.policy.over_limit {
        OverLimit::Replace => replace(parts, m, why, Some(&prefix)),
        OverLimit::Pass => Response::from_parts(
            parts,
            ResponseBody::Prefixed {
                prefix: Some(prefix),
                rest,
            },
        ),
    }
}

/// The generic replacement: same status, body-describing headers dropped, the headers a client
/// legitimately needs (WWW-Authenticate, Retry-After, Allow, Vary, CORS, Set-Cookie, ...) kept.
fn replace(
    mut parts: http::response::Parts,
    m: &Meta,
    why: &str,
    original: Option<&[u8]>,
) -> Response<ResponseBody> {
    let request_id = m.prefs.request_id().unwrap_or_else(RequestId::generate);
    if let Some(original) = original {
        tracing::debug!(
            request_id = request_id.as_str(),
            status = parts.status.as_u16(),
            reason = why,
            original = %truncated(original),
            "replaced an upstream error body"
        );
    } else {
        tracing::debug!(
            request_id = request_id.as_str(),
            status = parts.status.as_u16(),
            reason = why,
            "replaced an upstream error body"
        );
    }
    let flavor = m.prefs.flavor();
    retarget_head(&mut parts.headers, flavor.content_type());
    m.metrics.body_replaced(why);
    // The upstream's head, kept where it carries what clients need, becomes the generic one.
    with_generic_body(parts, flavor, m.head, request_id, &m.policy.templates)
}

/// What the generic body does to one of the upstream's headers.
#[derive(Debug, PartialEq, Eq)]
enum OldHeader {
    Keep,
    /// Describes the old body (or, for `x-amzn-ErrorType`, names the error class even when the
    /// policy keeps other AWS headers).
    Drop,
    ContentType,
}

impl OldHeader {
    fn of(name: &header::HeaderName) -> OldHeader {
        match name.as_str() {
            "content-type" => OldHeader::ContentType,
            "content-length"
            | "content-encoding"
            | "content-md5"
            | "etag"
            | "content-range"
            | "last-modified"
            | "content-disposition"
            | "content-language"
            | "content-location"
            | "x-amzn-errortype" => OldHeader::Drop,
            _ => OldHeader::Keep,
        }
    }
}

/// Turns the upstream's head into the generic body's: drops what described the old body and
/// sets Content-Type to the generic one's. One walk over the few headers present: Content-Type
/// is set where it stands and the names to drop are noted on the stack (the map cannot shrink
/// while it is walked), then only those are removed, instead of a hashed lookup per name that
/// might be there.
fn retarget_head(headers: &mut header::HeaderMap, content_type: header::HeaderValue) {
    const NOTED: usize = 8;
    let mut doomed: [Option<header::HeaderName>; NOTED] = Default::default();
    let mut noted = 0;
    let mut more = false;
    let mut content_types = 0;
    for (name, value) in headers.iter_mut() {
        match OldHeader::of(name) {
            OldHeader::Keep => {}
            OldHeader::Drop if noted < NOTED => {
                doomed[noted] = Some(name.clone());
                noted += 1;
            }
            OldHeader::Drop => more = true,
            OldHeader::ContentType => {
                content_types += 1;
                *value = content_type.clone();
            }
        }
    }
    // A name with two values is noted twice; removing it again finds nothing.
    for name in doomed.iter().flatten() {
        headers.remove(name);
    }
    if more {
        remove_matching(headers, |name| OldHeader::of(name) == OldHeader::Drop);
    }
    // None to set in place, or more than one: exactly ours.
    if content_types != 1 {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
}

/// At most 1 KiB of the original, printable, for the debug log.
fn truncated(original: &[u8]) -> String {
    let cut = &original[..original.len().min(1024)];
    let mut s: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() && c != '\n' { '.' } else { c })
        .collect();
    if original.len() > cut.len() {
        s.push_str(&format!("... ({} bytes)", original.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_original_is_bounded_and_printable() {
        let mut body = b"line one\n\x1b[31mred\x07".to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        let t = truncated(&body);
        assert!(t.starts_with("line one\n.[31mred."), "{t}");
        assert!(t.ends_with("... (5018 bytes)"), "{t}");
        assert!(t.len() < 1100);
    }

    #[test]
    fn replacement_states_the_generic_body_length_once() {
        use http_body::Body as _;
        for (lengths, head) in [(1, false), (2, false), (0, false), (1, true), (2, true)] {
            let mut res = Response::new(());
            *res.status_mut() = StatusCode::FORBIDDEN;
            for _ in 0..lengths {
                res.headers_mut()
                    .append(header::CONTENT_LENGTH, header::HeaderValue::from(4096));
            }
            let m = Meta {
                policy: Arc::new(ErrorBodyPolicy::default_for(ErrorBodyMode::Leaky)),
                prefs: ClientPrefs::with_request_id("r1"),
                head,
                metrics: Arc::new(Metrics::new()),
            };
            let res = replace(res.into_parts().0, &m, "test", None);
            let generic = br#"{"message":"Forbidden","request_id":"r1"}"#.len();
            let stated: Vec<_> = res
                .headers()
                .get_all(header::CONTENT_LENGTH)
                .iter()
                .collect();
            let case = format!("{lengths} upstream Content-Length, head {head}");
            if head {
                // What a GET would get; no body here.
                assert_eq!(stated, [generic.to_string().as_str()], "{case}");
                assert_eq!(res.body().size_hint().exact(), Some(0), "{case}");
            } else {
                // The old body's are gone; the writer states the new body's exact size.
                assert!(stated.is_empty(), "{case}: {stated:?}");
                assert_eq!(
                    res.body().size_hint().exact(),
                    Some(generic as u64),
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn replacement_drops_body_headers_and_keeps_client_ones() {
        let mut head = Response::new(());
        *head.status_mut() = StatusCode::UNAUTHORIZED;
        for (n, v) in [
            ("content-encoding", "gzip"),
            ("etag", "\"1\""),
            ("content-md5", "x"),
            ("x-amzn-errortype", "UnauthorizedException"),
            ("www-authenticate", "Bearer"),
            ("set-cookie", "a=b"),
        ] {
            head.headers_mut()
                .insert(n, header::HeaderValue::from_static(v));
        }
        let m = Meta {
            policy: Arc::new(ErrorBodyPolicy::default_for(ErrorBodyMode::Leaky)),
            prefs: ClientPrefs::with_request_id("r1"),
            head: false,
            metrics: Arc::new(Metrics::new()),
        };
        let res = replace(head.into_parts().0, &m, "test", None);
        let h = res.headers();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        for gone in [
            "content-encoding",
            "etag",
            "content-md5",
            "x-amzn-errortype",
        ] {
            assert!(!h.contains_key(gone), "{gone}");
        }
        assert_eq!(h["www-authenticate"], "Bearer");
        assert_eq!(h["set-cookie"], "a=b");
        assert_eq!(h["x-request-id"], "r1");
        assert_eq!(h["content-type"], "application/json");
        let metrics = m.metrics.render();
        assert!(
            metrics.contains(r#"rampart_error_bodies_replaced_total{detector="test"} 1"#),
            "{metrics}"
        );
    }
}
