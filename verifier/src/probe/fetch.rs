//! HTTP fetching for the probe: one client, redirects followed by hand so every hop is recorded,
//! bodies read up to a cap, the leaf certificate kept for the transport check.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use url::Url;

/// The most redirects followed before giving up (the Observatory's own limit is similar).
const MAX_REDIRECTS: usize = 10;

/// What one exchange returned.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, up to the cap given to the fetch.
    pub body: Bytes,
    /// DER of the server's leaf certificate, for https.
    pub peer_certificate: Option<Vec<u8>>,
}

impl Exchange {
    /// Headers as (name, value) pairs in received order; values that are not UTF-8 are decoded
    /// lossily so malformed headers are still graded, never a panic.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }
}

/// A redirect chain: every hop, the last being the final response.
#[derive(Debug, Clone)]
pub struct Chain {
    pub hops: Vec<Exchange>,
}

impl Chain {
    pub fn last(&self) -> Option<&Exchange> {
        self.hops.last()
    }
}

/// Why a fetch failed, in words for a one-line error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: timed out after {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: cannot connect: {cause}")]
    Connect { url: String, cause: String },
    #[error("{url}: TLS failure: {cause}")]
    Tls { url: String, cause: String },
    #[error("{url}: {cause}")]
    Other { url: String, cause: String },
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects { url: String },
}

pub struct Fetcher {
    client: reqwest::Client,
    /// With --insecure: a verifying client, to still tell whether the certificate is valid.
    verifying: Option<reqwest::Client>,
    timeout: Duration,
    extra_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

#[derive(Debug, Clone, Default)]
pub struct FetcherOptions {
    pub timeout: Duration,
    pub insecure: bool,
    pub extra_headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Extra CA certificates (PEM) to trust, e.g. a staging environment's private CA.
    pub ca_pem: Vec<Vec<u8>>,
}

impl Fetcher {
    pub fn new(opts: &FetcherOptions) -> Result<Fetcher, String> {
        let client = Self::client(opts, opts.insecure)?;
        let verifying = if opts.insecure {
            Some(Self::client(opts, false)?)
        } else {
            None
        };
        Ok(Fetcher {
            client,
            verifying,
            timeout: opts.timeout,
            extra_headers: opts.extra_headers.clone(),
        })
    }

    fn client(opts: &FetcherOptions, insecure: bool) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tls_info(true)
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .user_agent(concat!("rampart-verify/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(insecure);
        for pem in &opts.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("cannot read the CA file: {e}"))?;
            b = b.tls_certs_merge(certs);
        }
        b.build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))
    }

    /// Whether `url`'s certificate verifies. Without --insecure every successful fetch already
    /// proved it; with it, one verifying request tells.
    pub async fn certificate_verifies(&self, url: &Url) -> bool {
        match &self.verifying {
            None => true,
            Some(c) => match c.head(url.clone()).send().await {
                Ok(_) => true,
                Err(e) => !matches!(classify(url, &e, self.timeout), FetchError::Tls { .. }),
            },
        }
    }

    /// One request, no redirects followed.
    pub async fn once(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body_cap: usize,
    ) -> Result<Exchange, FetchError> {
        let mut req = self.client.request(method, url.clone());
        for (n, v) in &self.extra_headers {
            req = req.header(n, v);
        }
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let mut res = req
            .send()
            .await
            .map_err(|e| classify(url, &e, self.timeout))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let peer_certificate = res
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(<[u8]>::to_vec);
        let mut body = BytesMut::new();
        while body.len() < body_cap {
            match res.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c[..c.len().min(body_cap - body.len())]),
                Ok(None) => break,
                // A body cut short is still evidence; the head already arrived.
                Err(e) if e.is_timeout() => break,
                Err(_) => break,
            }
        }
        Ok(Exchange {
            url: url.clone(),
            status,
            headers,
            body: body.freeze(),
            peer_certificate,
        })
    }

    /// GET following redirects, recording each hop.
    pub async fn follow(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
        body_cap: usize,
    ) -> Result<Chain, FetchError> {
        let mut hops = Vec::new();
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let ex = self.once(Method::GET, &current, headers, body_cap).await?;
            let next = (300..400)
                .contains(&ex.status)
                .then(|| ex.headers.get(http::header::LOCATION))
                .flatten()
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok());
            hops.push(ex);
            match next {
                Some(n) => current = n,
                None => return Ok(Chain { hops }),
            }
        }
        Err(FetchError::TooManyRedirects {
            url: url.to_string(),
        })
    }
}

fn classify(url: &Url, e: &reqwest::Error, timeout: Duration) -> FetchError {
    let url_s = url.to_string();
    let cause = root_cause(e);
    if e.is_timeout() {
        return FetchError::Timeout {
            url: url_s,
            secs: timeout.as_secs().max(1),
        };
    }
    let lower = cause.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("unknownissuer")
    {
        return FetchError::Tls { url: url_s, cause };
    }
    if e.is_connect() {
        return FetchError::Connect { url: url_s, cause };
    }
    FetchError::Other { url: url_s, cause }
}

/// The innermost error message: "dns error: failed to lookup address information", not
/// "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    let mut msg = e.to_string();
    while let Some(next) = cur.source() {
        msg = next.to_string();
        cur = next;
    }
    msg
}
