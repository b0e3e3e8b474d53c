//! The AWS settings that decide what a response carries before it ever reaches a rampart proxy:
//! CloudFront response-headers policies and distributions, API Gateway gateway responses.
//!
//! Everything here is a pure function over plain structs whose serde names are the AWS API's
//! own, so the template audit (`audit iac`) and the SDK-based audits feed the same rules: a
//! finding means the same thing whichever way the settings were read.

pub mod apigateway;
pub mod cloudfront;
pub mod sdk;
pub(crate) mod strength;

use crate::model::{Category, Check, Finding, Severity, TargetReport};

/// The checks that ran on one resource and what they found; merged into a [`TargetReport`] by
/// whichever command owns the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
}

impl Assessment {
    pub fn new() -> Assessment {
        Assessment::default()
    }

    /// Records that a check ran; the same id twice stays one testcase.
    pub fn check(&mut self, id: &str, description: &str) {
        if !self.checks.iter().any(|c| c.id == id) {
            self.checks.push(Check {
                id: id.to_owned(),
                description: description.to_owned(),
            });
        }
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn extend(&mut self, other: Assessment) {
        for c in other.checks {
            self.check(&c.id, &c.description);
        }
        self.findings.extend(other.findings);
    }

    /// Adds the checks and findings to `report` and restores its documented finding order.
    pub fn apply(self, report: &mut TargetReport) {
        for c in self.checks {
            if !report.checks.iter().any(|k| k.id == c.id) {
                report.checks.push(c);
            }
        }
        report.findings.extend(self.findings);
        report.sort();
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// One finding about an AWS setting.
pub(crate) fn finding(
    check: &str,
    id: &str,
    category: Category,
    severity: Severity,
    title: String,
    evidence: String,
    remediation: String,
) -> Finding {
    Finding {
        id: id.to_owned(),
        check: check.to_owned(),
        category,
        severity,
        title,
        evidence,
        remediation,
    }
}

/// Deserializers that accept what templates write as well as what the APIs return:
/// CloudFormation passes booleans and numbers through as strings (`"true"`, `"63072000"`).
pub(crate) mod lenient {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    fn to_bool(v: &Value) -> Result<Option<bool>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            other => Err(format!("expected true or false, found {other}")),
        }
    }

    fn to_u64(v: &Value) -> Result<Option<u64>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("expected a whole number, found {n}")),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("expected a whole number, found {s:?}")),
            other => Err(format!("expected a whole number, found {other}")),
        }
    }

    /// A missing or null flag is `false`, as the APIs treat an absent `Override`.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        to_bool(&v)
            .map(Option::unwrap_or_default)
            .map_err(D::Error::custom)
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        to_bool(&v).map_err(D::Error::custom)
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        to_u64(&v).map_err(D::Error::custom)
    }

    /// Status codes are strings in the API and may be numbers in a template.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(D::Error::custom(format!(
                "expected a string, found {other}"
            ))),
        }
    }
}
