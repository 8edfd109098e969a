//! IAM instance profiles (CreateInstanceProfile, AddRoleToInstanceProfile,
//! RemoveRoleFromInstanceProfile, GetInstanceProfile, ListInstanceProfiles,
//! ListInstanceProfilesForRole, DeleteInstanceProfile) and the credentials an instance gets from
//! the role in its profile, as the instance metadata service hands them out.

use super::error::IamError;
use super::model::{InstanceProfile, Role, Session};
use super::unique_id;
use crate::ec2::model::InstanceState;
use crate::region::Env;
use crate::state::State;

/// Most roles in one instance profile (IAM's fixed quota).
pub const MAX_ROLES_PER_PROFILE: usize = 1;
/// Most instance profiles in an account (IAM's default quota).
pub const MAX_PROFILES: usize = 1000;
/// How long instance credentials are valid by default (what EC2's metadata service gives).
pub const INSTANCE_CREDENTIALS_DEFAULT: u32 = 6 * 3600;
/// Shortest instance credentials lifetime one may ask for, in seconds.
pub const INSTANCE_CREDENTIALS_MIN: u32 = 900;
/// Longest instance credentials lifetime one may ask for, in seconds.
pub const INSTANCE_CREDENTIALS_MAX: u32 = 12 * 3600;

/// How RunInstances names an instance profile (`--iam-instance-profile Arn=...|Name=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileRef {
    /// `Arn=arn:aws:iam::ACCOUNT:instance-profile/NAME`.
    Arn(String),
    /// `Name=NAME`.
    Name(String),
}

/// An instance profile with its roles, as GetInstanceProfile shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    /// The stored profile.
    pub profile: InstanceProfile,
    /// The roles that exist (a role deleted meanwhile is left out, as IAM does).
    pub roles: Vec<Role>,
}

/// Credentials issued to an instance for the role in its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCredentials {
    /// The role in the instance's profile (what IMDS lists at `iam/security-credentials/`).
    pub role_name: String,
    /// The credentials, stored like STS's (session name: the instance id).
    pub session: Session,
}

/// Why an instance gets no credentials (each a 404 on the wire, told apart by its kind).
#[derive(Debug, thiserror::Error)]
pub enum InstanceCredentialsError {
    #[error(
        "Instance {0} does not exist (or is terminated); give the id of a running instance (aws ec2 describe-instances)."
    )]
    /// No such instance, or it is terminated.
    NoInstance(String),
    #[error(
        "Instance {0} has no IAM instance profile; launch it with `aws ec2 run-instances --iam-instance-profile Name=PROFILE` (node groups get their node role's profile)."
    )]
    /// The instance was launched without an instance profile.
    NoProfile(String),
    #[error(
        "The instance profile {profile} of instance {instance} holds no role (or only a role that no longer exists); add one with `aws iam add-role-to-instance-profile --instance-profile-name {profile} --role-name ROLE`."
    )]
    /// The profile is gone, holds no role, or its role no longer exists.
    NoRole {
        /// The instance id.
        instance: String,
        /// The profile's name.
        profile: String,
    },
    #[error(
        "Invalid credentials lifetime {0} seconds: give {INSTANCE_CREDENTIALS_MIN} to {INSTANCE_CREDENTIALS_MAX}."
    )]
    /// The lifetime asked for is out of bounds.
    Duration(u32),
    /// The region's store failed.
    #[error("the region's store failed: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn check_name(name: &str) -> Result<(), IamError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "Invalid InstanceProfileName {}: 1 to 128 letters, digits or +=,.@_- characters.",
            name.chars().take(140).collect::<String>()
        )))
    }
}

impl State {
    /// The instance profile `name`.
    pub fn instance_profile(&self, name: &str) -> Result<&InstanceProfile, IamError> {
        self.instance_profiles.get(name).ok_or_else(|| {
            IamError::no_such(format!(
                "Instance Profile {name} cannot be found; create it with `aws iam create-instance-profile --instance-profile-name {name}`."
            ))
        })
    }

    fn profile_view(&self, p: &InstanceProfile) -> ProfileView {
        ProfileView {
            profile: p.clone(),
            roles: p
                .roles
                .iter()
                .filter_map(|r| self.roles.get(r).cloned())
                .collect(),
        }
    }

    /// CreateInstanceProfile.
    pub fn create_instance_profile(
        &mut self,
        env: &mut Env,
        name: &str,
        path: Option<&str>,
    ) -> Result<ProfileView, IamError> {
        check_name(name)?;
        let path = path.unwrap_or("/").to_string();
        if !path.starts_with('/') || !path.ends_with('/') || path.len() > 512 {
            return Err(IamError::validation(format!(
                "Invalid Path {path}: a path starts and ends with / (e.g. / or /eks/)."
            )));
        }
        if self.instance_profiles.contains(name) {
            return Err(IamError::AlreadyExists {
                message: format!("Instance Profile {name} already exists."),
            });
        }
        if self.instance_profiles.len() >= MAX_PROFILES {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Cannot exceed quota for InstanceProfilesPerAccount: {MAX_PROFILES}; delete unused instance profiles first."
                ),
            });
        }
        let p = InstanceProfile {
            name: name.to_string(),
            arn: format!(
                "arn:aws:iam::{}:instance-profile{path}{name}",
                env.config.account_id
            ),
            instance_profile_id: unique_id(env.rng, "AIPA"),
            path,
            roles: Vec::new(),
            created_at: env.now,
        };
        self.instance_profiles.insert(name.to_string(), p.clone());
        Ok(self.profile_view(&p))
    }

    /// AddRoleToInstanceProfile (one role per profile: a second is `LimitExceeded`).
    pub fn add_role_to_instance_profile(
        &mut self,
        profile: &str,
        role: &str,
    ) -> Result<(), IamError> {
        let p = self.instance_profile(profile)?.clone();
        self.role(role)?;
        if p.roles.iter().any(|r| r == role) {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES_PER_PROFILE}; role {role} is already in instance profile {profile}."
                ),
            });
        }
        if p.roles.len() >= MAX_ROLES_PER_PROFILE {
            return Err(IamError::LimitExceeded {
                message: format!(
                    "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES_PER_PROFILE}; instance profile {profile} already holds role {}: remove it first (aws iam remove-role-from-instance-profile).",
                    p.roles.join(", ")
                ),
            });
        }
        if let Some(p) = self.instance_profiles.get_mut(profile) {
            p.roles.push(role.to_string());
        }
        Ok(())
    }

    /// RemoveRoleFromInstanceProfile.
    pub fn remove_role_from_instance_profile(
        &mut self,
        profile: &str,
        role: &str,
    ) -> Result<(), IamError> {
        let p = self.instance_profile(profile)?;
        if !p.roles.iter().any(|r| r == role) {
            return Err(IamError::no_such(format!(
                "Role {role} is not in instance profile {profile}."
            )));
        }
        if let Some(p) = self.instance_profiles.get_mut(profile) {
            p.roles.retain(|r| r != role);
        }
        Ok(())
    }

    /// GetInstanceProfile.
    pub fn get_instance_profile(&self, name: &str) -> Result<ProfileView, IamError> {
        let p = self.instance_profile(name)?;
        Ok(self.profile_view(p))
    }

    /// ListInstanceProfiles under `path_prefix` (default `/`), in name order.
    pub fn list_instance_profiles(&self, path_prefix: Option<&str>) -> Vec<ProfileView> {
        let prefix = path_prefix.unwrap_or("/");
        self.instance_profiles
            .values()
            .filter(|p| p.path.starts_with(prefix))
            .map(|p| self.profile_view(p))
            .collect()
    }

    /// ListInstanceProfilesForRole.
    pub fn list_instance_profiles_for_role(
        &self,
        role: &str,
    ) -> Result<Vec<ProfileView>, IamError> {
        self.role(role)?;
        Ok(self
            .instance_profiles
            .values()
            .filter(|p| p.roles.iter().any(|r| r == role))
            .map(|p| self.profile_view(p))
            .collect())
    }

    /// DeleteInstanceProfile: only once it holds no role (`DeleteConflict`), as on IAM.
    /// Instances launched with it keep the association but get no credentials.
    pub fn delete_instance_profile(&mut self, name: &str) -> Result<(), IamError> {
        let p = self.instance_profile(name)?;
        if !p.roles.is_empty() {
            return Err(IamError::DeleteConflict {
                message: format!(
                    "Cannot delete entity, must remove roles from instance profile first: {name} holds {} (aws iam remove-role-from-instance-profile).",
                    p.roles.join(", ")
                ),
            });
        }
        self.instance_profiles.remove(name);
        Ok(())
    }

    /// The instance profile RunInstances names, by ARN or name.
    pub fn resolve_instance_profile(&self, r: &ProfileRef) -> Option<&InstanceProfile> {
        match r {
            ProfileRef::Name(n) => self.instance_profiles.get(n),
            ProfileRef::Arn(a) => {
                let name = a.rsplit('/').next().unwrap_or_default();
                self.instance_profiles.get(name).filter(|p| &p.arn == a)
            }
        }
    }

    /// The instance profile that backs the nodes of a node group whose node role is
    /// `role_arn`: `name` made on first use, holding the role (as EKS makes one for
    /// CreateNodegroup). A role not (yet) in IAM is recorded by name all the same; such
    /// nodes get no credentials until it exists.
    pub fn ensure_node_profile(
        &mut self,
        env: &mut Env,
        name: &str,
        role_arn: &str,
    ) -> Result<InstanceProfile, IamError> {
        if let Some(p) = self.instance_profiles.get(name) {
            return Ok(p.clone());
        }
        let role = role_arn.rsplit('/').next().unwrap_or_default().to_string();
        let view = self.create_instance_profile(env, name, Some("/"))?;
        let mut p = view.profile;
        p.roles = vec![role];
        self.instance_profiles.insert(name.to_string(), p.clone());
        Ok(p)
    }

    /// Fresh temporary credentials for the role in the instance profile of `instance_id`
    /// (session name: the instance id, as EC2 names it), valid `duration` seconds (default
    /// [`INSTANCE_CREDENTIALS_DEFAULT`]). Requests signed with them act as that role.
    pub fn issue_instance_credentials(
        &mut self,
        env: &mut Env,
        instance_id: &str,
        duration: Option<u32>,
    ) -> Result<InstanceCredentials, InstanceCredentialsError> {
        let duration = duration.unwrap_or(INSTANCE_CREDENTIALS_DEFAULT);
        if !(INSTANCE_CREDENTIALS_MIN..=INSTANCE_CREDENTIALS_MAX).contains(&duration) {
            return Err(InstanceCredentialsError::Duration(duration));
        }
        let inst = self
            .instances
            .get(instance_id)
            .filter(|i| i.state != InstanceState::Terminated)
            .ok_or_else(|| InstanceCredentialsError::NoInstance(instance_id.to_string()))?;
        let assoc = inst
            .iam_instance_profile
            .clone()
            .ok_or_else(|| InstanceCredentialsError::NoProfile(instance_id.to_string()))?;
        let no_role = || InstanceCredentialsError::NoRole {
            instance: instance_id.to_string(),
            profile: assoc.arn.rsplit('/').next().unwrap_or_default().to_string(),
        };
        let profile = self
            .resolve_instance_profile(&ProfileRef::Arn(assoc.arn.clone()))
            .filter(|p| p.instance_profile_id == assoc.id)
            .ok_or_else(no_role)?;
        let role = profile
            .roles
            .first()
            .and_then(|r| self.roles.get(r))
            .cloned()
            .ok_or_else(no_role)?;
        let session = self.issue_session(env, &role, instance_id, duration);
        Ok(InstanceCredentials {
            role_name: role.name,
            session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::testing::World;
    use crate::iam::roles::CreateRole;

    #[test]
    fn a_profile_holds_one_role_and_is_deleted_only_once_empty() {
        let mut w = World::new();
        w.with(|s, env| s.create_role(env, CreateRole::named("node")))
            .unwrap();
        w.with(|s, env| s.create_role(env, CreateRole::named("other")))
            .unwrap();
        let p = w
            .with(|s, env| s.create_instance_profile(env, "nodes", None))
            .unwrap();
        assert_eq!(
            p.profile.arn,
            "arn:aws:iam::123456789012:instance-profile/nodes"
        );
        assert!(p.profile.instance_profile_id.starts_with("AIPA"));
        assert!(matches!(
            w.with(|s, env| s.create_instance_profile(env, "nodes", None)),
            Err(IamError::AlreadyExists { .. })
        ));
        assert!(matches!(
            w.state.add_role_to_instance_profile("nodes", "ghost"),
            Err(IamError::NoSuchEntity { .. })
        ));
        w.state
            .add_role_to_instance_profile("nodes", "node")
            .unwrap();
        let e = w
            .state
            .add_role_to_instance_profile("nodes", "other")
            .unwrap_err();
        assert!(matches!(e, IamError::LimitExceeded { .. }), "{e}");
        assert_eq!(
            w.state
                .list_instance_profiles_for_role("node")
                .unwrap()
                .len(),
            1
        );
        assert!(
            w.state
                .list_instance_profiles_for_role("other")
                .unwrap()
                .is_empty()
        );
        let e = w.state.delete_instance_profile("nodes").unwrap_err();
        assert!(matches!(e, IamError::DeleteConflict { .. }), "{e}");
        w.state
            .remove_role_from_instance_profile("nodes", "node")
            .unwrap();
        assert!(
            w.state
                .remove_role_from_instance_profile("nodes", "node")
                .is_err()
        );
        w.state.delete_instance_profile("nodes").unwrap();
        assert!(w.state.get_instance_profile("nodes").is_err());
        assert!(matches!(
            w.with(|s, env| s.create_instance_profile(env, "bad name", None)),
            Err(IamError::Validation { .. })
        ));
    }
}
