//! The HTTP/1.1 fast path for client connections: requests without a body (GET, HEAD, DELETE,
//! OPTIONS, ... — nearly all of a proxy's traffic) are parsed, passed through the same tower
//! stack as everything else, and answered here.
//!
//! Why not hyper's server for these too: hyper keeps an 8 KiB read buffer and a write buffer for
//! the whole life of every keep-alive connection, and runs its generic dispatch machinery per
//! message. Here an idle connection holds no buffer at all (benches/memory.sh), and a request
//! costs one read and one write. Anything this path does not handle itself — a request body,
//! `Expect`, `Upgrade`, HTTP/1.0 — hands the connection, with the bytes already read, to
//! hyper for the rest of its life, so those semantics stay hyper's.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body;
use http_body_util::{BodyExt, Empty};
use rampart_config::names::eq_lowercase;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::layers::policy_lines::{DeferredLines, Lines};

/// Header lines per request; more is answered with 431, as hyper does.
const MAX_HEADERS: usize = 100;
/// A first read this large covers an ordinary request head in one system call (nginx's
/// `client_header_buffer_size` default is the same); a larger head takes another read. Kept
/// within the allocator's small sizes: the buffer is taken for each request (an idle connection
/// holds none), and mimalloc serves a larger block through its slower path every time.
const READ_SIZE: usize = 1024;
/// Room in the response head buffer for what the writer adds itself: status line, Date,
/// Content-Length or Transfer-Encoding, Connection, the blank line.
const WRITER_ROOM: usize = 160;
/// How an HTTP/2 connection with prior knowledge (h2c) starts.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The limits the fast path enforces.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// From a request's first byte to its complete head (slowloris).
    pub header_timeout: Duration,
    /// Between requests on a keep-alive connection.
    pub idle_timeout: Duration,
    /// Largest request head accepted (431 beyond).
    pub max_head: usize,
}

/// How the fast path left a connection.
pub enum Outcome {
    /// Closed, or answered its last request.
    Done,
    /// hyper must serve the rest, starting with these bytes already read (see [`Rewind`]).
    Handover(BytesMut),
    /// The connection opened with HTTP/2's preface: hyper's HTTP/2 server must serve it,
    /// starting with these bytes.
    Http2(BytesMut),
}

/// A transport that can say whether bytes are waiting without a buffer to read them into, so
/// an idle connection needs none.
pub trait WaitReadable {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl WaitReadable for TcpStream {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }
}

impl<T> WaitReadable for tokio_rustls::server::TlsStream<T> {
    /// TLS may hold decrypted bytes the socket no longer signals: always try the read.
    fn poll_readable(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Serves `io` until it closes, fails, shuts down or needs hyper. With `prior_knowledge`
/// (plain TCP; over TLS, ALPN decides), a connection that opens with HTTP/2's preface is
/// recognised from its first bytes and handed over as [`Outcome::Http2`]. With `lines`, the
/// service's header-policy layer leaves its lines for each request to this writer (see
/// `layers::policy_lines`).
///
/// Everything is borrowed from the caller, which owns it for the connection's life anyway (and
/// needs the stream and service back for a handover): a future that took them by value would
/// carry a second, dead copy of each in the connection's task.
///
/// Not an `async fn`: an `async fn` keeps its arguments twice in its future (as captured and
/// again as locals, rust-lang/rust#62958), and this future is part of every idle connection.
/// An `async move` block uses its captures in place.
// `async fn` would be simpler, and larger by its arguments (above).
#[allow(clippy::manual_async_fn)]
pub fn serve<T, S, B>(
    io: &mut T,
    service: &mut S,
    settings: &Settings,
    shutdown: &CancellationToken,
    prior_knowledge: bool,
    lines: Option<&DeferredLines>,
) -> impl Future<Output = Outcome>
where
    T: AsyncRead + AsyncWrite + WaitReadable + Unpin + Send,
    S: Service<Request<Empty<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    async move {
        let mut buf = BytesMut::new();
        let mut first = true;
        // One timer and one shutdown waiter for the connection's life, re-armed for each wait:
        // a timer made per wait is put into the runtime's wheel and taken out again on every
        // request, and a later deadline only needs an atomic update of a registered one.
        let idle = tokio::time::sleep(settings.header_timeout);
        let mut idle = std::pin::pin!(idle);
        let mut shut = std::pin::pin!(shutdown.cancelled());
        loop {
            if buf.is_empty() {
                // Idle: no buffer held while waiting (readiness first; the buffer is only taken for
                // the read that follows). The first request gets the header timeout (a connection
                // that never speaks), later ones the keep-alive idle timeout. Readiness can be a
                // stale hint (a fresh connection often reports it before its client has sent
                // anything), so the wait lasts until bytes are actually read, and a read that
                // finds nothing gives the buffer back before waiting on.
                if !first {
                    idle.as_mut()
                        .reset(tokio::time::Instant::now() + settings.idle_timeout);
                }
                let first_bytes = std::future::poll_fn(|cx| {
                    ready!(io.poll_readable(cx))?;
                    buf.reserve(READ_SIZE);
                    let read = tokio_util::io::poll_read_buf(Pin::new(&mut *io), cx, &mut buf);
                    if read.is_pending() {
                        buf = BytesMut::new();
                    }
                    read
                });
                tokio::select! {
                    biased;
                    r = first_bytes => match r {
                        Ok(n) if n > 0 => {}
                        // Closed or failed.
                        _ => return Outcome::Done,
                    },
                    // Quiet for the whole wait.
                    () = &mut idle => return Outcome::Done,
                    () = &mut shut => return Outcome::Done,
                }
            }
            let h2 = first && prior_knowledge;
            first = false;
            // Boxed, and only for the request's duration: parsing, the service call and writing
            // the response need several times the state of the wait above, and an unboxed future
            // would carry that size through every idle keep-alive period.
            let exchange = exchange(io, &mut buf, service, settings, shutdown, h2, lines);
            match Box::pin(exchange).await {
                Next::KeepAlive => {}
                Next::Done => return Outcome::Done,
                Next::Handover => return Outcome::Handover(buf),
                Next::Http2 => return Outcome::Http2(buf),
            }
        }
    }
}

/// What a connection does after one exchange.
enum Next {
    /// Wait for the next request.
    KeepAlive,
    /// Closed, failed, or answered its last request.
    Done,
    /// A request for hyper: hand over the connection with the bytes read so far.
    Handover,
    /// HTTP/2's preface: hand over to hyper's HTTP/2 server.
    Http2,
}

/// One request on the fast path: reads its head (the first bytes are in `buf`), calls the
/// service and writes the response. `h2`: the connection's first bytes may be HTTP/2's preface.
async fn exchange<T, S, B>(
    io: &mut T,
    buf: &mut BytesMut,
    service: &mut S,
    settings: &Settings,
    shutdown: &CancellationToken,
    h2: bool,
    lines: Option<&DeferredLines>,
) -> Next
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request<Empty<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    // Nearly every head arrives whole in the first read: parsed here, it needs no timer.
    let head = match parse(buf, settings.max_head, h2) {
        Ok(None) => {
            tokio::time::timeout(
                settings.header_timeout,
                read_rest_of_head(io, buf, settings.max_head, h2),
            )
            .await
        }
        parsed => Ok(parsed),
    };
    let (parsed, close) = match head {
        Ok(Ok(Some(p))) => {
            let close = p.close;
            (p, close)
        }
        Ok(Ok(None)) => return Next::Done,
        Ok(Err(HeadError::Io)) => return Next::Done,
        Ok(Err(HeadError::Reject(status))) => {
            let _ = write_rejection(io, status).await;
            return Next::Done;
        }
        Ok(Err(HeadError::NotOurs)) => return Next::Handover,
        Ok(Err(HeadError::Http2)) => return Next::Http2,
        // Too slow to send a head (slowloris): closed without an answer, as nginx and
        // hyper do; anything we wrote would only be read by the attacker.
        Err(_) => return Next::Done,
    };
    // Made by a plain function: a local this future borrows would be kept in it for the
    // whole exchange, even once moved out (the head and the request are 200+ bytes each).
    let (req, head_only) = parsed.into_request();
    let close = close || shutdown.is_cancelled();
    if let Some(slot) = lines {
        slot.arm();
    }
    let res = match service.call(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    let policy_lines = lines.and_then(DeferredLines::take);
    if buf.is_empty() {
        // Release the read buffer before the next wait; a pipelined request keeps it.
        *buf = BytesMut::new();
    }
    let written = write_response(io, res, policy_lines, head_only, close).await;
    if written.is_err() || close {
        let _ = io.shutdown().await;
        return Next::Done;
    }
    Next::KeepAlive
}

/// A request head the fast path serves.
struct Parsed {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    close: bool,
}

impl Parsed {
    /// The request for the service, and whether it is a HEAD request.
    fn into_request(self) -> (Request<Empty<Bytes>>, bool) {
        let head_only = self.method == Method::HEAD;
        let mut req = Request::new(Empty::new());
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = self.headers;
        (req, head_only)
    }
}

enum HeadError {
    /// The connection failed or closed mid-head.
    Io,
    /// Answer with this status and close.
    Reject(StatusCode),
    /// Valid, but for hyper (a body, Expect, Upgrade, HTTP/1.0).
    NotOurs,
    /// HTTP/2's connection preface.
    Http2,
}

/// Reads until the head that starts in `buf` is complete; the caller has already found that
/// what `buf` holds does not parse yet.
async fn read_rest_of_head<T>(
    io: &mut T,
    buf: &mut BytesMut,
    max: usize,
    h2: bool,
) -> Result<Option<Parsed>, HeadError>
where
    T: AsyncRead + Unpin,
{
    loop {
        if buf.len() > max {
            return Err(HeadError::Reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ));
        }
        buf.reserve(READ_SIZE);
        match io.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(HeadError::Io),
            Ok(_) => {}
            Err(_) => return Err(HeadError::Io),
        }
        if let Some(parsed) = parse(buf, max, h2)? {
            return Ok(Some(parsed));
        }
    }
}

/// Parses a request head at the front of `buf`; `Ok(None)` when more bytes are needed. The
/// head is only taken off `buf` when this path serves it, so a handover replays it intact.
fn parse(buf: &mut BytesMut, max: usize, h2: bool) -> Result<Option<Parsed>, HeadError> {
    if h2 {
        // "PRI" is reserved for the preface; no HTTP/1 request uses it, so three bytes of it
        // decide. One or two wait for more, as a partial head does.
        let n = buf.len().min(H2_PREFACE.len());
        if buf[..n] == H2_PREFACE[..n] {
            return if n >= 3 {
                Err(HeadError::Http2)
            } else {
                Ok(None)
            };
        }
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::Reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ));
        }
        Err(_) => return Err(HeadError::Reject(StatusCode::BAD_REQUEST)),
    };
    if len > max {
        return Err(HeadError::Reject(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ));
    }
    if req.version != Some(1) {
        return Err(HeadError::NotOurs);
    }
    let mut close = false;
    let base = buf.as_ptr();
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let n = req.headers.len();
    for (span, h) in spans.iter_mut().zip(req.headers.iter()) {
        let name = h.name.as_bytes();
        if eq_lowercase(name, b"content-length") {
            if h.value.trim_ascii() != b"0" {
                return Err(HeadError::NotOurs);
            }
        } else if eq_lowercase(name, b"transfer-encoding")
            || eq_lowercase(name, b"expect")
            || eq_lowercase(name, b"upgrade")
        {
            return Err(HeadError::NotOurs);
        } else if eq_lowercase(name, b"connection") {
            for token in h.value.split(|b| *b == b',') {
                let t = token.trim_ascii();
                if eq_lowercase(t, b"close") {
                    close = true;
                } else if eq_lowercase(t, b"upgrade") {
                    return Err(HeadError::NotOurs);
                }
            }
        }
        *span = crate::wire::header_span(base, name, h.value);
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Reject(StatusCode::BAD_REQUEST))?;
    let path = req.path.unwrap_or("");
    let path_span = {
        let start = path.as_ptr() as usize - base as usize;
        start..start + path.len()
    };
    let raw = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(raw.slice(path_span))
        .map_err(|_| HeadError::Reject(StatusCode::BAD_REQUEST))?;
    let mut headers = HeaderMap::with_capacity(n + 4);
    for &(ns, ne, vs, ve) in &spans[..n] {
        let name = crate::wire::header_name(&raw[ns as usize..ne as usize])
            .map_err(|_| HeadError::Reject(StatusCode::BAD_REQUEST))?;
        let value = HeaderValue::from_maybe_shared(raw.slice(vs as usize..ve as usize))
            .map_err(|_| HeadError::Reject(StatusCode::BAD_REQUEST))?;
        headers.append(name, value);
    }
    Ok(Some(Parsed {
        method,
        uri,
        headers,
        close,
    }))
}

/// Writes `res`: the head (with the policy `lines` the header-policy layer left to this
/// writer), then the body as it arrives (Content-Length when its size is known, chunked
/// otherwise). An error from the body ends the connection mid-message, so a truncated
/// response never looks complete.
///
/// The head is built in a small buffer: the status line and the origin's lines, then what the
/// writer adds. The policy's lines (most of a hardened head) stay where the policy keeps them
/// and go out between the two, and the first body piece after them, in one vectored write:
/// nothing is copied to sit next to anything else, and the buffer stays within the
/// allocator's small sizes.
///
/// The head is built before the returned future starts, so that the future holds only what
/// writing needs (an `async fn` would keep the response and its parts in it throughout).
fn write_response<'a, T, B>(
    io: &'a mut T,
    res: Response<B>,
    lines: Option<Lines>,
    head_only: bool,
    close: bool,
) -> impl Future<Output = io::Result<()>> + 'a
where
    T: AsyncWrite + Unpin,
    B: Body<Data = Bytes> + Unpin + 'a,
    B::Error: std::fmt::Display,
{
    let (parts, mut body) = res.into_parts();
    let status = parts.status;
    let bodiless = head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let length = body.size_hint().exact();
    let chunked = !bodiless && length.is_none();
    // Lines that must be picked (a rule yields to the origin) are copied into the buffer.
    let as_kept = lines.as_ref().is_some_and(|l| l.as_kept().is_some());
    let picked = lines.as_ref().filter(|_| !as_kept);
    let origin_lines: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let mut out = Vec::with_capacity(WRITER_ROOM + origin_lines + picked.map_or(0, Lines::len));
    status_line(&mut out, status);
    // A HEAD or 304 response's Content-Length describes the representation, not this
    // message: it passes as it is. Otherwise framing is ours to state, from the body we send.
    let pass_length = head_only || status == StatusCode::NOT_MODIFIED;
    let mut has_date = false;
    for (name, value) in &parts.headers {
        if (*name == header::CONTENT_LENGTH && !pass_length)
            || *name == header::TRANSFER_ENCODING
            || *name == header::CONNECTION
        {
            continue;
        }
        has_date |= *name == header::DATE;
        crate::wire::header_line(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(lines) = picked {
        lines.write(&mut out);
    }
    // The policy's kept lines go out between `out[..split]` and `out[split..]`.
    let mut split = out.len();
    if !has_date {
        out.extend_from_slice(b"date: ");
        http_date(&mut out);
        out.extend_from_slice(b"\r\n");
    }
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if !bodiless && let Some(n) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa(n, &mut [0u8; 20]));
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let lines = lines.filter(|_| as_kept);
    async move {
        let mut policy = lines.as_ref().and_then(Lines::as_kept).unwrap_or_default();
        if bodiless {
            return write_parts(io, head_and(&out, split, policy, b"", b"")).await;
        }
        loop {
            // Whatever is pending (the head, at first) goes out before waiting on a body that is
            // not ready: a client must see the head while a slow upstream thinks.
            let frame =
                match std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx)))
                    .await
                {
                    Poll::Ready(f) => f,
                    Poll::Pending => {
                        if !out.is_empty() {
                            write_parts(io, head_and(&out, split, policy, b"", b"")).await?;
                            out.clear();
                            split = 0;
                            policy = [&[], &[]];
                        }
                        body.frame().await
                    }
                };
            let (data, finished) = match frame {
                None => (Bytes::new(), true),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(d) => (d, false),
                    // Trailers are not forwarded on HTTP/1.1 responses.
                    Err(_) => continue,
                },
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "response body failed; ending the connection");
                    if !out.is_empty() {
                        let _ = write_parts(io, head_and(&out, split, policy, b"", b"")).await;
                    }
                    return Err(io::Error::other("response body failed"));
                }
            };
            // `None` ends the body even if the body type under-reports `is_end_stream`.
            let end = finished || body.is_end_stream();
            if chunked && !data.is_empty() {
                crate::wire::chunk_size_line(&mut out, data.len());
            }
            let mut tail: &[u8] = if chunked && !data.is_empty() {
                b"\r\n"
            } else {
                b""
            };
            if end && chunked {
                tail = if data.is_empty() {
                    b"0\r\n\r\n"
                } else {
                    b"\r\n0\r\n\r\n"
                };
            }
            write_parts(io, head_and(&out, split, policy, &data, tail)).await?;
            out.clear();
            split = 0;
            policy = [&[], &[]];
            if end {
                return Ok(());
            }
        }
    }
}

/// The pieces of one write: the head buffer up to `split`, the policy's kept lines, the rest
/// of the buffer (the writer's own lines, or a chunk size line), then body data and its tail.
fn head_and<'a>(
    out: &'a [u8],
    split: usize,
    policy: [&'a [u8]; 2],
    data: &'a [u8],
    tail: &'a [u8],
) -> [&'a [u8]; 6] {
    [
        &out[..split],
        policy[0],
        policy[1],
        &out[split..],
        data,
        tail,
    ]
}

/// Writes the pieces of a head and body in order, then flushes.
fn write_parts<'a, T: AsyncWrite + Unpin>(
    io: &'a mut T,
    mut parts: [&'a [u8]; 6],
) -> impl Future<Output = io::Result<()>> + 'a {
    std::future::poll_fn(move |cx| {
        ready!(crate::wire::poll_write_parts(&mut *io, cx, &mut parts))?;
        Pin::new(&mut *io).poll_flush(cx)
    })
}

async fn write_all<T: AsyncWrite + Unpin>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// Our answer to a request we cannot parse or accept; nothing from the request is echoed.
async fn write_rejection<T: AsyncWrite + Unpin>(io: &mut T, status: StatusCode) -> io::Result<()> {
    let mut out = Vec::with_capacity(160);
    status_line(&mut out, status);
    out.extend_from_slice(b"content-length: 0\r\nconnection: close\r\ndate: ");
    http_date(&mut out);
    out.extend_from_slice(b"\r\n\r\n");
    write_all(io, &out).await?;
    io.shutdown().await
}

fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

thread_local! {
    /// The Date value changes once a second; formatting it per response would be waste.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0u8; 29])) };
}

fn http_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            let bytes = text.as_bytes();
            if bytes.len() == 29 {
                cached.1.copy_from_slice(bytes);
                cached.0 = secs;
            } else {
                out.extend_from_slice(bytes);
                return;
            }
        }
        out.extend_from_slice(&cached.1);
    });
}

/// A stream with some already-read bytes put back in front, for hyper to read first.
pub struct Rewind<T> {
    prefix: Option<Bytes>,
    inner: T,
}

impl<T> Rewind<T> {
    /// `inner`, with `prefix` (an [`Outcome::Handover`]'s bytes) read first.
    pub fn new(prefix: BytesMut, inner: T) -> Rewind<T> {
        Rewind {
            prefix: (!prefix.is_empty()).then(|| prefix.freeze()),
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.as_mut() {
            let n = prefix.len().min(buf.remaining());
            buf.put_slice(&prefix.split_to(n));
            if prefix.is_empty() {
                this.prefix = None;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    fn settings() -> Settings {
        Settings {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            max_head: 8192,
        }
    }

    type Answer = std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn echo_path() -> impl Service<
        Request<Empty<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = Answer,
    > {
        tower::service_fn(|req: Request<Empty<Bytes>>| {
            let body = Bytes::from(req.uri().to_string());
            let mut res = Response::new(Full::new(body));
            res.headers_mut()
                .insert("content-length", HeaderValue::from_static("999"));
            std::future::ready(Ok(res))
        })
    }

    /// `serve` in a task of its own: the stream comes back with the outcome.
    async fn serve_owned(mut server: TcpStream, token: CancellationToken) -> (Outcome, TcpStream) {
        let outcome = serve(
            &mut server,
            &mut echo_path(),
            &settings(),
            &token,
            true,
            None,
        )
        .await;
        (outcome, server)
    }

    async fn read_until_close(mut s: TcpStream) -> String {
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn bodiless_requests_are_served_with_our_framing_and_a_date() {
        let (mut client, server) = pair().await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve_owned(server, stop));
        client
            .write_all(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let text = read_until_close(client).await;
        assert!(matches!(task.await.unwrap().0, Outcome::Done));
        let (first, second) = text.split_once("/a?b=1").unwrap();
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
        // The body's real length wins over a stale header; Date is added.
        assert!(
            first.contains("content-length: 6\r\n") && first.contains("\r\ndate: "),
            "{first}"
        );
        assert!(!first.contains("999"));
        // HEAD: the representation's length passes, no body follows, and close is honoured.
        assert!(second.contains("content-length: 999\r\n"), "{second}");
        assert!(second.contains("connection: close\r\n"));
        assert!(second.ends_with("\r\n\r\n"), "{second}");
    }

    #[tokio::test]
    async fn a_request_with_a_body_is_handed_over_with_every_byte() {
        let (mut client, server) = pair().await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve_owned(server, stop));
        let raw = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        client.write_all(raw).await.unwrap();
        let (Outcome::Handover(read), server) = task.await.unwrap() else {
            panic!("a body is hyper's to read");
        };
        let mut rewind = Rewind::new(read, server);
        let mut replay = vec![0u8; raw.len()];
        rewind.read_exact(&mut replay).await.unwrap();
        assert_eq!(&replay[..], &raw[..]);
    }

    #[tokio::test]
    async fn malformed_and_oversized_heads_are_refused() {
        for (raw, status) in [
            (&b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"[..], "400"),
            (
                &format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000)).into_bytes()[..],
                "431",
            ),
        ] {
            let (mut client, server) = pair().await;
            let stop = CancellationToken::new();
            let task = tokio::spawn(serve_owned(server, stop));
            client.write_all(raw).await.unwrap();
            let text = read_until_close(client).await;
            assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
            assert!(matches!(task.await.unwrap().0, Outcome::Done));
        }
    }

    #[tokio::test]
    async fn the_http2_preface_is_handed_over_with_every_byte_when_allowed() {
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        let (mut client, server) = pair().await;
        let task = tokio::spawn(serve_owned(server, CancellationToken::new()));
        // Two bytes could still be HTTP/1 ("PR..."): the fast path waits for the third.
        client.write_all(&preface[..2]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(&preface[2..]).await.unwrap();
        let (Outcome::Http2(read), server) = task.await.unwrap() else {
            panic!("the preface is HTTP/2's");
        };
        let mut replay = vec![0u8; preface.len()];
        Rewind::new(read, server)
            .read_exact(&mut replay)
            .await
            .unwrap();
        assert_eq!(&replay[..], &preface[..]);

        // Without prior knowledge (TLS, where ALPN decides) it is a malformed HTTP/1 request.
        let (mut client, mut server) = pair().await;
        let task = tokio::spawn(async move {
            let stop = CancellationToken::new();
            serve(
                &mut server,
                &mut echo_path(),
                &settings(),
                &stop,
                false,
                None,
            )
            .await
        });
        client.write_all(preface).await.unwrap();
        let text = read_until_close(client).await;
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(matches!(task.await.unwrap(), Outcome::Done));
    }

    #[tokio::test]
    async fn shutdown_closes_an_idle_connection() {
        let (client, server) = pair().await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve_owned(server, stop.clone()));
        stop.cancel();
        assert!(matches!(task.await.unwrap().0, Outcome::Done));
        assert_eq!(read_until_close(client).await, "");
    }
}
