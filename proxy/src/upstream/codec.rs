//! HTTP/1.1 message heads on the upstream side: the request head we write and the response head
//! we parse, plus how the response body is delimited (RFC 9112 section 6.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use rampart_config::names::eq_lowercase;

use super::error::UpstreamError;

/// Enough for any sane upstream; a response with more header lines is refused.
const MAX_HEADERS: usize = 128;
/// Header lines whose bookkeeping a response head keeps on the stack.
const INLINE_SPANS: usize = 32;

/// Writes `METHOD target HTTP/1.1`, the headers and the blank line into `out`.
pub(crate) fn encode_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    extra_lines: &[&[u8]],
    framing: RequestFraming,
) {
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for piece in extra_lines {
        out.extend_from_slice(piece);
    }
    match framing {
        RequestFraming::AsIs => {}
        RequestFraming::EmptyLength => out.extend_from_slice(b"content-length: 0\r\n"),
        RequestFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// How the request body is delimited on the upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestFraming {
    /// No body, or the client's Content-Length is forwarded unchanged.
    AsIs,
    /// No body on a method whose semantics expect one: say so explicitly.
    EmptyLength,
    /// A body of unknown length: re-framed as chunks.
    Chunked,
}

/// A parsed response head. Hop-by-hop headers are already gone from `headers`; what they said
/// about this connection is kept in the other fields.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    /// `Connection: close` was sent.
    close: bool,
    /// `Connection: keep-alive` was sent (matters for HTTP/1.0).
    keep_alive: bool,
    /// Transfer-Encoding was sent; `Some(true)` when chunked is its last coding.
    chunked: Option<bool>,
    /// The Content-Length, if one was sent (all copies agreeing).
    content_length: Option<u64>,
}

/// Connection-level headers (RFC 9110 section 7.6.1): they describe the upstream hop only.
fn is_hop_by_hop(name: &[u8], status: u16) -> bool {
    // By length first: every header line of every response asks.
    match name.len() {
        2 => eq_lowercase(name, b"te"),
        // A 101's Upgrade names the protocol the tunnel switches to; the caller needs it.
        7 => eq_lowercase(name, b"trailer") || (status != 101 && eq_lowercase(name, b"upgrade")),
        10 => eq_lowercase(name, b"connection") || eq_lowercase(name, b"keep-alive"),
        16 => eq_lowercase(name, b"proxy-connection"),
        17 => eq_lowercase(name, b"transfer-encoding"),
        18 => eq_lowercase(name, b"proxy-authenticate"),
        19 => eq_lowercase(name, b"proxy-authorization"),
        _ => false,
    }
}

/// Parses a response head from the front of `buf`, removing it. `Ok(None)`: incomplete.
/// Headers for which `drop` says true (the policy's remove list; it is given the name as the
/// upstream spelled it, in any case) are never added to the map, which has room for `room`
/// more (the policy's headers: adding them then allocates nothing).
pub(crate) fn parse_head(
    buf: &mut BytesMut,
    limit: usize,
    drop: &(dyn Fn(&[u8]) -> bool + Sync),
    room: usize,
) -> Result<Option<Head>, UpstreamError> {
    // Uninitialised slots: zeroing 128 of them per response would cost more than the parse.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limit {
                return Err(UpstreamError::HeadTooLarge(limit));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(UpstreamError::Malformed("too many header lines"));
        }
        Err(_) => return Err(UpstreamError::Malformed("not an HTTP/1.x response head")),
    };
    if len > limit {
        return Err(UpstreamError::HeadTooLarge(limit));
    }
    let code = res.code.ok_or(UpstreamError::Malformed("no status code"))?;
    let status =
        StatusCode::from_u16(code).map_err(|_| UpstreamError::Malformed("invalid status code"))?;
    let version = if res.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut head = Head {
        status,
        version,
        headers: HeaderMap::new(),
        close: false,
        keep_alive: false,
        chunked: None,
        content_length: None,
    };
    // Headers a Connection header names are hop-by-hop too (at most a few; more than fit
    // here are removed from the map afterwards).
    let mut named: [&[u8]; 8] = [b""; 8];
    let mut named_count = 0;
    let mut named_overflow: Vec<HeaderName> = Vec::new();
    // Offsets into the head, so names and values can be built from (and values share) the
    // frozen head once the parser's borrow of `buf` ends. `keep` is false for hop-by-hop ones.
    let base = buf.as_ptr();
    let n = res.headers.len();
    // On the stack for the usual few dozen lines at most (initialising room for all 128 on
    // every response cost more than the rest of the bookkeeping); a longer head spills.
    let mut inline = [(0u32, 0u32, 0u32, 0u32, false); INLINE_SPANS];
    let mut spilled = Vec::new();
    let spans: &mut [(u32, u32, u32, u32, bool)] = if n <= INLINE_SPANS {
        &mut inline[..n]
    } else {
        spilled.resize(n, (0, 0, 0, 0, false));
        &mut spilled
    };
    for (span, h) in spans.iter_mut().zip(res.headers.iter()) {
        let name = h.name.as_bytes();
        if eq_lowercase(name, b"connection") {
            for token in h.value.split(|b| *b == b',') {
                let t = token.trim_ascii();
                if eq_lowercase(t, b"close") {
                    head.close = true;
                } else if eq_lowercase(t, b"keep-alive") {
                    head.keep_alive = true;
                } else if t.is_empty()
                    || is_hop_by_hop(t, status.as_u16())
                    || eq_lowercase(t, b"upgrade")
                {
                    // Already dropped, or (on a 101) the Upgrade the caller needs.
                } else if named_count < named.len() {
                    named[named_count] = t;
                    named_count += 1;
                } else if let Ok(extra) = HeaderName::from_bytes(t) {
                    named_overflow.push(extra);
                }
            }
        } else if eq_lowercase(name, b"transfer-encoding") {
            // Chunked must be the last coding; anything else is delimited by closing.
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or(b"");
            head.chunked = Some(eq_lowercase(last.trim_ascii(), b"chunked"));
        } else if eq_lowercase(name, b"content-length") {
            for part in h.value.split(|b| *b == b',') {
                let n = std::str::from_utf8(part.trim_ascii())
                    .ok()
                    .and_then(|p| p.parse::<u64>().ok())
                    .ok_or(UpstreamError::Malformed("invalid Content-Length"))?;
                if head.content_length.is_some_and(|l| l != n) {
                    return Err(UpstreamError::Malformed(
                        "conflicting Content-Length values",
                    ));
                }
                head.content_length = Some(n);
            }
        }
        let (ns, ne, vs, ve) = crate::wire::header_span(base, name, h.value);
        // `drop` is asked before a `HeaderName` exists (a name that is not a standard header
        // costs an allocation, and the names the policy removes, X-Powered-By and x-amzn-*,
        // are such names), and before the map is sized.
        let keep = !is_hop_by_hop(name, status.as_u16()) && !drop(name);
        *span = (ns, ne, vs, ve, keep);
    }
    let named = &named[..named_count];
    if !named.is_empty() {
        for span in spans.iter_mut() {
            let name = &buf[span.0 as usize..span.1 as usize];
            span.4 &= !named.iter().any(|t| t.eq_ignore_ascii_case(name));
        }
    }
    let raw = buf.split_to(len).freeze();
    // One allocation of the map, large enough for the policy's headers too (`room`, none when
    // the head writer adds them as lines): a map sized for the upstream's alone would be grown
    // (reallocated) by the first header the policy adds. Sized by every line the upstream sent,
    // not only those kept: the policy layer's own cost was lower with the sparser map (the
    // criterion bench, +120-200 ns against +460-530 ns per response).
    head.headers.reserve(n + room);
    for &(ns, ne, vs, ve, _) in spans.iter().filter(|span| span.4) {
        let name = crate::wire::header_name(&raw[ns as usize..ne as usize])
            .map_err(|_| UpstreamError::Malformed("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(raw.slice(vs as usize..ve as usize))
            .map_err(|_| UpstreamError::Malformed("invalid header value"))?;
        head.headers.append(name, value);
    }
    for extra in &named_overflow {
        head.headers.remove(extra);
    }
    // A message with both is framed by Transfer-Encoding; passing the stale length on would
    // let the next hop frame it differently (request smuggling's raw material).
    if head.chunked.is_some() {
        head.headers.remove(header::CONTENT_LENGTH);
    }
    Ok(Some(head))
}

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes the connection (which then cannot be reused).
    UntilClose,
}

/// The body framing of a response to `method` (RFC 9112 section 6.3, in its order).
pub(crate) fn response_framing(head_request: bool, head: &Head) -> Framing {
    let s = head.status.as_u16();
    if head_request || (100..200).contains(&s) || s == 204 || s == 304 {
        return Framing::Empty;
    }
    match (head.chunked, head.content_length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) | (None, None) => Framing::UntilClose,
        (None, Some(0)) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
    }
}

/// Whether the upstream lets the connection be used again after this response.
pub(crate) fn keeps_alive(head: &Head) -> bool {
    !head.close && (head.version == Version::HTTP_11 || head.keep_alive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf, 65536, &|_| false, 0).unwrap().unwrap()
    }

    #[test]
    fn parses_a_head_and_leaves_the_body_bytes() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.18.0\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello",
        );
        let h = parse_head(&mut buf, 65536, &|_| false, 0).unwrap().unwrap();
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.headers["server"], "nginx/1.18.0");
        assert_eq!(h.headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(&buf[..], b"hello");
        assert_eq!(response_framing(false, &h), Framing::Length(5));
        assert_eq!(response_framing(true, &h), Framing::Empty);
    }

    #[test]
    fn an_incomplete_head_waits_and_an_oversized_one_fails() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nServer: x\r\n");
        assert!(
            parse_head(&mut buf, 65536, &|_| false, 0)
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_head(&mut buf, 10, &|_| false, 0),
            Err(UpstreamError::HeadTooLarge(10))
        ));
    }

    #[test]
    fn framing_follows_rfc_9112_order() {
        let chunked = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(response_framing(false, &chunked), Framing::Chunked);
        let not_last = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!(response_framing(false, &not_last), Framing::UntilClose);
        let none = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(response_framing(false, &none), Framing::UntilClose);
        let nc = head("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(response_framing(false, &nc), Framing::Empty);
        let dup = head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(response_framing(false, &dup), Framing::Length(3));
        let mut conflict =
            BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
        assert!(parse_head(&mut conflict, 65536, &|_| false, 0).is_err());
    }

    #[test]
    fn hop_by_hop_and_removed_headers_never_reach_the_map() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nUpgrade: h2c\r\nX-Powered-By: Express\r\nX-Kept: k\r\n\r\n",
        );
        let h = parse_head(
            &mut buf,
            65536,
            &|n| n.eq_ignore_ascii_case(b"x-powered-by"),
            0,
        )
        .unwrap()
        .unwrap();
        let names: Vec<&str> = h.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
        assert_eq!(response_framing(false, &h), Framing::Chunked);
        assert!(keeps_alive(&h));
        let mut switching = BytesMut::from(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
        let h = parse_head(&mut switching, 65536, &|_| false, 0)
            .unwrap()
            .unwrap();
        assert_eq!(h.headers["upgrade"], "websocket");
        assert!(!h.headers.contains_key("connection"));
    }

    #[test]
    fn a_head_longer_than_the_inline_bookkeeping_keeps_every_line_in_order() {
        for lines in [
            INLINE_SPANS - 1,
            INLINE_SPANS,
            INLINE_SPANS + 1,
            MAX_HEADERS - 2,
        ] {
            let mut raw = String::from("HTTP/1.1 200 OK\r\nConnection: x-named\r\n");
            for i in 0..lines {
                raw.push_str(&format!("X-H{i}: v{i}\r\n"));
            }
            raw.push_str("X-Named: hop\r\n\r\n");
            let mut buf = BytesMut::from(raw.as_str());
            let h = parse_head(&mut buf, 65536, &|_| false, 0).unwrap().unwrap();
            assert_eq!(h.headers.len(), lines, "{lines} lines");
            for i in 0..lines {
                assert_eq!(h.headers[format!("x-h{i}").as_str()], format!("v{i}"));
            }
            assert!(!h.headers.contains_key("x-named"), "{lines} lines");
        }
    }

    #[test]
    fn the_map_has_room_for_the_headers_the_caller_adds() {
        for lines in 0..40 {
            let mut raw = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..lines {
                raw.push_str(&format!("X-Origin-{i}: v\r\n"));
            }
            raw.push_str("\r\n");
            let mut buf = BytesMut::from(raw.as_str());
            let mut h = parse_head(&mut buf, 65536, &|_| false, 12)
                .unwrap()
                .unwrap()
                .headers;
            let cap = h.capacity();
            // What header_policy::apply does: reserve its room, then add.
            h.reserve(12);
            for i in 0..12 {
                h.insert(
                    HeaderName::from_bytes(format!("x-added-{i}").as_bytes()).unwrap(),
                    HeaderValue::from_static("v"),
                );
            }
            assert_eq!(h.capacity(), cap, "{lines} origin headers: the map grew");
        }
    }

    #[test]
    fn keep_alive_defaults_by_version() {
        assert!(keeps_alive(&head("HTTP/1.1 200 OK\r\n\r\n")));
        assert!(!keeps_alive(&head(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        )));
        assert!(!keeps_alive(&head("HTTP/1.0 200 OK\r\n\r\n")));
        assert!(keeps_alive(&head(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"
        )));
    }

    #[test]
    fn the_request_head_carries_the_framing() {
        let mut out = Vec::new();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.com"));
        encode_head(
            &mut out,
            &Method::POST,
            "/a?b=1",
            &h,
            &[b"x-forwarded-for: ", b"10.0.0.1", b"\r\n"],
            RequestFraming::Chunked,
        );
        assert_eq!(
            out,
            b"POST /a?b=1 HTTP/1.1\r\nhost: example.com\r\nx-forwarded-for: 10.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }
}
