//! IAM and STS resources as the region stores them.

use serde::{Deserialize, Serialize};

pub use crate::eks::model::{Role, Statement};

/// A customer-managed policy (one version, `v1`, the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    /// Its name, unique in the account.
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
    pub arn: String,
    /// `ANPA` + 17 characters.
    pub policy_id: String,
    /// Its path (`/` unless given).
    pub path: String,
    /// Free-text description.
    pub description: Option<String>,
    /// The document as given (JSON).
    pub document: String,
    /// Its `Allow` statements, parsed from the document.
    pub statements: Vec<Statement>,
    /// When it was created (seconds since the Unix epoch).
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
    /// Thumbprints of the issuer's certificate, as given (not checked).
    pub thumbprints: Vec<String>,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: u64,
}

/// A cluster's OIDC signing key (RSA 2048, RS256), made on first use. Big-endian hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    /// The cluster's name.
    pub cluster: String,
    /// `kid` of the JWKS entry and of the tokens it signs.
    pub kid: String,
    /// The RSA modulus.
    pub n: String,
    /// The public exponent.
    pub e: String,
    /// The private exponent.
    pub d: String,
    /// The two primes.
    pub primes: Vec<String>,
    /// When it was made (seconds since the Unix epoch).
    pub created_at: u64,
}

/// Temporary credentials issued by STS; requests signed with them are accepted until
/// `expiration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `ASIA` + 16 characters.
    pub access_key_id: String,
    /// The secret key that signs with `access_key_id`.
    pub secret_access_key: String,
    /// The session token every request with this key must carry.
    pub session_token: String,
    /// Epoch seconds.
    pub expiration: u64,
    /// The role assumed.
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
    /// `InstanceProfileName` (the table's key).
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:instance-profile{path}{name}`.
    pub arn: String,
    /// `AIPA` + 17 characters.
    pub instance_profile_id: String,
    /// `/` or `/some/path/`.
    pub path: String,
    /// Names of the roles in the profile (IAM allows one).
    pub roles: Vec<String>,
    /// Epoch seconds.
    pub created_at: u64,
}
