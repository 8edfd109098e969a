//! Typed ELBv2 errors. Each variant is one of the error codes of botocore's `elbv2` model; the
//! code (and HTTP status) of each is chosen in one place, `region-api`'s ELBv2 error mapping.
//! Messages name the offending value and the fix.

use crate::eks::Rule;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ElbError {
    /// A parameter is missing, malformed or out of range (`ValidationError`).
    #[error("{message}")]
    Validation { message: String },

    #[error("Load balancer '{0}' not found; list them with `aws elbv2 describe-load-balancers`.")]
    LoadBalancerNotFound(String),

    #[error("Target group '{0}' not found; list them with `aws elbv2 describe-target-groups`.")]
    TargetGroupNotFound(String),

    #[error(
        "Listener '{0}' not found; list them with `aws elbv2 describe-listeners --load-balancer-arn ...`."
    )]
    ListenerNotFound(String),

    #[error("A load balancer with the name '{0}' already exists; pick another --name.")]
    DuplicateLoadBalancerName(String),

    #[error("A target group with the name '{0}' already exists; pick another --name.")]
    DuplicateTargetGroupName(String),

    #[error(
        "A listener already exists on port {port} of load balancer '{lb}'; pick another --port or delete it first."
    )]
    DuplicateListener { lb: String, port: u16 },

    #[error("The subnet ID '{0}' is not valid; list subnets with `aws ec2 describe-subnets`.")]
    SubnetNotFound(String),

    /// A subnet exists but does not fit the load balancer (`InvalidSubnet`).
    #[error("{message}")]
    InvalidSubnet { message: String },

    #[error(
        "Security group '{0}' does not exist in the load balancer's VPC; list them with `aws ec2 describe-security-groups`."
    )]
    InvalidSecurityGroup(String),

    /// Well formed, but the resources it names cannot be combined (`InvalidConfigurationRequest`).
    #[error("{message}")]
    InvalidConfiguration { message: String },

    /// A listener protocol that does not fit its target group or family (`IncompatibleProtocols`).
    #[error("{message}")]
    IncompatibleProtocols { message: String },

    /// A listener protocol the load balancer's type does not speak (`UnsupportedProtocol`).
    #[error("{message}")]
    UnsupportedProtocol { message: String },

    /// A target that cannot be registered or is not registered (`InvalidTarget`).
    #[error("{message}")]
    InvalidTarget { message: String },

    /// A rule of the IPv6 design refused a target (`InvalidTarget` on the wire).
    #[error("[{rule}] {message} Fix: {fix}")]
    Rule {
        rule: Rule,
        value: String,
        message: String,
        fix: String,
    },

    #[error(
        "Target group '{tg}' is in use by listener '{listener}'; delete the listener (or point it elsewhere) first."
    )]
    ResourceInUse { tg: String, listener: String },

    #[error("{message}")]
    TooManyTags { message: String },

    #[error("The tag key '{0}' appears more than once in the request; give each key once.")]
    DuplicateTagKeys(String),

    #[error("{what} would exceed the quota of {limit}; {fix}")]
    TooMany {
        /// `TooManyLoadBalancers`, `TooManyTargetGroups`, `TooManyTargets`, `TooManyListeners`.
        code: &'static str,
        what: String,
        limit: usize,
        fix: &'static str,
    },

    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl ElbError {
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

    pub fn missing(member: &str) -> Self {
        ElbError::validation(format!("The request must contain the parameter {member}."))
    }

    pub fn config(message: impl Into<String>) -> Self {
        ElbError::InvalidConfiguration {
            message: message.into(),
        }
    }

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
