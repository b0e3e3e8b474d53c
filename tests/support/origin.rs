//! A scriptable HTTP origin: real sockets, HTTP/1.1 with keep-alive and
//! upgrades, h2c with prior knowledge, every request recorded.
//!
//! `TestOrigin::start()` takes its behaviour from the request's query string
//! (see [`TestOrigin::start`]); `TestOrigin::start_with` takes a closure for
//! the cases a query string cannot express.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use http::header::{CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue, UPGRADE};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Chunk size of `stream_bytes=N` bodies.
pub const STREAM_CHUNK: usize = 64 * 1024;
/// Chunk size of `endless=1` bodies.
pub const ENDLESS_CHUNK: usize = 16 * 1024;

/// The bytes of a `stream_bytes=N` body: byte `i` is `PATTERN[i % PATTERN.len()]`,
/// so a reader can check content and offset without the origin storing anything.
pub const PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

// Every generated chunk is a slice of one pattern block starting at 0.
const _: () = assert!(STREAM_CHUNK % PATTERN.len() == 0 && ENDLESS_CHUNK % PATTERN.len() == 0);

/// The expected byte at `offset` of a `stream_bytes` body.
pub fn pattern_byte(offset: u64) -> u8 {
    PATTERN[(offset % PATTERN.len() as u64) as usize]
}

// STREAM_CHUNK is a multiple of PATTERN.len(), so every chunk of a generated
// body can be a slice of this one block and the pattern stays continuous.
fn pattern_block() -> Bytes {
    static BLOCK: OnceLock<Bytes> = OnceLock::new();
    BLOCK
        .get_or_init(|| {
            Bytes::from(
                PATTERN
                    .iter()
                    .copied()
                    .cycle()
                    .take(STREAM_CHUNK)
                    .collect::<Vec<u8>>(),
            )
        })
        .clone()
}

fn x_block() -> Bytes {
    static BLOCK: OnceLock<Bytes> = OnceLock::new();
    BLOCK
        .get_or_init(|| Bytes::from(vec![b'x'; STREAM_CHUNK]))
        .clone()
}

/// A request as the origin saw it, recorded once its body was read. Over h2
/// the URI is absolute (hyper builds it from :scheme and :authority).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body_len: u64,
}

impl RecordedRequest {
    /// First value of `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Response body of the origin.
///
/// Every variant is `Unpin` and `Send`; the error type lets a body end with a
/// failure so that a proxy sees an upstream die mid-response.
pub struct OriginBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Chunks {
        queue: VecDeque<Bytes>,
        then_fail: bool,
        // Returning Pending between chunks makes hyper flush what it has
        // buffered, so each chunk leaves in its own write instead of being
        // coalesced with the next.
        yield_next: bool,
    },
    Generated {
        // None: never ends.
        remaining: Option<u64>,
        block: Bytes,
        chunk: usize,
        exact: bool,
    },
    Channel(mpsc::Receiver<Bytes>),
    Stream(Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>),
}

impl OriginBody {
    /// A whole body, sent with Content-Length.
    pub fn full(bytes: impl Into<Bytes>) -> OriginBody {
        let bytes = bytes.into();
        OriginBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// No body (Content-Length: 0 where the status allows a body).
    pub fn empty() -> OriginBody {
        OriginBody {
            kind: Kind::Full(None),
        }
    }

    /// Each part is its own frame, so on HTTP/1.1 its own chunk of a chunked
    /// body (no Content-Length). Empty parts are skipped: an empty chunk
    /// would be the terminating one.
    pub fn chunks(parts: Vec<Bytes>) -> OriginBody {
        OriginBody {
            kind: Kind::Chunks {
                queue: parts.into_iter().filter(|p| !p.is_empty()).collect(),
                then_fail: false,
                yield_next: false,
            },
        }
    }

    /// Like [`OriginBody::chunks`], then fails: hyper aborts the connection
    /// without a terminating chunk (HTTP/1.1) or resets the stream (h2).
    pub fn chunks_then_abort(parts: Vec<Bytes>) -> OriginBody {
        let mut body = OriginBody::chunks(parts);
        if let Kind::Chunks { then_fail, .. } = &mut body.kind {
            *then_fail = true;
        }
        body
    }

    /// Exactly `len` bytes of [`PATTERN`], generated lazily in
    /// [`STREAM_CHUNK`] chunks, chunked encoding.
    pub fn pattern(len: u64) -> OriginBody {
        OriginBody {
            kind: Kind::Generated {
                remaining: Some(len),
                block: pattern_block(),
                chunk: STREAM_CHUNK,
                exact: false,
            },
        }
    }

    /// `len` bytes of `x`, generated lazily but announced with Content-Length.
    pub fn sized(len: u64) -> OriginBody {
        OriginBody {
            kind: Kind::Generated {
                remaining: Some(len),
                block: x_block(),
                chunk: STREAM_CHUNK,
                exact: true,
            },
        }
    }

    /// [`ENDLESS_CHUNK`]-sized chunks of [`PATTERN`] until the peer goes away.
    pub fn endless() -> OriginBody {
        OriginBody {
            kind: Kind::Generated {
                remaining: None,
                block: pattern_block(),
                chunk: ENDLESS_CHUNK,
                exact: false,
            },
        }
    }

    /// A body fed by the test: each sent `Bytes` is one frame; dropping the
    /// sender ends the body. Lets a test pace a response on its own events.
    pub fn channel(capacity: usize) -> (mpsc::Sender<Bytes>, OriginBody) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            tx,
            OriginBody {
                kind: Kind::Channel(rx),
            },
        )
    }

    /// Any lazily generated stream; an `Err` item aborts the response.
    pub fn stream<S>(stream: S) -> OriginBody
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        OriginBody {
            kind: Kind::Stream(Box::pin(stream)),
        }
    }
}

impl Body for OriginBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Chunks {
                queue,
                then_fail,
                yield_next,
            } => {
                // Also before failing, or hyper discards the unflushed chunk.
                if *yield_next && (!queue.is_empty() || *then_fail) {
                    *yield_next = false;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                match queue.pop_front() {
                    Some(chunk) => {
                        *yield_next = true;
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    None if *then_fail => {
                        *then_fail = false;
                        Poll::Ready(Some(Err(io::Error::other("origin aborts the body"))))
                    }
                    None => Poll::Ready(None),
                }
            }
            Kind::Generated {
                remaining,
                block,
                chunk,
                ..
            } => {
                let take = match remaining {
                    Some(0) => return Poll::Ready(None),
                    Some(left) => (*left).min(*chunk as u64) as usize,
                    None => *chunk,
                };
                if let Some(left) = remaining {
                    *left -= take as u64;
                }
                Poll::Ready(Some(Ok(Frame::data(block.slice(..take)))))
            }
            Kind::Channel(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
            Kind::Stream(stream) => stream
                .as_mut()
                .poll_next(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Chunks {
                queue, then_fail, ..
            } => queue.is_empty() && !*then_fail,
            Kind::Generated { remaining, .. } => *remaining == Some(0),
            Kind::Channel(_) | Kind::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Generated {
                remaining: Some(left),
                exact: true,
                ..
            } => SizeHint::with_exact(*left),
            // No exact size: hyper uses chunked encoding on HTTP/1.1.
            _ => SizeHint::default(),
        }
    }
}

type Handler = dyn Fn(Request<Bytes>) -> Response<OriginBody> + Send + Sync;

enum Mode {
    Query,
    Custom(Box<Handler>),
}

struct Shared {
    mode: Mode,
    requests: Mutex<Vec<RecordedRequest>>,
    accepted: AtomicUsize,
    shutdown: watch::Receiver<()>,
    // Weak, so that a handler still running on a spawned h2 stream cannot
    // hold `shutdown()` up; only tasks that own sockets hold a strong one.
    alive: mpsc::WeakSender<()>,
}

impl Shared {
    fn record(&self, parts: &http::request::Parts, body_len: u64) {
        let recorded = RecordedRequest {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
            body_len,
        };
        self.requests.lock().unwrap().push(recorded);
    }

    // Runs `task` on its own until it ends or the origin shuts down.
    fn spawn_owned<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(alive) = self.alive.upgrade() else {
            return;
        };
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = task => {}
                _ = shutdown.changed() => {}
            }
            drop(alive);
        });
    }
}

/// A running origin on 127.0.0.1. Dropping it stops accepting and closes
/// every connection (asynchronously); [`TestOrigin::shutdown`] does the same
/// and returns once all of its sockets are closed.
pub struct TestOrigin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown_tx: Option<watch::Sender<()>>,
    alive_rx: Option<mpsc::Receiver<()>>,
}

impl TestOrigin {
    /// An origin whose behaviour each request picks with its query string,
    /// on any path:
    ///
    /// - `status=NNN` (default 200)
    /// - `header=Name:Value`, repeatable; a repeated name gives repeated
    ///   header lines; the value may contain `:`
    /// - body, first match wins: `echo=1`, `stream_bytes=N`, `endless=1`,
    ///   `chunks=a|b|c`, `body_size=N`, `body=TEXT`, else empty
    ///   - `echo=1`: JSON `{"method","uri","version","headers":[[name,value]..],"body_len"}`
    ///     with `Content-Type: application/json`. Header names are lowercase;
    ///     the order is hyper's `HeaderMap` order: names in first-seen
    ///     order, repeated values grouped under their name, in received order.
    ///   - `stream_bytes=N`: N bytes of [`PATTERN`], [`STREAM_CHUNK`] chunks, chunked
    ///   - `endless=1`: [`ENDLESS_CHUNK`] chunks until the peer goes away
    ///   - `chunks=a|b|c`: one chunk per part, chunked; `%7C` is a literal `|`
    ///   - `body_size=N`: N bytes of `x`, with Content-Length
    ///   - `body=TEXT`: TEXT (any bytes, percent-encoded), with Content-Length
    /// - `delay_head_ms=N`: wait N ms before sending the response head
    ///
    /// Values are percent-decoded, `+` being a space.
    ///
    /// Path `/ws` with `Upgrade: websocket` is a WebSocket echo; path
    /// `/upgrade-raw` with `Upgrade: x-echo` switches protocols and echoes
    /// raw bytes. Either path without its upgrade gets 426.
    ///
    /// The request body is always read to its end (and counted) before
    /// anything else, `delay_head_ms` included: the request is then recorded
    /// complete, and request bodies in tests are small enough not to matter.
    pub async fn start() -> TestOrigin {
        TestOrigin::launch(Mode::Query).await
    }

    /// An origin that answers every request with `handler`, called with the
    /// request body already collected. Requests are recorded as by `start`.
    pub async fn start_with<F>(handler: F) -> TestOrigin
    where
        F: Fn(Request<Bytes>) -> Response<OriginBody> + Send + Sync + 'static,
    {
        TestOrigin::launch(Mode::Custom(Box::new(handler))).await
    }

    async fn launch(mode: Mode) -> TestOrigin {
        // Bound before returning: the address accepts connections at once.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown_tx, shutdown_rx) = watch::channel(());
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        let shared = Arc::new(Shared {
            mode,
            requests: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            shutdown: shutdown_rx.clone(),
            alive: alive_tx.downgrade(),
        });
        tokio::spawn(accept_loop(listener, shared.clone(), shutdown_rx, alive_tx));
        TestOrigin {
            addr,
            shared,
            shutdown_tx: Some(shutdown_tx),
            alive_rx: Some(alive_rx),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request seen so far, in the order their bodies completed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.requests.lock().unwrap().last().cloned()
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection (upgraded ones included),
    /// and returns once the listener and all those sockets are closed: a
    /// connect after this is refused.
    pub async fn shutdown(mut self) {
        drop(self.shutdown_tx.take());
        if let Some(mut alive) = self.alive_rx.take() {
            // Ends when the last task holding a socket has dropped its sender.
            while alive.recv().await.is_some() {}
        }
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        // The tasks watch this channel and stop when its sender goes.
        drop(self.shutdown_tx.take());
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
    alive: mpsc::Sender<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Transient (e.g. the peer reset before accept); keep serving.
                Err(_) => continue,
            },
            _ = shutdown.changed() => break,
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let conn_shared = shared.clone();
        let conn_alive = alive.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = serve_connection(stream, conn_shared) => {}
                _ = conn_shutdown.changed() => {}
            }
            drop(conn_alive);
        });
    }
    // Closed before `alive` goes, so `shutdown()` returns with the port closed.
    drop(listener);
    drop(alive);
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(req, shared).await) }
    });
    // auto::Builder tells HTTP/1.1 from the h2 preface, so h2c with prior
    // knowledge and HTTP/1.1 share the port.
    let builder = auto::Builder::new(TokioExecutor::new());
    // Errors are the peer going away mid-exchange, which tests provoke.
    let _ = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await;
}

async fn handle(mut req: Request<Incoming>, shared: Arc<Shared>) -> Response<OriginBody> {
    let on_upgrade = (matches!(shared.mode, Mode::Query)
        && matches!(req.uri().path(), "/ws" | "/upgrade-raw"))
    .then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    match &shared.mode {
        Mode::Custom(handler) => {
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    shared.record(&parts, 0);
                    return plain(StatusCode::BAD_REQUEST, "request body failed");
                }
            };
            shared.record(&parts, body.len() as u64);
            handler(Request::from_parts(parts, body))
        }
        Mode::Query => {
            let body_len = match drain(body).await {
                Ok(n) => n,
                Err(n) => {
                    shared.record(&parts, n);
                    return plain(StatusCode::BAD_REQUEST, "request body failed");
                }
            };
            shared.record(&parts, body_len);
            query_response(parts, body_len, on_upgrade, &shared).await
        }
    }
}

// Counts the body without keeping it; Err carries the count at the failure.
async fn drain(mut body: Incoming) -> Result<u64, u64> {
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    len += data.len() as u64;
                }
            }
            Err(_) => return Err(len),
        }
    }
    Ok(len)
}

fn plain(status: StatusCode, text: &'static str) -> Response<OriginBody> {
    let mut resp = Response::new(OriginBody::full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn wants_upgrade(headers: &HeaderMap, protocol: &str) -> bool {
    headers
        .get_all(UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(protocol))
}

fn switching(protocol: &'static str) -> Response<OriginBody> {
    let mut resp = Response::new(OriginBody::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert(UPGRADE, HeaderValue::from_static(protocol));
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    resp
}

async fn query_response(
    parts: http::request::Parts,
    body_len: u64,
    on_upgrade: Option<OnUpgrade>,
    shared: &Shared,
) -> Response<OriginBody> {
    if let Some(on_upgrade) = on_upgrade {
        match parts.uri.path() {
            "/ws" => return websocket(&parts, on_upgrade, shared),
            "/upgrade-raw" => return raw_upgrade(&parts, on_upgrade, shared),
            _ => {}
        }
    }

    let query = parts.uri.query().unwrap_or("");
    let params = parse_query(query);
    let raw_param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| percent_decode(k) == name)
            .map(|(_, v)| v)
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str| param(name).and_then(|v| v.trim().parse::<u64>().ok());

    let status = match param("status") {
        None => StatusCode::OK,
        Some(s) => match s
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|n| StatusCode::from_u16(n).ok())
        {
            Some(status) => status,
            None => return plain(StatusCode::BAD_REQUEST, "bad status parameter"),
        },
    };

    let mut headers = HeaderMap::new();
    for (_, spec) in params.iter().filter(|(k, _)| k == "header") {
        let Some((name, value)) = spec.split_once(':') else {
            return plain(StatusCode::BAD_REQUEST, "header parameter needs Name:Value");
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            return plain(StatusCode::BAD_REQUEST, "bad header parameter");
        };
        headers.append(name, value);
    }

    let body = if param("echo") == Some("1") {
        headers
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        OriginBody::full(echo_json(&parts, body_len))
    } else if let Some(n) = number("stream_bytes") {
        OriginBody::pattern(n)
    } else if param("endless") == Some("1") {
        OriginBody::endless()
    } else if let Some(chunks) = raw_param("chunks") {
        // Split before decoding, so that `%7C` is a literal `|`.
        OriginBody::chunks(
            chunks
                .split('|')
                .map(|c| Bytes::from(percent_decode_bytes(c)))
                .collect(),
        )
    } else if let Some(n) = number("body_size") {
        OriginBody::sized(n)
    } else if let Some(raw) = raw_param("body") {
        OriginBody::full(percent_decode_bytes(raw))
    } else {
        OriginBody::empty()
    };

    if let Some(ms) = number("delay_head_ms") {
        // Deliberate behaviour, not synchronisation: a slow origin.
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn echo_json(parts: &http::request::Parts, body_len: u64) -> String {
    let headers: Vec<[String; 2]> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            [
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ]
        })
        .collect();
    serde_json::json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body_len": body_len,
    })
    .to_string()
}

fn websocket(
    parts: &http::request::Parts,
    on_upgrade: OnUpgrade,
    shared: &Shared,
) -> Response<OriginBody> {
    let key = parts.headers.get("sec-websocket-key").cloned();
    let (true, Some(key)) = (wants_upgrade(&parts.headers, "websocket"), key) else {
        return plain(StatusCode::UPGRADE_REQUIRED, "websocket upgrade required");
    };
    shared.spawn_owned(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            // Pings are answered and closes acknowledged by tungstenite itself.
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    let mut resp = switching("websocket");
    resp.headers_mut().insert(
        "sec-websocket-accept",
        HeaderValue::from_str(&derive_accept_key(key.as_bytes())).unwrap(),
    );
    resp
}

fn raw_upgrade(
    parts: &http::request::Parts,
    on_upgrade: OnUpgrade,
    shared: &Shared,
) -> Response<OriginBody> {
    if !wants_upgrade(&parts.headers, "x-echo") {
        return plain(StatusCode::UPGRADE_REQUIRED, "x-echo upgrade required");
    }
    shared.spawn_owned(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        if tokio::io::copy(&mut reader, &mut writer).await.is_ok() {
            let _ = writer.shutdown().await;
        }
    });
    switching("x-echo")
}

/// Splits a query string into decoded `(name, value)` pairs, in order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space); malformed escapes stay literal;
/// bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// Like [`percent_decode`], keeping the bytes as they are.
pub fn percent_decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}
