//! SARIF 2.1.0, shaped for GitHub code scanning.
//!
//! Decisions that are not obvious from the spec:
//! - Locations are scheme-less relative references (`example.com/login`), never the URL itself:
//!   GitHub rejects a whole upload whose artifact URIs have a scheme other than `file`
//!   ("SARIF URI scheme "https" did not match the checkout URI scheme "file""). The real URL is
//!   kept in the location's message and in the result's properties.
//! - Rules carry the `security` tag, without which GitHub ignores `security-severity`.
//! - A target that could not be examined is a `toolExecutionNotification` of level `error`, not
//!   a result: an outage is not a security alert, and GitHub shows such notifications on the
//!   tool status page instead of opening (and later auto-closing) alerts for them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::RenderOptions;
use crate::model::{Finding, Report, Severity, TargetReport};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const TOOL_NAME: &str = "rampart-verify";
const INFORMATION_URI: &str = "https://github.com/rampart/rampart";
/// The notification descriptor id for targets that could not be examined.
pub(super) const OPERATIONAL_ERROR_ID: &str = "rampart-operational-error";
/// Versioned so that a future change of the hashed fields starts a new fingerprint series
/// instead of silently re-keying existing alerts.
pub(super) const FINGERPRINT_KEY: &str = "rampartFinding/v1";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: [Invocation; 1],
    automation_details: AutomationDetails,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    semantic_version: Option<&'a str>,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notifications: Vec<Rule<'a>>,
}

/// A SARIF `reportingDescriptor`, used both for rules and for the notification descriptor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    name: String,
    short_description: Text,
    full_description: Text,
    /// Always present: GitHub's ingestion rules (GH2012) require it on every descriptor.
    help: Text,
    help_uri: String,
    default_configuration: Configuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<RuleProperties>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

impl Text {
    fn new(text: impl Into<String>) -> Text {
        Text { text: text.into() }
    }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
    descriptor: DescriptorReference,
    locations: [Location; 1],
}

#[derive(Serialize)]
struct DescriptorReference {
    id: &'static str,
    index: usize,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
struct RunProperties<'a> {
    command: &'a str,
    targets: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    /// The evidence: what was observed "at" the location.
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Text>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    url: &'a str,
    check: &'a str,
    category: &'static str,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let log = build(report, opts);
    let mut out = match serde_json::to_string_pretty(&log) {
        Ok(text) => text,
        // Only plain structs of strings and numbers: serialisation cannot fail, and a partial
        // document would be worse than an empty but valid log.
        Err(_) => format!(
            "{{\"$schema\":\"{SCHEMA_URI}\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{{\"name\":\"{TOOL_NAME}\"}}}},\"results\":[]}}]}}"
        ),
    };
    out.push('\n');
    out
}

/// What the rule for one finding id says, taken from its first occurrence in the report.
struct RuleSource<'a> {
    first: &'a Finding,
    worst: Severity,
}

fn build<'a>(report: &'a Report, opts: &'a RenderOptions) -> Log<'a> {
    // BTreeMap: rules sorted by id, so rule indices do not depend on which target found what.
    let mut sources: BTreeMap<&str, RuleSource<'_>> = BTreeMap::new();
    for finding in report.targets.iter().flat_map(|t| &t.findings) {
        sources
            .entry(finding.id.as_str())
            .and_modify(|s| s.worst = s.worst.max(finding.severity))
            .or_insert(RuleSource {
                first: finding,
                worst: finding.severity,
            });
    }
    let index: BTreeMap<&str, usize> = sources.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules = sources.iter().map(|(id, s)| rule(id, s)).collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for target in &report.targets {
        let uri = location_uri(target);
        if let Some(error) = &target.error {
            notifications.push(Notification {
                level: "error",
                message: Text::new(format!(
                    "{} could not be examined: {}",
                    target.target,
                    sentence(error)
                )),
                descriptor: DescriptorReference {
                    id: OPERATIONAL_ERROR_ID,
                    index: 0,
                },
                locations: [location(&uri, target, None)],
            });
        }
        for finding in &target.findings {
            results.push(SarifResult {
                rule_id: &finding.id,
                // Every finding's id was indexed above; the fallback is unreachable.
                rule_index: index.get(finding.id.as_str()).copied().unwrap_or(0),
                level: level(finding.severity),
                message: Text::new(result_message(finding)),
                locations: [location(&uri, target, Some(&finding.evidence))],
                partial_fingerprints: BTreeMap::from([(
                    FINGERPRINT_KEY,
                    fingerprint(target, finding),
                )]),
                properties: ResultProperties {
                    target: &target.target,
                    account: target.account.as_deref(),
                    url: &target.url,
                    check: &finding.check,
                    category: finding.category.as_str(),
                    severity: finding.severity.as_str(),
                    status: target.status,
                },
            });
        }
    }

    let any_error = !notifications.is_empty();
    let version = opts.tool_version;
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    version,
                    semantic_version: is_semver(version).then_some(version),
                    information_uri: INFORMATION_URI,
                    rules,
                    notifications: if any_error {
                        vec![operational_error_descriptor()]
                    } else {
                        Vec::new()
                    },
                },
            },
            invocations: [Invocation {
                execution_successful: !any_error,
                tool_execution_notifications: notifications,
            }],
            automation_details: AutomationDetails {
                id: automation_id(&opts.command),
            },
            results,
            properties: RunProperties {
                command: &opts.command,
                targets: report.targets.len(),
            },
        }],
    }
}

fn rule<'a>(id: &'a str, source: &RuleSource<'a>) -> Rule<'a> {
    let first = source.first;
    let mut name = pascal_case(id);
    // SARIF1001: a rule's friendly name must differ from its id.
    if name == id {
        name.push_str("Rule");
    }
    Rule {
        id,
        name,
        short_description: Text::new(first.title.trim()),
        full_description: Text::new(format!(
            "{} Reported by the rampart check '{}' ({} category).",
            sentence(&first.title),
            first.check,
            first.category.as_str()
        )),
        help: Text::new(if first.remediation.trim().is_empty() {
            format!("See {INFORMATION_URI}#{}.", encode(id, false))
        } else {
            format!("Fix: {}", first.remediation.trim())
        }),
        help_uri: format!("{INFORMATION_URI}#{}", encode(id, false)),
        default_configuration: Configuration {
            level: level(source.worst),
        },
        properties: Some(RuleProperties {
            tags: vec!["security", first.category.as_str()],
            security_severity: security_severity(source.worst),
        }),
    }
}

fn operational_error_descriptor() -> Rule<'static> {
    Rule {
        id: OPERATIONAL_ERROR_ID,
        name: "OperationalError".to_owned(),
        short_description: Text::new("A target could not be examined."),
        full_description: Text::new(
            "The target could not be fetched or read, so none of its checks ran; its security \
             posture is unknown.",
        ),
        help: Text::new(
            "Check that the target is reachable from where rampart-verify runs (DNS, firewall, \
             TLS trust) and that the credentials for audited resources are valid, then run again.",
        ),
        help_uri: format!("{INFORMATION_URI}#{OPERATIONAL_ERROR_ID}"),
        default_configuration: Configuration { level: "error" },
        properties: None,
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub buckets these as critical >= 9.0, high >= 7.0, medium >= 4.0, low > 0; the values
/// sit inside the bucket matching our severity names.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn location(uri: &str, target: &TargetReport, evidence: Option<&str>) -> Location {
    let shown = if target.url.is_empty() {
        &target.target
    } else {
        &target.url
    };
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: uri.to_owned(),
            },
            // GitHub drops results whose location has no line; a response has no lines, so the
            // whole artifact is "line 1".
            region: Region {
                start_line: 1,
                snippet: evidence
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(Text::new),
            },
        },
        message: Text::new(shown.clone()),
    }
}

/// The artifact "path" GitHub files a target's alerts under: host and path for URLs, the
/// percent-encoded locator for anything else (ARNs, template resource ids).
fn location_uri(target: &TargetReport) -> String {
    let locator = if target.url.is_empty() {
        &target.target
    } else {
        &target.url
    };
    let parsed = url::Url::parse(locator).ok();
    let raw = match parsed
        .as_ref()
        .and_then(|u| u.host_str().map(|host| (u, host)))
    {
        Some((parsed, host)) => {
            let mut raw = host.to_owned();
            if let Some(port) = parsed.port() {
                let _ = write!(raw, ":{port}");
            }
            raw.push_str(parsed.path());
            raw
        }
        None => locator.clone(),
    };
    // A leading `//` would read as an authority, and a trailing `/` makes `example.com/` and
    // `example.com` two different artifacts.
    let encoded = encode(raw.trim_matches('/'), true);
    if encoded.is_empty() {
        "rampart-target".to_owned()
    } else {
        encoded
    }
}

/// Percent-encodes everything outside RFC 3986 `pchar` (plus `/` when `keep_slash`), except
/// `:`, which is encoded too: a colon in the first segment would make the reference parse as a
/// scheme. Existing `%XX` escapes are kept, so an already-encoded URL path is not encoded twice.
fn encode(s: &str, keep_slash: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            )
            || (keep_slash && b == b'/')
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn result_message(finding: &Finding) -> String {
    let mut text = sentence(&finding.title);
    let evidence = finding.evidence.trim();
    if !evidence.is_empty() {
        let _ = write!(text, "\nEvidence: {evidence}");
    }
    let remediation = finding.remediation.trim();
    if !remediation.is_empty() {
        let _ = write!(text, "\nFix: {remediation}");
    }
    text
}

/// Trimmed, ending in terminal punctuation (SARIF2001 asks messages to be sentences).
fn sentence(s: &str) -> String {
    let mut out = s.trim().to_owned();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The `automationDetails.id` category: GitHub replaces the previous analysis of the same
/// category on upload, so `probe` and `audit` results must not share one.
fn automation_id(command: &str) -> String {
    let slug: String = command
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() {
        format!("{TOOL_NAME}/")
    } else {
        format!("{TOOL_NAME}/{slug}/")
    }
}

/// A friendly name matching SARIF2012's notion of Pascal case, `^(\p{Lu}[\p{Ll}\p{Nd}]+)*$`:
/// every capital must be followed by a lowercase letter or digit, so one-letter words and
/// words starting with a digit are glued to a neighbour (`x-frame` -> `Xframe`, `tls-1-2` ->
/// `Tls12`) instead of standing alone.
pub(super) fn pascal_case(id: &str) -> String {
    let words: Vec<String> = id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = String::new();
    let mut glue_next = false;
    for (i, word) in words.iter().enumerate() {
        let starts_with_letter = word.starts_with(|c: char| c.is_ascii_alphabetic());
        let last_single_letter = word.len() == 1 && i + 1 == words.len() && !out.is_empty();
        if glue_next || !starts_with_letter || last_single_letter {
            if out.is_empty() {
                out.push_str("Rule");
            }
            out.push_str(word);
            glue_next = false;
        } else {
            let (first, rest) = word.split_at(1);
            out.push_str(&first.to_ascii_uppercase());
            out.push_str(rest);
            glue_next = word.len() == 1;
        }
    }
    if out.is_empty() {
        out.push_str("Rule");
    } else if glue_next {
        out.push_str("rule");
    }
    out
}

/// `MAJOR.MINOR.PATCH` with an optional pre-release or build suffix: enough to keep a
/// non-semver version string out of `semanticVersion`.
fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Stable across runs and platforms: FNV-1a 64 over length-prefixed fields, so that no two
/// different (target, id, evidence) triples can be made to collide by shifting text between
/// fields.
pub(super) fn fingerprint(target: &TargetReport, finding: &Finding) -> String {
    let mut hash = Fnv1a::new();
    for field in [&target.target, &finding.id, &finding.evidence] {
        hash.write(&(field.len() as u64).to_le_bytes());
        hash.write(field.as_bytes());
    }
    format!("{:016x}", hash.finish())
}

struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Fnv1a {
        Fnv1a(Fnv1a::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Fnv1a::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
pub(super) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.write(bytes);
    hash.finish()
}
