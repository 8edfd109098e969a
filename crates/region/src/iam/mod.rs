//! IAM and STS as far as EKS workflows need them: roles (trust policy, inline and attached
//! policies), customer-managed and AWS-managed policies, OpenID Connect providers, and STS
//! temporary credentials issued by `AssumeRoleWithWebIdentity` against the clusters' OIDC
//! issuers (IRSA). Pure domain: keys and ids come from [`Env`](crate::Env)'s random source.

pub mod authz;
pub mod error;
pub mod jwt;
pub mod managed;
pub mod model;
pub mod policies;
pub mod profiles;
pub mod roles;
pub mod sts;

pub use error::IamError;

use rand::RngCore;

/// `len` random characters of `alphabet`.
pub fn random_chars(rng: &mut dyn RngCore, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[(rng.next_u32() as usize) % alphabet.len()] as char)
        .collect()
}

/// Upper-case letters and digits (the alphabet of IAM unique ids and access key ids).
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An IAM unique id: `prefix` + 17 characters (`AROA...` roles, `ANPA...` policies).
pub fn unique_id(rng: &mut dyn RngCore, prefix: &str) -> String {
    format!("{prefix}{}", random_chars(rng, UPPER_ALNUM, 17))
}
