//! What can go wrong talking to an upstream, kept apart by cause so the rescue layer can pick
//! 502 or 504 and the client is never blamed for the upstream's fault (or the reverse).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: String, after: Duration },
    #[error("TLS handshake with {addr}: {source}")]
    Tls {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sending the request: {0}")]
    Write(#[source] std::io::Error),
    #[error("reading the response: {0}")]
    Read(#[source] std::io::Error),
    #[error("the upstream did not answer within {0:?}")]
    ResponseTimeout(Duration),
    #[error("the upstream closed the connection before answering")]
    ClosedBeforeResponse,
    #[error("the upstream sent a malformed response head: {0}")]
    Malformed(&'static str),
    #[error("the upstream's response head is larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("reading the client's request body: {0}")]
    RequestBody(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl UpstreamError {
    /// True when nothing of the response arrived and the connection, not the request, is the
    /// likely cause: a reused keep-alive connection the upstream had just closed.
    pub(crate) fn is_stale_connection(&self) -> bool {
        match self {
            UpstreamError::ClosedBeforeResponse => true,
            UpstreamError::Write(e) | UpstreamError::Read(e) => matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

/// A failure while streaming a response body from the upstream.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("reading the upstream body: {0}")]
    Io(#[from] std::io::Error),
    #[error("the upstream closed the connection {0} bytes before the end of the body")]
    Truncated(u64),
    #[error("the upstream closed the connection inside a chunked body")]
    TruncatedChunked,
    #[error("malformed chunked encoding from the upstream: {0}")]
    Chunked(&'static str),
}
