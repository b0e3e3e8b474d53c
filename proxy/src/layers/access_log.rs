//! Access log: one line per request, written when the response body is finished (or abandoned),
//! so it carries the real byte count and total latency.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Buf;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::layers::request_filter::RequestContext;
use crate::layers::rescue::{FailureSource, ProxyGenerated};

#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

struct Pending {
    method: Method,
    uri: Uri,
    route: Option<String>,
    start: Instant,
}

impl<S, B, ResBody> Service<Request<B>> for AccessLog<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The switch is read per request so a reload can turn logging on or off.
        let pending = req
            .extensions()
            .get::<RequestContext>()
            .filter(|c| c.runtime.config.server.access_log)
            .map(|c| Pending {
                method: req.method().clone(),
                uri: req.uri().clone(),
                route: c.route.as_ref().map(|r| r.name.clone()),
                start: Instant::now(),
            });
        ResponseFuture {
            inner: self.inner.call(req),
            pending,
        }
    }
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<LoggedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(res)) => res,
        };
        let line = this.pending.take().map(|p| {
            Box::new(Line {
                method: p.method,
                uri: p.uri,
                route: p.route,
                start: p.start,
                status: res.status(),
                // Every response but the proxy's own carries the upstream's status (the error
                // body filter keeps it when it replaces a body).
                upstream_status: res
                    .extensions()
                    .get::<ProxyGenerated>()
                    .is_none()
                    .then(|| res.status()),
                failure: res.extensions().get::<FailureSource>().map(|f| f.0),
                bytes: 0,
            })
        });
        Poll::Ready(Ok(res.map(|inner| LoggedBody { inner, line })))
    }
}

struct Line {
    method: Method,
    uri: Uri,
    route: Option<String>,
    start: Instant,
    status: StatusCode,
    upstream_status: Option<StatusCode>,
    failure: Option<&'static str>,
    bytes: u64,
}

impl Drop for Line {
    fn drop(&mut self) {
        tracing::info!(
            target: "rampart::access",
            method = %self.method,
            path = self.uri.path(),
            route = self.route.as_deref().unwrap_or("-"),
            status = self.status.as_u16(),
            upstream_status = self.upstream_status.map(|s| s.as_u16()),
            failure = self.failure,
            latency_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            bytes = self.bytes,
            "request"
        );
    }
}

pin_project! {
    /// A response body that writes the access-log line when it is dropped.
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        line: Option<Box<Line>>,
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let (Poll::Ready(Some(Ok(f))), Some(line)) = (&frame, this.line.as_mut())
            && let Some(d) = f.data_ref()
        {
            line.bytes += d.remaining() as u64;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
