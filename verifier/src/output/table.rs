//! Plain text for a terminal.
//!
//! Evidence is whatever the probed server sent, so control characters (escape sequences could
//! rewrite the terminal) and bidirectional overrides (could make text read differently from
//! what it is) are shown as visible `\u{..}` escapes, never passed through.

use std::fmt::Write as _;

use super::{RenderOptions, Summary};
use crate::model::{Report, Severity, TargetReport};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let style = Style { color: opts.color };
    let mut out = String::new();
    for (i, target) in report.targets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_target(&mut out, target, style);
    }
    if !report.targets.is_empty() {
        out.push('\n');
    }

    let summary = Summary::of(report);
    let _ = write!(out, "Summary: {}, {}", summary.targets, summary.severities);
    if summary.errors > 0 {
        let _ = write!(out, "; {} could not be examined", summary.errors);
    }
    out.push('\n');
    out
}

#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn severity(self, severity: Severity, padded: &str) -> String {
        let code = match severity {
            Severity::High => "\x1b[1;31m",
            Severity::Medium => "\x1b[33m",
            Severity::Low => "\x1b[36m",
            Severity::Info => "\x1b[2m",
        };
        self.paint(code, padded)
    }
}

fn render_target(out: &mut String, target: &TargetReport, style: Style) {
    let mut header = style.paint(BOLD, &clean(&target.target));
    if let Some(account) = &target.account {
        let _ = write!(header, "  account {}", clean(account));
    }
    if let Some(error) = &target.error {
        let mut lines = error.trim().lines().map(str::trim);
        let _ = writeln!(
            out,
            "{header}  {} {}",
            style.paint("\x1b[1;31m", "ERROR"),
            clean(lines.next().unwrap_or_default())
        );
        for line in lines {
            let _ = writeln!(out, "    {}", clean(line));
        }
        if target.url != target.target && !target.url.is_empty() {
            let _ = writeln!(out, "  url: {}", clean(&target.url));
        }
        return;
    }
    if let Some(status) = target.status {
        let _ = write!(header, "  status {status}");
    }
    if let Some(grade) = &target.grade {
        let _ = write!(header, "  grade {}", clean(grade));
    }
    if let Some(score) = target.score {
        let _ = write!(header, "  score {score}");
    }
    let _ = writeln!(out, "{header}");
    if target.url != target.target && !target.url.is_empty() {
        let _ = writeln!(out, "  url: {}", clean(&target.url));
    }

    if !target.tests.is_empty() {
        out.push_str("  Observatory tests\n");
        let rows: Vec<[String; 4]> = target
            .tests
            .iter()
            .map(|t| {
                [
                    clean(&t.name),
                    clean(&t.result),
                    signed(t.score_modifier),
                    if t.pass { "pass" } else { "FAIL" }.to_owned(),
                ]
            })
            .collect();
        let heading = [
            "TEST".to_owned(),
            "RESULT".to_owned(),
            "MODIFIER".to_owned(),
            String::new(),
        ];
        let w0 = width(rows.iter().map(|r| &r[0]).chain([&heading[0]]));
        let w1 = width(rows.iter().map(|r| &r[1]).chain([&heading[1]]));
        let w2 = width(rows.iter().map(|r| &r[2]).chain([&heading[2]]));
        for row in std::iter::once(&heading).chain(&rows) {
            let line = format!(
                "    {}  {}  {}  {}",
                pad(&row[0], w0),
                pad(&row[1], w1),
                pad_left(&row[2], w2),
                row[3]
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }

    if target.findings.is_empty() {
        out.push_str("  No findings\n");
    } else {
        out.push_str("  Findings\n");
        let sev_width = target
            .findings
            .iter()
            .map(|f| f.severity.as_str().len())
            .max()
            .unwrap_or(0);
        let ids: Vec<String> = target.findings.iter().map(|f| clean(&f.id)).collect();
        let id_width = width(ids.iter());
        let indent = " ".repeat(4 + sev_width + 2);
        for (f, id) in target.findings.iter().zip(&ids) {
            let sev = pad(&f.severity.as_str().to_ascii_uppercase(), sev_width);
            let _ = writeln!(
                out,
                "    {}  {}  {}",
                style.severity(f.severity, &sev),
                pad(id, id_width),
                clean(&f.title)
            );
            labelled(out, &indent, "evidence", &f.evidence);
            labelled(out, &indent, "fix", &f.remediation);
        }
    }

    if !target.advice.is_empty() {
        out.push_str("  Advice\n");
        for advice in &target.advice {
            let _ = writeln!(out, "    - {}", clean(advice));
        }
    }
}

/// Writes `label: text`, with continuation lines of multi-line text indented under the text.
fn labelled(out: &mut String, indent: &str, label: &str, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let continuation = " ".repeat(indent.len() + label.len() + 2);
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{indent}{label}: {}", clean(line));
        } else {
            let _ = writeln!(out, "{continuation}{}", clean(line));
        }
    }
}

/// One line of untrusted text made safe to print: controls and bidi overrides escaped.
pub(super) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn width<'a>(cells: impl Iterator<Item = &'a String>) -> usize {
    cells.map(|c| c.chars().count()).max().unwrap_or(0)
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn pad_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(width.saturating_sub(n)))
}

fn signed(n: i32) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}
