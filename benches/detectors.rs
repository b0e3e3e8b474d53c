//! Leak-detector throughput: the proxy runs `is_leaky` on every error body it
//! forwards, so the clean-body rate is the number that matters most; `scan`
//! is the verifier's path.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_config::leak::DetectorSet;

/// A JSON-ish error body of exactly `len` bytes with nothing leaky in it.
/// Repetitive but varied enough (digits, paths, timestamps, UUIDs) to keep
/// the near-miss cases of several detectors busy.
fn clean_body(len: usize) -> Vec<u8> {
    const LINES: &[&str] = &[
        r#"{"timestamp":"2024-01-15T10:30:00.123Z","status":404,"error":"Not Found","#,
        r#""path":"/api/users/42","requestId":"550e8400-e29b-41d4-a716-446655440000","#,
        r#""message":"The requested resource was not found on this server.","#,
        r#""ts":1700000000000,"version":"1.10.0","retryAfter":30,"hint":"check the id"},"#,
        "<p>Sorry, the page you are looking for does not exist. Please go back.</p>\n",
    ];
    let mut out = Vec::with_capacity(len + 128);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(LINES[i % LINES.len()].as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A clean body of `len` bytes with an API Gateway ARN near the end, the
/// worst case for an early-exit search.
fn leaky_body(len: usize) -> Vec<u8> {
    let arn = br#" "arn:aws:execute-api:us-west-2:********2543:vd2gh6uqw3/api/GET/" "#;
    let mut out = clean_body(len);
    let at = len - arn.len() - 16;
    out[at..at + arn.len()].copy_from_slice(arn);
    out
}

fn detectors(c: &mut Criterion) {
    let set = DetectorSet::builtin();
    let cases = [
        ("clean_1k", clean_body(1 << 10)),
        ("leaky_1k", leaky_body(1 << 10)),
        ("clean_64k", clean_body(64 << 10)),
        ("leaky_64k", leaky_body(64 << 10)),
    ];
    for (name, body) in &cases {
        // A bench over a body that does not behave as named measures nothing.
        assert_eq!(set.is_leaky(body), name.starts_with("leaky"), "{name}");

        let mut g = c.benchmark_group(format!("detectors/{name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("is_leaky", |b| b.iter(|| set.is_leaky(black_box(body))));
        g.bench_function("scan", |b| b.iter(|| set.scan(black_box(body))));
        g.finish();
    }
}

criterion_group!(benches, detectors);
criterion_main!(benches);
