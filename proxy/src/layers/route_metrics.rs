//! Counts every response by route and status class, as the client gets it (so it sits outside
//! the layers that may replace a response).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::layers::request_filter::RequestContext;
use crate::metrics::RouteStats;

#[derive(Debug, Clone, Copy, Default)]
pub struct RouteMetricsLayer;

impl<S> Layer<S> for RouteMetricsLayer {
    type Service = RouteMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RouteMetrics<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for RouteMetrics<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let stats = req
            .extensions()
            .get::<RequestContext>()
            .map(|c| c.stats.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            stats,
        }
    }
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        stats: Option<Arc<RouteStats>>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(out) => out,
        };
        if let (Ok(res), Some(stats)) = (&out, this.stats.take()) {
            stats.response(res.status());
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::StatusCode;
    use rampart_config::{Config, Overrides};
    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::layers::request_filter::{ConnInfo, RequestFilterLayer};
    use crate::state::Shared;

    #[tokio::test]
    async fn counts_the_status_class_under_the_route() {
        let config = Config::from_overrides(&Overrides {
            upstream: Some("http://127.0.0.1:9".to_owned()),
            ..Overrides::default()
        })
        .unwrap();
        let shared = Shared::from_config(config, None, Overrides::default()).unwrap();
        let conn = ConnInfo {
            peer: "127.0.0.1:1".parse().unwrap(),
            tls: false,
        };
        let svc = RequestFilterLayer::new(shared.clone(), conn).layer(RouteMetricsLayer.layer(
            service_fn(|req: Request<()>| async move {
                let status = if req.uri().path() == "/missing" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::OK
                };
                Ok::<_, Infallible>(Response::builder().status(status).body(()).unwrap())
            }),
        ));
        for path in ["/", "/a", "/missing"] {
            let req = Request::get(path).body(()).unwrap();
            svc.clone().oneshot(req).await.unwrap();
        }
        let text = shared.metrics().render();
        let route = &shared
            .snapshot()
            .config
            .routes
            .iter()
            .next()
            .unwrap()
            .name
            .clone();
        for line in [
            format!(r#"rampart_responses_total{{route="{route}",class="2xx"}} 2"#),
            format!(r#"rampart_responses_total{{route="{route}",class="4xx"}} 1"#),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
    }
}
