//! Failures while proxying, classified by where they came from (pingora's split): the upstream
//! (502/504), the downstream client (400), or the proxy itself (500).

use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route matches this request")]
    NoRoute,
    #[error("cannot connect to the upstream: {0}")]
    UpstreamConnect(#[source] BoxError),
    #[error("the upstream did not answer in time ({0:?})")]
    UpstreamTimeout(std::time::Duration),
    #[error("the upstream failed: {0}")]
    Upstream(#[source] BoxError),
    #[error("the client's request could not be read: {0}")]
    Downstream(#[source] BoxError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl ProxyError {
    /// The status a client sees. The detail never reaches the client, only the log.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::UpstreamConnect(_) | ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Downstream(_) => StatusCode::BAD_REQUEST,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Which side failed, for the access log and metrics.
    pub fn source_kind(&self) -> &'static str {
        match self {
            ProxyError::NoRoute | ProxyError::Downstream(_) => "downstream",
            ProxyError::UpstreamConnect(_)
            | ProxyError::UpstreamTimeout(_)
            | ProxyError::Upstream(_) => "upstream",
            ProxyError::Internal(_) => "internal",
        }
    }

    /// Sorts an upstream client failure: could not connect (502), too slow (504), the
    /// client's own body failed (400), anything else the upstream did (502).
    pub fn from_upstream(e: crate::upstream::UpstreamError) -> ProxyError {
        use crate::upstream::UpstreamError as E;
        match e {
            E::ConnectTimeout { after, .. } => ProxyError::UpstreamTimeout(after),
            E::ResponseTimeout(after) => ProxyError::UpstreamTimeout(after),
            E::Connect { .. } | E::Tls { .. } => ProxyError::UpstreamConnect(Box::new(e)),
            E::RequestBody(_) => ProxyError::Downstream(Box::new(e)),
            E::Write(_)
            | E::Read(_)
            | E::ClosedBeforeResponse
            | E::Malformed(_)
            | E::HeadTooLarge(_) => ProxyError::Upstream(Box::new(e)),
        }
    }
}
