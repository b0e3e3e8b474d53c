//! What the proxy does with error bodies: which statuses, which mode, which detectors, and the
//! generic bodies that replace them.

use std::collections::BTreeMap;

use crate::leak::DetectorSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBodyMode {
    /// Inspect up to the limit; replace only when a detector matches.
    Leaky,
    /// Replace every error body without inspecting it.
    Always,
    /// Pass error bodies through untouched.
    Off,
}

impl ErrorBodyMode {
    pub fn parse(s: &str) -> Option<ErrorBodyMode> {
        match s {
            "leaky" => Some(ErrorBodyMode::Leaky),
            "always" => Some(ErrorBodyMode::Always),
            "off" => Some(ErrorBodyMode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorBodyMode::Leaky => "leaky",
            ErrorBodyMode::Always => "always",
            ErrorBodyMode::Off => "off",
        }
    }
}

/// What happens to an error body larger than the inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// Fail closed: what cannot be inspected is replaced.
    Replace,
    /// Send it on uninspected.
    Pass,
}

/// A set of statuses written as `"4xx"`, `"5xx"` or single codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    ranges: Vec<(u16, u16)>,
}

impl StatusSet {
    pub fn all_errors() -> StatusSet {
        StatusSet {
            ranges: vec![(400, 499), (500, 599)],
        }
    }

    pub fn parse_item(item: &str) -> Option<(u16, u16)> {
        let item = item.trim().to_ascii_lowercase();
        if let Some(class) = item.strip_suffix("xx") {
            let d: u16 = class.parse().ok()?;
            return (4..=5).contains(&d).then_some((d * 100, d * 100 + 99));
        }
        let code: u16 = item.parse().ok()?;
        (400..=599).contains(&code).then_some((code, code))
    }

    pub fn from_ranges(ranges: Vec<(u16, u16)>) -> StatusSet {
        StatusSet { ranges }
    }

    pub fn contains(&self, status: u16) -> bool {
        self.ranges
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }

    pub fn describe(&self) -> String {
        self.ranges
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else if hi - lo == 99 {
                    format!("{}xx", lo / 100)
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// User-written generic bodies for one status. `{status}`, `{reason}` and `{request_id}` are
/// filled in; the request id is restricted to `[A-Za-z0-9._-]`, so it cannot break out of JSON
/// or HTML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    pub json: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ErrorBodyPolicy {
    pub mode: ErrorBodyMode,
    pub statuses: StatusSet,
    /// Bytes of (decoded) body inspected in `leaky` mode.
    pub inspect_limit: usize,
    pub over_limit: OverLimit,
    /// Largest decoded size of a compressed body (a decompression bomb stops here and is
    /// treated as over the limit).
    pub decoded_limit: usize,
    pub detectors: DetectorSet,
    /// Names of the user's own detectors, for `check`.
    pub custom_names: Vec<String>,
    /// Per-status generic bodies; statuses without one get the built-in body.
    pub templates: BTreeMap<u16, Templates>,
}

impl ErrorBodyPolicy {
    pub fn default_for(mode: ErrorBodyMode) -> ErrorBodyPolicy {
        ErrorBodyPolicy {
            mode,
            statuses: StatusSet::all_errors(),
            inspect_limit: 64 * 1024,
            over_limit: OverLimit::Replace,
            decoded_limit: 1024 * 1024,
            detectors: DetectorSet::builtin(),
            custom_names: Vec::new(),
            templates: BTreeMap::new(),
        }
    }

    /// True when a response with this status is subject to the policy at all.
    pub fn applies_to(&self, status: u16) -> bool {
        self.mode != ErrorBodyMode::Off && self.statuses.contains(status)
    }
}

/// Parses sizes such as `65536`, `"64KiB"`, `"1MiB"`, `"512 KB"`.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_items() {
        assert_eq!(StatusSet::parse_item("4xx"), Some((400, 499)));
        assert_eq!(StatusSet::parse_item("503"), Some((503, 503)));
        assert_eq!(StatusSet::parse_item("3xx"), None);
        assert_eq!(StatusSet::parse_item("200"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1 MiB"), Some(1 << 20));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
    }
}
