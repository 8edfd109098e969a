//! Who signed a request: the region's own key, or temporary credentials STS issued (sent with
//! `X-Amz-Security-Token`), refused once they expire. Errors carry each protocol's code.

use sigv4::AuthError;

/// The principal a verified request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id the request was signed with (the region's key or a temporary `ASIA...` key).
    pub access_key_id: String,
    /// `arn:aws:iam::ACCOUNT:user/sixfold` for the region's key, the assumed-role ARN for
    /// temporary credentials.
    pub arn: String,
    /// What `GetCallerIdentity` reports as `UserId`.
    pub user_id: String,
    /// The role whose policies authorize the request (`arn:aws:iam::ACCOUNT:role/NAME`) for
    /// temporary credentials; `None` for the region's own key, which is unrestricted.
    pub role_arn: Option<String>,
}

/// A request its caller's policies do not allow (nothing was changed). Each protocol answers
/// it in its own shape: EC2 `UnauthorizedOperation`, EKS `AccessDeniedException`, IAM, STS and
/// ELBv2 `AccessDenied`, all 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Denied {
    /// The assumed-role ARN of the caller.
    pub caller: String,
    /// The role whose policies were evaluated.
    pub role_arn: String,
    /// `service:Action`.
    pub action: String,
    /// The resource ARN refused (`*` when the action names none).
    pub resource: String,
    /// A `Deny` statement matched (otherwise no statement allowed it).
    pub explicit: bool,
}

impl Denied {
    /// AWS's wording, then the fix.
    pub fn message(&self) -> String {
        let Denied {
            caller,
            role_arn,
            action,
            resource,
            explicit,
        } = self;
        let role = role_arn.rsplit('/').next().unwrap_or_default();
        if *explicit {
            format!(
                "User: {caller} is not authorized to perform: {action} on resource: {resource} with an explicit deny in an identity-based policy. Remove or narrow the Deny statement in the policies of role {role} (aws iam list-attached-role-policies / get-role-policy)."
            )
        } else {
            format!(
                "User: {caller} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action. Allow it in a policy of role {role} (aws iam put-role-policy or attach-role-policy); the same credentials work once it is attached."
            )
        }
    }

    /// The EC2 message (`UnauthorizedOperation`).
    pub fn ec2_message(&self) -> String {
        format!(
            "You are not authorized to perform this operation. {}",
            self.message()
        )
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthFailure {
    /// The SigV4 signature is missing, malformed, stale or does not verify.
    #[error(transparent)]
    Signature(#[from] AuthError),
    /// Temporary credentials past their expiration.
    #[error("temporary credentials {access_key_id} expired at {expiration}")]
    ExpiredToken {
        /// The temporary key that has expired.
        access_key_id: String,
        /// When it expired (seconds since the Unix epoch).
        expiration: u64,
    },
    /// Temporary credentials sent without their session token, or with another one.
    #[error("temporary credentials {access_key_id} came without their session token")]
    InvalidToken {
        /// The temporary key whose token is missing or wrong.
        access_key_id: String,
    },
}

impl AuthFailure {
    /// EC2 Query `<Code>`.
    pub fn ec2_code(&self) -> &'static str {
        match self {
            AuthFailure::Signature(e) => e.ec2_code(),
            AuthFailure::ExpiredToken { .. } => "ExpiredToken",
            AuthFailure::InvalidToken { .. } => "AuthFailure",
        }
    }

    /// HTTP status of the EC2 Query error answer.
    pub fn ec2_status(&self) -> u16 {
        match self {
            AuthFailure::Signature(e) => e.ec2_status(),
            AuthFailure::ExpiredToken { .. } => 400,
            AuthFailure::InvalidToken { .. } => 401,
        }
    }

    /// IAM and STS Query `<Code>`.
    pub fn query_code(&self) -> &'static str {
        match self {
            AuthFailure::Signature(AuthError::UnknownAccessKey { .. }) => "InvalidClientTokenId",
            AuthFailure::Signature(e) => e.ec2_code(),
            AuthFailure::ExpiredToken { .. } => "ExpiredToken",
            AuthFailure::InvalidToken { .. } => "InvalidClientTokenId",
        }
    }

    /// HTTP status of the IAM/STS/ELBv2 Query error answer.
    pub fn query_status(&self) -> u16 {
        match self {
            AuthFailure::Signature(AuthError::UnknownAccessKey { .. }) => 403,
            AuthFailure::Signature(e) => e.ec2_status(),
            AuthFailure::ExpiredToken { .. } => 400,
            AuthFailure::InvalidToken { .. } => 403,
        }
    }

    /// EKS `x-amzn-ErrorType`.
    pub fn eks_error_type(&self) -> &'static str {
        match self {
            AuthFailure::Signature(e) => e.eks_error_type(),
            AuthFailure::ExpiredToken { .. } => "ExpiredTokenException",
            AuthFailure::InvalidToken { .. } => "UnrecognizedClientException",
        }
    }

    /// HTTP status of the EKS rest-json error answer.
    pub fn eks_status(&self) -> u16 {
        match self {
            AuthFailure::Signature(e) => e.eks_status(),
            _ => 403,
        }
    }

    /// The message for the client.
    pub fn message(&self) -> String {
        match self {
            AuthFailure::Signature(e) => e.message(),
            AuthFailure::ExpiredToken {
                access_key_id,
                expiration,
            } => format!(
                "The security token included in the request is expired (credentials {access_key_id} expired at {}); call sts assume-role-with-web-identity again for fresh ones.",
                crate::xml::iso8601(*expiration)
            ),
            AuthFailure::InvalidToken { access_key_id } => format!(
                "The security token included in the request is invalid: temporary credentials {access_key_id} must be sent with their SessionToken (X-Amz-Security-Token)."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::SystemTime;

    use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
    use region::iam::model::Session;
    use region::store::{MemStore, StoreError};
    use region::{Region, RegionConfig};

    use super::*;
    use crate::{App, Incoming};

    /// An app whose region clock the test moves, holding one STS session valid until `exp`.
    fn app(clock: Arc<AtomicU64>, exp: u64) -> App {
        let c = clock.clone();
        let region = Region::open(
            RegionConfig {
                name: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
            Box::new(MemStore::default()),
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)),
            Box::new(move || c.load(Ordering::SeqCst)),
        )
        .unwrap();
        region
            .write(|s, _| {
                s.sessions.insert(
                    "ASIATESTTESTTESTTEST".into(),
                    Session {
                        access_key_id: "ASIATESTTESTTESTTEST".into(),
                        secret_access_key: "secret".into(),
                        session_token: "token".into(),
                        expiration: exp,
                        role_arn: "arn:aws:iam::123456789012:role/cni".into(),
                        assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/cni/n".into(),
                        assumed_role_id: "AROAEXAMPLE:n".into(),
                    },
                );
                Ok::<_, StoreError>(())
            })
            .unwrap();
        App::new(
            region,
            sigv4::Credentials::new("AKIAREGIONKEYREGION0", "region-secret"),
        )
    }

    fn signed(token: Option<&str>) -> Incoming {
        let mut creds = sigv4::Credentials::new("ASIATESTTESTTESTTEST", "secret");
        if let Some(t) = token {
            creds = creds.with_session_token(t);
        }
        let body = b"Action=DescribeVpcs&Version=2016-11-15".to_vec();
        let base = vec![("host".to_string(), "localhost".to_string())];
        let req = sigv4::HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &base,
            body: &body,
        };
        let params = sigv4::SigningParams {
            region: "us-east-1",
            service: "ec2",
            time: SystemTime::now(),
            content_sha256_header: false,
        };
        let mut headers = HeaderMap::new();
        for (k, v) in base
            .iter()
            .cloned()
            .chain(sigv4::sign(&req, &creds, &params).unwrap())
        {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        Incoming {
            method: Method::POST,
            path: "/".into(),
            query: String::new(),
            headers,
            body: body.into(),
            remote: None,
            request_id: "r".into(),
        }
    }

    #[test]
    fn temporary_credentials_need_their_token_and_are_refused_once_expired() {
        let clock = Arc::new(AtomicU64::new(1_000));
        let app = app(clock.clone(), 2_000);
        let who = app.authenticate("ec2", &signed(Some("token"))).unwrap();
        assert_eq!(who.arn, "arn:aws:sts::123456789012:assumed-role/cni/n");
        let e = app.authenticate("ec2", &signed(None)).unwrap_err();
        assert!(matches!(e, AuthFailure::InvalidToken { .. }), "{e}");
        let e = app.authenticate("ec2", &signed(Some("other"))).unwrap_err();
        assert!(matches!(e, AuthFailure::InvalidToken { .. }), "{e}");
        clock.store(2_000, Ordering::SeqCst);
        let e = app.authenticate("ec2", &signed(Some("token"))).unwrap_err();
        assert!(matches!(e, AuthFailure::ExpiredToken { .. }), "{e}");
        assert_eq!((e.ec2_status(), e.ec2_code()), (400, "ExpiredToken"));
        assert_eq!(e.eks_error_type(), "ExpiredTokenException");
    }
}
