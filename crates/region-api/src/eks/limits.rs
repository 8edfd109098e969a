//! Bounds on every EKS (rest-json) and IAM (Query) input, checked at the edge before an
//! operation runs: no control characters, bounded strings, lists and maps, names as EKS's model
//! constrains them, tags and labels as EKS limits them. All are refused with
//! `InvalidParameterException` (IAM: `ValidationError`) naming the member; docs/region.md lists
//! them under "Limits".

use region::eks::EksError;
use serde_json::Value;

use crate::ec2::limits::{bad_char, shown};

/// Longest string anywhere in a body (`configurationValues`, a JSON document, is the longest).
pub const MAX_STRING: usize = 16 * 1024;
/// Most items of any list, and members of any object other than the bounded maps below.
pub const MAX_LIST: usize = 100;
/// Most tags of one resource (EKS `TagMap`).
pub const MAX_TAGS: usize = 50;
/// Longest tag key / value (EKS `TagKey` / `TagValue`).
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;
/// Most Kubernetes labels or taints of a node group, and their key/value length (EKS `labelKey`,
/// `labelValue`, `taintKey`, `taintValue`).
pub const MAX_LABELS: usize = 50;
pub const MAX_LABEL: usize = 63;
/// Longest cluster, node group, add-on or Fargate profile name (EKS `ClusterName`).
pub const MAX_NAME: usize = 100;
/// Longest role ARN (EKS `RoleArn`).
pub const MAX_ARN: usize = 255;
/// Deepest nesting of a body (EKS bodies nest four deep).
pub const MAX_DEPTH: usize = 16;
/// Longest IAM role policy document, in characters (IAM's inline role policy quota).
pub const MAX_POLICY: usize = 10_240;

fn invalid(member: &'static str, value: &str, fix: String) -> EksError {
    EksError::invalid(member, shown(value), fix)
}

/// Check a text value: no control characters, at most `max` characters.
pub fn check_text(member: &'static str, s: &str, max: usize) -> Result<(), EksError> {
    if let Some((i, c)) = bad_char(s) {
        return Err(invalid(
            member,
            s,
            format!(
                "The value holds the control character U+{:04X} at position {i}; control characters other than tab, newline and carriage return are not accepted. Remove it.",
                c as u32
            ),
        ));
    }
    let n = s.chars().count();
    if n > max {
        return Err(invalid(
            member,
            s,
            format!("The value is {n} characters; at most {max} are accepted."),
        ));
    }
    Ok(())
}

/// A resource name as EKS's `ClusterName` shape: 1-100 characters, letters, digits, `-` and
/// `_`, starting with a letter or digit.
pub fn check_name(member: &'static str, s: &str) -> Result<(), EksError> {
    check_text(member, s, MAX_NAME)?;
    let ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(invalid(
            member,
            s,
            format!(
                "A name is 1-{MAX_NAME} characters of letters, digits, hyphens and underscores, starting with a letter or digit."
            ),
        ));
    }
    Ok(())
}

/// Check a whole request body: every string and key, the size of every list and map, the names,
/// ARNs, tags, labels and taints.
pub fn check_body(v: &Value) -> Result<(), EksError> {
    walk(v, "body", 0)?;
    let Some(o) = v.as_object() else {
        return Ok(());
    };
    for member in ["name", "nodegroupName", "fargateProfileName", "addonName"] {
        if let Some(Value::String(s)) = o.get(member) {
            check_name(static_member(member), s)?;
        }
    }
    for member in [
        "roleArn",
        "nodeRole",
        "podExecutionRoleArn",
        "serviceAccountRoleArn",
    ] {
        if let Some(Value::String(s)) = o.get(member) {
            check_text(static_member(member), s, MAX_ARN)?;
        }
    }
    if let Some(Value::Object(tags)) = o.get("tags") {
        check_tags(tags)?;
    }
    if let Some(Value::Object(labels)) = o.get("labels") {
        check_labels("labels", labels)?;
    }
    if let Some(Value::Array(taints)) = o.get("taints") {
        if taints.len() > MAX_LABELS {
            return Err(invalid(
                "taints",
                &format!("{} taints", taints.len()),
                format!("A node group has at most {MAX_LABELS} taints."),
            ));
        }
        for t in taints {
            for (member, field) in [("taints.key", "key"), ("taints.value", "value")] {
                if let Some(Value::String(s)) = t.get(field) {
                    check_text(member, s, MAX_LABEL)?;
                }
            }
        }
    }
    if let Some(Value::Array(selectors)) = o.get("selectors") {
        for s in selectors {
            if let Some(Value::Object(labels)) = s.get("labels") {
                check_labels("selectors.labels", labels)?;
            }
        }
    }
    Ok(())
}

/// The `'static` member name for a known top-level key (for error messages).
fn static_member(key: &str) -> &'static str {
    match key {
        "name" => "name",
        "nodegroupName" => "nodegroupName",
        "fargateProfileName" => "fargateProfileName",
        "addonName" => "addonName",
        "roleArn" => "roleArn",
        "nodeRole" => "nodeRole",
        "podExecutionRoleArn" => "podExecutionRoleArn",
        "serviceAccountRoleArn" => "serviceAccountRoleArn",
        _ => "body",
    }
}

fn walk(v: &Value, member: &'static str, depth: usize) -> Result<(), EksError> {
    if depth > MAX_DEPTH {
        return Err(invalid(
            member,
            "",
            format!("The body nests deeper than {MAX_DEPTH} levels."),
        ));
    }
    match v {
        Value::String(s) => check_text(member, s, MAX_STRING),
        Value::Array(items) => {
            if items.len() > MAX_LIST {
                return Err(invalid(
                    member,
                    &format!("{} items", items.len()),
                    format!("A list holds at most {MAX_LIST} items."),
                ));
            }
            items.iter().try_for_each(|i| walk(i, member, depth + 1))
        }
        Value::Object(map) => {
            if map.len() > MAX_LIST {
                return Err(invalid(
                    member,
                    &format!("{} members", map.len()),
                    format!("An object holds at most {MAX_LIST} members."),
                ));
            }
            for (k, v) in map {
                check_text(member, k, MAX_STRING)?;
                walk(v, member, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_tags(tags: &serde_json::Map<String, Value>) -> Result<(), EksError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(
            "tags",
            &format!("{} tags", tags.len()),
            format!("A resource has at most {MAX_TAGS} tags."),
        ));
    }
    for (k, v) in tags {
        let n = k.chars().count();
        if n == 0 || n > MAX_TAG_KEY {
            return Err(invalid(
                "tags",
                k,
                format!("Tag keys are 1-{MAX_TAG_KEY} characters; this one is {n}."),
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid(
                "tags",
                k,
                "Tag keys starting with aws: are reserved for AWS; choose another key.".into(),
            ));
        }
        if let Value::String(s) = v {
            check_text("tags", s, MAX_TAG_VALUE)?;
        }
    }
    Ok(())
}

fn check_labels(
    member: &'static str,
    labels: &serde_json::Map<String, Value>,
) -> Result<(), EksError> {
    if labels.len() > MAX_LABELS {
        return Err(invalid(
            member,
            &format!("{} labels", labels.len()),
            format!("At most {MAX_LABELS} labels are accepted."),
        ));
    }
    for (k, v) in labels {
        if k.is_empty() || k.chars().count() > MAX_LABEL {
            return Err(invalid(
                member,
                k,
                format!("Label keys are 1-{MAX_LABEL} characters."),
            ));
        }
        if let Value::String(s) = v {
            check_text(member, s, MAX_LABEL)?;
        }
    }
    Ok(())
}

/// Longest decoded path segment (a name, or the ARN of `/tags/{arn}`).
pub const MAX_PATH_SEGMENT: usize = 1024;

/// Check the decoded path segments of an EKS request (names and ARNs).
pub fn check_path(segments: &[&str]) -> Result<(), EksError> {
    segments
        .iter()
        .try_for_each(|s| check_text("path", s, MAX_PATH_SEGMENT))
}

/// Check an IAM Query request: no control characters anywhere, names and documents bounded.
pub fn check_iam(p: &crate::query::Params) -> Result<(), EksError> {
    for (k, v) in p.iter() {
        check_text("parameter name", k, 128)?;
        let (member, max) = match k {
            "RoleName" => ("RoleName", 64),
            "PolicyName" => ("PolicyName", 128),
            "PolicyDocument" => ("PolicyDocument", MAX_POLICY),
            "AssumeRolePolicyDocument" => ("AssumeRolePolicyDocument", MAX_POLICY),
            "Description" => ("Description", 1000),
            _ => ("parameter", 1024),
        };
        check_text(member, v, max)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(v: Value) -> String {
        check_body(&v).unwrap_err().to_string()
    }

    #[test]
    fn names_follow_the_cluster_name_shape() {
        assert!(check_body(&json!({"name": "lab-1_a"})).is_ok());
        assert!(refused(json!({"name": "-lab"})).contains("letters, digits"));
        assert!(refused(json!({"name": "a".repeat(101)})).contains("101"));
        assert!(refused(json!({"nodegroupName": "ng/1"})).contains("nodegroupName"));
    }

    #[test]
    fn tags_labels_and_taints_are_bounded() {
        let tags: serde_json::Map<String, Value> =
            (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(refused(json!({ "tags": tags })).contains("50 tags"));
        assert!(refused(json!({"tags": {"aws:x": "v"}})).contains("reserved"));
        assert!(refused(json!({"tags": {"k": "v".repeat(257)}})).contains("256"));
        assert!(refused(json!({"labels": {"k": "v".repeat(64)}})).contains("63"));
        let taints: Vec<Value> = (0..51).map(|i| json!({"key": format!("k{i}")})).collect();
        assert!(refused(json!({ "taints": taints })).contains("taints"));
    }

    #[test]
    fn control_characters_and_huge_strings_are_refused_anywhere() {
        assert!(refused(json!({"x": {"y": ["a\u{1}"]}})).contains("U+0001"));
        assert!(refused(json!({"k\u{0}": 1})).contains("U+0000"));
        assert!(refused(json!({"roleArn": "r".repeat(900_000)})).contains("900000"));
        let list: Vec<Value> = (0..101).map(|i| json!(i)).collect();
        assert!(refused(json!({ "subnets": list })).contains("100"));
    }
}
