//! Rescue: the one place where failures become responses. Every proxy-made error is generic
//! (status text and a correlation id); the detail goes to the log only.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use rampart_config::{ErrorBodyPolicy, Templates};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::ProxyError;
use crate::generic::{self, ClientPrefs, Flavor, RequestId, X_REQUEST_ID};
use crate::layers::request_filter::RequestContext;

#[derive(Debug, Clone, Copy, Default)]
pub struct RescueLayer;

impl<S> Layer<S> for RescueLayer {
    type Service = Rescue<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Rescue { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Rescue<S> {
    inner: S,
}

/// Which side failed, attached to rescued responses for the access log.
#[derive(Debug, Clone, Copy)]
pub struct FailureSource(pub &'static str);

impl<S, B> Service<Request<B>> for Rescue<S>
where
    S: Service<Request<B>, Response = Response<ResponseBody>, Error = ProxyError>,
{
    type Response = Response<ResponseBody>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
            // The inner services are always ready; should one ever fail here, the error
            // surfaces on the call instead.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let ctx = req.extensions().get::<RequestContext>();
        let meta = ErrorMeta {
            // Without a context (the layer used on its own), what the request says directly.
            prefs: ctx.map_or_else(|| ClientPrefs::of(req.headers()), |c| c.prefs.clone()),
            head: req.method() == Method::HEAD,
            templates: ctx.map(|c| c.error_bodies().clone()),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            meta: Some(meta),
        }
    }
}

struct ErrorMeta {
    prefs: ClientPrefs,
    head: bool,
    templates: Option<Arc<ErrorBodyPolicy>>,
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        meta: Option<ErrorMeta>,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, ProxyError>>,
{
    type Output = Result<Response<ResponseBody>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(res)) => Poll::Ready(Ok(res)),
            Poll::Ready(Err(e)) => {
                let meta = this.meta.take().unwrap_or(ErrorMeta {
                    prefs: ClientPrefs::default(),
                    head: false,
                    templates: None,
                });
                let status = e.status();
                let request_id = meta.prefs.request_id().unwrap_or_else(RequestId::generate);
                if status == StatusCode::NOT_FOUND {
                    tracing::debug!(error = %e, request_id = request_id.as_str(), "no route");
                } else {
                    tracing::warn!(
                        error = %e,
                        source = e.source_kind(),
                        request_id = request_id.as_str(),
                        "request failed"
                    );
                }
                let empty = BTreeMap::new();
                let templates = meta.templates.as_ref().map_or(&empty, |t| &t.templates);
                let mut res = generic_response(
                    status,
                    meta.prefs.flavor(),
                    meta.head,
                    request_id,
                    templates,
                );
                res.extensions_mut().insert(FailureSource(e.source_kind()));
                Poll::Ready(Ok(res))
            }
        }
    }
}

/// A generic response for `status`: the policy's template or the built-in body, the correlation
/// id as `X-Request-Id`, no body on HEAD, correct Content-Length either way.
pub fn generic_response(
    status: StatusCode,
    flavor: Flavor,
    head: bool,
    request_id: RequestId,
    templates: &BTreeMap<u16, Templates>,
) -> Response<ResponseBody> {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = status;
    parts.headers.insert(CONTENT_TYPE, flavor.content_type());
    let mut res = with_generic_body(parts, flavor, head, request_id, templates);
    res.extensions_mut().insert(ProxyGenerated);
    res
}

/// The generic body for `parts.status` over a head that says so already: Content-Type is the
/// flavor's and no Content-Length is left (the caller cleared the old body's headers in its own
/// walk). Sets X-Request-Id, and Content-Length on HEAD.
pub fn with_generic_body(
    mut parts: http::response::Parts,
    flavor: Flavor,
    head: bool,
    request_id: RequestId,
    templates: &BTreeMap<u16, Templates>,
) -> Response<ResponseBody> {
    let body = generic::render_for(templates, parts.status, flavor, Some(&request_id));
    let h = &mut parts.headers;
    if head {
        // A HEAD response's Content-Length describes the body a GET would get. Otherwise the
        // body's exact size states it (both HTTP/1.1 writers and HTTP/2 use that).
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    if let Some(id) = request_id.into_header_value() {
        h.insert(&X_REQUEST_ID, id);
    }
    let body = if head {
        ResponseBody::empty()
    } else {
        ResponseBody::full(body)
    };
    Response::from_parts(parts, body)
}

/// Marks a response the proxy wrote itself: already generic, nothing to inspect.
#[derive(Debug, Clone, Copy)]
pub struct ProxyGenerated;

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use tower::service_fn;

    use super::*;

    async fn rescued(err: fn() -> ProxyError, req: Request<()>) -> Response<ResponseBody> {
        let svc = RescueLayer.layer(service_fn(move |_req: Request<()>| async move {
            Err::<Response<ResponseBody>, _>(err())
        }));
        svc.oneshot(req).await.unwrap()
    }

    #[tokio::test]
    async fn errors_are_classified_by_source() {
        for (err, status) in [
            (|| ProxyError::NoRoute, 404),
            (
                || ProxyError::UpstreamTimeout(std::time::Duration::from_secs(1)),
                504,
            ),
            (
                || {
                    ProxyError::UpstreamConnect(
                        "connection refused (os error 111) to 10.0.0.7:8080".into(),
                    )
                },
                502,
            ),
            (|| ProxyError::Downstream("client went away".into()), 400),
            (|| ProxyError::Internal("bug".into()), 500),
        ] as [(fn() -> ProxyError, u16); 5]
        {
            let res = rescued(err, Request::new(())).await;
            assert_eq!(res.status().as_u16(), status);
            assert!(res.extensions().get::<ProxyGenerated>().is_some());
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("10.0.0.7") && !text.contains("os error"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn head_gets_no_body_but_the_length_of_one() {
        let req = Request::builder()
            .method(Method::HEAD)
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let res = rescued(|| ProxyError::NoRoute, req).await;
        assert_eq!(res.headers()["x-request-id"], "abc-1");
        let expected = generic::render(
            StatusCode::NOT_FOUND,
            Flavor::Json,
            RequestId::parse("abc-1").as_ref(),
        )
        .len();
        assert_eq!(res.headers()[CONTENT_LENGTH], expected.to_string().as_str());
        assert!(
            res.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn successes_pass_untouched() {
        let svc = RescueLayer.layer(service_fn(|_req: Request<()>| async {
            Ok::<_, ProxyError>(Response::new(ResponseBody::full("fine")))
        }));
        let res = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.extensions().get::<ProxyGenerated>().is_none());
    }
}
