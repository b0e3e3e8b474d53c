//! An MDN HTTP Observatory-compatible grader (scoring algorithm version 6).
//!
//! Given what a probe observed about one URL, [`evaluate`] produces every test's Observatory
//! result name, score modifier and pass flag, then the score and grade exactly as the
//! Observatory computes them: start at 100, add every modifier, but count the positive ones
//! (bonuses) only when the score from the penalties alone is at least 90; a negative total
//! counts as 0; the grade comes from the score rounded down to a multiple of 5 (capped at 100).
//!
//! The tests and their order follow the Observatory's (`content-security-policy`, `cookies`,
//! `cross-origin-embedder-policy`, `cross-origin-opener-policy`,
//! `cross-origin-resource-sharing`, `redirection`, `referrer-policy`,
//! `strict-transport-security`, `x-content-type-options`, `x-frame-options`,
//! `cross-origin-resource-policy`; COEP and COOP joined the scored tests in August 2026 without
//! a new algorithm version), with the Observatory's quirks kept where they change a result:
//! headers sent twice are read folded into one comma-joined value, cookies are judged as a
//! cookie jar stores them, several CSPs are intersected with the Observatory's algorithm.
//!
//! Not reproduced, because [`Observed`] does not carry what they need:
//! - `subresource-integrity` needs the page's `<script>` elements: it is left out, which is
//!   what the Observatory's verdict amounts to (modifier 0) for non-HTML responses, pages
//!   without scripts and pages whose scripts are all same-site.
//! - Cookies set by intermediate redirect responses (only the final response's `Set-Cookie`
//!   lines are known), and the public suffix list (only single-label and IP `Domain`s are
//!   refused).
//! - The HSTS preload list: `hsts_preloaded` covers the probed host and its subdomains.
//! - Which certificate a redirect met: `redirection-invalid-cert` is given when the `http://`
//!   chain reaches an `https://` URL and `certificate_valid` is `Some(false)`.
//! - The Observatory refuses to grade a final status other than 2xx, 3xx, 401 or 403; this
//!   grader grades whatever it is given.
//!
//! One deliberate difference: the Observatory means to report
//! `cross-origin-resource-sharing-implemented-with-universal-access` (-50) when the site echoes
//! the probe's `Origin` with `Access-Control-Allow-Credentials: true`, but in production it
//! reads the `Origin` back from a request object that does not expose it, so that result never
//! occurs there. This grader applies the rule as written and tested by the Observatory.

pub mod csp;

mod cookies;
mod headers;
mod js;
mod names;
mod rules;
mod sf;

#[cfg(test)]
mod tests;

use url::Url;

use crate::model::TestResult;
use headers::NodeHeaders;
use rules::{Ctx, Outcome};

/// The Observatory scoring algorithm this grader reproduces.
pub const ALGORITHM_VERSION: u32 = 6;

/// Bonuses count only when the penalties alone leave at least this score.
const MINIMUM_SCORE_FOR_EXTRA_CREDIT: i32 = 90;

/// Response types whose `<meta>` tags the Observatory reads.
const HTML_TYPES: [&str; 2] = ["text/html", "application/xhtml+xml"];

/// What a probe observed about one URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The URL as probed (after following redirects, the final one).
    pub final_url: String,
    /// Response headers of the final response, as received (duplicates kept, any case).
    pub headers: Vec<(String, String)>,
    /// Response headers to the same request sent with `Origin: <probe_origin>` (for CORS).
    pub cors_headers: Vec<(String, String)>,
    pub probe_origin: String,
    /// The redirect chain when the `http://` form of the URL was fetched: every hop's URL and
    /// status, the last being the final response. None when that fetch was not possible (an
    /// empty chain is read the same way).
    pub http_redirects: Option<Vec<Hop>>,
    /// Redirect chain of the main fetch (the URL as given), same shape (the first hop is the
    /// URL given).
    pub redirects: Vec<Hop>,
    /// None for http:// targets; Some(true/false) for https (whether the certificate of the
    /// final response verified).
    pub certificate_valid: Option<bool>,
    /// Whether the host is on the HSTS preload list (we have no list offline: callers pass
    /// false unless known). Taken to cover the host's subdomains too.
    pub hsts_preloaded: bool,
    /// `<meta>` values from an HTML body, if the page was HTML, as (name, content). A name of
    /// `Content-Security-Policy` (an `http-equiv`) adds a policy, intersected with the header's,
    /// as in the Observatory, which ignores `frame-ancestors`, `report-uri` and `sandbox` there.
    /// A name of `referrer` stands for `<meta name="referrer">`, which the Observatory reads as
    /// a Referrer-Policy overriding the header (the last one counts). Other names are ignored,
    /// as are all of them when the response's `Content-Type` is not `text/html` or
    /// `application/xhtml+xml`.
    pub meta_http_equiv: Vec<(String, String)>,
}

/// One response of a redirect chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hop {
    pub url: String,
    pub status: u16,
}

/// The Observatory's verdict on one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// In the Observatory's test order.
    pub tests: Vec<TestResult>,
    /// 0 and up; above 100 when bonuses count.
    pub score: i32,
    /// `A+`, `A`, `A-`, `B+`, ..., `D-`, `F`.
    pub grade: String,
    /// Unscored CSP advice (e.g. `CSP has no object-src (and no default-src 'none')`).
    pub advice: Vec<String>,
}

/// Grades one URL.
pub fn evaluate(o: &Observed) -> Evaluation {
    let ctx = context(o);
    let csp = rules::content_security_policy(&ctx);
    let hsts = rules::strict_transport_security(&ctx);
    let results: [(&str, Outcome); 11] = [
        ("content-security-policy", csp.outcome),
        ("cookies", rules::cookies(&ctx, hsts.pass)),
        (
            "cross-origin-embedder-policy",
            rules::cross_origin_embedder_policy(&ctx),
        ),
        (
            "cross-origin-opener-policy",
            rules::cross_origin_opener_policy(&ctx),
        ),
        (
            "cross-origin-resource-sharing",
            rules::cross_origin_resource_sharing(&ctx),
        ),
        ("redirection", rules::redirection(&ctx)),
        ("referrer-policy", rules::referrer_policy(&ctx)),
        ("strict-transport-security", hsts),
        (
            "x-content-type-options",
            rules::x_content_type_options(&ctx),
        ),
        ("x-frame-options", rules::x_frame_options(&ctx, &csp)),
        (
            "cross-origin-resource-policy",
            rules::cross_origin_resource_policy(&ctx),
        ),
    ];
    let tests: Vec<TestResult> = results
        .iter()
        .map(|(name, outcome)| TestResult {
            name: (*name).to_owned(),
            result: outcome.result.to_owned(),
            score_modifier: names::modifier(outcome.result),
            pass: outcome.pass,
        })
        .collect();
    let score = score(tests.iter().map(|t| t.score_modifier));
    Evaluation {
        tests,
        score,
        grade: grade_for(score).to_owned(),
        advice: csp.advice,
    }
}

/// The Observatory's total: bonuses only on top of an A (penalty-only score of 90 or more),
/// never below 0.
fn score(modifiers: impl Iterator<Item = i32>) -> i32 {
    let (mut with_bonuses, mut penalties_only) = (100i32, 100i32);
    for m in modifiers {
        with_bonuses = with_bonuses.saturating_add(m);
        if m < 0 {
            penalties_only = penalties_only.saturating_add(m);
        }
    }
    let score = if penalties_only >= MINIMUM_SCORE_FOR_EXTRA_CREDIT {
        with_bonuses
    } else {
        penalties_only
    };
    score.max(0)
}

/// The Observatory's grade chart: the score rounded down to a multiple of 5, capped at 100.
pub fn grade_for(score: i32) -> &'static str {
    let score = score.max(0);
    match (score - score % 5).min(100) {
        100 => "A+",
        90..=99 => "A",
        85..=89 => "A-",
        80..=84 => "B+",
        70..=79 => "B",
        65..=69 => "B-",
        60..=64 => "C+",
        50..=59 => "C",
        45..=49 => "C-",
        40..=44 => "D+",
        30..=39 => "D",
        25..=29 => "D-",
        _ => "F",
    }
}

fn context(o: &Observed) -> Ctx<'_> {
    let auto = NodeHeaders::new(&o.headers);
    let start = o
        .redirects
        .first()
        .map_or(o.final_url.as_str(), |h| h.url.as_str());
    let start = Url::parse(start).ok();
    let html = auto.get("content-type").is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default();
        HTML_TYPES.contains(&mime)
    });
    let meta = |wanted: &str| -> Vec<String> {
        if !html {
            return Vec::new();
        }
        o.meta_http_equiv
            .iter()
            .filter(|(name, content)| {
                js::trim(&name.to_lowercase()) == wanted && !content.is_empty()
            })
            .map(|(_, content)| content.clone())
            .collect()
    };
    let mut meta_referrer = meta("referrer");
    if meta_referrer.len() > 1 {
        meta_referrer.drain(..meta_referrer.len() - 1);
    }
    Ctx {
        auto,
        cors: NodeHeaders::new(&o.cors_headers),
        probe_origin: &o.probe_origin,
        session_https: start.as_ref().is_some_and(|u| u.scheme() == "https"),
        site_host: start
            .as_ref()
            .and_then(Url::host_str)
            .map(str::to_ascii_lowercase),
        final_url: Url::parse(&o.final_url).ok(),
        certificate_valid: o.certificate_valid,
        hsts_preloaded: o.hsts_preloaded,
        meta_csp: meta("content-security-policy"),
        meta_referrer,
        http_route: o
            .http_redirects
            .as_ref()
            .map(|hops| hops.iter().map(|h| Url::parse(&h.url).ok()).collect()),
    }
}
