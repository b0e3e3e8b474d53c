//! CloudFormation YAML into the JSON form of the same template: short-form intrinsics (`!Ref`,
//! `!Sub`, `!GetAtt A.B`, ...) become their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`,
//! `{"Fn::GetAtt": ["A", "B"]}`), so everything after parsing sees one shape.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

/// Where and why YAML could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
}

/// Parses the first document of `text` and converts it to JSON.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let docs = Yaml::load_from_str(text).map_err(|e| YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    })?;
    Ok(docs.first().map_or(Value::Null, to_json))
}

/// Converts one node; tags other than CloudFormation's `!Name` are dropped.
pub fn to_json(node: &Yaml) -> Value {
    match node {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key(k), to_json(v));
            }
            Value::Object(out)
        }
        Yaml::Tagged(tag, inner) if tag.handle == "!" => intrinsic(&tag.suffix, to_json(inner)),
        Yaml::Tagged(_, inner) => to_json(inner),
        Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

fn scalar(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number(Number::from(*i)),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// Mapping keys become strings the way CloudFormation reads them.
fn key(k: &Yaml) -> String {
    match to_json(k) {
        Value::String(s) => s,
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

/// The long form of a short-form intrinsic. `!GetAtt A.B.C` splits at the first dot
/// (attribute names may contain dots); `!Ref` and `!Condition` keep their own keys; every
/// other tag is a `Fn::` function (`!Sub`, `!Join`, `!If`, `!Select`, `!ImportValue`,
/// `!FindInMap`, `!Base64`, `!Equals`, `!Not`, `!And`, `!Or`, `!Split`, `!Cidr`, `!GetAZs`,
/// and whatever AWS adds).
fn intrinsic(name: &str, arg: Value) -> Value {
    let (k, v) = match name {
        "Ref" => ("Ref".to_owned(), arg),
        "Condition" => ("Condition".to_owned(), arg),
        "GetAtt" => {
            let v = match arg {
                Value::String(s) => match s.split_once('.') {
                    Some((res, attr)) => Value::Array(vec![
                        Value::String(res.to_owned()),
                        Value::String(attr.to_owned()),
                    ]),
                    None => Value::Array(vec![Value::String(s)]),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), v)
        }
        other => (format!("Fn::{other}"), arg),
    };
    let mut m = Map::new();
    m.insert(k, v);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_forms_become_long_forms() {
        let v = parse(
            r#"
Resources:
  A:
    Properties:
      Ref: !Ref Policy
      Att: !GetAtt Policy.Id
      Nested: !GetAtt Db.Endpoint.Address
      Sub: !Sub "arn:${AWS::Partition}:x"
      Join: !Join [",", [a, !Ref B]]
      If: !If [IsProd, "yes", !Ref AWS::NoValue]
      Select: !Select [0, !GetAZs ""]
      Import: !ImportValue shared-policy
      Map: !FindInMap [M, k1, k2]
      B64: !Base64 x
      Cond: !And [!Equals [a, b], !Not [!Condition C], !Or [!Condition D, !Condition E]]
      Split: !Split [",", "a,b"]
      Cidr: !Cidr ["10.0.0.0/16", 4, 8]
      Plain: 63072000
      Flag: true
"#,
        )
        .unwrap();
        let p = &v["Resources"]["A"]["Properties"];
        assert_eq!(p["Ref"], json!({"Ref": "Policy"}));
        assert_eq!(p["Att"], json!({"Fn::GetAtt": ["Policy", "Id"]}));
        assert_eq!(
            p["Nested"],
            json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]})
        );
        assert_eq!(p["Sub"], json!({"Fn::Sub": "arn:${AWS::Partition}:x"}));
        assert_eq!(p["Join"], json!({"Fn::Join": [",", ["a", {"Ref": "B"}]]}));
        assert_eq!(
            p["If"],
            json!({"Fn::If": ["IsProd", "yes", {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(p["Select"], json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]}));
        assert_eq!(p["Import"], json!({"Fn::ImportValue": "shared-policy"}));
        assert_eq!(p["Map"], json!({"Fn::FindInMap": ["M", "k1", "k2"]}));
        assert_eq!(p["B64"], json!({"Fn::Base64": "x"}));
        assert_eq!(
            p["Cond"],
            json!({"Fn::And": [{"Fn::Equals": ["a", "b"]}, {"Fn::Not": [{"Condition": "C"}]}, {"Fn::Or": [{"Condition": "D"}, {"Condition": "E"}]}]})
        );
        assert_eq!(p["Split"], json!({"Fn::Split": [",", "a,b"]}));
        assert_eq!(p["Cidr"], json!({"Fn::Cidr": ["10.0.0.0/16", 4, 8]}));
        assert_eq!(p["Plain"], json!(63072000));
        assert_eq!(p["Flag"], json!(true));
    }

    #[test]
    fn errors_carry_the_line() {
        let e = parse("a: 1\nb: [unclosed\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }
}
