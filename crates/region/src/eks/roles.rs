//! The IAM side of the IPv6 rules: policy documents parsed into `Allow` statements, and the
//! check that the role the VPC CNI runs as (inline **and** attached policies) grants the IPv6
//! policy. Roles themselves are IAM's ([`crate::iam`]). The rule checked here: the role the VPC CNI runs as needs the IPv6 policy
//! actions (the most common real-world failure of IPv6 clusters).

use super::error::{EksError, Rule};
use super::model::Statement;
use crate::iam::authz::{Decision, Effect, Patterns, evaluate, parse_document};
use crate::state::State;

/// The IPv6 policy the CNI role needs: (action, a resource it must be allowed on).
/// `{region}`/`{account}` are filled in; `*` means the action must be allowed on every resource.
pub const IPV6_POLICY: &[(&str, &str)] = &[
    ("ec2:AssignIpv6Addresses", "*"),
    ("ec2:DescribeInstances", "*"),
    ("ec2:DescribeTags", "*"),
    ("ec2:DescribeNetworkInterfaces", "*"),
    ("ec2:DescribeInstanceTypes", "*"),
    (
        "ec2:CreateTags",
        "arn:aws:ec2:{region}:{account}:network-interface/eni-0123456789abcdef0",
    ),
];

/// A policy document that grants the IPv6 policy (what the docs tell users to attach).
pub const IPV6_POLICY_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes"],"Resource":"*"},{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}"#;

/// Parse an IAM policy document (validated in full by [`crate::iam::authz::parse_document`])
/// into the summary of its plain `Allow` statements (`Action` + `Resource`). Authorization
/// evaluates the whole document (Deny, NotAction, NotResource); the summary is what older rows
/// stored.
pub fn parse_policy(document: &str) -> Result<Vec<Statement>, EksError> {
    let statements = parse_document(document).map_err(|why| {
        EksError::invalid(
            "PolicyDocument",
            document.chars().take(200).collect::<String>(),
            format!(
                "{why}. A policy looks like {{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[\"ec2:DescribeInstances\"],\"Resource\":\"*\"}}]}}."
            ),
        )
    })?;
    Ok(statements
        .into_iter()
        .filter_map(|s| match (s.effect, s.actions, s.resources) {
            (Effect::Allow, Patterns::Listed(actions), Patterns::Listed(resources)) => {
                Some(Statement { actions, resources })
            }
            _ => None,
        })
        .collect())
}

impl State {
    /// The IPv6 policy actions the role `role_arn` lacks (all of them for an unknown role),
    /// by the same evaluation requests are authorized with (a `Deny` takes an action away).
    pub fn missing_ipv6_actions(
        &self,
        env_region: &str,
        account: &str,
        role_arn: &str,
    ) -> Vec<&'static str> {
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        let statements = self
            .roles
            .get(name)
            .filter(|r| r.arn == role_arn || role_arn.ends_with(&format!("/{}", r.name)))
            .map(|r| self.role_policy_statements(r))
            .unwrap_or_default();
        IPV6_POLICY
            .iter()
            .filter(|(action, resource)| {
                let resource = resource
                    .replace("{region}", env_region)
                    .replace("{account}", account);
                evaluate(&statements, action, &[resource]) != Decision::Allow
            })
            .map(|(a, _)| *a)
            .collect()
    }

    /// Check the IPv6 policy of the CNI role `role_arn` ([`Rule::CniIpv6Policy`]).
    pub fn check_ipv6_policy(
        &self,
        region: &str,
        account: &str,
        member: &'static str,
        role_arn: &str,
    ) -> Result<(), EksError> {
        let missing = self.missing_ipv6_actions(region, account, role_arn);
        if missing.is_empty() {
            return Ok(());
        }
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        let known = self.roles.contains(name);
        Err(EksError::rule(
            Rule::CniIpv6Policy,
            role_arn,
            format!(
                "The {member} {role_arn} {} lacks {} of the IPv6 policy the VPC CNI needs in an IPv6 cluster.",
                if known {
                    "exists but"
                } else {
                    "is not known to the region and so"
                },
                missing.join(", ")
            ),
            format!(
                "attach the IPv6 CNI policy to the role (AmazonEKS_CNI_Policy alone has no IPv6 action): `aws iam put-role-policy --role-name {name} --policy-name AmazonEKS_CNI_IPv6_Policy --policy-document '{IPV6_POLICY_DOCUMENT}'` (or create-policy + attach-role-policy){}.",
                if known {
                    ""
                } else {
                    " after `aws iam create-role`"
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::testing::World;

    #[test]
    fn the_documented_policy_grants_every_ipv6_action() {
        let mut w = World::new();
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("cni"))
                .unwrap()
        });
        let arn = "arn:aws:iam::123456789012:role/cni";
        assert_eq!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn)
                .len(),
            6
        );
        w.state
            .put_role_policy("cni", "ipv6", IPV6_POLICY_DOCUMENT)
            .unwrap();
        assert!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn)
                .is_empty()
        );
        assert!(
            w.state
                .check_ipv6_policy("us-east-1", "123456789012", "serviceAccountRoleArn", arn)
                .is_ok()
        );
    }

    #[test]
    fn a_missing_action_is_named() {
        let mut w = World::new();
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("cni"))
                .unwrap()
        });
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":["ec2:Describe*","ec2:CreateTags"],"Resource":"*"}]}"#;
        w.state.put_role_policy("cni", "p", doc).unwrap();
        let arn = "arn:aws:iam::123456789012:role/cni";
        assert_eq!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn),
            vec!["ec2:AssignIpv6Addresses"]
        );
        let e = w
            .state
            .check_ipv6_policy("us-east-1", "123456789012", "serviceAccountRoleArn", arn)
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::CniIpv6Policy));
        assert!(e.to_string().contains("ec2:AssignIpv6Addresses"), "{e}");
        assert!(e.to_string().contains("SIX-CNI-IPV6-POLICY"), "{e}");
    }

    #[test]
    fn create_tags_must_cover_network_interfaces() {
        let mut w = World::new();
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("cni"))
                .unwrap()
        });
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
        w.state.put_role_policy("cni", "p", doc).unwrap();
        let arn = "arn:aws:iam::123456789012:role/cni";
        assert!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn)
                .is_empty()
        );
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:instance/*"}]}"#;
        w.state.put_role_policy("cni", "p", doc).unwrap();
        assert_eq!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn)
                .len(),
            6
        );
    }

    #[test]
    fn a_deny_takes_an_ipv6_action_away_from_the_cni_role() {
        let mut w = World::new();
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("cni"))
                .unwrap()
        });
        let arn = "arn:aws:iam::123456789012:role/cni";
        w.state
            .put_role_policy("cni", "ipv6", IPV6_POLICY_DOCUMENT)
            .unwrap();
        let deny = r#"{"Statement":[{"Effect":"Deny","Action":"ec2:AssignIpv6Addresses","Resource":"*"}]}"#;
        w.state.put_role_policy("cni", "deny", deny).unwrap();
        assert_eq!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", arn),
            vec!["ec2:AssignIpv6Addresses"]
        );
    }

    #[test]
    fn bad_policies_are_rejected() {
        assert!(parse_policy("nope").is_err());
        assert!(
            parse_policy(r#"{"Statement":[{"Effect":"Maybe","Action":"x","Resource":"*"}]}"#)
                .is_err()
        );
    }
}
