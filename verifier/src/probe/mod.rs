//! `rampart-verify probe`: fetch each URL, grade it like the Observatory, compare it with the
//! rampart policy, look for leaks (including in deliberately provoked error responses), check
//! its certificate.

pub mod conformance;
pub mod fetch;
pub mod grading;
pub mod leaks;
pub mod transport;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_config::HeaderPolicy;
use rampart_config::leak::DetectorSet;
use tokio::sync::Semaphore;
use url::Url;

use crate::model::{Report, TargetReport};
use crate::observatory::{self, Hop, Observed};
use fetch::{Chain, FetchError, Fetcher, FetcherOptions};

/// The Origin sent by the CORS probe: a site no one allows on purpose.
pub const PROBE_ORIGIN: &str = "https://rampart-verify.invalid";

/// The main page is read up to this much (meta tags, leak scan).
const BODY_CAP: usize = 1024 * 1024;

/// Which policy each URL is held to, if any.
#[derive(Clone)]
pub enum Expectation {
    None,
    /// One policy for every URL (`--preset`, or `--config` with `--route`).
    Fixed(Arc<HeaderPolicy>),
    /// `--config` without `--route`: the route that would serve the URL's host and path.
    ByRoute(Arc<rampart_config::Config>),
}

impl Expectation {
    fn policy_for(&self, url: &Url) -> Option<Arc<HeaderPolicy>> {
        match self {
            Expectation::None => None,
            Expectation::Fixed(p) => Some(p.clone()),
            Expectation::ByRoute(cfg) => {
                let host = url.host_str();
                Some(
                    cfg.routes
                        .select(host, url.path())
                        .map_or_else(|| cfg.default_policy.clone(), |r| r.policy.clone()),
                )
            }
        }
    }
}

/// A validated probe run.
pub struct ProbePlan {
    pub urls: Vec<(String, Url)>,
    pub fetch: FetcherOptions,
    pub expectation: Expectation,
    pub error_probes: bool,
    pub concurrency: usize,
    pub detectors: DetectorSet,
}

/// Probes every URL, at most `concurrency` at once; the report keeps the given order.
pub async fn run(plan: ProbePlan) -> Result<Report, String> {
    let fetcher = Arc::new(Fetcher::new(&plan.fetch)?);
    let plan = Arc::new(plan);
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let total = plan.urls.len();
    let progress = Progress::new(total);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, _) in plan.urls.iter().enumerate() {
        let (plan, fetcher, slots) = (plan.clone(), fetcher.clone(), slots.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let (given, url) = &plan.urls[i];
            (i, probe_one(given, url, &plan, &fetcher).await)
        });
    }
    let mut out: Vec<Option<TargetReport>> = vec![None; total];
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, report) = joined.map_err(|e| format!("a probe task failed: {e}"))?;
        out[i] = Some(report);
        done += 1;
        progress.update(done);
    }
    progress.finish();
    Ok(Report::new(out.into_iter().flatten().collect()))
}

async fn probe_one(given: &str, url: &Url, plan: &ProbePlan, fetcher: &Fetcher) -> TargetReport {
    let mut report = TargetReport::new(given, url.as_str());
    if let Err(e) = examine(&mut report, url, plan, fetcher).await {
        report.error = Some(e.to_string());
    }
    report.sort();
    report
}

async fn examine(
    report: &mut TargetReport,
    url: &Url,
    plan: &ProbePlan,
    fetcher: &Fetcher,
) -> Result<(), FetchError> {
    let chain = fetcher.follow(url, &[], BODY_CAP).await?;
    let Some(last) = chain.last() else {
        return Ok(());
    };
    report.url = last.url.to_string();
    report.status = Some(last.status);
    let https = last.url.scheme() == "https";
    let headers = last.header_pairs();

    let cors = fetcher
        .once(http::Method::GET, &last.url, &[("origin", PROBE_ORIGIN)], 0)
        .await?;
    let http_redirects = if url.scheme() == "https" {
        let mut plain = url.clone();
        // The http:// form of the site is on the default port: a custom https port has no
        // plain twin to try.
        let default_port = url.port().is_none();
        if default_port && plain.set_scheme("http").is_ok() {
            fetcher.follow(&plain, &[], 0).await.ok().map(|c| hops(&c))
        } else {
            None
        }
    } else {
        Some(hops(&chain))
    };
    let cert_ok = if https {
        fetcher.certificate_verifies(&last.url).await
    } else {
        true
    };
    let observed = Observed {
        final_url: last.url.to_string(),
        headers: headers.clone(),
        cors_headers: cors.header_pairs(),
        probe_origin: PROBE_ORIGIN.to_owned(),
        http_redirects,
        redirects: hops(&chain),
        certificate_valid: https.then_some(cert_ok),
        hsts_preloaded: false,
        meta_http_equiv: meta_http_equiv(&last.body),
    };
    let eval = observatory::evaluate(&observed);
    for t in &eval.tests {
        report.checks.push(crate::model::Check {
            id: grading::check_id(&t.name),
            description: format!("Observatory test {}", t.name),
        });
    }
    report.findings.extend(grading::findings(&eval.tests));
    report.score = Some(eval.score);
    report.grade = Some(eval.grade);
    report.tests = eval.tests;
    report.advice = eval.advice;

    report.checks.push(crate::model::Check {
        id: leaks::HEADERS_CHECK.to_owned(),
        description: "no version banners or AWS debug headers".to_owned(),
    });
    leaks::header_leaks(report, last, &plan.detectors, leaks::HEADERS_CHECK);

    if let Some(policy) = plan.expectation.policy_for(&last.url) {
        conformance::check(report, &policy, &headers, https);
    }
    if plan.error_probes {
        leaks::error_probes(report, fetcher, &last.url, &plan.detectors).await?;
    }
    if https {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        transport::check(report, last.peer_certificate.as_deref(), cert_ok, now);
    }
    Ok(())
}

fn hops(chain: &Chain) -> Vec<Hop> {
    chain
        .hops
        .iter()
        .map(|h| Hop {
            url: h.url.to_string(),
            status: h.status,
        })
        .collect()
}

/// `<meta http-equiv="X" content="Y">` pairs from an HTML body (CSP and Referrer-Policy can be
/// set this way). A tolerant scan, not an HTML parser: attribute order and quoting vary.
pub fn meta_http_equiv(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(&body[..body.len().min(256 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<meta") {
        let start = from + i;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &text[start..end];
        match (
            attr(tag, "http-equiv"),
            attr(tag, "name"),
            attr(tag, "content"),
        ) {
            (Some(name), _, Some(content)) => out.push((name, content)),
            // `<meta name="referrer">` sets the Referrer-Policy; the grader takes it by that name.
            (None, Some(name), Some(content)) if name.eq_ignore_ascii_case("referrer") => {
                out.push(("referrer".to_owned(), content));
            }
            _ => {}
        }
        from = end;
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(i) = lower[search..].find(name) {
        let at = search + i;
        search = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[at + name.len()..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let v = tag[value_start..].trim_start();
        return Some(match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or_default().to_owned(),
            _ => v
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    None
}

/// "probing 3/10" on stderr when it is a terminal; nothing otherwise (CI logs stay clean).
struct Progress {
    total: usize,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let tty = std::io::stderr().is_terminal() && total > 0;
        let p = Progress { total, tty };
        p.update(0);
        p
    }

    fn update(&self, done: usize) {
        if self.tty {
            eprint!("\rprobing {done}/{} ", self.total);
        }
    }

    fn finish(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Builds fetcher options from command-line values.
pub fn fetcher_options(
    timeout: Duration,
    insecure: bool,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    ca_pem: Vec<Vec<u8>>,
) -> FetcherOptions {
    FetcherOptions {
        timeout,
        insecure,
        extra_headers: headers,
        ca_pem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_tags_are_found_in_any_quoting() {
        let html = br#"<html><head><META HTTP-EQUIV="Content-Security-Policy" content="default-src 'self'"><meta content='no-referrer' http-equiv='Referrer-Policy'><meta charset=utf-8><meta name="referrer" content="same-origin"></head>"#;
        let m = meta_http_equiv(html);
        assert_eq!(
            m,
            vec![
                (
                    "Content-Security-Policy".to_owned(),
                    "default-src 'self'".to_owned()
                ),
                ("Referrer-Policy".to_owned(), "no-referrer".to_owned()),
                ("referrer".to_owned(), "same-origin".to_owned())
            ]
        );
    }
}
