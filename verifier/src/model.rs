//! The report every command produces and every output format renders.
//!
//! The JSON form of [`Report`] is a stable, documented interface (`version` 1): fields are only
//! ever added.

use serde::Serialize;

/// How much a finding matters; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Header,
    Cookie,
    Cors,
    Transport,
    Leak,
    Policy,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Header => "header",
            Category::Cookie => "cookie",
            Category::Cors => "cors",
            Category::Transport => "transport",
            Category::Leak => "leak",
            Category::Policy => "policy",
        }
    }
}

/// One problem found on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `csp-implemented-with-unsafe-inline`, `leak-aws-arn`,
    /// `policy-header-missing`. The same id always means the same check (SARIF rule id).
    pub id: String,
    /// The check this finding belongs to (a [`Check::id`]); JUnit reports it as a failure of
    /// that testcase.
    pub check: String,
    pub category: Category,
    pub severity: Severity,
    /// One line for a human.
    pub title: String,
    /// What was observed, with secrets redacted.
    pub evidence: String,
    /// The exact header value (or setting) to send, and the rampart policy line that does it.
    pub remediation: String,
}

/// A check that ran on a target, whether or not it produced findings (JUnit needs passing
/// testcases too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// e.g. `observatory/content-security-policy`, `policy/x-frame-options`, `leak/error-probe-not-found`.
    pub id: String,
    pub description: String,
}

/// An Observatory-compatible test result (MDN HTTP Observatory, algorithm version 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The Observatory's test name, e.g. `content-security-policy`.
    pub name: String,
    /// The Observatory's result name, e.g. `csp-implemented-with-unsafe-inline`.
    pub result: String,
    pub score_modifier: i32,
    pub pass: bool,
}

/// Everything found for one target (a URL for `probe`; a distribution behavior, an API's
/// response type or a template resource for `audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// What the user named (the URL as given, or the resource id).
    pub target: String,
    /// The AWS account the resource belongs to (`audit cloudfront` / `audit apigateway`), so a
    /// multi-account run says whose resource each finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The URL finally fetched (after redirects), or the resource's locator.
    pub url: String,
    /// HTTP status of the main response, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Observatory score and grade, for probed URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestResult>,
    /// Sorted by severity (high first), then id, then evidence: deterministic.
    pub findings: Vec<Finding>,
    #[serde(skip)]
    pub checks: Vec<Check>,
    /// Unscored advice (e.g. CSP without `object-src`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<String>,
    /// Set when the target could not be examined (the command exits 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TargetReport {
    pub fn new(target: impl Into<String>, url: impl Into<String>) -> TargetReport {
        TargetReport {
            target: target.into(),
            account: None,
            url: url.into(),
            status: None,
            score: None,
            grade: None,
            tests: Vec::new(),
            findings: Vec::new(),
            checks: Vec::new(),
            advice: Vec::new(),
            error: None,
        }
    }

    /// Puts findings in their documented order.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.evidence.cmp(&b.evidence))
        });
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The whole output of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    /// In the order the user gave them.
    pub targets: Vec<TargetReport>,
}

impl Report {
    pub fn new(targets: Vec<TargetReport>) -> Report {
        Report {
            version: 1,
            targets,
        }
    }

    /// True when any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.targets
            .iter()
            .flat_map(|t| &t.findings)
            .any(|f| f.severity >= threshold)
    }
}
