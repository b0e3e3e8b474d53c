//! The header-policy layer on a ready response: nanoseconds per response, against the same
//! response passed through without the layer.

// A bench fails loudly on broken setup; that is what unwrap is for here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request, Response};
use rampart_config::{HeaderPolicy, presets};
use rampart_proxy::layers::header_policy::{HeaderPolicyLayer, apply};
use tower_layer::Layer;
use tower_service::Service;

/// What a typical unhardened origin sends.
fn origin_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("content-type", "application/json"),
        ("content-length", "148"),
        ("date", "Sun, 22 Nov 2026 12:00:00 GMT"),
        ("server", "nginx/1.18.0"),
        ("x-powered-by", "Express"),
        ("x-amzn-requestid", "6f1c2b7a-0d4e-4b8e-9a51-3c2f1e0d9b8a"),
        ("etag", "\"abc\""),
        ("cache-control", "no-cache"),
    ] {
        h.insert(n, HeaderValue::from_static(v));
    }
    h
}

/// An origin stand-in whose response is ready at once.
#[derive(Clone)]
struct ReadyOrigin(HeaderMap);

impl Service<Request<()>> for ReadyOrigin {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        let mut res = Response::new(());
        *res.headers_mut() = self.0.clone();
        ready(Ok(res))
    }
}

fn poll_once<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the bench services are always ready"),
    }
}

fn bench(c: &mut Criterion) {
    let strict =
        Arc::new(HeaderPolicy::compile("strict", presets::preset("strict").unwrap()).unwrap());
    let headers = origin_headers();

    c.bench_function("apply strict (HTTP)", |b| {
        b.iter_batched_ref(
            || headers.clone(),
            |h| black_box(apply(&strict, h, false)),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("apply strict (HTTPS, with HSTS)", |b| {
        b.iter_batched_ref(
            || headers.clone(),
            |h| black_box(apply(&strict, h, true)),
            criterion::BatchSize::SmallInput,
        )
    });

    let mut bare = ReadyOrigin(headers.clone());
    c.bench_function("ready response without the layer", |b| {
        b.iter(|| black_box(poll_once(bare.call(Request::new(())))))
    });
    let mut layered = HeaderPolicyLayer::new(strict.clone()).layer(ReadyOrigin(headers.clone()));
    c.bench_function("ready response through HeaderPolicyLayer (strict)", |b| {
        b.iter(|| black_box(poll_once(layered.call(Request::new(())))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
