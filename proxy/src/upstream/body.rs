//! The body of an upstream response, read straight off the upstream connection as the client
//! takes it. When the body ends cleanly on a keep-alive connection, the connection goes back to
//! its endpoint's idle pool; if the body is dropped early, the connection is closed instead.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

use super::codec::Framing;
use super::error::BodyError;
use super::{Conn, Endpoint};

/// Larger reads for large bodies, so a 64 KiB response is a handful of system calls.
const MAX_READ: usize = 64 * 1024;
/// A chunk-size line (with extensions) or trailer line longer than this is refused.
const MAX_LINE: usize = 8 * 1024;
/// A body read that asks for more than this marks the connection's buffer as a large one.
/// A pooled connection does not keep it: with it, every keep-alive connection held its own
/// 64 KiB buffer, and large bodies went through as many cache-cold buffers as there were
/// connections (copying into them cost the kernel twice what copying into one freed and
/// reused buffer does; benches/README.md, eighth session).
const GROWN: usize = 16 * 1024;

pub struct UpstreamBody {
    conn: Option<Conn>,
    state: State,
    /// Where the connection returns when the body ends; `None` when it must close.
    home: Option<Arc<Endpoint>>,
    /// Whether a read grew the connection's buffer past `GROWN`.
    grown: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl UpstreamBody {
    pub(crate) fn new(conn: Conn, framing: Framing, home: Option<Arc<Endpoint>>) -> UpstreamBody {
        let state = match framing {
            Framing::Empty => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        let mut body = UpstreamBody {
            conn: Some(conn),
            state,
            home: if matches!(framing, Framing::UntilClose) {
                None
            } else {
                home
            },
            grown: false,
        };
        if matches!(body.state, State::Done) {
            body.finish();
        }
        body
    }

    /// A body with nothing in it and no connection behind it.
    pub(crate) fn done() -> UpstreamBody {
        UpstreamBody {
            conn: None,
            state: State::Done,
            home: None,
            grown: false,
        }
    }

    /// The body is complete: hand the connection back for the next request, if it may be reused
    /// and nothing unread is left on it.
    fn finish(&mut self) {
        self.state = State::Done;
        if let (Some(mut conn), Some(home)) = (self.conn.take(), self.home.take())
            && conn.buf.is_empty()
        {
            if self.grown {
                conn.buf = BytesMut::new();
            }
            home.put(conn);
        }
    }

    fn take_data(&mut self, max: u64) -> Option<Bytes> {
        let conn = self.conn.as_mut()?;
        if conn.buf.is_empty() {
            return None;
        }
        let n = conn
            .buf
            .len()
            .min(usize::try_from(max).unwrap_or(usize::MAX));
        Some(conn.buf.split_to(n).freeze())
    }

    /// Reads more bytes into the connection's buffer; `Ok(0)` at end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>, want: u64) -> Poll<Result<usize, BodyError>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        let want = usize::try_from(want)
            .unwrap_or(MAX_READ)
            .clamp(4096, MAX_READ);
        if want > GROWN {
            self.grown = true;
        }
        if conn.buf.is_empty() && conn.buf.capacity() < want {
            // `reserve` on a buffer whose earlier bytes were handed out reallocates it and copies
            // those consumed bytes along (the head and a body's first piece, ~8 KiB per large
            // body); a fresh buffer copies nothing.
            conn.buf = BytesMut::with_capacity(want);
        } else {
            conn.buf.reserve(want);
        }
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut conn.io),
            cx,
            &mut conn.buf
        ))?;
        Poll::Ready(Ok(n))
    }

    /// Finds the end of a CRLF-terminated line at the front of the buffer.
    fn line_end(&self) -> Result<Option<usize>, BodyError> {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(None);
        };
        match conn.buf.windows(2).position(|w| w == b"\r\n") {
            Some(i) => Ok(Some(i)),
            None if conn.buf.len() > MAX_LINE => Err(BodyError::Chunked("line too long")),
            None => Ok(None),
        }
    }

    fn advance(&mut self, n: usize) {
        if let Some(conn) = self.conn.as_mut() {
            let _ = conn.buf.split_to(n);
        }
    }

    fn buffered(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.buf.len())
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Length(left) => {
                    if let Some(data) = this.take_data(left) {
                        let left = left - data.len() as u64;
                        this.state = State::Length(left);
                        if left == 0 {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    if ready!(this.poll_fill(cx, left))? == 0 {
                        this.state = State::Done;
                        this.conn = None;
                        return Poll::Ready(Some(Err(BodyError::Truncated(left))));
                    }
                }
                State::ChunkData(left) => {
                    if let Some(data) = this.take_data(left) {
                        let left = left - data.len() as u64;
                        this.state = if left == 0 {
                            State::ChunkEnd
                        } else {
                            State::ChunkData(left)
                        };
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    if ready!(this.poll_fill(cx, left))? == 0 {
                        return Poll::Ready(Some(Err(this.truncated_chunked())));
                    }
                }
                State::ChunkSize => {
                    let parsed = match this.conn.as_ref() {
                        Some(c) => httparse::parse_chunk_size(&c.buf)
                            .map_err(|_| BodyError::Chunked("invalid chunk size"))?,
                        None => httparse::Status::Partial,
                    };
                    match parsed {
                        httparse::Status::Complete((used, size)) => {
                            this.advance(used);
                            this.state = if size == 0 {
                                State::Trailers
                            } else {
                                State::ChunkData(size)
                            };
                        }
                        httparse::Status::Partial => {
                            if this.buffered() > MAX_LINE {
                                return Poll::Ready(Some(Err(BodyError::Chunked(
                                    "chunk size line too long",
                                ))));
                            }
                            if ready!(this.poll_fill(cx, 0))? == 0 {
                                return Poll::Ready(Some(Err(this.truncated_chunked())));
                            }
                        }
                    }
                }
                State::ChunkEnd => {
                    if this.buffered() >= 2 {
                        let ok = this.conn.as_ref().is_some_and(|c| &c.buf[..2] == b"\r\n");
                        if !ok {
                            return Poll::Ready(Some(Err(BodyError::Chunked(
                                "chunk data not followed by CRLF",
                            ))));
                        }
                        this.advance(2);
                        this.state = State::ChunkSize;
                    } else if ready!(this.poll_fill(cx, 0))? == 0 {
                        return Poll::Ready(Some(Err(this.truncated_chunked())));
                    }
                }
                // Trailer fields are dropped: the client-facing side re-frames the body, and
                // nothing in a proxied trailer is ours to vouch for.
                State::Trailers => match this.line_end()? {
                    Some(0) => {
                        this.advance(2);
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Some(end) => this.advance(end + 2),
                    None => {
                        if ready!(this.poll_fill(cx, 0))? == 0 {
                            return Poll::Ready(Some(Err(this.truncated_chunked())));
                        }
                    }
                },
                State::UntilClose => {
                    if let Some(data) = this.take_data(u64::MAX) {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    if ready!(this.poll_fill(cx, MAX_READ as u64))? == 0 {
                        this.state = State::Done;
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl UpstreamBody {
    fn truncated_chunked(&mut self) -> BodyError {
        self.state = State::Done;
        self.conn = None;
        BodyError::TruncatedChunked
    }
}
