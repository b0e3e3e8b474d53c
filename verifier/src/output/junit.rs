//! JUnit XML in the Jenkins/Ant dialect that Jenkins, GitLab and GitHub test reporters read.
//!
//! One testsuite per target and one testcase per check that ran, so passing checks show up as
//! passing tests. Findings at or above `--fail-on` fail their check's testcase; findings below
//! it are informational and go to that testcase's `<system-out>`, which keeps the CI verdict
//! and the JUnit verdict the same.

use std::fmt::Write as _;

use super::RenderOptions;
use crate::model::{Finding, Report, Severity, TargetReport};

/// The testcase name for a target that could not be examined.
pub(super) const OPERATIONAL_ERROR_CASE: &str = "rampart-operational-error";

struct Case<'a> {
    name: &'a str,
    error: Option<&'a str>,
    failing: Vec<&'a Finding>,
    passing: Vec<&'a Finding>,
}

struct Suite<'a> {
    target: &'a TargetReport,
    cases: Vec<Case<'a>>,
}

impl Suite<'_> {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| !c.failing.is_empty()).count()
    }

    fn errors(&self) -> usize {
        self.cases.iter().filter(|c| c.error.is_some()).count()
    }
}

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let suites: Vec<Suite<'_>> = report
        .targets
        .iter()
        .map(|t| suite(t, opts.fail_on))
        .collect();
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(Suite::failures).sum();
    let errors: usize = suites.iter().map(Suite::errors).sum();

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rampart-verify\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"0\">"
    );
    for suite in &suites {
        write_suite(&mut out, suite);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(target: &TargetReport, fail_on: Severity) -> Suite<'_> {
    let mut cases = Vec::new();
    if let Some(error) = &target.error {
        cases.push(Case {
            name: OPERATIONAL_ERROR_CASE,
            error: Some(error),
            failing: Vec::new(),
            passing: Vec::new(),
        });
    }
    let mut names: Vec<&str> = target.checks.iter().map(|c| c.id.as_str()).collect();
    // A finding whose check is missing from `checks` must still be reported, or a bug in a
    // check's bookkeeping would turn a failure into silence.
    for finding in &target.findings {
        if !names.contains(&finding.check.as_str()) {
            names.push(&finding.check);
        }
    }
    for name in names {
        let (failing, passing) = target
            .findings
            .iter()
            .filter(|f| f.check == name)
            .partition(|f| f.severity >= fail_on);
        cases.push(Case {
            name,
            error: None,
            failing,
            passing,
        });
    }
    Suite { target, cases }
}

fn write_suite(out: &mut String, suite: &Suite<'_>) {
    let target = suite.target;
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"0\">",
        attr(&target.target),
        suite.cases.len(),
        suite.failures(),
        suite.errors()
    );
    let mut properties = vec![("url", target.url.clone())];
    if let Some(account) = &target.account {
        properties.push(("account", account.clone()));
    }
    if let Some(status) = target.status {
        properties.push(("status", status.to_string()));
    }
    if let Some(score) = target.score {
        properties.push(("score", score.to_string()));
    }
    if let Some(grade) = &target.grade {
        properties.push(("grade", grade.clone()));
    }
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    out.push_str("    </properties>\n");
    for case in &suite.cases {
        write_case(out, &target.target, case);
    }
    if !target.advice.is_empty() {
        let advice: Vec<String> = target
            .advice
            .iter()
            .map(|a| format!("advice: {a}"))
            .collect();
        let _ = writeln!(
            out,
            "    <system-out>{}</system-out>",
            text(&advice.join("\n"))
        );
    }
    out.push_str("  </testsuite>\n");
}

fn write_case(out: &mut String, classname: &str, case: &Case<'_>) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        attr(classname),
        attr(case.name)
    );
    if case.error.is_none() && case.failing.is_empty() && case.passing.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if let Some(error) = case.error {
        let _ = writeln!(
            out,
            "      <error message=\"{}\" type=\"operational\">{}</error>",
            attr(error),
            text(error)
        );
    }
    // Findings arrive sorted worst first, so the first failing one names the testcase's failure;
    // one <failure> element per testcase is what the Ant schema allows.
    if let Some(worst) = case.failing.first() {
        let mut message = worst.title.clone();
        if case.failing.len() > 1 {
            let _ = write!(message, " (+{} more)", case.failing.len() - 1);
        }
        let body: Vec<String> = case.failing.iter().map(|f| describe(f)).collect();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            attr(&message),
            worst.severity.as_str(),
            text(&body.join("\n\n"))
        );
    }
    if !case.passing.is_empty() {
        let body: Vec<String> = case.passing.iter().map(|f| describe(f)).collect();
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            text(&body.join("\n\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

fn describe(finding: &Finding) -> String {
    let mut s = format!(
        "[{}] {}: {}",
        finding.severity.as_str(),
        finding.id,
        finding.title
    );
    if !finding.evidence.is_empty() {
        let _ = write!(s, "\nEvidence: {}", finding.evidence);
    }
    if !finding.remediation.is_empty() {
        let _ = write!(s, "\nFix: {}", finding.remediation);
    }
    s
}

/// Escapes for an attribute value. Tabs and line breaks become character references because
/// a parser would otherwise normalise them to spaces.
fn attr(s: &str) -> String {
    escape(s, true)
}

/// Escapes for element content.
fn text(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A raw CR is turned into LF by every parser; the reference survives.
            '\r' => out.push_str("&#13;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            c if is_xml10_char(c) => out.push(c),
            // Not representable in XML 1.0 at all, not even as a character reference.
            _ => {}
        }
    }
    out
}

/// The XML 1.0 `Char` production (surrogates cannot occur in a Rust `char`).
fn is_xml10_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
