//! Renders a [`Report`] in the formats the CLI offers: a terminal table, the stable JSON
//! interface, SARIF 2.1.0 for GitHub code scanning, JUnit XML for CI test reports, and Markdown
//! for pull-request comments.
//!
//! Every renderer is a pure function of the report and the options, so the same report always
//! renders to the same bytes (CI diffs and SARIF fingerprints depend on that).

use crate::model::{Report, Severity, TargetReport};

mod json;
mod junit;
mod markdown;
mod sarif;
mod table;

#[cfg(test)]
mod tests;

/// An output format, as named by `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    Markdown,
}

impl Format {
    /// Every format, in the order help text lists them.
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Markdown,
    ];

    /// Parses a `--format` value; names are exact and lowercase, as `as_str` prints them.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
        }
    }
}

/// What a renderer needs beyond the report itself.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// JUnit: findings at or above it are `<failure>`s; below it, `<system-out>` lines.
    pub fail_on: Severity,
    /// Table only: ANSI colours. The caller passes true only when stdout is a terminal.
    pub color: bool,
    /// `env!("CARGO_PKG_VERSION")` of the binary, for SARIF's tool description.
    pub tool_version: &'static str,
    /// The subcommand that produced the report, e.g. `probe` or `audit cloudfront`.
    pub command: String,
}

/// Renders `report` as `format`. The result always ends with a newline.
pub fn render(report: &Report, format: Format, opts: &RenderOptions) -> String {
    match format {
        Format::Table => table::render(report, opts),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report, opts),
        Format::Junit => junit::render(report, opts),
        Format::Markdown => markdown::render(report, opts),
    }
}

/// How many findings of each severity a target has, for the summary lines of several formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

impl Counts {
    fn of(target: &TargetReport) -> Counts {
        let mut counts = Counts::default();
        for finding in &target.findings {
            match finding.severity {
                Severity::High => counts.high += 1,
                Severity::Medium => counts.medium += 1,
                Severity::Low => counts.low += 1,
                Severity::Info => counts.info += 1,
            }
        }
        counts
    }

    /// Counts over every target of a report, for the summary lines.
    fn of_report(report: &crate::model::Report) -> Counts {
        report
            .targets
            .iter()
            .map(Counts::of)
            .fold(Counts::default(), Counts::add)
    }

    fn add(self, other: Counts) -> Counts {
        Counts {
            high: self.high + other.high,
            medium: self.medium + other.medium,
            low: self.low + other.low,
            info: self.info + other.info,
        }
    }

    fn total(self) -> usize {
        self.high + self.medium + self.low + self.info
    }
}

/// The report-wide figures the table and Markdown summaries both print, each in its own
/// decoration.
struct Summary {
    /// "3 targets"
    targets: String,
    /// "1 high, 0 medium, 2 low, 0 info"
    severities: String,
    /// Targets that could not be examined.
    errors: usize,
}

impl Summary {
    fn of(report: &crate::model::Report) -> Summary {
        let total = Counts::of_report(report);
        let n = report.targets.len();
        Summary {
            targets: format!("{n} target{}", plural(n)),
            severities: format!(
                "{} high, {} medium, {} low, {} info",
                total.high, total.medium, total.low, total.info
            ),
            errors: report.targets.iter().filter(|t| t.error.is_some()).count(),
        }
    }
}

/// "s" for any count but one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
