//! IAM roles: CreateRole (trust policy kept as given, unique `AROA` id, `MaxSessionDuration`),
//! GetRole, PutRolePolicy (inline policies, parsed into `Allow` statements).

use super::authz::{MAX_INLINE_TOTAL, policy_size};
use super::error::IamError;
use super::model::Role;
use super::unique_id;
use crate::eks::roles::parse_policy;
use crate::region::Env;
use crate::state::State;

/// CreateRole's parameters.
#[derive(Debug, Clone)]
pub struct CreateRole {
    /// `RoleName`.
    pub name: String,
    /// `Path` (default `/`).
    pub path: Option<String>,
    /// `AssumeRolePolicyDocument`: the trust policy (JSON).
    pub assume_role_policy: String,
    /// `Description`.
    pub description: Option<String>,
    /// `MaxSessionDuration` in seconds (3600 to 43200, default 3600).
    pub max_session_duration: Option<u32>,
}

impl CreateRole {
    /// A role with a trust policy that lets EC2 assume it (what the EKS guides create first).
    pub fn named(name: &str) -> Self {
        CreateRole {
            name: name.to_string(),
            path: None,
            assume_role_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
            description: None,
            max_session_duration: None,
        }
    }
}

fn malformed(e: crate::eks::EksError) -> IamError {
    IamError::MalformedPolicy {
        message: e.to_string(),
    }
}

impl State {
    /// The role `name`.
    pub fn role(&self, name: &str) -> Result<&Role, IamError> {
        self.roles.get(name).ok_or_else(|| {
            IamError::no_such(format!(
                "The role with name {name} cannot be found; create it first with `aws iam create-role`."
            ))
        })
    }

    /// CreateRole.
    pub fn create_role(&mut self, env: &mut Env, req: CreateRole) -> Result<Role, IamError> {
        let name = &req.name;
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !ok {
            return Err(IamError::validation(format!(
                "Invalid RoleName {name}: a role name is 1 to 64 letters, digits or +=,.@_- characters."
            )));
        }
        let path = req.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') || !path.ends_with('/') || path.len() > 512 {
            return Err(IamError::validation(format!(
                "Invalid Path {path}: a path starts and ends with / (e.g. / or /eks/)."
            )));
        }
        let trust: serde_json::Value =
            serde_json::from_str(&req.assume_role_policy).map_err(|e| IamError::MalformedPolicy {
                message: format!("AssumeRolePolicyDocument is not JSON ({e}); give a trust policy such as {{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\"eks.amazonaws.com\"}},\"Action\":\"sts:AssumeRole\"}}]}}."),
            })?;
        if !trust.is_object() {
            return Err(IamError::MalformedPolicy {
                message: "AssumeRolePolicyDocument must be a JSON object (a trust policy).".into(),
            });
        }
        let max = req.max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max) {
            return Err(IamError::validation(format!(
                "Invalid MaxSessionDuration {max}: give 3600 to 43200 seconds."
            )));
        }
        if self.roles.contains(name) {
            return Err(IamError::AlreadyExists {
                message: format!("Role with name {name} already exists."),
            });
        }
        let role = Role {
            name: name.clone(),
            arn: format!("arn:aws:iam::{}:role{path}{name}", env.config.account_id),
            created_at: env.now,
            policies: Default::default(),
            role_id: unique_id(env.rng, "AROA"),
            path,
            assume_role_policy: req.assume_role_policy,
            description: req.description,
            max_session_duration: max,
            attached: Vec::new(),
            inline_documents: Default::default(),
        };
        self.roles.insert(name.clone(), role.clone());
        Ok(role)
    }

    /// PutRolePolicy: set the inline policy `policy` of role `name`.
    pub fn put_role_policy(
        &mut self,
        name: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), IamError> {
        if policy.is_empty() || policy.len() > 128 {
            return Err(IamError::validation(format!(
                "Invalid PolicyName {policy}: 1 to 128 characters."
            )));
        }
        let statements = parse_policy(document).map_err(malformed)?;
        let role = self.role(name)?;
        let others: usize = role
            .inline_documents
            .iter()
            .filter(|(n, _)| n.as_str() != policy)
            .map(|(_, d)| policy_size(d))
            .sum();
        let total = others + policy_size(document);
        if total > MAX_INLINE_TOTAL {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Maximum policy size of {MAX_INLINE_TOTAL} bytes exceeded for role {name}: its inline policies would hold {total} characters (whitespace not counted). Use a managed policy (aws iam create-policy + attach-role-policy) instead."
                ),
            });
        }
        if let Some(role) = self.roles.get_mut(name) {
            role.policies.insert(policy.to_string(), statements);
            role.inline_documents
                .insert(policy.to_string(), document.to_string());
        }
        Ok(())
    }
}

impl State {
    /// GetRolePolicy: the inline policy document `policy` of role `name`, as given.
    pub fn get_role_policy(&self, name: &str, policy: &str) -> Result<String, IamError> {
        let role = self.role(name)?;
        role.inline_documents
            .get(policy)
            .cloned()
            .or_else(|| {
                // Rows stored before documents were kept: their Allow statements.
                role.policies.get(policy).map(|st| {
                    let statements: Vec<serde_json::Value> = st
                        .iter()
                        .map(|s| serde_json::json!({"Effect": "Allow", "Action": s.actions, "Resource": s.resources}))
                        .collect();
                    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
                })
            })
            .ok_or_else(|| {
                IamError::no_such(format!(
                    "The role policy with name {policy} cannot be found on role {name} (aws iam list-role-policies --role-name {name})."
                ))
            })
    }

    /// ListRolePolicies: the names of the inline policies of role `name`, in name order.
    pub fn list_role_policies(&self, name: &str) -> Result<Vec<String>, IamError> {
        Ok(self.role(name)?.policies.keys().cloned().collect())
    }

    /// DeleteRolePolicy: takes effect for credentials already issued, at their next request.
    pub fn delete_role_policy(&mut self, name: &str, policy: &str) -> Result<(), IamError> {
        self.get_role_policy(name, policy)?;
        if let Some(role) = self.roles.get_mut(name) {
            role.policies.remove(policy);
            role.inline_documents.remove(policy);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::testing::World;

    #[test]
    fn role_ids_are_random_and_unique_even_for_names_of_equal_length() {
        let mut w = World::new();
        let a = w
            .with(|s, env| s.create_role(env, CreateRole::named("aaaa")))
            .unwrap();
        let b = w
            .with(|s, env| s.create_role(env, CreateRole::named("bbbb")))
            .unwrap();
        assert_ne!(a.role_id, b.role_id);
        assert!(a.role_id.starts_with("AROA") && a.role_id.len() == 21);
        assert_eq!(a.max_session_duration, 3600);
        assert!(matches!(
            w.with(|s, env| s.create_role(env, CreateRole::named("aaaa"))),
            Err(IamError::AlreadyExists { .. })
        ));
    }
}
