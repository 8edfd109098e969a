//! Typed ELBv2 errors. Each variant is one of the error codes of botocore's `elbv2` model; the
//! code (and HTTP status) of each is chosen in one place, `region-api`'s ELBv2 error mapping.
//! Messages name the offending value and the fix.

use crate::eks::Rule;
use crate::store::StoreError;

/// Why an ELBv2 operation was refused (or failed in the store); a refused operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ElbError {
    /// A parameter is missing, malformed or out of range (`ValidationError`).
    #[error("{message}")]
    Validation {
        /// The whole message, naming the parameter and the fix.
        message: String,
    },

    /// No load balancer has this ARN (`LoadBalancerNotFound`).
    #[error("Load balancer '{0}' not found; list them with `aws elbv2 describe-load-balancers`.")]
    LoadBalancerNotFound(String),

    /// No target group has this ARN (`TargetGroupNotFound`).
    #[error("Target group '{0}' not found; list them with `aws elbv2 describe-target-groups`.")]
    TargetGroupNotFound(String),

    /// No listener has this ARN (`ListenerNotFound`).
    #[error(
        "Listener '{0}' not found; list them with `aws elbv2 describe-listeners --load-balancer-arn ...`."
    )]
    ListenerNotFound(String),

    /// A load balancer of this name exists (`DuplicateLoadBalancerName`).
    #[error("A load balancer with the name '{0}' already exists; pick another --name.")]
    DuplicateLoadBalancerName(String),

    /// A target group of this name exists (`DuplicateTargetGroupName`).
    #[error("A target group with the name '{0}' already exists; pick another --name.")]
    DuplicateTargetGroupName(String),

    /// The load balancer has a listener on this port (`DuplicateListener`).
    #[error(
        "A listener already exists on port {port} of load balancer '{lb}'; pick another --port or delete it first."
    )]
    DuplicateListener {
        /// The load balancer's ARN.
        lb: String,
        /// The port given.
        port: u16,
    },

    /// A subnet id that names no subnet (`SubnetNotFound`).
    #[error("The subnet ID '{0}' is not valid; list subnets with `aws ec2 describe-subnets`.")]
    SubnetNotFound(String),

    /// A subnet exists but does not fit the load balancer (`InvalidSubnet`).
    #[error("{message}")]
    InvalidSubnet {
        /// The whole message, naming the subnet and why it does not fit.
        message: String,
    },

    /// A security group not in the load balancer's VPC (`InvalidSecurityGroup`).
    #[error(
        "Security group '{0}' does not exist in the load balancer's VPC; list them with `aws ec2 describe-security-groups`."
    )]
    InvalidSecurityGroup(String),

    /// Well formed, but the resources it names cannot be combined (`InvalidConfigurationRequest`).
    #[error("{message}")]
    InvalidConfiguration {
        /// The whole message, naming the resources.
        message: String,
    },

    /// A listener protocol that does not fit its target group or family (`IncompatibleProtocols`).
    #[error("{message}")]
    IncompatibleProtocols {
        /// The whole message, naming both protocols.
        message: String,
    },

    /// A listener protocol the load balancer's type does not speak (`UnsupportedProtocol`).
    #[error("{message}")]
    UnsupportedProtocol {
        /// The whole message, naming the protocol and the load balancer's type.
        message: String,
    },

    /// A target that cannot be registered or is not registered (`InvalidTarget`).
    #[error("{message}")]
    InvalidTarget {
        /// The whole message, naming the target.
        message: String,
    },

    /// A rule of the IPv6 design refused a target (`InvalidTarget` on the wire).
    #[error("[{rule}] {message} Fix: {fix}")]
    Rule {
        /// The rule that refused it.
        rule: Rule,
        /// The offending target.
        value: String,
        /// What is wrong, naming `value`.
        message: String,
        /// How to make the request acceptable.
        fix: String,
    },

    /// A target group still used by a listener cannot be deleted (`ResourceInUse`).
    #[error(
        "Target group '{tg}' is in use by listener '{listener}'; delete the listener (or point it elsewhere) first."
    )]
    ResourceInUse {
        /// The target group's ARN.
        tg: String,
        /// The listener's ARN.
        listener: String,
    },

    /// A resource would carry more than [`super::model::MAX_TAGS`] tags (`TooManyTags`).
    #[error("{message}")]
    TooManyTags {
        /// The whole message, naming the resource and the limit.
        message: String,
    },

    /// A tag key given twice in one request (`DuplicateTagKeys`).
    #[error("The tag key '{0}' appears more than once in the request; give each key once.")]
    DuplicateTagKeys(String),

    /// A quota would be exceeded (`TooMany...`).
    #[error("{what} would exceed the quota of {limit}; {fix}")]
    TooMany {
        /// `TooManyLoadBalancers`, `TooManyTargetGroups`, `TooManyTargets`, `TooManyListeners`.
        code: &'static str,
        /// What would exceed it (e.g. `target group tg-1's targets`).
        what: String,
        /// The quota.
        limit: usize,
        /// How to stay within it.
        fix: &'static str,
    },

    /// The store failed to read or commit; nothing changed.
    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl ElbError {
    /// [`ElbError::Validation`] with `message`.
    pub fn validation(message: impl Into<String>) -> Self {
        ElbError::Validation {
            message: message.into(),
        }
    }

    /// `Invalid value '<value>' for <member>. <fix>`
    pub fn invalid(
        member: &str,
        value: impl std::fmt::Display,
        fix: impl std::fmt::Display,
    ) -> Self {
        ElbError::validation(format!("Invalid value '{value}' for {member}. {fix}"))
    }

    /// [`ElbError::Validation`] for a required parameter `member` that is absent.
    pub fn missing(member: &str) -> Self {
        ElbError::validation(format!("The request must contain the parameter {member}."))
    }

    /// [`ElbError::InvalidConfiguration`] with `message`.
    pub fn config(message: impl Into<String>) -> Self {
        ElbError::InvalidConfiguration {
            message: message.into(),
        }
    }

    /// [`ElbError::InvalidTarget`] with `message`.
    pub fn target(message: impl Into<String>) -> Self {
        ElbError::InvalidTarget {
            message: message.into(),
        }
    }

    /// The IPv6 design's rule this error enforces, if any.
    pub fn rule_id(&self) -> Option<Rule> {
        match self {
            ElbError::Rule { rule, .. } => Some(*rule),
            _ => None,
        }
    }
}
