//! A pull-request comment: one summary table, then each target's details folded away.
//!
//! Evidence comes from the probed server, so every piece of report text is escaped: a hostile
//! header value must not be able to inject links, images or HTML into the comment.

use std::fmt::Write as _;

use super::{Counts, RenderOptions, Summary, plural};
use crate::model::{Report, TargetReport};

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let command = opts.command.trim();
    if command.is_empty() {
        out.push_str("## rampart-verify\n\n");
    } else {
        let _ = writeln!(out, "## rampart-verify {}\n", cell(command));
    }

    let summary = Summary::of(report);
    let _ = write!(out, "**{}**: {}", summary.targets, summary.severities);
    if summary.errors > 0 {
        let _ = write!(out, "; **{} could not be examined**", summary.errors);
    }
    out.push_str("\n\n");

    out.push_str("| Target | Grade | Score | High | Medium | Low | Info |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for target in &report.targets {
        let counts = Counts::of(target);
        let grade = if target.error.is_some() {
            "error".to_owned()
        } else {
            target.grade.as_deref().map_or_else(|| "–".to_owned(), cell)
        };
        let score = target
            .score
            .map_or_else(|| "–".to_owned(), |s| s.to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&target.target),
            grade,
            score,
            counts.high,
            counts.medium,
            counts.low,
            counts.info
        );
    }

    for target in &report.targets {
        out.push('\n');
        details(&mut out, target);
    }
    out
}

fn details(out: &mut String, target: &TargetReport) {
    let counts = Counts::of(target);
    let mut summary = html(&target.target);
    if target.error.is_some() {
        summary.push_str(" — could not be examined");
    } else {
        if let Some(grade) = &target.grade {
            let _ = write!(summary, " — grade {}", html(grade));
        }
        let _ = write!(
            summary,
            " — {} finding{}",
            counts.total(),
            plural(counts.total())
        );
    }
    // The blank line after <summary> is what makes GitHub render the Markdown inside <details>.
    let _ = writeln!(out, "<details>\n<summary>{summary}</summary>\n");

    if let Some(error) = &target.error {
        let _ = writeln!(out, "**Error:** {}\n", cell(error));
    }
    if target.url != target.target && !target.url.is_empty() {
        let _ = writeln!(out, "Fetched: {}\n", cell(&target.url));
    }
    if let Some(account) = &target.account {
        let _ = writeln!(out, "Account: {}\n", cell(account));
    }

    if !target.findings.is_empty() {
        out.push_str("| Severity | Finding | Evidence | Fix |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for f in &target.findings {
            let _ = writeln!(
                out,
                "| {} | {}<br>{} | {} | {} |",
                f.severity.as_str(),
                cell(&f.title),
                code(&f.id),
                cell(&f.evidence),
                cell(&f.remediation)
            );
        }
        out.push('\n');
    } else if target.error.is_none() {
        out.push_str("No findings.\n\n");
    }

    if !target.tests.is_empty() {
        out.push_str("**Observatory tests**\n\n");
        out.push_str("| Test | Result | Score modifier | Pass |\n");
        out.push_str("| --- | --- | ---: | --- |\n");
        for t in &target.tests {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&t.name),
                cell(&t.result),
                signed(t.score_modifier),
                if t.pass { "pass" } else { "**fail**" }
            );
        }
        out.push('\n');
    }

    if !target.advice.is_empty() {
        out.push_str("**Advice**\n\n");
        for advice in &target.advice {
            let _ = writeln!(out, "- {}", cell(advice));
        }
        out.push('\n');
    }
    out.push_str("</details>\n");
}

/// Escapes text for a table cell (or any inline Markdown): backslash-escapes the punctuation
/// that could start markup, turns line breaks into `<br>` so the row stays one line, and drops
/// control characters.
pub(super) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '!' | '~' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("<br>");
                }
            }
            '\n' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional overrides would let hostile text display differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A code span when the text can be one; otherwise escaped plain text.
fn code(s: &str) -> String {
    if s.is_empty() || s.contains(['`', '\n', '\r']) || s.chars().any(char::is_control) {
        cell(s)
    } else {
        // Inside a table even a code span needs its pipes escaped (GFM tables split first).
        format!("`{}`", s.replace('|', "\\|"))
    }
}

/// Escapes text for raw HTML (the `<summary>` line), where Markdown escapes do not apply.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn signed(n: i32) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}
