//! The header-policy layer's own cost: `apply` alone, and the same tower service with and without
//! `HeaderPolicyLayer`, over response header maps built the way the upstream client builds them.
//! The run ends with a summary: the layer's cost, its ratio to the pass-through service, and its
//! share of a whole proxied request (benches/README.md's figures).
//!
//! ```sh
//! cargo bench -p rampart-benches --bench header_policy
//! ```

// A bench fails loudly on broken setup; that is what unwrap is for here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::{Future, ready};
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion};
use http::{HeaderMap, Request, Response, Uri};
use rampart_config::{HeaderPolicy, presets};
use rampart_proxy::layers::header_policy::{HeaderPolicyLayer, apply};
use rampart_proxy::layers::policy_lines::DeferredLines;
use rampart_proxy::upstream::parse_response_headers;
use tower::service_fn;
use tower_layer::Layer;
use tower_service::Service;

/// A typical unhardened origin's response head (what benches/load.sh's origin sends on the json
/// row, less its x-amz* headers).
const ORIGIN_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
    Server: nginx/1.22.1\r\n\
    Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n\
    Content-Type: application/json\r\n\
    Content-Length: 148\r\n\
    Connection: keep-alive\r\n\
    X-Powered-By: Express\r\n\
    \r\n";

/// CPU time per proxied request on the load.sh json row (benches/README.md, "Latest figures":
/// 21.9 µs; the seventh and eighth sessions' runs measured 23.4 and 21.5, so it still holds).
const PROXIED_REQUEST_NS: f64 = 21_900.0;

const GROUP: &str = "policy layer";
const PASS_THROUGH: &str = "pass-through";
const LAYER_HTTP: &str = "HeaderPolicyLayer strict, HTTP";
const LAYER_HTTPS: &str = "HeaderPolicyLayer strict, HTTPS";
const FAST_HTTP: &str = "fast path (lines written), HTTP";
const FAST_HTTPS: &str = "fast path (lines written), HTTPS";

fn strict() -> Arc<HeaderPolicy> {
    Arc::new(HeaderPolicy::compile("strict", presets::preset("strict").unwrap()).unwrap())
}

/// The response header map the upstream client hands on for `ORIGIN_HEAD` on a route with
/// `policy` (forward.rs): X-Powered-By and Connection left out, room for the policy's headers.
fn upstream_map(policy: &HeaderPolicy) -> HeaderMap {
    parse_response_headers(
        ORIGIN_HEAD,
        &|n| policy.remove.matches_any_case(n),
        policy.max_headers_added(),
    )
    .unwrap()
}

fn poll_once<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the bench services are always ready"),
    }
}

fn request(uri: &Uri) -> Request<()> {
    let mut req = Request::new(());
    *req.uri_mut() = uri.clone();
    req
}

fn bench_apply(c: &mut Criterion, policy: &Arc<HeaderPolicy>) {
    // A fresh upstream-built map per iteration, built outside the timing.
    for (name, https) in [
        ("apply strict (HTTP)", false),
        ("apply strict (HTTPS, with HSTS)", true),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched_ref(
                || upstream_map(policy),
                |h| black_box(apply(policy, h, https)),
                BatchSize::SmallInput,
            )
        });
    }
}

fn bench_layer(c: &mut Criterion, policy: &Arc<HeaderPolicy>) {
    // The origin: builds the response the upstream client would (parsing the head included),
    // ready at once. The same service is measured bare and inside the layer.
    let origin_policy = policy.clone();
    let origin = service_fn(move |_req: Request<()>| {
        let mut res = Response::new(());
        *res.headers_mut() = upstream_map(&origin_policy);
        ready(Ok::<_, Infallible>(res))
    });
    let http = Uri::from_static("http://example.com/");
    let https = Uri::from_static("https://example.com/");

    let mut group = c.benchmark_group(GROUP);
    let mut bare = origin.clone();
    group.bench_function(PASS_THROUGH, |b| {
        b.iter(|| black_box(poll_once(bare.call(request(&http)))))
    });
    let mut layered = HeaderPolicyLayer::new(policy.clone()).layer(origin.clone());
    for (name, uri) in [(LAYER_HTTP, &http), (LAYER_HTTPS, &https)] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(poll_once(layered.call(request(uri)))))
        });
    }
    // What the proxy's HTTP/1.1 fast path does: the layer leaves its lines to the head writer,
    // which appends them to the head it is writing (the copy is counted here).
    let slot = DeferredLines::new();
    let mut deferring = HeaderPolicyLayer::new(policy.clone())
        .deferring_to(slot.clone())
        .layer(origin);
    let mut head = Vec::with_capacity(2048);
    for (name, uri) in [(FAST_HTTP, &http), (FAST_HTTPS, &https)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                slot.arm();
                let res = poll_once(deferring.call(request(uri)));
                head.clear();
                if let Some(lines) = slot.take() {
                    lines.write(&mut head);
                }
                black_box((res, head.len()))
            })
        });
    }
    group.finish();
}

/// Where criterion keeps its results (its own rule: $CRITERION_HOME, else the target
/// directory's `criterion`).
fn criterion_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    // target/<profile>/deps/<this bench>
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The estimate criterion printed for a benchmark of the group, in ns (its slope, else mean).
fn estimate_ns(home: &std::path::Path, function: &str) -> Option<f64> {
    let file = home.join(GROUP).join(function).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let typical = json
        .get("slope")
        .filter(|s| !s.is_null())
        .or(json.get("mean"))?;
    typical.get("point_estimate")?.as_f64()
}

fn summary() {
    let Some(home) = criterion_home() else { return };
    let Some(bare) = estimate_ns(&home, PASS_THROUGH) else {
        // `--test`, a filter that skipped the group, or `--profile-time`: nothing measured.
        return;
    };
    println!("\nsummary: the policy layer's own cost (strict preset)");
    println!("  {PASS_THROUGH:<34} {bare:>8.1} ns");
    for name in [LAYER_HTTP, LAYER_HTTPS, FAST_HTTP, FAST_HTTPS] {
        let Some(with) = estimate_ns(&home, name) else {
            continue;
        };
        let own = with - bare;
        println!(
            "  {name:<34} {with:>8.1} ns: +{own:.1} ns, {:.2}x the pass-through service, \
             {:.2} % of a proxied request ({:.1} µs CPU)",
            with / bare,
            100.0 * own / PROXIED_REQUEST_NS,
            PROXIED_REQUEST_NS / 1000.0,
        );
    }
}

fn main() {
    let policy = strict();
    let mut c = Criterion::default().configure_from_args();
    bench_apply(&mut c, &policy);
    bench_layer(&mut c, &policy);
    c.final_summary();
    summary();
}
