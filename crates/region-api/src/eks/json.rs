//! EKS rest-json request bodies: parsed (and bounded) once, then deserialized into the typed
//! request of [`super::wire`]. A member of the wrong type is answered with
//! `InvalidParameterException` naming its path in the body (`resourcesVpcConfig.subnetIds must
//! be a list of strings, not a string.`); a missing required member with the member's name.
//!
//! Every leaf member of a wire type reads through one of the `deserialize_with` helpers here
//! (`string`, `boolean`, `count`, `str_list`, `str_map`), whose refusal says what the member
//! must be; nested objects and lists of objects are plain derived types.

use std::collections::BTreeMap;

use region::eks::EksError;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(member: impl Into<String>, v: &Value, want: &str) -> EksError {
    let member = member.into();
    let fix = format!("{member} must be {want}, not {}.", type_name(v));
    EksError::invalid(
        member,
        v.to_string().chars().take(100).collect::<String>(),
        fix,
    )
}

/// Parse a request body: empty means `{}`; anything but a JSON object is refused.
pub fn parse_body(body: &[u8]) -> Result<Value, EksError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        EksError::invalid(
            "body",
            String::from_utf8_lossy(&body[..body.len().min(100)]).into_owned(),
            format!("The request body is not valid JSON ({e}); send a JSON object."),
        )
    })?;
    if !v.is_object() {
        return Err(wrong("body", &v, "a JSON object"));
    }
    super::limits::check_body(&v)?;
    Ok(v)
}

/// The typed request `T` of a parsed body; a member of the wrong type is refused naming its
/// path (list indices left out: `taints.effect`) and what it must be.
pub fn decode<T: DeserializeOwned>(body: &Value) -> Result<T, EksError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path: Vec<&Segment> = e.path().iter().collect();
        let inner = e.inner().to_string();
        // The helpers below refuse with what the member must be; a derived type (an object, a
        // list of objects) refuses in serde's words, `invalid type: ..., expected ...`.
        let (keep, want) = match inner.split_once(", expected ") {
            Some((_, exp)) if exp.starts_with("struct") => match path.last() {
                Some(Segment::Seq { .. }) => (path.len() - 1, "a list of objects"),
                _ => (path.len(), "an object"),
            },
            Some((_, exp)) if exp.starts_with("a sequence") => (path.len(), "a list of objects"),
            _ => (path.len(), inner.as_str()),
        };
        let at = &path[..keep];
        wrong(member(at), value_at(body, at).unwrap_or(&Value::Null), want)
    })
}

/// The dotted member path of `segments`, list indices left out.
fn member(segments: &[&Segment]) -> String {
    let keys: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        "body".to_string()
    } else {
        keys.join(".")
    }
}

fn value_at<'v>(v: &'v Value, segments: &[&Segment]) -> Option<&'v Value> {
    segments.iter().try_fold(v, |v, s| match s {
        Segment::Map { key } => v.get(key.as_str()),
        Segment::Seq { index } => v.get(*index),
        _ => None,
    })
}

/// A required member: `MissingParameter` naming it when absent (or null).
pub fn required<T>(v: Option<T>, member: &'static str) -> Result<T, EksError> {
    v.ok_or(EksError::MissingParameter {
        member: member.into(),
    })
}

/// A string member that must be one of `allowed`.
pub fn one_of(
    member: &'static str,
    v: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, EksError> {
    match v {
        Some(s) if !allowed.contains(&s.as_str()) => Err(EksError::invalid(
            member,
            s,
            format!("{member} must be one of: {}.", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// An optional member read through `f`; `want` is what the refusal says it must be.
fn leaf<'de, D: Deserializer<'de>, T>(
    d: D,
    want: &'static str,
    f: impl FnOnce(Value) -> Option<T>,
) -> Result<Option<T>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(v).map(Some).ok_or_else(|| D::Error::custom(want)),
    }
}

/// `deserialize_with` for a string member.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    leaf(d, "a string", |v| match v {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// `deserialize_with` for a boolean member.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    leaf(d, "a boolean", |v| v.as_bool())
}

/// `deserialize_with` for a count (a whole number from 0 to 2^32-1).
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    leaf(d, "a non-negative integer", |v| {
        v.as_u64().and_then(|n| u32::try_from(n).ok())
    })
}

/// `deserialize_with` for a list of strings.
pub fn str_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    leaf(d, "a list of strings", |v| match v {
        Value::Array(a) => a
            .into_iter()
            .map(|x| match x {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    })
}

/// `deserialize_with` for a map of strings (tags, labels).
pub fn str_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    leaf(d, "a map of strings", |v| match v {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, x)| match x {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::wire::CreateClusterBody;

    fn refusal(body: &str) -> String {
        let v = parse_body(body.as_bytes()).unwrap();
        decode::<CreateClusterBody>(&v)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn wrong_types_name_the_member_and_what_it_must_be() {
        let e = refusal(r#"{"name": 5}"#);
        assert!(e.contains("name must be a string, not a number"), "{e}");
        let e = refusal(r#"{"resourcesVpcConfig": {"subnetIds": "subnet-1"}}"#);
        assert!(
            e.contains("resourcesVpcConfig.subnetIds must be a list of strings, not a string"),
            "{e}"
        );
        let e = refusal(r#"{"resourcesVpcConfig": {"subnetIds": ["a", 1]}}"#);
        assert!(
            e.contains("resourcesVpcConfig.subnetIds must be a list of strings, not a list"),
            "{e}"
        );
        let e = refusal(r#"{"resourcesVpcConfig": "x"}"#);
        assert!(
            e.contains("resourcesVpcConfig must be an object, not a string"),
            "{e}"
        );
        let e = refusal(r#"{"logging": {"clusterLogging": [1]}}"#);
        assert!(
            e.contains("logging.clusterLogging must be a list of objects, not a list"),
            "{e}"
        );
        let e = refusal(r#"{"logging": {"clusterLogging": [{"enabled": "yes"}]}}"#);
        assert!(
            e.contains("logging.clusterLogging.enabled must be a boolean, not a string"),
            "{e}"
        );
        let e = refusal(r#"{"tags": {"a": 1}}"#);
        assert!(
            e.contains("tags must be a map of strings, not an object"),
            "{e}"
        );
    }

    #[test]
    fn null_reads_as_absent_and_a_missing_member_is_named() {
        let v = parse_body(br#"{"name": null, "roleArn": "r"}"#).unwrap();
        let b: CreateClusterBody = decode(&v).unwrap();
        assert!(matches!(
            required(b.name, "name"),
            Err(EksError::MissingParameter { member }) if member == "name"
        ));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_body(b"").is_ok());
        assert!(parse_body(b"{").is_err());
        assert!(parse_body(b"[1]").is_err());
    }
}
