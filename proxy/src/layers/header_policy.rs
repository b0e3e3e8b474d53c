//! The response filter that makes every response carry the policy's headers.
//!
//! Usable on its own around any tower service whose responses have `http::Response<B>`:
//!
//! ```
//! # use std::sync::Arc;
//! # use rampart_config::{presets, HeaderPolicy};
//! # use rampart_proxy::layers::header_policy::HeaderPolicyLayer;
//! let strict = HeaderPolicy::compile("strict", presets::preset("strict").unwrap()).unwrap();
//! let layer = HeaderPolicyLayer::new(Arc::new(strict));
//! ```
//!
//! Order per response (CloudFront's): remove listed headers, set `Server`, then add each rule
//! (`Override` replaces, `IfAbsent` keeps the origin's value), HSTS last and only on HTTPS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderMap, SERVER};
use http::{Request, Response};
use pin_project_lite::pin_project;
use rampart_config::{HeaderPolicy, Mode, ServerAction};
use tower_layer::Layer;
use tower_service::Service;

use super::policy_lines::{DeferredLines, strip_for_lines};
use crate::header_map::remove_matching;
use crate::layers::request_filter::RequestContext;
use crate::metrics::HeaderCounts;

/// Which policy a request gets and whether its client connection is HTTPS, for the layer used
/// on its own: inserted into the request's extensions by whoever knows, it wins over the
/// layer's own policy. In the proxy's stack the request filter's [`RequestContext`] says it.
#[derive(Debug, Clone)]
pub struct PolicyChoice {
    pub policy: Arc<HeaderPolicy>,
    pub https: bool,
}

/// What one application of the policy did (for metrics and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Headers added where the origin sent none.
    pub injected: u16,
    /// Origin values replaced by ours.
    pub overridden: u16,
    /// Origin values kept because the rule is `IfAbsent`.
    pub kept: u16,
    /// Headers removed by the remove list or `server = false`.
    pub removed: u16,
}

/// Applies `policy` to a response's headers. `https` decides whether HSTS may be sent.
pub fn apply(policy: &HeaderPolicy, headers: &mut HeaderMap, https: bool) -> Applied {
    let mut a = Applied::default();
    if !policy.remove.is_empty() {
        let removed = remove_matching(headers, |name| policy.remove.matches(name));
        a.removed += u16::try_from(removed).unwrap_or(u16::MAX);
    }
    // One growth of the map instead of several as the rules insert.
    headers.reserve(policy.max_headers_added());
    match &policy.server {
        ServerAction::Keep => {}
        ServerAction::Remove => {
            if headers.remove(SERVER).is_some() {
                a.removed += 1;
            }
        }
        // insert() replaces every existing Server line, so it ends up exactly once.
        ServerAction::Set(v) => {
            if headers.insert(SERVER, v.clone()).is_some() {
                a.overridden += 1;
            } else {
                a.injected += 1;
            }
        }
    }
    for rule in &policy.rules {
        set(headers, &rule.name, &rule.value, rule.mode, &mut a);
    }
    if let Some(hsts) = &policy.hsts
        && (https || policy.hsts_force)
    {
        set(headers, &hsts.name, &hsts.value, hsts.mode, &mut a);
    }
    a
}

fn set(
    headers: &mut HeaderMap,
    name: &http::HeaderName,
    value: &http::HeaderValue,
    mode: Mode,
    a: &mut Applied,
) {
    match mode {
        Mode::Override => {
            if headers.insert(name, value.clone()).is_some() {
                a.overridden += 1;
            } else {
                a.injected += 1;
            }
        }
        Mode::IfAbsent => {
            if headers.contains_key(name) {
                a.kept += 1;
            } else {
                headers.insert(name, value.clone());
                a.injected += 1;
            }
        }
    }
}

/// Layer applying a header policy to every response of the wrapped service.
#[derive(Clone)]
pub struct HeaderPolicyLayer {
    policy: Arc<HeaderPolicy>,
    counts: Option<Arc<HeaderCounts>>,
    deferred: Option<Arc<DeferredLines>>,
}

impl HeaderPolicyLayer {
    /// Applies `policy` unless a request carries a [`PolicyChoice`]. Without one, HSTS is sent
    /// when the request URI's scheme is `https` (or the policy forces it).
    pub fn new(policy: Arc<HeaderPolicy>) -> Self {
        HeaderPolicyLayer {
            policy,
            counts: None,
            deferred: None,
        }
    }

    /// Leaves the policy's lines to the caller's head writer for each request it arms `slot`
    /// for (see [`DeferredLines`]); other requests get the policy in their header map.
    pub fn deferring_to(mut self, slot: Arc<DeferredLines>) -> Self {
        self.deferred = Some(slot);
        self
    }

    /// Also adds what each application did to `counts` (atomic adds: no allocation).
    pub fn recording(mut self, counts: Arc<HeaderCounts>) -> Self {
        self.counts = Some(counts);
        self
    }
}

impl<S> Layer<S> for HeaderPolicyLayer {
    type Service = HeaderPolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeaderPolicyService {
            inner,
            policy: self.policy.clone(),
            counts: self.counts.clone(),
            deferred: self.deferred.clone(),
        }
    }
}

/// Service produced by [`HeaderPolicyLayer`].
#[derive(Clone)]
pub struct HeaderPolicyService<S> {
    inner: S,
    policy: Arc<HeaderPolicy>,
    counts: Option<Arc<HeaderCounts>>,
    deferred: Option<Arc<DeferredLines>>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HeaderPolicyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let deferred = self.deferred.as_ref().filter(|d| d.claim()).cloned();
        let uri_https = req.uri().scheme() == Some(&http::uri::Scheme::HTTPS);
        let ext = req.extensions_mut();
        let (policy, https) = if let Some(c) = ext.get_mut::<RequestContext>() {
            // The upstream phase sizes the response's map by this: lines written by the head
            // writer need no room in it.
            c.policy_in_lines = deferred.is_some() && c.policy.renders();
            (c.policy.clone(), c.https)
        } else if let Some(c) = ext.get::<PolicyChoice>() {
            (c.policy.clone(), c.https)
        } else {
            (self.policy.clone(), uri_https)
        };
        ResponseFuture {
            inner: self.inner.call(req),
            policy: Some(policy),
            https,
            counts: self.counts.clone(),
            deferred,
        }
    }
}

pin_project! {
    /// Future of [`HeaderPolicyService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        policy: Option<Arc<HeaderPolicy>>,
        https: bool,
        counts: Option<Arc<HeaderCounts>>,
        deferred: Option<Arc<DeferredLines>>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = match this.inner.poll(cx) {
            Poll::Ready(Ok(res)) => res,
            other => return other,
        };
        if let Some(policy) = this.policy.take() {
            // 101 Switching Protocols hands the connection to another protocol; its headers
            // belong to the handshake, not to a document.
            if res.status() != http::StatusCode::SWITCHING_PROTOCOLS {
                let headers = res.headers_mut();
                // The writer takes the policy's lines when this request was deferred and the
                // policy renders; otherwise they go into the map.
                let deferred = this.deferred.take().and_then(|slot| {
                    let (lines, applied) = strip_for_lines(&policy, headers, *this.https)?;
                    slot.put(lines);
                    Some(applied)
                });
                let applied = deferred.unwrap_or_else(|| apply(&policy, headers, *this.https));
                if let Some(counts) = this.counts {
                    counts.record(applied);
                }
            }
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;
    use rampart_config::{HeaderSpec, PolicySpec, TypedHeader, presets};
    use tower::ServiceExt;
    use tower::service_fn;

    use super::*;

    fn policy(name: &str) -> Arc<HeaderPolicy> {
        Arc::new(HeaderPolicy::compile(name, presets::preset(name).unwrap()).unwrap())
    }

    async fn run(
        policy: Arc<HeaderPolicy>,
        req: Request<()>,
        origin: &'static [(&'static str, &'static str)],
    ) -> Response<()> {
        let svc =
            HeaderPolicyLayer::new(policy).layer(service_fn(move |_req: Request<()>| async move {
                let mut res = Response::new(());
                for (n, v) in origin {
                    res.headers_mut().append(*n, HeaderValue::from_static(v));
                }
                Ok::<_, Infallible>(res)
            }));
        svc.oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn strict_sets_headers_and_server_exactly_once() {
        let res = run(
            policy("strict"),
            Request::new(()),
            &[
                ("server", "nginx/1.18.0"),
                ("server", "gunicorn"),
                ("x-powered-by", "PHP/8.1"),
            ],
        )
        .await;
        let h = res.headers();
        assert_eq!(h.get_all("server").iter().count(), 1);
        assert_eq!(h["server"], "rampart");
        assert!(!h.contains_key("x-powered-by"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(
            !h.contains_key("strict-transport-security"),
            "HSTS only on HTTPS"
        );
    }

    #[tokio::test]
    async fn hsts_on_https_requests() {
        let req = Request::builder()
            .uri("https://example.com/")
            .body(())
            .unwrap();
        let res = run(policy("strict"), req, &[]).await;
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
    }

    #[tokio::test]
    async fn if_absent_keeps_the_origin_value() {
        let mut spec = PolicySpec::empty();
        spec.set(
            TypedHeader::ContentSecurityPolicy,
            Some(HeaderSpec {
                value: "default-src 'none'".into(),
                mode: Mode::IfAbsent,
            }),
        );
        let p = Arc::new(HeaderPolicy::compile("p", spec).unwrap());
        let res = run(
            p.clone(),
            Request::new(()),
            &[("content-security-policy", "default-src 'self'")],
        )
        .await;
        assert_eq!(
            res.headers()["content-security-policy"],
            "default-src 'self'"
        );
        let res = run(p, Request::new(()), &[]).await;
        assert_eq!(
            res.headers()["content-security-policy"],
            "default-src 'none'"
        );
    }

    #[tokio::test]
    async fn wildcard_removes_every_matching_header() {
        let res = run(
            policy("strict"),
            Request::new(()),
            &[
                ("x-amzn-requestid", "1"),
                ("x-amzn-errortype", "AccessDeniedException"),
                ("x-amzn-trace-id", "2"),
                ("x-keep", "1"),
            ],
        )
        .await;
        assert!(
            res.headers()
                .keys()
                .all(|k| !k.as_str().starts_with("x-amzn-"))
        );
        assert!(res.headers().contains_key("x-keep"));
    }

    #[tokio::test]
    async fn policy_choice_extension_wins() {
        let mut req = Request::new(());
        req.extensions_mut().insert(PolicyChoice {
            policy: policy("none"),
            https: true,
        });
        let res = run(policy("strict"), req, &[("server", "nginx/1.18.0")]).await;
        assert_eq!(res.headers()["server"], "nginx/1.18.0");
        assert!(!res.headers().contains_key("x-frame-options"));
    }
}
