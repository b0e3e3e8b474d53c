//! Clients for tests: raw HTTP/1.x over a TcpStream (to see the exact
//! framing and header lines a server sends), a plain reqwest client, h2c and
//! WebSocket helpers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;

/// How long one read may wait for bytes before the test fails. A failsafe
/// against a hung server, never a synchronisation device.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`RawConn::is_closed_by_peer`] watches the socket.
pub const CLOSE_WATCH: Duration = Duration::from_secs(2);

/// One HTTP/1.x response as it came off the wire.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines in wire order, duplicates kept, names as sent.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked encoding removed).
    pub body: Vec<u8>,
    /// `HTTP/1.1` or `HTTP/1.0` as on the status line.
    pub version: String,
    pub reason: String,
    /// Sizes of the chunks of a chunked body, in order; `None` when the body
    /// was not chunked.
    pub chunk_sizes: Option<Vec<usize>>,
    /// Trailer lines of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl RawResponse {
    /// The first value of `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, one per header line, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// How many header lines carry `name`.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn is_chunked(&self) -> bool {
        self.chunk_sizes.is_some()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as is on a fresh connection and reads one response.
/// A request starting with `HEAD ` is answered without a body.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut conn = RawConn::connect(addr).await;
    conn.send(request).await;
    if request.starts_with(b"HEAD ") {
        conn.read_head_response().await
    } else {
        conn.read_response().await
    }
}

/// A raw HTTP/1.x connection for keep-alive, pipelining and malformed input.
/// Bytes read past one response stay buffered for the next.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    io_timeout: Duration,
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            io_timeout: IO_TIMEOUT,
        }
    }

    /// Replaces [`IO_TIMEOUT`] for this connection, for a server that is
    /// meant to be slow.
    pub fn set_io_timeout(&mut self, timeout: Duration) {
        self.io_timeout = timeout;
    }

    /// Writes all of `bytes`; panics if the peer is gone.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .await
            .unwrap_or_else(|e| panic!("raw send failed: {e}"));
    }

    /// Writes all of `bytes`, reporting a closed peer as an error.
    pub async fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads one response, its body framed by the status, Transfer-Encoding
    /// and Content-Length (RFC 9112 §6.3), else read until the peer closes.
    /// A 1xx response is returned on its own; read again for the final one.
    pub async fn read_response(&mut self) -> RawResponse {
        let mut resp = self.read_head().await;
        match framing(&resp) {
            Framing::None => {}
            Framing::Length(n) => {
                self.fill_to(n).await;
                resp.body = self.buf.drain(..n).collect();
            }
            Framing::Chunked => self.read_chunked(&mut resp).await,
            Framing::UntilClose => {
                while self.fill().await > 0 {}
                resp.body = std::mem::take(&mut self.buf);
            }
        }
        resp
    }

    /// Reads a response's head only: for HEAD requests, whose responses
    /// announce a body they do not carry.
    pub async fn read_head_response(&mut self) -> RawResponse {
        self.read_head().await
    }

    /// True if the peer closes (EOF or reset) within [`CLOSE_WATCH`] and no
    /// unread bytes are pending. Bytes that arrive instead are kept.
    pub async fn is_closed_by_peer(&mut self) -> bool {
        self.is_closed_by_peer_within(CLOSE_WATCH).await
    }

    pub async fn is_closed_by_peer_within(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut tmp = [0u8; 4096];
        match tokio::time::timeout(wait, self.stream.read(&mut tmp)).await {
            Ok(Ok(0)) => true,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&tmp[..n]);
                false
            }
            Ok(Err(e)) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            Err(_) => false,
        }
    }

    /// The socket and any bytes read but not consumed, e.g. to speak another
    /// protocol after a 101.
    pub fn into_inner(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    // Reads more into the buffer; 0 means EOF (a reset counts as EOF).
    async fn fill(&mut self) -> usize {
        let mut tmp = [0u8; 16 * 1024];
        match tokio::time::timeout(self.io_timeout, self.stream.read(&mut tmp)).await {
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&tmp[..n]);
                n
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => 0,
            Ok(Err(e)) => panic!("raw read failed: {e}"),
            Err(_) => panic!(
                "no bytes from the server within {:?}; buffered so far: {:?}",
                self.io_timeout,
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    async fn fill_to(&mut self, len: usize) {
        while self.buf.len() < len {
            if self.fill().await == 0 {
                panic!(
                    "connection closed after {} of {len} expected bytes",
                    self.buf.len()
                );
            }
        }
    }

    async fn read_line(&mut self) -> String {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).take(pos).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            if self.fill().await == 0 {
                panic!(
                    "connection closed inside a line: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    async fn read_head(&mut self) -> RawResponse {
        let head = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..pos + 4).take(pos).collect();
                break String::from_utf8_lossy(&head).into_owned();
            }
            if self.fill().await == 0 {
                panic!(
                    "connection closed before a complete response head; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        };
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_owned();
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let reason = parts.next().unwrap_or_default().to_owned();
        RawResponse {
            status,
            headers: parse_fields(lines),
            version,
            reason,
            ..RawResponse::default()
        }
    }

    async fn read_chunked(&mut self, resp: &mut RawResponse) {
        let mut sizes = Vec::new();
        loop {
            let line = self.read_line().await;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            if size == 0 {
                break;
            }
            self.fill_to(size + 2).await;
            resp.body.extend(self.buf.drain(..size));
            let crlf: Vec<u8> = self.buf.drain(..2).collect();
            assert_eq!(crlf, b"\r\n", "chunk not followed by CRLF");
            sizes.push(size);
        }
        let mut trailer_lines = Vec::new();
        loop {
            let line = self.read_line().await;
            if line.is_empty() {
                break;
            }
            trailer_lines.push(line);
        }
        resp.trailers = parse_fields(trailer_lines.iter().map(String::as_str));
        resp.chunk_sizes = Some(sizes);
    }
}

fn framing(resp: &RawResponse) -> Framing {
    if resp.status < 200 || resp.status == 204 || resp.status == 304 {
        return Framing::None;
    }
    if let Some(te) = resp.header_all("transfer-encoding").last() {
        let last = te.rsplit(',').next().unwrap_or_default().trim();
        return if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else {
            Framing::UntilClose
        };
    }
    match resp.header("content-length") {
        Some(len) => Framing::Length(
            len.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad Content-Length {len:?}")),
        ),
        None => Framing::UntilClose,
    }
}

fn parse_fields<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: a continuation of the previous value.
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
    fields
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A reqwest client that takes no proxy from the environment, follows no
/// redirect and decodes no content encoding.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Like [`http_client`], speaking h2c with prior knowledge.
pub fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

/// GET `path` over h2c with prior knowledge, on a fresh connection.
pub async fn h2c_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut builder = Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    h2c_send(addr, builder.body(Bytes::new()).unwrap()).await
}

/// Sends `req` over h2c with prior knowledge on a fresh connection and
/// collects the response. The URI should be absolute (it gives :authority).
pub async fn h2c_send(addr: SocketAddr, req: Request<Bytes>) -> Response<Bytes> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req.map(Full::new)).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    drop(sender);
    // Dropping the sender ends the connection; wait so no task outlives us.
    let _ = driver.await;
    Response::from_parts(parts, body)
}

/// Opens a WebSocket to `ws://addr{path}` over a plain TcpStream.
pub async fn ws_connect(addr: SocketAddr, path: &str) -> WebSocketStream<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), stream)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    ws
}
