//! Typed EC2 errors. Messages name the bad value and how to fix it; the EC2 wire code of each
//! variant is chosen in one place, `region-api`'s EC2 error mapping.

use crate::ids::Kind;
use crate::store::StoreError;

/// Why an EC2 operation was refused (or failed in the store); a refused operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// A required parameter is absent. Raised only by the wire layer, which parses requests:
    /// the domain's operations take their required inputs as values.
    #[error("The request must contain the parameter {name}.")]
    MissingParameter {
        /// The parameter's wire name (e.g. `VpcId`).
        name: &'static str,
    },

    /// A parameter's value is not acceptable.
    #[error("Invalid value '{value}' for {name}. {fix}")]
    InvalidParameterValue {
        /// The parameter's wire name.
        name: &'static str,
        /// The value given (cut short when long).
        value: String,
        /// What would be accepted instead.
        fix: String,
    },

    /// Parameters that cannot be given together (or one needs another). Raised by the wire
    /// layer, which words the message in the client's terms.
    #[error("{message}")]
    InvalidParameterCombination {
        /// The whole message, naming the parameters.
        message: String,
    },

    /// An id that is not of the form `prefix-hex` its kind requires.
    #[error("Invalid id: \"{id}\" is not a well-formed {}; it looks like {}-0123456789abcdef0.", kind.noun(), kind.prefix())]
    Malformed {
        /// The kind of resource the id should name.
        kind: Kind,
        /// The id given.
        id: String,
    },

    /// A well-formed id that names no resource of its kind.
    #[error("The {} '{id}' does not exist", kind.noun())]
    NotFound {
        /// The kind of resource looked up.
        kind: Kind,
        /// The id given.
        id: String,
    },

    /// A VPC CIDR block that is malformed, of the wrong size or overlaps the VPC's others.
    #[error("The CIDR '{cidr}' is invalid: {reason}")]
    InvalidVpcRange {
        /// The block given.
        cidr: String,
        /// Why it is refused.
        reason: String,
    },

    /// A subnet CIDR block that is malformed, of the wrong size or outside its VPC's blocks.
    #[error("The CIDR '{cidr}' is invalid for this subnet: {reason}")]
    InvalidSubnetRange {
        /// The block given.
        cidr: String,
        /// Why it is refused.
        reason: String,
    },

    /// A subnet CIDR block that overlaps another subnet's.
    #[error(
        "The CIDR '{cidr}' conflicts with another subnet ({other} has {other_cidr}); choose a CIDR that does not overlap."
    )]
    InvalidSubnetConflict {
        /// The block given.
        cidr: String,
        /// The subnet it overlaps (`subnet-...`).
        other: String,
        /// That subnet's block.
        other_cidr: String,
    },

    /// The resource is still used by others (e.g. a VPC with subnets) and cannot be deleted or detached.
    #[error("{message}")]
    DependencyViolation {
        /// The whole message, naming the dependants.
        message: String,
    },

    /// The association asked for exists already (e.g. a gateway already attached).
    #[error("{message}")]
    AlreadyAssociated {
        /// The whole message, naming both resources.
        message: String,
    },

    /// A route with this destination exists in the table.
    #[error(
        "The route identified by {destination} already exists in {route_table}; delete it first or use another destination."
    )]
    RouteAlreadyExists {
        /// The route table (`rtb-...`).
        route_table: String,
        /// The destination prefix.
        destination: String,
    },

    /// No replaceable (non-local) route with this destination is in the table.
    #[error(
        "There is no route with destination {destination} in {route_table} to replace; create it with CreateRoute."
    )]
    RouteNotFound {
        /// The route table (`rtb-...`).
        route_table: String,
        /// The destination prefix.
        destination: String,
    },

    /// A security group with this name exists in the VPC.
    #[error("The security group '{name}' already exists for VPC '{vpc_id}'; pick another name.")]
    DuplicateGroup {
        /// The group name given.
        name: String,
        /// The VPC.
        vpc_id: String,
    },

    /// The rule being authorized exists in the group.
    #[error("the specified rule \"{rule}\" already exists in {group_id}")]
    DuplicatePermission {
        /// The group (`sg-...`).
        group_id: String,
        /// The rule, as the client gave it.
        rule: String,
    },

    /// The rule being revoked is not in the group.
    #[error("The specified rule does not exist in this security group: {rule}")]
    PermissionNotFound {
        /// The rule, as the client gave it.
        rule: String,
    },

    /// Assigning would take an ENI past its instance type's IPv6 address-and-prefix limit.
    #[error(
        "Network interface {eni} can hold at most {limit} IPv6 addresses and prefixes (instance type {instance_type}); it has {have} and {requested} more were requested."
    )]
    AddressLimitExceeded {
        /// The ENI (`eni-...`).
        eni: String,
        /// The instance type that sets the limit.
        instance_type: String,
        /// IPv6 addresses plus prefixes the ENI may hold.
        limit: u32,
        /// How many it holds now.
        have: u32,
        /// How many more were asked for.
        requested: u32,
    },

    /// The subnet has no room left for what was asked.
    #[error(
        "There are not enough free addresses in subnet '{subnet}' to satisfy the requested number of {what}."
    )]
    InsufficientAddresses {
        /// The subnet (`subnet-...`).
        subnet: String,
        /// What ran out (e.g. `IPv6 addresses`).
        what: &'static str,
    },

    /// A valid request for something this region does not model.
    #[error("{message}")]
    Unsupported {
        /// The whole message, saying what is supported instead.
        message: String,
    },

    /// The address asked for is held by another ENI in the subnet.
    #[error("The address {address} is already in use in subnet {subnet}.")]
    AddressInUse {
        /// The address.
        address: String,
        /// The subnet (`subnet-...`).
        subnet: String,
    },

    /// The resource is not in a state that allows the operation.
    #[error("{message}")]
    IncorrectState {
        /// The whole message, naming the resource and its state.
        message: String,
    },

    /// The operation is not allowed on this resource (e.g. deleting a main route table).
    #[error("{message}")]
    OperationNotPermitted {
        /// The whole message, naming the resource.
        message: String,
    },

    /// The ENI is attached to an instance and cannot be deleted or attached again.
    #[error(
        "Network interface '{eni}' is currently in use (attached to {instance}); detach it first."
    )]
    InvalidNetworkInterfaceInUse {
        /// The ENI (`eni-...`).
        eni: String,
        /// The instance it is attached to.
        instance: String,
    },

    /// The instance cannot take an interface in its state.
    #[error(
        "The instance '{instance}' is not in a state from which it can take an interface ({state})."
    )]
    IncorrectInstanceState {
        /// The instance (`i-...`).
        instance: String,
        /// Its state's name.
        state: &'static str,
    },

    /// The instance has as many ENIs as its type allows.
    #[error(
        "Instance {instance} ({instance_type}) already has {limit} network interfaces, the most its type supports."
    )]
    AttachmentLimitExceeded {
        /// The instance (`i-...`).
        instance: String,
        /// Its instance type.
        instance_type: String,
        /// ENIs its type allows.
        limit: u32,
    },

    /// The internet gateway is not attached to the VPC named.
    #[error(
        "resource {gateway} is not attached to network {vpc_id}; describe the gateway to see which network it is attached to."
    )]
    GatewayNotAttached {
        /// The gateway (`igw-...`).
        gateway: String,
        /// The VPC named in the request.
        vpc_id: String,
    },

    /// A `ClientToken` reused with a different request.
    #[error(
        "The client token {token} was already used by a different {action} request; use a new token for a new request (replaying the same request returns its first result)."
    )]
    IdempotentParameterMismatch {
        /// The token.
        token: String,
        /// The action the token was first used with.
        action: String,
    },

    /// A `NextToken` that does not decode or belongs to another request.
    #[error("Invalid value for {name}: {message}")]
    InvalidPaginationToken {
        /// The parameter's wire name.
        name: &'static str,
        /// Why it is refused.
        message: String,
    },

    /// A filter name the Describe call does not support.
    #[error("The filter '{name}' is invalid for {action}; supported filters are: {supported}.")]
    InvalidFilter {
        /// The filter name given.
        name: String,
        /// The Describe action.
        action: &'static str,
        /// The filter names it supports, for the message.
        supported: &'static str,
    },

    /// The resource would carry more than [`super::tags::MAX_TAGS`] tags.
    #[error(
        "{resource} would have {count} tags; a resource can have at most {max} tags. Delete tags or send fewer.",
        max = super::tags::MAX_TAGS
    )]
    TagLimitExceeded {
        /// The resource's id.
        resource: String,
        /// How many it would have.
        count: usize,
    },

    /// Too many filters or filter values in one call.
    #[error("{message}")]
    FilterLimitExceeded {
        /// The whole message, naming the limit.
        message: String,
    },

    /// The store failed to read or commit; nothing changed.
    #[error("the region's store failed: {0}")]
    Store(#[from] StoreError),
}

impl From<crate::ids::MalformedId> for Ec2Error {
    fn from(e: crate::ids::MalformedId) -> Self {
        Ec2Error::Malformed {
            kind: e.kind,
            id: e.id,
        }
    }
}

impl Ec2Error {
    /// [`Ec2Error::InvalidParameterValue`] for `name` = `value`, with `fix` saying what would be accepted.
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
