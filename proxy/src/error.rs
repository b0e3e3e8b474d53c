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

    /// Sorts a client error from hyper-util into connect / timeout / other.
    pub fn from_client(
        e: hyper_util::client::legacy::Error,
        connect_timeout: std::time::Duration,
    ) -> ProxyError {
        if e.is_connect() {
            if chain_has_timeout(&e) {
                return ProxyError::UpstreamTimeout(connect_timeout);
            }
            return ProxyError::UpstreamConnect(Box::new(e));
        }
        // A failure reading the client's body surfaces as a client error whose source is ours.
        if chain_has_user_body(&e) {
            return ProxyError::Downstream(Box::new(e));
        }
        ProxyError::Upstream(Box::new(e))
    }
}

fn chain_has_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        if err.to_string().contains("timed out") {
            return true;
        }
        cur = err.source();
    }
    false
}

fn chain_has_user_body(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && h.is_user()
        {
            return true;
        }
        cur = err.source();
    }
    false
}
