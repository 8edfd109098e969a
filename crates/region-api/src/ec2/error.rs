//! The one mapping of domain errors to EC2 wire errors (HTTP status + `<Code>`).

use region::ec2::Ec2Error;
use region::ids::Kind;
use region::store::StoreError;

/// (HTTP status, EC2 error code) of a domain error.
pub fn code(e: &Ec2Error) -> (u16, String) {
    let (status, code): (u16, String) = match e {
        Ec2Error::MissingParameter { .. } => (400, "MissingParameter".into()),
        Ec2Error::InvalidParameterValue { .. } => (400, "InvalidParameterValue".into()),
        Ec2Error::InvalidParameterCombination { .. } => (400, "InvalidParameterCombination".into()),
        Ec2Error::Malformed { kind, .. } => (400, kind.malformed_code().into()),
        Ec2Error::NotFound { kind, .. } => (400, not_found(*kind)),
        Ec2Error::InvalidVpcRange { .. } => (400, "InvalidVpc.Range".into()),
        Ec2Error::InvalidSubnetRange { .. } => (400, "InvalidSubnet.Range".into()),
        Ec2Error::InvalidSubnetConflict { .. } => (400, "InvalidSubnet.Conflict".into()),
        Ec2Error::DependencyViolation { .. } => (400, "DependencyViolation".into()),
        Ec2Error::AlreadyAssociated { .. } => (400, "Resource.AlreadyAssociated".into()),
        Ec2Error::RouteAlreadyExists { .. } => (400, "RouteAlreadyExists".into()),
        Ec2Error::RouteNotFound { .. } => (400, "InvalidRoute.NotFound".into()),
        Ec2Error::DuplicateGroup { .. } => (400, "InvalidGroup.Duplicate".into()),
        Ec2Error::DuplicatePermission { .. } => (400, "InvalidPermission.Duplicate".into()),
        Ec2Error::PermissionNotFound { .. } => (400, "InvalidPermission.NotFound".into()),
        Ec2Error::AddressLimitExceeded { .. } => (400, "PrivateIpAddressLimitExceeded".into()),
        Ec2Error::InsufficientAddresses { .. } => (400, "InsufficientFreeAddressesInSubnet".into()),
        Ec2Error::Unsupported { .. } => (400, "UnsupportedOperation".into()),
        Ec2Error::AddressInUse { .. } => (400, "InvalidParameterValue".into()),
        Ec2Error::IncorrectState { .. } => (400, "IncorrectState".into()),
        Ec2Error::OperationNotPermitted { .. } => (400, "OperationNotPermitted".into()),
        Ec2Error::InvalidNetworkInterfaceInUse { .. } => {
            (400, "InvalidNetworkInterface.InUse".into())
        }
        Ec2Error::IncorrectInstanceState { .. } => (400, "IncorrectInstanceState".into()),
        Ec2Error::AttachmentLimitExceeded { .. } => (400, "AttachmentLimitExceeded".into()),
        Ec2Error::GatewayNotAttached { .. } => (400, "Gateway.NotAttached".into()),
        Ec2Error::IdempotentParameterMismatch { .. } => (400, "IdempotentParameterMismatch".into()),
        Ec2Error::InvalidPaginationToken { .. } => (400, "InvalidPaginationToken".into()),
        Ec2Error::InvalidFilter { .. } => (400, "InvalidParameterValue".into()),
        Ec2Error::TagLimitExceeded { .. } => (400, "TagLimitExceeded".into()),
        Ec2Error::FilterLimitExceeded { .. } => (400, "FilterLimitExceeded".into()),
        // The shared store (etcd) is unreachable or busy: retryable, nothing changed.
        Ec2Error::Store(StoreError::Unavailable(_) | StoreError::Conflict { .. }) => {
            (503, "ServiceUnavailable".into())
        }
        Ec2Error::Store(_) => (500, "InternalError".into()),
    };
    (status, code)
}

fn not_found(kind: Kind) -> String {
    match kind {
        Kind::SecurityGroup => "InvalidGroup.NotFound".into(),
        Kind::RouteTableAssociation | Kind::VpcCidrAssociation | Kind::SubnetCidrAssociation => {
            "InvalidAssociationID.NotFound".into()
        }
        k => format!("{}.NotFound", k.error_stem()),
    }
}

/// The message a client sees: internal detail of store failures stays in the log.
pub fn message(e: &Ec2Error) -> String {
    match e {
        Ec2Error::Store(StoreError::Unavailable(_) | StoreError::Conflict { .. }) => {
            "The service is unavailable (the region's store cannot be reached). Please retry the request.".into()
        }
        Ec2Error::Store(_) => "We encountered an internal error. Please try again.".into(),
        other => other.to_string(),
    }
}
