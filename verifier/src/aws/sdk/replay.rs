//! A replaying HTTP client for the SDK audits' unit tests: the real SDK clients serialise, sign,
//! send (here), retry, parse and fail exactly as in production; only the socket is replaced by
//! recorded AWS answers (wire-format fixtures), matched by method, path and query.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// A text the request body must contain (STS calls all go to `POST /`).
    body_contains: Option<String>,
    /// A text the host must contain (the region is in API Gateway's host name).
    host_contains: Option<String>,
    /// How often it may answer; `None`: always.
    uses: Option<usize>,
}

#[derive(Debug, Default)]
struct State {
    /// Every request, as `METHOD /path?sorted-query`.
    seen: Vec<String>,
    used: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Replay {
    exchanges: Vec<Exchange>,
    state: Arc<Mutex<State>>,
}

/// `METHOD /path?a=1&b=2` into its parts; the query is compared as a set.
fn parse(request: &str) -> (String, String, BTreeMap<String, String>) {
    let (method, target) = request.split_once(' ').unwrap_or(("GET", request));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (method.to_owned(), path.to_owned(), query)
}

fn describe(method: &str, path: &str, query: &BTreeMap<String, String>) -> String {
    if query.is_empty() {
        format!("{method} {path}")
    } else {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{method} {path}?{}", q.join("&"))
    }
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Answers `request` (`METHOD /path?query`) with `status` and `body` (a wire fixture).
    pub fn on(mut self, request: &str, status: u16, content_type: &str, body: &str) -> Replay {
        let (method, path, query) = parse(request);
        self.exchanges.push(Exchange {
            method,
            path,
            query,
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.to_owned(),
            body_contains: None,
            host_contains: None,
            uses: None,
        });
        self
    }

    /// Lets the last answer match only requests whose body contains `needle`
    /// (`Action=AssumeRole`).
    pub fn when_body(mut self, needle: &str) -> Replay {
        if let Some(e) = self.exchanges.last_mut() {
            e.body_contains = Some(needle.to_owned());
        }
        self
    }

    /// Adds a header to the last answer (API Gateway names its errors in `x-amzn-ErrorType`).
    pub fn header(mut self, name: &str, value: &str) -> Replay {
        if let Some(e) = self.exchanges.last_mut() {
            e.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Lets the last answer match only requests to a host containing `needle` (a region).
    pub fn when_host(mut self, needle: &str) -> Replay {
        if let Some(e) = self.exchanges.last_mut() {
            e.host_contains = Some(needle.to_owned());
        }
        self
    }

    /// Lets the last answer be given only `n` times; later matches fall through to the next
    /// answer for the same request (a throttled call, then a successful retry).
    pub fn times(mut self, n: usize) -> Replay {
        if let Some(e) = self.exchanges.last_mut() {
            e.uses = Some(n);
        }
        self
    }

    /// Every request sent so far.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.seen.clone())
            .unwrap_or_default()
    }

    /// How many requests started with `prefix` (e.g. `GET /2020-05-31/distribution`).
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    /// A configuration as the standard chain would load it, but with static test credentials,
    /// us-east-1, this client as the HTTP client, and retries whose backoff is 1 ms.
    pub async fn config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(self.clone())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDREPLAY",
                "replay-secret",
                None,
                None,
                "replay",
            )))
            .region(Region::new("us-east-1"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .load()
            .await
    }

    fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let uri = url::Url::parse(req.uri()).ok();
        let path = uri
            .as_ref()
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let query: BTreeMap<String, String> = uri
            .as_ref()
            .map(|u| {
                u.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let host = uri
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let method = req.method().to_owned();
        let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).into_owned();
        let Ok(mut state) = self.state.lock() else {
            return respond(500, &[], "replay state poisoned");
        };
        if state.used.len() < self.exchanges.len() {
            state.used.resize(self.exchanges.len(), 0);
        }
        state.seen.push(describe(&method, &path, &query));
        let found = self.exchanges.iter().enumerate().find(|(i, e)| {
            e.method == method
                && e.path == path
                && e.query == query
                && e.body_contains
                    .as_ref()
                    .is_none_or(|n| body.contains(n.as_str()))
                && e.host_contains
                    .as_ref()
                    .is_none_or(|n| host.contains(n.as_str()))
                && e.uses.is_none_or(|n| state.used[*i] < n)
        });
        match found {
            Some((i, e)) => {
                state.used[i] += 1;
                respond(e.status, &e.headers, &e.body)
            }
            // 418: not retried by the SDK, and plainly not an AWS answer.
            None => respond(
                418,
                &[],
                &format!("no fixture for {}", describe(&method, &path, &query)),
            ),
        }
    }
}

fn respond(status: u16, headers: &[(String, String)], body: &str) -> HttpResponse {
    let code = StatusCode::try_from(status).expect("fixtures use valid statuses");
    let mut resp = HttpResponse::new(code, SdkBody::from(body.to_owned()));
    for (k, v) in headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

impl HttpConnector for Replay {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(self.answer(&request)))
    }
}

impl HttpClient for Replay {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
