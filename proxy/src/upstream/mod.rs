//! Our HTTP/1.1 client for upstreams: a pool of keep-alive connections per endpoint, driven
//! inline by the request that uses them.
//!
//! Why not hyper-util's pooled client: its connections run in tasks of their own and requests
//! reach them through channels, and its pool hashes the endpoint key on every checkout and
//! return. A reverse proxy knows its endpoints when the config loads, so here each route points
//! straight at its [`Endpoint`], a request writes and reads its connection itself, and the
//! response body hands the connection back when it ends. Measured in benches/README.md.

mod body;
mod codec;
mod error;
mod io;

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header;
use http::{Method, Request, Response, Version};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Sleep;

pub use body::UpstreamBody;
pub use error::{BodyError, UpstreamError};

use codec::RequestFraming;
use io::Dial;
pub(crate) use io::Io;

/// A response head larger than this is refused (hyper's client default is 400 KiB; nginx's
/// proxy_buffer_size is 4-8 KiB; 64 KiB holds any legitimate set of cookies).
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 8 * 1024;

/// One connection to an upstream and what has been read from it but not consumed.
pub(crate) struct Conn {
    io: Io,
    buf: BytesMut,
    /// Scratch for the request head; kept so a request costs no allocation for it.
    head: Vec<u8>,
    /// The response timeout's timer, kept with the connection and re-armed per request: a
    /// timer made per request is put into the runtime's wheel and taken out again every time,
    /// while moving a registered one's deadline later is an atomic update.
    timer: Option<Pin<Box<Sleep>>>,
}

/// An upgraded (101) upstream connection, for the tunnel to take.
#[derive(Clone)]
pub struct Upgraded(Arc<Mutex<Option<(Io, Bytes)>>>);

impl Upgraded {
    /// The connection and the bytes the upstream sent after its 101 head.
    pub(crate) fn take(&self) -> Option<(Io, Bytes)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// An upstream origin (scheme, authority, trust) and its idle keep-alive connections.
pub struct Endpoint {
    dial: Dial,
    idle_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.dial.addr)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `tls`: `Some` for an HTTPS upstream.
    pub fn new(
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Result<Endpoint, String> {
        Ok(Endpoint {
            dial: Dial::new(host, port, tls, connect_timeout)?,
            idle_timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The number of idle connections held (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The most recently used idle connection that is still usable, if any.
    fn checkout(&self) -> Option<Conn> {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((mut conn, since)) = idle.pop() {
            if now.duration_since(since) >= self.idle_timeout {
                // Older ones sit below this one: all expired.
                idle.clear();
                return None;
            }
            if conn.io.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, conn: Conn) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Expired connections are at the front (oldest first): drop them while we are here.
        let expired = idle
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= self.idle_timeout)
            .count();
        if expired > 0 {
            idle.drain(..expired);
        }
        if idle.len() < self.max_idle {
            idle.push((conn, now));
        }
    }

    /// Whether a TCP connection to the upstream opens (resolved as requests resolve it); the
    /// connection is closed at once and never pooled.
    pub async fn tcp_reachable(&self) -> Result<(), UpstreamError> {
        self.dial.connect_tcp().await.map(drop)
    }

    async fn connect(&self) -> Result<Conn, UpstreamError> {
        Ok(Conn {
            io: self.dial.connect().await?,
            buf: BytesMut::new(),
            // The request's encoded head is put here.
            head: Vec::new(),
            timer: None,
        })
    }

    /// Sends `req` (its URI's path and query are the request target; its headers are sent as
    /// they are, so the caller has already removed hop-by-hop ones; `extra_lines` follow them,
    /// already formatted as `name: value\r\n` lines) and returns the response
    /// with its body streaming from the connection. `response_timeout` bounds sending the
    /// request and receiving the response head.
    /// Response headers for which `drop` is true (given the name in any case) are left out
    /// (the policy's remove list: cheaper never to add them than to remove them later), as are
    /// hop-by-hop ones. The response's header map has room for `room` more headers (the
    /// policy's [`max_headers_added`](rampart_config::HeaderPolicy::max_headers_added)), so
    /// adding them does not grow it.
    ///
    /// The future's output is what `finish` makes of the outcome (a caller's future wrapped
    /// around this one would copy it when made, and it is several hundred bytes).
    ///
    /// The head is encoded before the returned future starts, and a request without a body
    /// takes its pooled connection then too: the future holds the encoded head, not the
    /// request (a request is 224 bytes, and the future is boxed per request).
    pub fn send<B, D, F, R>(
        self: &Arc<Self>,
        req: Request<B>,
        extra_lines: &[&[u8]],
        response_timeout: Duration,
        drop: D,
        room: usize,
        finish: F,
    ) -> impl Future<Output = R> + use<B, D, F, R>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        D: Fn(&[u8]) -> bool + Sync,
        F: FnOnce(Result<Response<UpstreamBody>, UpstreamError>) -> R,
    {
        let (parts, mut body) = req.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let has_length = parts.headers.contains_key(header::CONTENT_LENGTH);
        let framing = if body.is_end_stream() {
            let wants_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
            if wants_body && !has_length {
                RequestFraming::EmptyLength
            } else {
                RequestFraming::AsIs
            }
        } else if has_length {
            RequestFraming::AsIs
        } else {
            RequestFraming::Chunked
        };
        // A request with a body takes its connection once the body's first piece is here (a
        // slow client does not hold an idle connection meanwhile).
        let mut pooled = if body.is_end_stream() {
            self.checkout()
        } else {
            None
        };
        let mut head = pooled
            .as_mut()
            .map(|c| std::mem::take(&mut c.head))
            .unwrap_or_else(|| Vec::with_capacity(512));
        codec::encode_head(
            &mut head,
            &parts.method,
            target,
            &parts.headers,
            extra_lines,
            framing,
        );
        let head_request = parts.method == Method::HEAD;
        let this = Arc::clone(self);
        let mut head = Some(head);
        async move {
            // The exchange proper borrows from this block, which holds everything once.
            let outcome = async {
                let deadline = tokio::time::Instant::now() + response_timeout;
                let mut timer = match pooled.as_mut().and_then(|c| c.timer.take()) {
                    Some(mut kept) => {
                        kept.as_mut().reset(deadline);
                        kept
                    }
                    None => Box::pin(tokio::time::sleep_until(deadline)),
                };
                let exchange = async {
                    // The first piece of the body goes out with the head, in one write.
                    let first = if body.is_end_stream() {
                        None
                    } else {
                        next_data(&mut body).await?
                    };
                    // Connecting (TCP, maybe TLS) is boxed: its state is several times the rest of
                    // this future's, and unboxed it would be copied with it on every request
                    // although a pooled connection is the common case.
                    let mut conn = match pooled.take().or_else(|| this.checkout()) {
                        Some(conn) => conn,
                        None => Box::pin(this.connect()).await?,
                    };
                    conn.head = head.take().unwrap_or_default();
                    let mut fresh = false;
                    loop {
                        let sent =
                            write_request(&mut conn, first.as_ref(), &mut body, framing).await;
                        let result = match sent {
                            Ok(()) => read_head(&mut conn, &drop, room).await,
                            Err(e) => Err(e),
                        };
                        match result {
                            Ok(head) => return Ok((conn, head)),
                            // A pooled connection the upstream closed as we picked it: the request
                            // never reached it, so sending it again on a new connection is safe if
                            // there is no body we may have consumed (the head is still in the
                            // connection's buffer then: only a body's pieces reuse it).
                            Err(e)
                                if !fresh
                                    && e.is_stale_connection()
                                    && first.is_none()
                                    && framing != RequestFraming::Chunked =>
                            {
                                tracing::debug!(
                                    upstream = %this.dial.addr,
                                    error = %e,
                                    "stale pooled connection; retrying on a new one"
                                );
                                let head = std::mem::take(&mut conn.head);
                                conn = Box::pin(this.connect()).await?;
                                conn.head = head;
                                fresh = true;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                };
                let mut exchange = std::pin::pin!(exchange);
                let raced = std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                        return Poll::Ready(Some(r));
                    }
                    timer.as_mut().poll(cx).map(|()| None)
                })
                .await;
                let (mut conn, head) = match raced {
                    Some(r) => r?,
                    None => return Err(UpstreamError::ResponseTimeout(response_timeout)),
                };
                conn.timer = Some(timer);
                let framing = codec::response_framing(head_request, &head);
                let reusable = codec::keeps_alive(&head);
                let mut res = Response::new(UpstreamBody::done());
                *res.status_mut() = head.status;
                *res.version_mut() = Version::HTTP_11;
                *res.headers_mut() = head.headers;
                if head.status == http::StatusCode::SWITCHING_PROTOCOLS {
                    let Conn { io, buf, .. } = conn;
                    res.extensions_mut()
                        .insert(Upgraded(Arc::new(Mutex::new(Some((io, buf.freeze()))))));
                    return Ok(res);
                }
                *res.body_mut() =
                    UpstreamBody::new(conn, framing, reusable.then(|| Arc::clone(&this)));
                Ok(res)
            }
            .await;
            finish(outcome)
        }
    }
}

/// The response header map [`Endpoint::send`] hands on for the response head `raw` (one
/// complete head; `drop` and `room` as for `send`), built by the same code without a
/// connection. For benches and tests that need a map shaped like a proxied response's.
pub fn parse_response_headers(
    raw: &[u8],
    drop: &(dyn Fn(&[u8]) -> bool + Sync),
    room: usize,
) -> Result<http::HeaderMap, UpstreamError> {
    let mut buf = BytesMut::from(raw);
    match codec::parse_head(&mut buf, MAX_RESPONSE_HEAD, drop, room)? {
        Some(head) => Ok(head.headers),
        None => Err(UpstreamError::Malformed("incomplete response head")),
    }
}

/// The next data frame of the client's body (trailers are not forwarded), or `None` at its end.
async fn next_data<B>(body: &mut B) -> Result<Option<Bytes>, UpstreamError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(UpstreamError::RequestBody(e.into())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data()
                    && !data.is_empty()
                {
                    return Ok(Some(data));
                }
            }
        }
    }
}

async fn write_request<B>(
    conn: &mut Conn,
    first: Option<&Bytes>,
    body: &mut B,
    framing: RequestFraming,
) -> Result<(), UpstreamError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let chunked = framing == RequestFraming::Chunked;
    let Some(first) = first else {
        if chunked {
            conn.head.extend_from_slice(b"0\r\n\r\n");
        }
        conn.io
            .write_all(&conn.head)
            .await
            .map_err(UpstreamError::Write)?;
        return conn.io.flush().await.map_err(UpstreamError::Write);
    };
    let mut data = Some(first.clone());
    while let Some(chunk) = data {
        if chunked {
            crate::wire::chunk_size_line(&mut conn.head, chunk.len());
        }
        let tail: &[u8] = if chunked { b"\r\n" } else { b"" };
        crate::wire::write_all_parts(&mut conn.io, [&conn.head, &chunk, tail])
            .await
            .map_err(UpstreamError::Write)?;
        conn.head.clear();
        data = next_data(body).await?;
    }
    if chunked {
        conn.io
            .write_all(b"0\r\n\r\n")
            .await
            .map_err(UpstreamError::Write)?;
    }
    conn.io.flush().await.map_err(UpstreamError::Write)
}

/// Reads until a final (non-1xx) response head has arrived. Interim 1xx responses (100, 103)
/// are dropped: the client-facing side already answered any Expect, and Early Hints are not
/// forwarded. A 101 is final.
async fn read_head(
    conn: &mut Conn,
    drop: &(dyn Fn(&[u8]) -> bool + Sync),
    room: usize,
) -> Result<codec::Head, UpstreamError> {
    loop {
        if !conn.buf.is_empty()
            && let Some(head) = codec::parse_head(&mut conn.buf, MAX_RESPONSE_HEAD, drop, room)?
        {
            let s = head.status.as_u16();
            if (100..200).contains(&s) && s != 101 {
                continue;
            }
            return Ok(head);
        }
        conn.buf.reserve(READ_CHUNK);
        let n = conn
            .io
            .read_buf(&mut conn.buf)
            .await
            .map_err(UpstreamError::Read)?;
        if n == 0 {
            return Err(if conn.buf.is_empty() {
                UpstreamError::ClosedBeforeResponse
            } else {
                UpstreamError::Malformed("connection closed inside the response head")
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty, Full};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A raw upstream: answers each request it reads (up to the blank line) with the next canned
    /// response; `close_after` closes the connection after that many responses.
    async fn raw_upstream(
        responses: Vec<&'static [u8]>,
        close_after: usize,
    ) -> (u16, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut responses = responses.into_iter();
            'conns: loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    break;
                };
                let mut served = 0;
                loop {
                    let mut req = Vec::new();
                    let mut byte = [0u8; 1];
                    while !req.ends_with(b"\r\n\r\n") {
                        match s.read(&mut byte).await {
                            Ok(1) => req.push(byte[0]),
                            // The client closed: wait for its next connection, if it has
                            // anything left to ask.
                            _ if responses.as_slice().is_empty() => break 'conns,
                            _ => continue 'conns,
                        }
                    }
                    let text = String::from_utf8_lossy(&req).to_lowercase();
                    if let Some(len) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                    {
                        let mut body = vec![0u8; len.trim().parse().unwrap()];
                        s.read_exact(&mut body).await.unwrap();
                        req.extend_from_slice(&body);
                    } else if text.contains("transfer-encoding: chunked") {
                        while !req.ends_with(b"0\r\n\r\n") {
                            s.read_exact(&mut byte).await.unwrap();
                            req.push(byte[0]);
                        }
                    }
                    seen.push(req);
                    let Some(r) = responses.next() else {
                        break 'conns;
                    };
                    s.write_all(r).await.unwrap();
                    served += 1;
                    if responses.as_slice().is_empty() {
                        break 'conns;
                    }
                    if served == close_after {
                        continue 'conns;
                    }
                }
            }
            seen
        });
        (port, task)
    }

    impl Endpoint {
        async fn send_all<B>(
            self: &Arc<Self>,
            req: Request<B>,
            timeout: Duration,
        ) -> Result<Response<UpstreamBody>, UpstreamError>
        where
            B: Body<Data = Bytes> + Unpin,
            B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        {
            self.send(req, &[], timeout, |_: &[u8]| false, 0, |r| r)
                .await
        }
    }

    fn endpoint(port: u16) -> Arc<Endpoint> {
        Arc::new(
            Endpoint::new(
                "127.0.0.1",
                port,
                None,
                Duration::from_secs(2),
                Duration::from_secs(60),
                8,
            )
            .unwrap(),
        )
    }

    fn get(path: &str) -> Request<Empty<Bytes>> {
        Request::builder()
            .uri(path)
            .header("host", "up")
            .body(Empty::new())
            .unwrap()
    }

    async fn body_of(res: Response<UpstreamBody>) -> Vec<u8> {
        res.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn chunked_bodies_are_decoded_and_the_connection_is_reused() {
        let (port, upstream) = raw_upstream(
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
            ],
            usize::MAX,
        )
        .await;
        let ep = endpoint(port);
        let res = ep
            .send_all(get("/a"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(body_of(res).await, b"hello world");
        assert_eq!(
            ep.idle_count(),
            1,
            "a cleanly ended body returns its connection"
        );
        let res = ep
            .send_all(get("/b?x=1"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(body_of(res).await, b"nope");
        drop(ep);
        let seen = upstream.await.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].starts_with(b"GET /b?x=1 HTTP/1.1\r\nhost: up\r\n"));
    }

    #[tokio::test]
    async fn a_pooled_connection_keeps_no_large_body_buffer() {
        // Keeping each idle connection's 64 KiB read buffer spread large bodies over as many
        // cache-cold buffers as there were connections (the 64 KiB row of benches/load.sh).
        let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n".to_vec();
        big.resize(big.len() + 65536, b'x');
        let big: &'static [u8] = Box::leak(big.into_boxed_slice());
        let (port, upstream) = raw_upstream(
            vec![big, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
            usize::MAX,
        )
        .await;
        let ep = endpoint(port);
        let res = ep.send_all(get("/"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(res).await.len(), 65536);
        {
            let mut idle = ep.idle.lock().unwrap();
            assert_eq!(idle.len(), 1, "the connection went back to the pool");
            // `capacity` counts only what is left past the consumed bytes; whether the whole
            // allocation could be reused is what shows it was kept.
            assert!(
                !idle[0].0.buf.try_reclaim(4 * READ_CHUNK),
                "an idle connection kept its large body buffer"
            );
        }
        let res = ep.send_all(get("/"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(res).await, b"ok");
        drop(ep);
        assert_eq!(upstream.await.unwrap().len(), 2, "both on one connection");
    }

    #[tokio::test]
    async fn a_pooled_connection_closed_by_the_upstream_is_retried_on_a_new_one() {
        let (port, upstream) = raw_upstream(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain",
            ],
            1,
        )
        .await;
        let ep = endpoint(port);
        let res = ep.send_all(get("/"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(res).await, b"ok");
        let res = ep.send_all(get("/"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(res).await, b"again");
        drop(ep);
        assert_eq!(upstream.await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn request_bodies_keep_their_length_or_are_chunked() {
        let (port, upstream) = raw_upstream(
            vec![
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
                b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            ],
            usize::MAX,
        )
        .await;
        let ep = endpoint(port);
        let req = Request::post("/p")
            .header("content-length", "4")
            .body(Full::new(Bytes::from_static(b"data")))
            .unwrap();
        let res = ep.send_all(req, Duration::from_secs(5)).await.unwrap();
        assert_eq!(res.status(), 201);
        assert!(res.body().is_end_stream());
        let req = Request::post("/q")
            .body(Full::new(Bytes::from_static(b"abc")))
            .unwrap();
        let res = ep.send_all(req, Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(res).await, b"until close");
        assert_eq!(
            ep.idle_count(),
            0,
            "a close-delimited body ends its connection"
        );
        drop(ep);
        let seen = upstream.await.unwrap();
        assert!(seen[0].ends_with(b"content-length: 4\r\n\r\ndata"));
        assert!(seen[1].ends_with(b"transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = endpoint(port)
            .send_all(get("/"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_truncated_body_is_an_error_not_a_short_success() {
        let (port, _upstream) =
            raw_upstream(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], 1).await;
        let res = endpoint(port)
            .send_all(get("/"), Duration::from_secs(5))
            .await
            .unwrap();
        let err = res.into_body().collect().await.unwrap_err();
        assert!(matches!(err, BodyError::Truncated(7)), "{err}");
    }
}
