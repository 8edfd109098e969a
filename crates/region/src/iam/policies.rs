//! Managed policies: CreatePolicy / GetPolicy / GetPolicyVersion for customer-managed ones, the
//! built-in AWS-managed ones ([`super::managed`]), and attaching them to roles
//! (AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies).

use super::error::IamError;
use super::managed;
use super::model::{ManagedPolicy, Statement};
use super::unique_id;
use crate::eks::roles::parse_policy;
use crate::region::Env;
use crate::state::State;

/// Most managed policies attached to one role (IAM's default quota).
pub const MAX_ATTACHED: usize = 10;

/// A managed policy as GetPolicy shows it, customer- or AWS-managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// The policy's name.
    pub name: String,
    /// Its ARN (`arn:aws:iam::aws:policy/...` for an AWS-managed one).
    pub arn: String,
    /// Its id (`ANPA...`).
    pub policy_id: String,
    /// Its path.
    pub path: String,
    /// Free-text description.
    pub description: Option<String>,
    /// The default version's id (`v1`, ...).
    pub default_version: String,
    /// How many roles it is attached to.
    pub attachment_count: usize,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
    /// The default version's document (JSON).
    pub document: String,
}

impl State {
    fn policy_view(&self, arn: &str) -> Option<PolicyView> {
        let count = self
            .roles
            .values()
            .filter(|r| r.attached.iter().any(|a| a == arn))
            .count();
        if let Some(p) = managed::by_arn(arn) {
            return Some(PolicyView {
                name: p.name.into(),
                arn: p.arn(),
                policy_id: p.policy_id.into(),
                path: "/".into(),
                description: Some(p.description.into()),
                default_version: p.version.into(),
                attachment_count: count,
                created_at: p.created_at,
                document: p.document.into(),
            });
        }
        self.policies.get(arn).map(|p| PolicyView {
            name: p.name.clone(),
            arn: p.arn.clone(),
            policy_id: p.policy_id.clone(),
            path: p.path.clone(),
            description: p.description.clone(),
            default_version: "v1".into(),
            attachment_count: count,
            created_at: p.created_at,
            document: p.document.clone(),
        })
    }

    fn policy_not_found(arn: &str) -> IamError {
        IamError::no_such(format!(
            "Policy {arn} does not exist or is not attachable; create it with `aws iam create-policy`, or use an AWS-managed one such as arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy."
        ))
    }

    /// CreatePolicy (customer-managed, version `v1`).
    pub fn create_policy(
        &mut self,
        env: &mut Env,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<String>,
    ) -> Result<PolicyView, IamError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !ok {
            return Err(IamError::validation(format!(
                "Invalid PolicyName {name}: 1 to 128 letters, digits or +=,.@_- characters."
            )));
        }
        let path = path.unwrap_or("/").to_string();
        if !path.starts_with('/') || !path.ends_with('/') || path.len() > 512 {
            return Err(IamError::validation(format!(
                "Invalid Path {path}: a path starts and ends with /."
            )));
        }
        let size = super::authz::policy_size(document);
        if size > super::authz::MAX_MANAGED {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Cannot exceed quota for PolicySize: {}; the policy document is {size} characters (whitespace not counted). Split it into several policies.",
                    super::authz::MAX_MANAGED
                ),
            });
        }
        let statements = parse_policy(document).map_err(|e| IamError::MalformedPolicy {
            message: e.to_string(),
        })?;
        let arn = format!("arn:aws:iam::{}:policy{path}{name}", env.config.account_id);
        if self.policies.values().any(|p| p.name == name) {
            return Err(IamError::AlreadyExists {
                message: format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                ),
            });
        }
        let p = ManagedPolicy {
            name: name.to_string(),
            arn: arn.clone(),
            policy_id: unique_id(env.rng, "ANPA"),
            path,
            description,
            document: document.to_string(),
            statements,
            created_at: env.now,
        };
        self.policies.insert(arn.clone(), p);
        self.policy_view(&arn)
            .ok_or_else(|| Self::policy_not_found(&arn))
    }

    /// GetPolicy.
    pub fn get_policy(&self, arn: &str) -> Result<PolicyView, IamError> {
        self.policy_view(arn)
            .ok_or_else(|| Self::policy_not_found(arn))
    }

    /// GetPolicyVersion: the document of `version` (only the default version exists).
    pub fn get_policy_version(&self, arn: &str, version: &str) -> Result<PolicyView, IamError> {
        let p = self.get_policy(arn)?;
        if p.default_version != version {
            return Err(IamError::no_such(format!(
                "Policy {arn} version {version} does not exist; its default version is {}.",
                p.default_version
            )));
        }
        Ok(p)
    }

    /// AttachRolePolicy (attaching twice is a no-op, as on AWS).
    pub fn attach_role_policy(&mut self, role: &str, arn: &str) -> Result<(), IamError> {
        self.role(role)?;
        self.get_policy(arn)?;
        let r = self
            .roles
            .get(role)
            .map(|r| r.attached.clone())
            .unwrap_or_default();
        if r.iter().any(|a| a == arn) {
            return Ok(());
        }
        if r.len() >= MAX_ATTACHED {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED}; detach one from role {role} first."
                ),
            });
        }
        if let Some(r) = self.roles.get_mut(role) {
            r.attached.push(arn.to_string());
        }
        Ok(())
    }

    /// DetachRolePolicy.
    pub fn detach_role_policy(&mut self, role: &str, arn: &str) -> Result<(), IamError> {
        let attached = self.role(role)?.attached.iter().any(|a| a == arn);
        if !attached {
            return Err(IamError::no_such(format!(
                "Policy {arn} was not found attached to role {role}."
            )));
        }
        if let Some(r) = self.roles.get_mut(role) {
            r.attached.retain(|a| a != arn);
        }
        Ok(())
    }

    /// ListAttachedRolePolicies: (name, arn) in attach order.
    pub fn list_attached_role_policies(
        &self,
        role: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        Ok(self
            .role(role)?
            .attached
            .iter()
            .map(|a| {
                let name = a.rsplit('/').next().unwrap_or_default().to_string();
                (name, a.clone())
            })
            .collect())
    }

    /// Every `Allow` statement of role `name`: inline and attached policies.
    pub fn role_statements(&self, name: &str) -> Vec<Statement> {
        let Some(r) = self.roles.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<Statement> = r.policies.values().flatten().cloned().collect();
        for arn in &r.attached {
            if let Some(p) = managed::by_arn(arn) {
                out.extend(p.statements());
            } else if let Some(p) = self.policies.get(arn) {
                out.extend(p.statements.iter().cloned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::roles::IPV6_POLICY_DOCUMENT;
    use crate::eks::testing::World;
    use crate::iam::roles::CreateRole;

    const ARN: &str = "arn:aws:iam::123456789012:role/cni";

    #[test]
    fn attaching_only_the_cni_managed_policy_still_misses_every_ipv6_action_but_the_shared_ones() {
        let mut w = World::new();
        w.with(|s, env| s.create_role(env, CreateRole::named("cni")))
            .unwrap();
        w.state
            .attach_role_policy("cni", &managed::EKS_CNI.arn())
            .unwrap();
        let missing = w
            .state
            .missing_ipv6_actions("us-east-1", "123456789012", ARN);
        assert_eq!(missing, vec!["ec2:AssignIpv6Addresses"]);
        // The IPv6 policy as a customer-managed policy, attached: nothing missing.
        let p = w
            .with(|s, env| {
                s.create_policy(
                    env,
                    "AmazonEKS_CNI_IPv6_Policy",
                    None,
                    IPV6_POLICY_DOCUMENT,
                    None,
                )
            })
            .unwrap();
        w.state.attach_role_policy("cni", &p.arn).unwrap();
        assert!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", ARN)
                .is_empty()
        );
        assert_eq!(w.state.get_policy(&p.arn).unwrap().attachment_count, 1);
        w.state.detach_role_policy("cni", &p.arn).unwrap();
        assert_eq!(
            w.state
                .missing_ipv6_actions("us-east-1", "123456789012", ARN),
            vec!["ec2:AssignIpv6Addresses"]
        );
        assert!(w.state.detach_role_policy("cni", &p.arn).is_err());
        assert!(
            w.state
                .attach_role_policy("cni", "arn:aws:iam::aws:policy/Nope")
                .is_err()
        );
    }
}
