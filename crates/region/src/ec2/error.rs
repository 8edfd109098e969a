//! Typed EC2 errors. Messages name the bad value and how to fix it; the EC2 wire code of each
//! variant is chosen in one place, `region-api`'s EC2 error mapping.

use crate::ids::Kind;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error("The request must contain the parameter {name}.")]
    MissingParameter { name: &'static str },

    #[error("Invalid value '{value}' for {name}. {fix}")]
    InvalidParameterValue {
        name: &'static str,
        value: String,
        fix: String,
    },

    #[error("{message}")]
    InvalidParameterCombination { message: String },

    #[error("Invalid id: \"{id}\" is not a well-formed {}; it looks like {}-0123456789abcdef0.", kind.noun(), kind.prefix())]
    Malformed { kind: Kind, id: String },

    #[error("The {} '{id}' does not exist", kind.noun())]
    NotFound { kind: Kind, id: String },

    #[error("The CIDR '{cidr}' is invalid: {reason}")]
    InvalidVpcRange { cidr: String, reason: String },

    #[error("The CIDR '{cidr}' is invalid for this subnet: {reason}")]
    InvalidSubnetRange { cidr: String, reason: String },

    #[error(
        "The CIDR '{cidr}' conflicts with another subnet ({other} has {other_cidr}); choose a CIDR that does not overlap."
    )]
    InvalidSubnetConflict {
        cidr: String,
        other: String,
        other_cidr: String,
    },

    #[error("{message}")]
    DependencyViolation { message: String },

    #[error("{message}")]
    AlreadyAssociated { message: String },

    #[error(
        "The route identified by {destination} already exists in {route_table}; delete it first or use another destination."
    )]
    RouteAlreadyExists {
        route_table: String,
        destination: String,
    },

    #[error(
        "The security group '{name}' already exists for VPC '{vpc_id}'; pick another --group-name."
    )]
    DuplicateGroup { name: String, vpc_id: String },

    #[error("the specified rule \"{rule}\" already exists in {group_id}")]
    DuplicatePermission { group_id: String, rule: String },

    #[error("The specified rule does not exist in this security group: {rule}")]
    PermissionNotFound { rule: String },

    #[error(
        "Network interface {eni} can hold at most {limit} IPv6 addresses and prefixes (instance type {instance_type}); it has {have} and {requested} more were requested."
    )]
    AddressLimitExceeded {
        eni: String,
        instance_type: String,
        limit: u32,
        have: u32,
        requested: u32,
    },

    #[error(
        "There are not enough free addresses in subnet '{subnet}' to satisfy the requested number of {what}."
    )]
    InsufficientAddresses { subnet: String, what: &'static str },

    #[error("{message}")]
    Unsupported { message: String },

    #[error("The address {address} is already in use in subnet {subnet}.")]
    AddressInUse { address: String, subnet: String },

    #[error("{message}")]
    IncorrectState { message: String },

    #[error("{message}")]
    OperationNotPermitted { message: String },

    #[error(
        "Network interface '{eni}' is currently in use (attached to {instance}); detach it first."
    )]
    InvalidNetworkInterfaceInUse { eni: String, instance: String },

    #[error(
        "The instance '{instance}' is not in a state from which it can take an interface ({state})."
    )]
    IncorrectInstanceState {
        instance: String,
        state: &'static str,
    },

    #[error(
        "Instance {instance} ({instance_type}) already has {limit} network interfaces, the most its type supports."
    )]
    AttachmentLimitExceeded {
        instance: String,
        instance_type: String,
        limit: u32,
    },

    #[error(
        "resource {gateway} is not attached to network {vpc_id}; `aws ec2 describe-internet-gateways --internet-gateway-ids {gateway}` shows where it is attached."
    )]
    GatewayNotAttached { gateway: String, vpc_id: String },

    #[error(
        "The client token {token} was already used by a different {action} request; use a new token for a new request (replaying the same request returns its first result)."
    )]
    IdempotentParameterMismatch { token: String, action: String },

    #[error("Invalid value for {name}: {message}")]
    InvalidPaginationToken { name: &'static str, message: String },

    #[error("The filter '{name}' is invalid for {action}; supported filters are: {supported}.")]
    InvalidFilter {
        name: String,
        action: &'static str,
        supported: &'static str,
    },

    #[error(
        "{resource} would have {count} tags; a resource can have at most {max} tags. Delete tags or send fewer.",
        max = super::tags::MAX_TAGS
    )]
    TagLimitExceeded { resource: String, count: usize },

    #[error("{message}")]
    FilterLimitExceeded { message: String },

    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl Ec2Error {
    pub fn invalid(name: &'static str, value: impl Into<String>, fix: impl Into<String>) -> Self {
        Ec2Error::InvalidParameterValue {
            name,
            value: value.into(),
            fix: fix.into(),
        }
    }
}

/// Check that `id` is a well-formed id of `kind`.
pub fn check_id(kind: Kind, id: &str) -> Result<(), Ec2Error> {
    if crate::ids::is_well_formed(kind, id) {
        Ok(())
    } else {
        Err(Ec2Error::Malformed {
            kind,
            id: id.to_string(),
        })
    }
}
