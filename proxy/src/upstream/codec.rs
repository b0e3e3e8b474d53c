//! HTTP/1.1 message heads on the upstream side: the request head we write and the response head
//! we parse, plus how the response body is delimited (RFC 9112 section 6.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use super::error::UpstreamError;

/// Enough for any sane upstream; a response with more header lines is refused.
const MAX_HEADERS: usize = 128;

/// Writes `METHOD target HTTP/1.1`, the headers and the blank line into `out`.
pub(crate) fn encode_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
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

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Parses a response head from the front of `buf`, removing it. `Ok(None)`: incomplete.
pub(crate) fn parse_head(buf: &mut BytesMut, limit: usize) -> Result<Option<Head>, UpstreamError> {
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
    // Offsets into the head, so names and values can be built from (and values share) the
    // frozen head once the parser's borrow of `buf` ends.
    let base = buf.as_ptr() as usize;
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let n = res.headers.len();
    for (span, h) in spans.iter_mut().zip(res.headers.iter()) {
        let ns = h.name.as_ptr() as usize - base;
        let vs = h.value.as_ptr() as usize - base;
        // `len <= limit` and limits are far below 4 GiB, so these fit.
        *span = (
            ns as u32,
            (ns + h.name.len()) as u32,
            vs as u32,
            (vs + h.value.len()) as u32,
        );
    }
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(n + 8);
    for &(ns, ne, vs, ve) in &spans[..n] {
        let name = HeaderName::from_bytes(&head[ns as usize..ne as usize])
            .map_err(|_| UpstreamError::Malformed("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(vs as usize..ve as usize))
            .map_err(|_| UpstreamError::Malformed("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        version,
        headers,
    }))
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
pub(crate) fn response_framing(method: &Method, head: &Head) -> Result<Framing, UpstreamError> {
    let s = head.status.as_u16();
    if *method == Method::HEAD || (100..200).contains(&s) || s == 204 || s == 304 {
        return Ok(Framing::Empty);
    }
    if head.headers.contains_key(header::TRANSFER_ENCODING) {
        // Chunked must be the last coding; anything else can only be delimited by closing.
        let chunked_last = head
            .headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        return Ok(if chunked_last {
            Framing::Chunked
        } else {
            Framing::UntilClose
        });
    }
    let mut length: Option<u64> = None;
    for v in head.headers.get_all(header::CONTENT_LENGTH) {
        for part in v
            .to_str()
            .map_err(|_| UpstreamError::Malformed("invalid Content-Length"))?
            .split(',')
        {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| UpstreamError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(UpstreamError::Malformed(
                    "conflicting Content-Length values",
                ));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// Whether the upstream lets the connection be used again after this response.
pub(crate) fn keeps_alive(head: &Head) -> bool {
    let mut close = false;
    let mut keep_alive = false;
    for v in head.headers.get_all(header::CONNECTION) {
        for token in v.to_str().unwrap_or("").split(',') {
            let t = token.trim();
            close |= t.eq_ignore_ascii_case("close");
            keep_alive |= t.eq_ignore_ascii_case("keep-alive");
        }
    }
    if close {
        return false;
    }
    head.version == Version::HTTP_11 || keep_alive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf, 65536).unwrap().unwrap()
    }

    #[test]
    fn parses_a_head_and_leaves_the_body_bytes() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.18.0\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello",
        );
        let h = parse_head(&mut buf, 65536).unwrap().unwrap();
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.headers["server"], "nginx/1.18.0");
        assert_eq!(h.headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(&buf[..], b"hello");
        assert_eq!(
            response_framing(&Method::GET, &h).unwrap(),
            Framing::Length(5)
        );
        assert_eq!(response_framing(&Method::HEAD, &h).unwrap(), Framing::Empty);
    }

    #[test]
    fn an_incomplete_head_waits_and_an_oversized_one_fails() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nServer: x\r\n");
        assert!(parse_head(&mut buf, 65536).unwrap().is_none());
        assert!(matches!(
            parse_head(&mut buf, 10),
            Err(UpstreamError::HeadTooLarge(10))
        ));
    }

    #[test]
    fn framing_follows_rfc_9112_order() {
        let chunked = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!(
            response_framing(&Method::GET, &chunked).unwrap(),
            Framing::Chunked
        );
        let not_last = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!(
            response_framing(&Method::GET, &not_last).unwrap(),
            Framing::UntilClose
        );
        let none = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            response_framing(&Method::GET, &none).unwrap(),
            Framing::UntilClose
        );
        let nc = head("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(response_framing(&Method::GET, &nc).unwrap(), Framing::Empty);
        let dup = head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(
            response_framing(&Method::GET, &dup).unwrap(),
            Framing::Length(3)
        );
        let conflict = head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
        assert!(response_framing(&Method::GET, &conflict).is_err());
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
            RequestFraming::Chunked,
        );
        assert_eq!(
            out,
            b"POST /a?b=1 HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }
}
