//! A small block-style YAML writer for the CloudFormation templates `emit` writes. Strings are
//! always double-quoted with JSON escapes (valid YAML, and no value can turn into a boolean,
//! number or tag by accident); `{"Ref": X}` is written as `!Ref X`.

use std::fmt::Write as _;

use serde_json::Value;

/// A document from top-level sections in the given order.
pub fn document(header: &[String], sections: &[(&str, Value)]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    for (k, v) in sections {
        entry(&mut out, 0, k, v);
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && k.starts_with(|c: char| c.is_ascii_alphabetic());
    if plain {
        k.to_owned()
    } else {
        scalar_string(k)
    }
}

fn scalar_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The inline form of a value that needs no block of its own.
fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(scalar_string(s)),
        Value::Array(a) if a.is_empty() => Some("[]".to_owned()),
        Value::Object(m) if m.is_empty() => Some("{}".to_owned()),
        Value::Object(m) if m.len() == 1 => match m.get("Ref") {
            Some(Value::String(r)) => Some(format!("!Ref {r}")),
            _ => None,
        },
        _ => None,
    }
}

fn entry(out: &mut String, indent: usize, k: &str, v: &Value) {
    pad(out, indent);
    out.push_str(&key(k));
    out.push(':');
    after_key(out, indent, v);
}

fn after_key(out: &mut String, indent: usize, v: &Value) {
    if let Some(s) = inline(v) {
        let _ = writeln!(out, " {s}");
        return;
    }
    out.push('\n');
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                entry(out, indent + 2, k, x);
            }
        }
        Value::Array(a) => sequence(out, indent + 2, a),
        _ => {}
    }
}

fn sequence(out: &mut String, indent: usize, items: &[Value]) {
    for item in items {
        pad(out, indent);
        out.push('-');
        if let Some(s) = inline(item) {
            let _ = writeln!(out, " {s}");
            continue;
        }
        match item {
            Value::Object(m) => {
                // The first entry shares the dash's line; the rest align under it.
                for (i, (k, x)) in m.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                        out.push_str(&key(k));
                        out.push(':');
                        after_key(out, indent + 2, x);
                    } else {
                        entry(out, indent + 2, k, x);
                    }
                }
            }
            Value::Array(a) => {
                out.push('\n');
                sequence(out, indent + 2, a);
            }
            _ => out.push('\n'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_audit_parser() {
        let v = json!({
            "Type": "AWS::X",
            "Properties": {
                "RestApiId": {"Ref": "RestApiId"},
                "Items": [{"Header": "Server", "Value": "a: b # c", "Override": true}, {"Header": "X"}],
                "Empty": [],
                "Map": {"gatewayresponse.header.Strict-Transport-Security": "'max-age=1'", "application/json": "{\"message\":\"x\"}"},
                "Lines": "a\nb",
                "Num": 3,
                "Nested": [["a"], []]
            }
        });
        let text = document(&["header".to_owned()], &[("R", v.clone())]);
        let back = crate::iac::yaml::parse(&text).unwrap();
        assert_eq!(back["R"], v, "{text}");
        assert!(text.contains("RestApiId: !Ref RestApiId"), "{text}");
    }
}
