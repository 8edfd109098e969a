//! Typed IAM and STS errors. The Query wire code and status of each are chosen in one place,
//! `region-api`'s IAM and STS modules.

use crate::store::StoreError;

/// What an IAM or STS operation can fail with. Messages name the bad value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// A parameter is missing or malformed (`ValidationError`).
    #[error("{message}")]
    Validation { message: String },

    /// A well-formed request IAM refuses (`InvalidInput`).
    #[error("{message}")]
    InvalidInput { message: String },

    /// The entity does not exist (`NoSuchEntity`, 404).
    #[error("{message}")]
    NoSuchEntity { message: String },

    /// The entity exists already (`EntityAlreadyExists`, 409).
    #[error("{message}")]
    AlreadyExists { message: String },

    /// A policy document is not a valid policy (`MalformedPolicyDocument`).
    #[error("{message}")]
    MalformedPolicy { message: String },

    /// The entity still has dependents (`DeleteConflict`, 409), e.g. an instance profile that
    /// holds a role.
    #[error("{message}")]
    DeleteConflict { message: String },

    /// A quota would be passed (`LimitExceeded`, 409).
    #[error("{message}")]
    LimitExceeded { message: String },

    /// STS: the web identity token is not valid (`InvalidIdentityToken`).
    #[error("{message}")]
    InvalidIdentityToken { message: String },

    /// STS: the web identity token has expired (`ExpiredTokenException`).
    #[error("{message}")]
    ExpiredToken { message: String },

    /// STS: the role does not trust the caller for this action (`AccessDenied`, 403).
    #[error("{message}")]
    AccessDenied { message: String },

    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl IamError {
    pub fn validation(message: impl Into<String>) -> Self {
        IamError::Validation {
            message: message.into(),
        }
    }

    pub fn missing(member: &str) -> Self {
        IamError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    pub fn no_such(message: impl Into<String>) -> Self {
        IamError::NoSuchEntity {
            message: message.into(),
        }
    }

    pub fn invalid_token(message: impl Into<String>) -> Self {
        IamError::InvalidIdentityToken {
            message: message.into(),
        }
    }

    pub fn denied(message: impl Into<String>) -> Self {
        IamError::AccessDenied {
            message: message.into(),
        }
    }
}
