//! Who signed a request: the region's own key, or temporary credentials STS issued (sent with
//! `X-Amz-Security-Token`), refused once they expire. Errors carry each protocol's code.

use sigv4::AuthError;

/// The principal a verified request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    /// `arn:aws:iam::ACCOUNT:user/sixfold` for the region's key, the assumed-role ARN for
    /// temporary credentials.
    pub arn: String,
    /// What `GetCallerIdentity` reports as `UserId`.
    pub user_id: String,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthFailure {
    #[error(transparent)]
    Signature(#[from] AuthError),
    /// Temporary credentials past their expiration.
    #[error("temporary credentials {access_key_id} expired at {expiration}")]
    ExpiredToken {
        access_key_id: String,
        expiration: u64,
    },
    /// Temporary credentials sent without their session token, or with another one.
    #[error("temporary credentials {access_key_id} came without their session token")]
    InvalidToken { access_key_id: String },
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
