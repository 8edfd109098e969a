//! Authorization of requests signed with temporary credentials: IAM's evaluation logic over the
//! identity-based policies of the role the credentials belong to (inline and attached managed
//! policies). An explicit `Deny` wins; otherwise some `Allow` must match; otherwise the request
//! is implicitly denied. A statement matches when its `Action` (or `NotAction`) and `Resource`
//! (or `NotResource`) match, with `*` and `?` wildcards; action names compare case-insensitively,
//! resource ARNs exactly.
//!
//! `Condition` blocks are not evaluated (no request context is modelled): an `Allow` with a
//! condition never grants, a `Deny` with a condition always applies, so a condition can only
//! make the answer stricter than on AWS, never looser.
//!
//! Cost is bounded: documents are size-limited on put ([`MAX_INLINE_TOTAL`], 6144 per managed
//! policy, 10 attached), and each pattern match is at most `pattern × value` steps
//! ([`wildcard`]).

use serde_json::Value;

use super::managed;
use super::model::Role;
use crate::ec2::filter::wildcard;
use crate::state::State;

/// Most characters (whitespace not counted) of all the inline policies of one role together
/// (IAM's quota).
pub const MAX_INLINE_TOTAL: usize = 10_240;
/// Most characters (whitespace not counted) of one managed policy (IAM's quota).
pub const MAX_MANAGED: usize = 6_144;
/// Most statements one document may hold (a bound on evaluation; IAM's size quota implies it).
pub const MAX_STATEMENTS: usize = 256;

/// What a statement does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants the actions it covers (unless a `Deny` also covers them).
    Allow,
    /// Refuses the actions it covers, whatever allows them.
    Deny,
}

/// `Action` (the patterns listed) or `NotAction` (everything but them); likewise resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// `Action` / `Resource`: what matches one of these patterns.
    Listed(Vec<String>),
    /// `NotAction` / `NotResource`: what matches none of these patterns.
    AllBut(Vec<String>),
}

/// One statement of an identity-based policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatement {
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub actions: Patterns,
    /// `Resource` or `NotResource`.
    pub resources: Patterns,
    /// The statement has a `Condition` block (never evaluated; see the module doc).
    pub conditional: bool,
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Some `Allow` covers the action on every resource and no `Deny` covers it on any.
    Allow,
    /// No statement allows the action on `resource`.
    ImplicitDeny {
        /// The first resource not allowed.
        resource: String,
    },
    /// A `Deny` statement matches the action on `resource`.
    ExplicitDeny {
        /// The first resource denied.
        resource: String,
    },
}

/// Characters of a document not counting whitespace (how IAM measures its quotas).
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} holds a non-string"))
            })
            .collect(),
        _ => Err(format!(
            "{what} must be a string or a non-empty list of strings"
        )),
    }
}

fn patterns(s: &Value, yes: &str, no: &str) -> Result<Patterns, String> {
    match (s.get(yes), s.get(no)) {
        (Some(_), Some(_)) => Err(format!("A statement has both {yes} and {no}; give one")),
        (Some(v), None) => Ok(Patterns::Listed(strings(v, yes)?)),
        (None, Some(v)) => Ok(Patterns::AllBut(strings(v, no)?)),
        (None, None) => Err(format!("A statement has no {yes} (or {no})")),
    }
}

/// Parse an identity-based policy document: every statement must have `Effect` Allow or Deny,
/// one of `Action`/`NotAction` and one of `Resource`/`NotResource` (strings or lists of
/// strings); `Principal` is refused (identity policies have none). The error says what is wrong.
pub fn parse_document(document: &str) -> Result<Vec<PolicyStatement>, String> {
    let v: Value = serde_json::from_str(document).map_err(|e| format!("It is not JSON ({e})"))?;
    if !v.is_object() {
        return Err("It is not a JSON object".into());
    }
    let statements = match v.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => return Err("It has no Statement".into()),
    };
    if statements.len() > MAX_STATEMENTS {
        return Err(format!(
            "It has {} statements; at most {MAX_STATEMENTS}",
            statements.len()
        ));
    }
    statements
        .iter()
        .map(|s| {
            if !s.is_object() {
                return Err("A statement is not a JSON object".to_string());
            }
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err("A statement's Effect is not Allow or Deny".into()),
            };
            if s.get("Principal").is_some() || s.get("NotPrincipal").is_some() {
                return Err(
                    "A statement has a Principal, which identity-based policies must not have"
                        .into(),
                );
            }
            Ok(PolicyStatement {
                effect,
                actions: patterns(s, "Action", "NotAction")?,
                resources: patterns(s, "Resource", "NotResource")?,
                conditional: s.get("Condition").is_some(),
            })
        })
        .collect()
}

fn action_matches(patterns: &[String], action: &str) -> bool {
    patterns
        .iter()
        .any(|p| wildcard(&p.to_ascii_lowercase(), action))
}

fn resource_matches(patterns: &[String], resource: &str) -> bool {
    patterns.iter().any(|p| wildcard(p, resource))
}

impl PolicyStatement {
    /// Whether the statement covers `action` (lower case) on `resource`.
    fn covers(&self, action: &str, resource: &str) -> bool {
        let a = match &self.actions {
            Patterns::Listed(p) => action_matches(p, action),
            Patterns::AllBut(p) => !action_matches(p, action),
        };
        a && match &self.resources {
            Patterns::Listed(p) => resource_matches(p, resource),
            Patterns::AllBut(p) => !resource_matches(p, resource),
        }
    }
}

/// IAM's evaluation of `action` on every one of `resources` (none: `*`) under `statements`:
/// an explicit deny on any resource wins, then every resource needs an allow.
pub fn evaluate(statements: &[PolicyStatement], action: &str, resources: &[String]) -> Decision {
    let action = action.to_ascii_lowercase();
    let star = ["*".to_string()];
    let resources = if resources.is_empty() {
        &star[..]
    } else {
        resources
    };
    for r in resources {
        if statements
            .iter()
            .any(|s| s.effect == Effect::Deny && s.covers(&action, r))
        {
            return Decision::ExplicitDeny {
                resource: r.clone(),
            };
        }
    }
    for r in resources {
        let allowed = statements
            .iter()
            .any(|s| s.effect == Effect::Allow && !s.conditional && s.covers(&action, r));
        if !allowed {
            return Decision::ImplicitDeny {
                resource: r.clone(),
            };
        }
    }
    Decision::Allow
}

impl State {
    /// Every statement of the policies of `role`: inline ones (as given; rows stored before
    /// documents were kept fall back to their `Allow` statements) and attached managed ones.
    pub fn role_policy_statements(&self, role: &Role) -> Vec<PolicyStatement> {
        let mut out = Vec::new();
        for (name, allows) in &role.policies {
            match role
                .inline_documents
                .get(name)
                .and_then(|d| parse_document(d).ok())
            {
                Some(st) => out.extend(st),
                None => out.extend(allows.iter().map(|s| PolicyStatement {
                    effect: Effect::Allow,
                    actions: Patterns::Listed(s.actions.clone()),
                    resources: Patterns::Listed(s.resources.clone()),
                    conditional: false,
                })),
            }
        }
        for arn in &role.attached {
            let doc = managed::by_arn(arn)
                .map(|p| p.document)
                .or_else(|| self.policies.get(arn).map(|p| p.document.as_str()));
            if let Some(st) = doc.and_then(|d| parse_document(d).ok()) {
                out.extend(st);
            }
        }
        out
    }

    /// Evaluate `action` on `resources` for the role whose ARN is `role_arn` (a role that no
    /// longer exists has no policies: everything is implicitly denied).
    pub fn authorize_role(&self, role_arn: &str, action: &str, resources: &[String]) -> Decision {
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        let statements = self
            .roles
            .get(name)
            .filter(|r| r.arn == role_arn)
            .map(|r| self.role_policy_statements(r))
            .unwrap_or_default();
        evaluate(&statements, action, resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> Vec<PolicyStatement> {
        parse_document(&format!(
            r#"{{"Version":"2012-10-17","Statement":{statements}}}"#
        ))
        .unwrap()
    }

    fn on(r: &str) -> Vec<String> {
        vec![r.to_string()]
    }

    const ENI: &str = "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0a";

    #[test]
    fn action_wildcards_match_case_insensitively() {
        let st = doc(r#"[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]"#);
        assert_eq!(evaluate(&st, "ec2:DescribeInstances", &[]), Decision::Allow);
        assert_eq!(evaluate(&st, "EC2:describeinstances", &[]), Decision::Allow);
        assert!(matches!(
            evaluate(&st, "ec2:AssignIpv6Addresses", &on(ENI)),
            Decision::ImplicitDeny { .. }
        ));
        let st = doc(r#"{"Effect":"Allow","Action":["ec2:*"],"Resource":"*"}"#);
        assert_eq!(
            evaluate(&st, "ec2:AssignIpv6Addresses", &on(ENI)),
            Decision::Allow
        );
        assert!(matches!(
            evaluate(&st, "eks:DescribeCluster", &[]),
            Decision::ImplicitDeny { .. }
        ));
        let st = doc(r#"{"Effect":"Allow","Action":"ec2:?ssignIpv6Addresses","Resource":"*"}"#);
        assert_eq!(
            evaluate(&st, "ec2:AssignIpv6Addresses", &[]),
            Decision::Allow
        );
    }

    #[test]
    fn an_explicit_deny_beats_any_allow() {
        let st = doc(r#"[{"Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Deny","Action":"ec2:AssignIpv6Addresses","Resource":"arn:aws:ec2:*:*:network-interface/*"}]"#);
        assert_eq!(
            evaluate(&st, "ec2:AssignIpv6Addresses", &on(ENI)),
            Decision::ExplicitDeny {
                resource: ENI.into()
            }
        );
        // The deny names network interfaces only.
        assert_eq!(
            evaluate(
                &st,
                "ec2:AssignIpv6Addresses",
                &on("arn:aws:ec2:us-east-1:1:instance/i-1")
            ),
            Decision::Allow
        );
        // One denied resource among several denies the request.
        assert!(matches!(
            evaluate(&st, "ec2:AssignIpv6Addresses", &["*".into(), ENI.into()]),
            Decision::ExplicitDeny { .. }
        ));
    }

    #[test]
    fn not_action_and_not_resource_invert_the_match() {
        let st = doc(r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#);
        assert_eq!(evaluate(&st, "ec2:RunInstances", &[]), Decision::Allow);
        assert!(matches!(
            evaluate(&st, "iam:CreateRole", &[]),
            Decision::ImplicitDeny { .. }
        ));
        let st = doc(r#"[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
                {"Effect":"Deny","Action":"ec2:*","NotResource":"arn:aws:ec2:*:*:network-interface/*"}]"#);
        assert_eq!(evaluate(&st, "ec2:CreateTags", &on(ENI)), Decision::Allow);
        assert!(matches!(
            evaluate(
                &st,
                "ec2:CreateTags",
                &on("arn:aws:ec2:us-east-1:1:vpc/vpc-1")
            ),
            Decision::ExplicitDeny { .. }
        ));
    }

    #[test]
    fn resource_patterns_need_every_resource_and_respect_case() {
        let st = doc(
            r#"{"Effect":"Allow","Action":"ec2:CreateTags","Resource":["arn:aws:ec2:*:*:network-interface/*"]}"#,
        );
        assert_eq!(evaluate(&st, "ec2:CreateTags", &on(ENI)), Decision::Allow);
        let vpc = "arn:aws:ec2:us-east-1:1:vpc/vpc-1".to_string();
        assert_eq!(
            evaluate(&st, "ec2:CreateTags", &[ENI.into(), vpc.clone()]),
            Decision::ImplicitDeny { resource: vpc }
        );
        assert!(matches!(
            evaluate(&st, "ec2:CreateTags", &on(&ENI.to_uppercase())),
            Decision::ImplicitDeny { .. }
        ));
        // No resource means `*`, which a narrower pattern does not cover.
        assert!(matches!(
            evaluate(&st, "ec2:CreateTags", &[]),
            Decision::ImplicitDeny { .. }
        ));
    }

    #[test]
    fn conditions_only_ever_make_the_answer_stricter() {
        let st = doc(
            r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
        );
        assert!(matches!(
            evaluate(&st, "ec2:DescribeVpcs", &[]),
            Decision::ImplicitDeny { .. }
        ));
        let st = doc(
            r#"[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]"#,
        );
        assert!(matches!(
            evaluate(&st, "ec2:DescribeVpcs", &[]),
            Decision::ExplicitDeny { .. }
        ));
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        let bad = |d: &str| parse_document(d).unwrap_err();
        assert!(bad("nope").contains("not JSON"));
        assert!(
            bad(r#"{"Statement":[{"Effect":"Maybe","Action":"x","Resource":"*"}]}"#)
                .contains("Effect")
        );
        assert!(bad(r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#).contains("no Action"));
        assert!(
            bad(
                r#"{"Statement":[{"Effect":"Allow","Action":"x","NotAction":"y","Resource":"*"}]}"#
            )
            .contains("both")
        );
        assert!(
            bad(r#"{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#)
                .contains("non-empty")
        );
        assert!(
            bad(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"x","Resource":"*"}]}"#
            )
            .contains("Principal")
        );
        let many = format!(
            r#"{{"Statement":[{}]}}"#,
            vec![r#"{"Effect":"Allow","Action":"x","Resource":"*"}"#; MAX_STATEMENTS + 1].join(",")
        );
        assert!(bad(&many).contains("statements"));
    }

    #[test]
    fn a_pathological_pattern_is_answered_at_once() {
        let pattern = format!("{}b", "*a".repeat(2000));
        let st = doc(&format!(
            r#"{{"Effect":"Allow","Action":"*","Resource":"{pattern}"}}"#
        ));
        let resource = "a".repeat(4000);
        assert!(matches!(
            evaluate(&st, "ec2:X", &on(&resource)),
            Decision::ImplicitDeny { .. }
        ));
    }
}
