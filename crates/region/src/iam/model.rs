//! IAM and STS resources as the region stores them.

use serde::{Deserialize, Serialize};

pub use crate::eks::model::{Role, Statement};

/// A customer-managed policy (one version, `v1`, the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    /// `ANPA` + 17 characters.
    pub policy_id: String,
    pub path: String,
    pub description: Option<String>,
    /// The document as given (JSON).
    pub document: String,
    pub statements: Vec<Statement>,
    pub created_at: u64,
}

/// An IAM OpenID Connect provider: tokens whose `iss` is `url` may be exchanged with STS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// `arn:aws:iam::ACCOUNT:oidc-provider/<url without scheme>`.
    pub arn: String,
    /// The issuer URL as given (`https://...` or, for this region's own issuers, `http://...`).
    pub url: String,
    /// Accepted audiences (`aud`), e.g. `sts.amazonaws.com`.
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub created_at: u64,
}

/// A cluster's OIDC signing key (RSA 2048, RS256), made on first use. Big-endian hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub cluster: String,
    /// `kid` of the JWKS entry and of the tokens it signs.
    pub kid: String,
    pub n: String,
    pub e: String,
    pub d: String,
    pub primes: Vec<String>,
    pub created_at: u64,
}

/// Temporary credentials issued by STS; requests signed with them are accepted until
/// `expiration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `ASIA` + 16 characters.
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expiration: u64,
    pub role_arn: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
    /// `ROLEID:SESSION`.
    pub assumed_role_id: String,
}

/// An IAM instance profile: a container for (at most) one role that EC2 instances launched with
/// it get credentials for through the instance metadata service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:instance-profile{path}{name}`.
    pub arn: String,
    /// `AIPA` + 17 characters.
    pub instance_profile_id: String,
    pub path: String,
    /// Names of the roles in the profile (IAM allows one).
    pub roles: Vec<String>,
    pub created_at: u64,
}
