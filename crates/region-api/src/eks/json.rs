//! Reading rest-json request bodies member by member, so a wrong type or a missing member is
//! answered with `InvalidParameterException` naming the member (`resourcesVpcConfig.subnetIds`).

use std::collections::BTreeMap;

use region::eks::EksError;
use serde_json::{Map, Value};

/// A JSON object of a request and the dotted path it sits at.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
}

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

fn wrong(member: &'static str, v: &Value, want: &str) -> EksError {
    EksError::invalid(
        member,
        v.to_string().chars().take(100).collect::<String>(),
        format!("{member} must be {want}, not {}.", type_name(v)),
    )
}

/// The last segment of a dotted member path (the JSON key).
fn key(member: &'static str) -> &'static str {
    member.rsplit('.').next().unwrap_or(member)
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

impl<'a> Obj<'a> {
    /// The top-level object (`parse_body` guarantees an object; anything else reads as empty).
    pub fn root(v: &'a Value) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Obj {
            map: v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new)),
        }
    }

    fn get(&self, member: &'static str) -> Option<&'a Value> {
        self.map.get(key(member)).filter(|v| !v.is_null())
    }

    pub fn has(&self, member: &'static str) -> bool {
        self.get(member).is_some()
    }

    pub fn req_str(&self, member: &'static str) -> Result<String, EksError> {
        self.opt_str(member)?
            .ok_or(EksError::MissingParameter { member })
    }

    pub fn opt_str(&self, member: &'static str) -> Result<Option<String>, EksError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(wrong(member, v, "a string")),
        }
    }

    pub fn opt_bool(&self, member: &'static str) -> Result<Option<bool>, EksError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong(member, v, "a boolean")),
        }
    }

    pub fn opt_u32(&self, member: &'static str) -> Result<Option<u32>, EksError> {
        match self.get(member) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| wrong(member, v, "a non-negative integer")),
            Some(v) => Err(wrong(member, v, "an integer")),
        }
    }

    pub fn opt_str_list(&self, member: &'static str) -> Result<Option<Vec<String>>, EksError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(member, other, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(wrong(member, v, "a list of strings")),
        }
    }

    pub fn str_map(&self, member: &'static str) -> Result<BTreeMap<String, String>, EksError> {
        match self.get(member) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, x)| match x {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(wrong(member, other, "a map of strings")),
                })
                .collect(),
            Some(v) => Err(wrong(member, v, "a map of strings")),
        }
    }

    pub fn opt_obj(&self, member: &'static str) -> Result<Option<Obj<'a>>, EksError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj { map: m })),
            Some(v) => Err(wrong(member, v, "an object")),
        }
    }

    pub fn obj_list(&self, member: &'static str) -> Result<Vec<Obj<'a>>, EksError> {
        match self.get(member) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Value::Object(m) => Ok(Obj { map: m }),
                    other => Err(wrong(member, other, "a list of objects")),
                })
                .collect(),
            Some(v) => Err(wrong(member, v, "a list of objects")),
        }
    }

    /// A string member that must be one of `allowed`.
    pub fn opt_enum(
        &self,
        member: &'static str,
        allowed: &[&str],
    ) -> Result<Option<String>, EksError> {
        match self.opt_str(member)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(EksError::invalid(
                member,
                s,
                format!("{member} must be one of: {}.", allowed.join(", ")),
            )),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_name_the_member() {
        let v =
            parse_body(br#"{"name": 5, "resourcesVpcConfig": {"subnetIds": "subnet-1"}}"#).unwrap();
        let o = Obj::root(&v);
        let e = o.req_str("name").unwrap_err().to_string();
        assert!(e.contains("name must be a string"), "{e}");
        let vpc = o.opt_obj("resourcesVpcConfig").unwrap().unwrap();
        let e = vpc
            .opt_str_list("resourcesVpcConfig.subnetIds")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("resourcesVpcConfig.subnetIds must be a list of strings"),
            "{e}"
        );
        assert!(matches!(
            o.req_str("roleArn"),
            Err(EksError::MissingParameter { member: "roleArn" })
        ));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_body(b"").is_ok());
        assert!(parse_body(b"{").is_err());
        assert!(parse_body(b"[1]").is_err());
    }
}
