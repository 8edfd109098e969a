//! Typed IAM and STS errors. The Query wire code and status of each are chosen in one place,
//! `region-api`'s IAM and STS modules.

use crate::store::StoreError;

/// What an IAM or STS operation can fail with. Messages name the bad value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// A parameter is missing or malformed (`ValidationError`).
    #[error("{message}")]
    Validation {
        /// The whole message, naming the parameter and the fix.
        message: String,
    },

    /// A well-formed request IAM refuses (`InvalidInput`).
    #[error("{message}")]
    InvalidInput {
        /// The whole message, naming what is refused and why.
        message: String,
    },

    /// The entity does not exist (`NoSuchEntity`, 404).
    #[error("{message}")]
    NoSuchEntity {
        /// The whole message, naming the entity.
        message: String,
    },

    /// The entity exists already (`EntityAlreadyExists`, 409).
    #[error("{message}")]
    AlreadyExists {
        /// The whole message, naming the entity.
        message: String,
    },

    /// A policy document is not a valid policy (`MalformedPolicyDocument`).
    #[error("{message}")]
    MalformedPolicy {
        /// The whole message, naming what is wrong in the document.
        message: String,
    },

    /// The entity still has dependents (`DeleteConflict`, 409), e.g. an instance profile that
    /// holds a role.
    #[error("{message}")]
    DeleteConflict {
        /// What depends on the entity and how to detach it.
        message: String,
    },

    /// A quota would be passed (`LimitExceeded`, 409).
    #[error("{message}")]
    LimitExceeded {
        /// The whole message, naming the quota.
        message: String,
    },

    /// STS: the web identity token is not valid (`InvalidIdentityToken`).
    #[error("{message}")]
    InvalidIdentityToken {
        /// The whole message, naming what is wrong with the token.
        message: String,
    },

    /// STS: the web identity token has expired (`ExpiredTokenException`).
    #[error("{message}")]
    ExpiredToken {
        /// The whole message, naming when the token expired.
        message: String,
    },

    /// STS: the role does not trust the caller for this action (`AccessDenied`, 403).
    #[error("{message}")]
    AccessDenied {
        /// The whole message, naming the role and the caller.
        message: String,
    },

    /// The store failed to read or commit; nothing changed.
    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl IamError {
    /// [`IamError::Validation`] with `message`.
    pub fn validation(message: impl Into<String>) -> Self {
        IamError::Validation {
            message: message.into(),
        }
    }

    /// [`IamError::Validation`] worded as IAM words a required member that is absent.
    pub fn missing(member: &str) -> Self {
        IamError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// [`IamError::NoSuchEntity`] with `message`.
    pub fn no_such(message: impl Into<String>) -> Self {
        IamError::NoSuchEntity {
            message: message.into(),
        }
    }

    /// [`IamError::InvalidIdentityToken`] with `message`.
    pub fn invalid_token(message: impl Into<String>) -> Self {
        IamError::InvalidIdentityToken {
            message: message.into(),
        }
    }

    /// [`IamError::AccessDenied`] with `message`.
    pub fn denied(message: impl Into<String>) -> Self {
        IamError::AccessDenied {
            message: message.into(),
        }
    }
}
